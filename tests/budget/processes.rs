//! Budgets under concurrency and crashes (issue 7, "Done when 2, 3, 5").
//!
//! (a) A model-based property test of the ledger, on SQLite and on PostgreSQL (issue 19): random
//!     interleavings of reserve / settle / release / crash (recovery) over org, two teams and
//!     several runs; every reserve decision matches the caps, spend never exceeds a cap, and
//!     reserved returns to 0.
//! (b) Four processes of the real binary share one data dir and an org cap smaller than their
//!     combined demand: the sum of recorded call costs never exceeds the cap.
//! (c) kill -9 during a run leaves reservations; the next start releases them.

use crate::support::binary::*;
use crate::support::ledger::LedgerDb;
use orchestrator_tui::args;
use orchestrator_tui::budget::ledger::{LevelState, Reserve};
use orchestrator_tui::budget::level::Level;
use orchestrator_tui::domain::Micros;
use orchestrator_tui::store::recovery::Holder;
use orchestrator_tui::store::{self, BudgetStore, NewRun};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use rusqlite::Connection;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// (a) ledger property test

/// Owners of reservations: four runs (two on team `web`, one on `data`, one without a team) and
/// one run-less owner (analysis) on team `data`, identified by its pid.
const OWNERS: [(Option<&str>, Option<&str>); 5] = [
    (Some("r-0"), Some("web")),
    (Some("r-1"), Some("web")),
    (Some("r-2"), Some("data")),
    (Some("r-3"), None),
    (None, Some("data")),
];
const RUNLESS_PID: u32 = 4242;

#[derive(Debug, Clone)]
enum Op {
    Reserve {
        owner: usize,
        amount: i64,
    },
    /// Settle the `pick`-th live reservation at `pct` % of what it reserved.
    Settle {
        pick: usize,
        pct: i64,
    },
    Release {
        pick: usize,
    },
    /// The owner's process dies: its reservations are released as stale.
    Crash {
        owner: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..OWNERS.len(), 1i64..900).prop_map(|(owner, amount)| Op::Reserve { owner, amount }),
        3 => (any::<usize>(), 0i64..=100).prop_map(|(pick, pct)| Op::Settle { pick, pct }),
        1 => any::<usize>().prop_map(|pick| Op::Release { pick }),
        1 => (0..OWNERS.len()).prop_map(|owner| Op::Crash { owner }),
    ]
}

#[derive(Debug, Clone)]
struct Caps {
    org: i64,
    web: Option<i64>,
    data: Option<i64>,
    runs: [i64; 4],
}

fn caps() -> impl Strategy<Value = Caps> {
    (
        200i64..4000,
        proptest::option::of(100i64..3000),
        proptest::option::of(100i64..3000),
        [100i64..3000, 100i64..3000, 100i64..3000, 100i64..3000],
    )
        .prop_map(|(org, web, data, runs)| Caps {
            org,
            web,
            data,
            runs,
        })
}

/// What the ledger should hold, kept independently of it.
#[derive(Debug, Default)]
struct Model {
    /// (reservation id, owner, amount)
    live: Vec<(i64, usize, i64)>,
    org_spent: i64,
    team_spent: [i64; 2],
    run_spent: [i64; 4],
}

fn team_idx(t: &str) -> usize {
    if t == "web" { 0 } else { 1 }
}

impl Model {
    fn reserved_by(&self, f: impl Fn(usize) -> bool) -> i64 {
        self.live
            .iter()
            .filter(|(_, o, _)| f(*o))
            .map(|(_, _, a)| a)
            .sum()
    }
    fn team_reserved(&self, t: usize) -> i64 {
        self.reserved_by(|o| OWNERS[o].1.map(team_idx) == Some(t))
    }
    fn run_reserved(&self, r: usize) -> i64 {
        self.reserved_by(|o| o == r)
    }
    fn org_reserved(&self) -> i64 {
        self.reserved_by(|_| true)
    }

    /// Does `amount` fit at every level of `owner`?
    fn fits(&self, caps: &Caps, owner: usize, amount: i64) -> bool {
        let (run, team) = OWNERS[owner];
        if run.is_some()
            && self.run_spent[owner] + self.run_reserved(owner) + amount > caps.runs[owner]
        {
            return false;
        }
        if let Some(t) = team {
            let i = team_idx(t);
            let cap = if i == 0 { caps.web } else { caps.data };
            if let Some(cap) = cap
                && self.team_spent[i] + self.team_reserved(i) + amount > cap
            {
                return false;
            }
        }
        self.org_spent + self.org_reserved() + amount <= caps.org
    }
}

fn setup(db: &LedgerDb, caps: &Caps) {
    db.with(|c| {
        c.set_cap(&Level::Org, Micros(caps.org), None)?;
        if let Some(w) = caps.web {
            c.set_cap(&Level::Team("web".into()), Micros(w), None)?;
        }
        if let Some(d) = caps.data {
            c.set_cap(&Level::Team("data".into()), Micros(d), None)?;
        }
        for (i, (run, team)) in OWNERS.iter().enumerate() {
            if let Some(id) = run {
                store::runs::insert_run(
                    c,
                    &NewRun {
                        id: id.to_string(),
                        description: format!("run {i}"),
                        criteria: String::new(),
                        team: team.map(String::from),
                        strategy: "quality".into(),
                        budget: Micros(caps.runs[i]),
                        time_limit_secs: 60,
                        concurrency: 1,
                        output_dir: "/tmp/unused".into(),
                        plan: None,
                        simulated: true,
                    },
                )?;
            }
        }
        Ok(())
    })
    .unwrap();
}

/// Settle as the engine does: settle at team/org level and record the call (run spend) in one
/// transaction.
fn settle(db: &LedgerDb, id: i64, owner: usize, actual: i64) {
    db.with(|c| {
        c.settle(id, Micros(actual))?;
        store::runs::insert_call(c, &call_record(OWNERS[owner].0, actual))?;
        Ok(())
    })
    .unwrap();
}

/// What `check` compares with the model, read in one transaction.
struct Reading {
    org: LevelState,
    teams: [Option<LevelState>; 2],
    /// (spent, reserved, budget) of each run owner
    runs: Vec<(usize, i64, i64, i64)>,
    reservations: i64,
}

fn read(db: &LedgerDb) -> Reading {
    db.with(|c| {
        let org = c.level_state(&Level::Org)?;
        let teams = [
            c.level_state(&Level::Team("web".into()))?,
            c.level_state(&Level::Team("data".into()))?,
        ];
        let mut runs = vec![];
        for (i, (run, _)) in OWNERS.iter().enumerate() {
            let Some(id) = run else { continue };
            let rows = c.query(
                "SELECT spent_micros, reserved_micros, budget_micros FROM runs WHERE id = ?1",
                args![id.to_string()],
            )?;
            let r = &rows[0];
            runs.push((i, r.get(0)?, r.get(1)?, r.get(2)?));
        }
        let n = c.query("SELECT COUNT(*) FROM reservations", args![])?;
        Ok(Reading {
            org: org.expect("the org level exists"),
            teams,
            runs,
            reservations: n[0].get(0)?,
        })
    })
    .unwrap()
}

fn check(db: &LedgerDb, caps: &Caps, m: &Model) -> Result<(), TestCaseError> {
    let got = read(db);
    let org = got.org;
    prop_assert!(
        org.spent.0 + org.reserved.0 <= caps.org,
        "org over cap: {org:?}"
    );
    prop_assert_eq!(org.spent.0, m.org_spent);
    prop_assert_eq!(org.reserved.0, m.org_reserved());
    for (i, name) in ["web", "data"].iter().enumerate() {
        let cap = if i == 0 { caps.web } else { caps.data };
        match &got.teams[i] {
            Some(t) => {
                if let Some(cap) = cap {
                    prop_assert!(
                        t.spent.0 + t.reserved.0 <= cap,
                        "team {name} over cap: {t:?}"
                    );
                }
                prop_assert_eq!(t.spent.0, m.team_spent[i], "team {} spent", name);
                prop_assert_eq!(t.reserved.0, m.team_reserved(i), "team {} reserved", name);
            }
            None => prop_assert_eq!(m.team_spent[i] + m.team_reserved(i), 0),
        }
    }
    for (i, spent, reserved, budget) in got.runs {
        prop_assert!(spent + reserved <= budget, "run {i} over budget");
        prop_assert_eq!(spent, m.run_spent[i], "run {} spent", i);
        prop_assert_eq!(reserved, m.run_reserved(i), "run {} reserved", i);
    }
    prop_assert_eq!(got.reservations as usize, m.live.len());
    Ok(())
}

/// Charge `amount` at every level of `owner` in the model.
fn charge(m: &mut Model, owner: usize, amount: i64) {
    m.org_spent += amount;
    if let Some(t) = OWNERS[owner].1 {
        m.team_spent[team_idx(t)] += amount;
    }
    if OWNERS[owner].0.is_some() {
        m.run_spent[owner] += amount;
    }
}

/// One case of the property on either backend: random reserve / settle / release / crash
/// against the model, then everyone finishes.
fn ledger_case(db: &LedgerDb, caps: &Caps, ops: &[Op]) -> Result<(), TestCaseError> {
    setup(db, caps);
    let mut m = Model::default();
    // Charged by crash recovery without a call row (a run-less hold is one call's worst case,
    // charged whole as estimated spend).
    let mut estimated = 0;
    for op in ops {
        match *op {
            Op::Reserve { owner, amount } => {
                let (run, team) = OWNERS[owner];
                let pid = if run.is_none() { RUNLESS_PID } else { 1 };
                let expect = m.fits(caps, owner, amount);
                let got = db
                    .with(|c| c.reserve(run, team, Micros(amount), pid, ""))
                    .unwrap();
                match got {
                    Reserve::Reserved(id) => {
                        prop_assert!(expect, "reserved {amount} for owner {owner} beyond a cap");
                        m.live.push((id, owner, amount));
                    }
                    Reserve::Denied(d) => {
                        prop_assert!(!expect, "denied {amount} for owner {owner} that fits: {d}");
                    }
                }
            }
            Op::Settle { pick, pct } if !m.live.is_empty() => {
                let (id, owner, amount) = m.live.remove(pick % m.live.len());
                let actual = amount * pct / 100;
                settle(db, id, owner, actual);
                charge(&mut m, owner, actual);
            }
            Op::Release { pick } if !m.live.is_empty() => {
                let (id, _, _) = m.live.remove(pick % m.live.len());
                db.with(|c| c.release(id)).unwrap();
            }
            Op::Crash { owner } => {
                // Crash recovery as every start runs it, told which holders are dead.
                let dead_run = OWNERS[owner].0;
                let got = db
                    .with(|c| {
                        c.recover_stale(&|h: &Holder| match dead_run {
                            Some(r) => h.run_id.as_deref() == Some(r),
                            None => h.run_id.is_none() && h.pid == RUNLESS_PID,
                        })
                    })
                    .unwrap();
                let (dead, rest): (Vec<_>, Vec<_>) =
                    m.live.iter().partition(|(_, o, _)| *o == owner);
                m.live = rest;
                prop_assert_eq!(got.settled, dead.len());
                let mut charged = 0;
                if dead_run.is_none() {
                    for (_, _, amount) in &dead {
                        charge(&mut m, owner, *amount);
                        charged += amount;
                    }
                }
                prop_assert_eq!(got.charged.0, charged);
                estimated += charged;
            }
            _ => {}
        }
        check(db, caps, &m)?;
    }
    // Everyone finishes: half settle, half release.
    let rest = std::mem::take(&mut m.live);
    for (k, (id, owner, amount)) in rest.into_iter().enumerate() {
        if k % 2 == 0 {
            settle(db, id, owner, amount);
            charge(&mut m, owner, amount);
        } else {
            db.with(|c| c.release(id)).unwrap();
        }
    }
    check(db, caps, &m)?;
    let total_reserved = db.one(
        "SELECT (SELECT CAST(COALESCE(SUM(reserved_micros), 0) AS BIGINT) FROM budget_levels)
              + (SELECT CAST(COALESCE(SUM(reserved_micros), 0) AS BIGINT) FROM runs)",
        args![],
    );
    prop_assert_eq!(total_reserved, 0);
    // Spend equals the sum of what was recorded, plus what recovery charged as estimated.
    let calls = db.one(
        "SELECT CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) FROM calls",
        args![],
    );
    prop_assert_eq!(calls + estimated, m.org_spent);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn ledger_never_overspends_and_reservations_return_to_zero(
        caps in caps(),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        ledger_case(&LedgerDb::sqlite(), &caps, &ops)?;
    }
}

/// The same property on PostgreSQL's ledger (row locks, its own recovery), as many cases, in one
/// schema emptied between cases (a schema a case costs seconds of migrations); skipped without
/// `ORCHESTRATOR_TEST_PG_URL`.
#[test]
fn ledger_never_overspends_and_reservations_return_to_zero_on_postgres() {
    let Some(db) = LedgerDb::postgres("ledger_prop") else {
        return;
    };
    let mut runner = TestRunner::new(ProptestConfig {
        cases: crate::support::ledger::cases(64),
        ..ProptestConfig::default()
    });
    let strategy = (caps(), proptest::collection::vec(op(), 1..60));
    if let Err(e) = runner.run(&strategy, |(caps, ops)| {
        db.reset();
        ledger_case(&db, &caps, &ops)
    }) {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------------------------
// (b) and (c): real processes

const FAST: &str = "[simulated]\nlatency_ms_min = 5\nlatency_ms_max = 40\n";

fn db(env: &Env) -> Connection {
    Connection::open(env.data().join("orchestrator.db")).unwrap()
}

fn one(env: &Env, sql: &str) -> i64 {
    db(env).query_row(sql, [], |r| r.get(0)).unwrap()
}

fn spawn(env: &Env, args: &[&str]) -> Child {
    env.cmd()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn four_processes_share_an_org_cap_without_overspending() {
    // Small max_output_tokens: worst-case reservations close to actual costs, so the runs
    // pack spend tight against the cap.
    let plan_text = flat_plan(6).replace(
        r#""max_iterations": 1"#,
        r#""max_iterations": 1, "max_output_tokens": 40"#,
    );
    // What one run costs alone, to size a cap below the combined demand of four.
    let probe = Env::new(FAST);
    let plan = probe.write("plan.json", &plan_text);
    let (v, out) = probe.json(&["run", "--plan", plan.to_str().unwrap(), "--json"]);
    assert!(matches!(code(&out), 0 | 4), "{}", stderr(&out));
    let one_run = v["total_cost_usd"].as_f64().unwrap();
    assert!(one_run > 0.0);

    let env = Env::new(FAST);
    let plan = env.write("plan.json", &plan_text);
    // Near a cap runs fall back to cheaper models (a run stops only when no capable model's
    // call fits), so the cap is set below what four runs cost even on the cheapest ones.
    let cap_usd = (one_run * 0.3 * 1e6).round() / 1e6;
    let out = env.run(&["budget", "set-org", &format!("{cap_usd}")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let cap = Micros::from_usd(cap_usd).0;

    let children: Vec<Child> = (0..4)
        .map(|_| {
            spawn(
                &env,
                &["run", "--plan", plan.to_str().unwrap(), "--json", "--force"],
            )
        })
        .collect();
    let mut statuses = vec![];
    for ch in children {
        let out = ch.wait_with_output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {}", stderr(&out));
        });
        let st = v["status"].as_str().unwrap().to_string();
        let expected_code = match st.as_str() {
            "success" => 0,
            "completed_degraded" => 4,
            "budget_exhausted" => 5,
            other => panic!("run ended `{other}`: {}", stderr(&out)),
        };
        assert_eq!(code(&out), expected_code, "{}", stderr(&out));
        statuses.push(st);
    }
    let spent = one(&env, "SELECT COALESCE(SUM(cost_micros), 0) FROM calls");
    eprintln!("one run {one_run} USD; cap {cap} micros; spent {spent}; {statuses:?}");
    assert!(
        spent <= cap,
        "recorded calls cost {spent} micros, cap {cap}"
    );
    assert_eq!(
        one(
            &env,
            "SELECT spent_micros FROM budget_levels WHERE level = 'org'"
        ),
        spent
    );
    assert!(
        statuses.iter().any(|s| s == "budget_exhausted"),
        "the cap never bound: {statuses:?} (one run costs {one_run})"
    );
    assert_eq!(one(&env, "SELECT COUNT(*) FROM reservations"), 0);
    assert_eq!(
        one(
            &env,
            "SELECT reserved_micros FROM budget_levels WHERE level = 'org'"
        ),
        0
    );
    assert_eq!(
        one(&env, "SELECT COALESCE(SUM(reserved_micros), 0) FROM runs"),
        0
    );
    // Each run's spend is the sum of its own calls.
    assert_eq!(
        one(
            &env,
            "SELECT COUNT(*) FROM runs r WHERE r.spent_micros !=
               (SELECT COALESCE(SUM(cost_micros), 0) FROM calls c WHERE c.run_id = r.id)"
        ),
        0
    );
    let (b, _) = env.json(&["budget", "--json"]);
    assert_eq!(b["org"]["reserved_usd"], 0.0);
    assert!(b["org"]["spent_usd"].as_f64().unwrap() <= cap_usd + 1e-9);
}

#[test]
fn kill_9_leaves_reservations_that_the_next_start_releases() {
    let env = Env::new("[simulated]\nlatency_ms_min = 300\nlatency_ms_max = 600\n");
    let out = env.run(&["budget", "set-team", "web", "50"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let plan = env.write("plan.json", &flat_plan(8));
    let mut child = spawn(
        &env,
        &[
            "run",
            "--plan",
            plan.to_str().unwrap(),
            "--team",
            "web",
            "--json",
        ],
    );
    let db_path = env.data().join("orchestrator.db");
    wait_for("a settled call and reservations in flight", || {
        db_path.exists()
            && Connection::open(&db_path)
                .and_then(|c| {
                    c.query_row(
                        // The run's lease row holds the in-flight calls' worst case.
                        "SELECT (SELECT COUNT(*) FROM calls WHERE cost_micros > 0) > 0
                            AND (SELECT COALESCE(SUM(amount_micros), 0) FROM reservations) > 0",
                        [],
                        |r| r.get::<_, bool>(0),
                    )
                })
                .unwrap_or(false)
    });
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();

    assert!(one(&env, "SELECT COUNT(*) FROM reservations") > 0);
    assert!(
        one(
            &env,
            "SELECT reserved_micros FROM budget_levels WHERE level = 'org'"
        ) > 0
    );

    // Any start releases them: `budget --json` is the cheapest one.
    let (b, out) = env.json(&["budget", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(b["org"]["reserved_usd"], 0.0, "{b}");
    let web = b["teams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "web")
        .expect("team web");
    assert_eq!(web["reserved_usd"], 0.0, "{b}");
    assert_eq!(one(&env, "SELECT COUNT(*) FROM reservations"), 0);
    assert_eq!(
        one(&env, "SELECT COALESCE(SUM(reserved_micros), 0) FROM runs"),
        0
    );
    assert_eq!(
        one(
            &env,
            "SELECT COALESCE(SUM(reserved_micros), 0) FROM budget_levels"
        ),
        0
    );
    let calls = one(&env, "SELECT COALESCE(SUM(cost_micros), 0) FROM calls");
    assert!(calls > 0);
    for level in ["org", "team:web"] {
        assert_eq!(
            one(
                &env,
                &format!("SELECT spent_micros FROM budget_levels WHERE level = '{level}'")
            ),
            calls,
            "{level} spend != recorded calls"
        );
    }
    assert_eq!(one(&env, "SELECT spent_micros FROM runs"), calls);
    let spent_usd = b["org"]["spent_usd"].as_f64().unwrap();
    assert!((spent_usd - calls as f64 / 1e6).abs() < 1e-9);
}

/// `$X` amounts following `label` in a refusal message, e.g. `needed` -> the one before it.
fn usd_before(text: &str, label: &str) -> Option<f64> {
    let at = text.find(label)?;
    let head = text[..at].trim_end();
    let start = head.rfind('$')?;
    head[start + 1..].parse().ok()
}

fn usd_after(text: &str, label: &str) -> Option<f64> {
    let at = text.find(label)? + label.len();
    let rest = text[at..].trim_start().strip_prefix('$')?;
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[test]
fn eight_processes_on_an_org_cap_are_refused_only_near_it() {
    // Issue 14: with the cap far from spent, headroom held by other processes (their leases'
    // spare, their calls in flight) must go back to a refused process before it gives up.
    let env = Env::new(FAST);
    let cap_usd = 0.50;
    let out = env.run(&["budget", "set-org", &format!("{cap_usd}")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // 8 x 48 tasks cost well over the cap, even on the cheapest models.
    let plan = env.write("plan.json", &flat_plan(48));
    let children: Vec<Child> = (0..8)
        .map(|_| {
            spawn(
                &env,
                &["run", "--plan", plan.to_str().unwrap(), "--json", "--force"],
            )
        })
        .collect();
    let mut ids = vec![];
    let mut statuses = vec![];
    for ch in children {
        let out = ch.wait_with_output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stderr(&out)));
        ids.push(v["id"].as_str().unwrap().to_string());
        statuses.push(v["status"].as_str().unwrap().to_string());
    }
    let cap = Micros::from_usd(cap_usd).0;
    let spent = one(&env, "SELECT COALESCE(SUM(cost_micros), 0) FROM calls");
    eprintln!("cap {cap}; spent {spent}; {statuses:?}");
    assert!(
        spent <= cap,
        "recorded calls cost {spent} micros, cap {cap}"
    );
    assert_eq!(
        one(
            &env,
            "SELECT spent_micros FROM budget_levels WHERE level = 'org'"
        ),
        spent
    );
    assert!(
        statuses.iter().any(|s| s == "budget_exhausted"),
        "the cap never bound: {statuses:?}"
    );
    let c = db(&env);
    let mut refusals = 0;
    for (id, st) in ids.iter().zip(&statuses) {
        if st != "budget_exhausted" {
            continue;
        }
        let reasons: Vec<String> = c
            .prepare("SELECT status_reason FROM tasks WHERE run_id = ?1 AND status = 'pending' AND status_reason IS NOT NULL")
            .unwrap()
            .query_map([id], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            !reasons.is_empty(),
            "run {id} ended {st} with no refused task"
        );
        for r in reasons {
            let needed = usd_before(&r, " needed").unwrap_or_else(|| panic!("no amount in {r:?}"));
            let at = usd_after(&r, "(spent").unwrap_or_else(|| panic!("no spend in {r:?}"));
            assert!(
                r.contains("org budget"),
                "run {id} refused below the org level: {r}"
            );
            // The message rounds to 1/100 of a cent.
            assert!(
                cap_usd - at < 3.0 * needed + 0.0002,
                "run {id} refused with ${:.4} of ${cap_usd} unspent, {:.1}x the ${needed} its \
                 cheapest call needs: {r}",
                cap_usd - at,
                (cap_usd - at) / needed
            );
            refusals += 1;
        }
    }
    eprintln!("{refusals} refused tasks, each near the cap");
    assert_eq!(one(&env, "SELECT COUNT(*) FROM reservations"), 0);
    assert_eq!(
        one(
            &env,
            "SELECT reserved_micros FROM budget_levels WHERE level = 'org'"
        ),
        0
    );
}
