//! Run budget leases against the real ledger: random interleavings of calls taking from leases,
//! growths (blocking and background), settles, failures, spare given back, owners waiting for
//! headroom and run ends across three runs sharing a team and an org cap. Nothing may exceed a
//! cap, a run must refuse exactly when a per-call reservation would have (its spare counts as
//! its own), and everything returns to zero at the end.

use crate::support::binary::call_record;
use orchestrator_tui::budget::lease::{State, Take};
use orchestrator_tui::domain::Micros;
use orchestrator_tui::store::budget as ledger;
use orchestrator_tui::store::{self, NewRun, migrations::migrate};
use orchestrator_tui::store::{lease, waiters};
use proptest::prelude::*;
use rusqlite::Connection;

const RUNS: [(&str, Option<&str>); 3] = [("r0", Some("web")), ("r1", Some("web")), ("r2", None)];

#[derive(Debug, Clone)]
enum Op {
    Call {
        run: usize,
        worst: i64,
    },
    Refill {
        pick: usize,
    },
    Finish {
        pick: usize,
        pct: i64,
    },
    Fail {
        pick: usize,
    },
    End {
        run: usize,
    },
    /// The lease keeper gives a run's spare back (idle, near a cap, or someone waits).
    GiveBack {
        run: usize,
    },
    /// A run registers as waiting for headroom at org level, or stops waiting.
    Wait {
        run: usize,
        amount: i64,
    },
    StopWait {
        run: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..3usize, 1i64..400).prop_map(|(run, worst)| Op::Call { run, worst }),
        2 => any::<usize>().prop_map(|pick| Op::Refill { pick }),
        4 => (any::<usize>(), 0i64..=100).prop_map(|(pick, pct)| Op::Finish { pick, pct }),
        1 => any::<usize>().prop_map(|pick| Op::Fail { pick }),
        1 => (0..3usize).prop_map(|run| Op::End { run }),
        1 => (0..3usize).prop_map(|run| Op::GiveBack { run }),
        1 => (0..3usize, 1i64..400).prop_map(|(run, amount)| Op::Wait { run, amount }),
        1 => (0..3usize).prop_map(|run| Op::StopWait { run }),
    ]
}

struct Run {
    lease: i64,
    state: State,
    ended: bool,
}

fn setup(org: i64, web: i64, budgets: &[i64; 3]) -> (Connection, Vec<Run>) {
    let mut c = Connection::open_in_memory().unwrap();
    migrate(&mut c).unwrap();
    ledger::set_cap(&c, "org", Micros(org), None).unwrap();
    ledger::set_cap(&c, "team:web", Micros(web), None).unwrap();
    let runs = RUNS
        .iter()
        .zip(budgets)
        .map(|((id, team), budget)| {
            store::runs::insert_run(
                &c,
                &NewRun {
                    id: id.to_string(),
                    description: "lease".into(),
                    criteria: String::new(),
                    team: team.map(String::from),
                    strategy: "quality".into(),
                    budget: Micros(*budget),
                    time_limit_secs: 60,
                    concurrency: 4,
                    output_dir: "/tmp/unused".into(),
                    plan: None,
                    simulated: true,
                },
            )
            .unwrap();
            Run {
                lease: ledger::open_lease(&c, id, *team, 1).unwrap(),
                state: State::default(),
                ended: false,
            }
        })
        .collect();
    (c, runs)
}

fn record(run: usize, cost: i64) -> orchestrator_tui::store::CallRecord {
    call_record(Some(RUNS[run].0), cost)
}

/// Settle a call as the engine does: shrink the lease, charge spend, record the call.
fn settle(c: &mut Connection, runs: &mut [Run], run: usize, worst: i64, actual: i64) {
    runs[run].state.finish(worst, actual);
    let (id, team) = (runs[run].lease, RUNS[run].1);
    store::immediate(c, |tx| {
        ledger::settle_part(tx, id, team, Micros(actual))?;
        store::runs::insert_call(tx, &record(run, actual))?;
        Ok(())
    })
    .unwrap();
}

fn one(c: &Connection, sql: &str, p: impl rusqlite::Params) -> i64 {
    c.query_row(sql, p, |r| r.get(0)).unwrap()
}

fn check(c: &Connection, runs: &[Run], caps: (i64, i64)) -> Result<(), TestCaseError> {
    let org = ledger::level(c, "org").unwrap().unwrap();
    prop_assert!(
        org.spent.0 + org.reserved.0 <= caps.0,
        "org over cap {org:?}"
    );
    let web = ledger::level(c, "team:web").unwrap().unwrap();
    prop_assert!(
        web.spent.0 + web.reserved.0 <= caps.1,
        "team over cap {web:?}"
    );
    let calls = one(c, "SELECT COALESCE(SUM(cost_micros), 0) FROM calls", []);
    prop_assert_eq!(org.spent.0, calls, "org spend = recorded calls");
    let leases = one(
        c,
        "SELECT COALESCE(SUM(amount_micros), 0) FROM reservations",
        [],
    );
    prop_assert_eq!(org.reserved.0, leases, "org reserved = lease rows");
    for (i, r) in runs.iter().enumerate() {
        let (spent, reserved, budget): (i64, i64, i64) = c
            .query_row(
                "SELECT spent_micros, reserved_micros, budget_micros FROM runs WHERE id = ?1",
                [RUNS[i].0],
                |x| Ok((x.get(0)?, x.get(1)?, x.get(2)?)),
            )
            .unwrap();
        prop_assert!(spent + reserved <= budget, "run {i} over budget");
        if !r.ended {
            let row = one(
                c,
                "SELECT amount_micros FROM reservations WHERE id = ?1",
                [r.lease],
            );
            prop_assert!(
                r.state.granted <= row,
                "memory {:?} above row {row}",
                r.state
            );
            prop_assert!(r.state.inflight <= r.state.granted, "{:?}", r.state);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn leases_never_overspend_and_refuse_only_when_a_call_cannot_fit(
        org in 500i64..6_000,
        web in 300i64..4_000,
        budgets in proptest::array::uniform3(200i64..3_000),
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let (mut c, mut runs) = setup(org, web, &budgets);
        let mut live: Vec<(usize, i64)> = Vec::new(); // (run, worst)
        let mut refills: Vec<(usize, i64)> = Vec::new(); // background growths not yet applied
        for op in &ops {
            match *op {
                Op::Call { run, worst } if !runs[run].ended => {
                    // The engine's hold_budget loop, one growth at a time (bounded like it).
                    for round in 0.. {
                        prop_assert!(round < 64, "the lease never covered the call");
                        match runs[run].state.take(worst) {
                            Take::Taken { refill } => {
                                if let Some(a) = refill {
                                    refills.push((run, a));
                                }
                                live.push((run, worst));
                                break;
                            }
                            Take::Short { grow, at_least } => {
                                let id = runs[run].lease;
                                let got = store::immediate(&c, |tx| {
                                    lease::grow_short(tx, id, grow, at_least)
                                })
                                .unwrap();
                                match got {
                                    Ok(a) => runs[run].state.grown(a),
                                    Err(d) => {
                                        if d.level == "run" {
                                            // Exactly when a per-call reservation would fail.
                                            let spent = one(&c, "SELECT spent_micros FROM runs WHERE id = ?1", [RUNS[run].0]);
                                            prop_assert!(
                                                spent + runs[run].state.inflight + worst > budgets[run],
                                                "run {run} refused {worst} with spent {spent}, {:?}", runs[run].state
                                            );
                                        }
                                        break;
                                    }
                                }
                            }
                        }
                    }
                }
                Op::Refill { pick } if !refills.is_empty() => {
                    let (run, amount) = refills.remove(pick % refills.len());
                    let id = runs[run].lease;
                    let ok = !runs[run].ended
                        && store::immediate(&c, |tx| lease::refill(tx, id, amount))
                            .unwrap_or(false);
                    runs[run].state.refill_done(ok.then_some(amount));
                }
                Op::Finish { pick, pct } if !live.is_empty() => {
                    let (run, worst) = live.remove(pick % live.len());
                    settle(&mut c, &mut runs, run, worst, worst * pct / 100);
                }
                Op::Fail { pick } if !live.is_empty() => {
                    let (run, worst) = live.remove(pick % live.len());
                    runs[run].state.finish(worst, 0);
                }
                Op::GiveBack { run } if !runs[run].ended => {
                    // Memory first, then the row, as lease::give_back does.
                    let spare = runs[run].state.give_back_spare();
                    let id = runs[run].lease;
                    let given = store::immediate(&c, |tx| ledger::shrink(tx, id, Micros(spare)))
                        .unwrap();
                    prop_assert_eq!(given, spare);
                    prop_assert_eq!(runs[run].state.granted, runs[run].state.inflight);
                }
                Op::Wait { run, amount } => {
                    let owner = waiters::lease_owner(runs[run].lease);
                    store::immediate(&c, |tx| waiters::wait_for(tx, &owner, "org", amount))
                        .unwrap();
                }
                Op::StopWait { run } => {
                    let owner = waiters::lease_owner(runs[run].lease);
                    store::immediate(&c, |tx| waiters::stop_waiting(tx, &owner)).unwrap();
                }
                Op::End { run } if !runs[run].ended && live.iter().all(|l| l.0 != run) => {
                    let id = runs[run].lease;
                    store::immediate(&c, |tx| ledger::release(tx, id)).unwrap();
                    runs[run].ended = true;
                }
                _ => {}
            }
            check(&c, &runs, (org, web))?;
        }
        // Everything in flight settles at its worst case, then every run ends.
        for (run, worst) in std::mem::take(&mut live) {
            settle(&mut c, &mut runs, run, worst, worst);
            check(&c, &runs, (org, web))?;
        }
        for r in runs.iter_mut().filter(|r| !r.ended) {
            store::immediate(&c, |tx| ledger::release(tx, r.lease)).unwrap();
            r.ended = true;
        }
        check(&c, &runs, (org, web))?;
        let reserved = one(
            &c,
            "SELECT (SELECT COALESCE(SUM(reserved_micros), 0) FROM budget_levels)
                  + (SELECT COALESCE(SUM(reserved_micros), 0) FROM runs)
                  + (SELECT COUNT(*) FROM reservations)",
            [],
        );
        prop_assert_eq!(reserved, 0);
    }
}
