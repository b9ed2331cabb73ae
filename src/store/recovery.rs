//! Crash recovery of the budget: reservations whose holder died are settled, and calls that
//! were in flight when it died are charged the worst case they held (the provider may well have
//! billed them), so spend is never under-counted after a crash. A holder is settled only when it
//! is provably dead (the caller decides: `engine::lock::holder_dead`), never because it is slow.

use crate::domain::Micros;
use crate::store::StoreError;
use crate::store::owner::Owner;
use rusqlite::{Connection, OptionalExtension, params};

/// A reservation and who holds it: what crash recovery decides on.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub id: i64,
    pub run_id: Option<String>,
    pub team: Option<String>,
    pub pid: u32,
    /// The identity stamped when it was made (`None` on rows of older versions).
    pub owner: Option<Owner>,
    pub amount: Micros,
}

/// What crash recovery did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// Reservations of dead holders settled.
    pub settled: usize,
    /// Calls in flight when their process died, charged their held worst case.
    pub charged_calls: usize,
    pub charged: Micros,
}

pub fn holders(c: &Connection) -> Result<Vec<Holder>, StoreError> {
    Ok(c.prepare(
        "SELECT id, run_id, team, pid, owner_host, owner_start, amount_micros
         FROM reservations ORDER BY id",
    )?
    .query_map([], |r| {
        let pid: u32 = r.get(3)?;
        let host: Option<String> = r.get(4)?;
        let start: Option<String> = r.get(5)?;
        Ok(Holder {
            id: r.get(0)?,
            run_id: r.get(1)?,
            team: r.get(2)?,
            pid,
            owner: host
                .zip(start)
                .map(|(host, start)| Owner { host, pid, start }),
            amount: Micros(r.get(6)?),
        })
    })?
    .collect::<Result<_, _>>()?)
}

/// Crash recovery: settle every reservation whose holder `dead` says is provably gone. A call in
/// flight when its process died may well have been billed, so it is charged its held worst case
/// at run, team and org level (an `estimated` call row, and `estimated_micros` at each level);
/// only the rest of a lease, its unused headroom, goes back. A reservation without a run covers
/// exactly one call (reserved before it, settled after it), so it is charged whole.
pub fn recover_stale(
    c: &Connection,
    dead: &dyn Fn(&Holder) -> bool,
) -> Result<Recovered, StoreError> {
    let mut out = Recovered::default();
    for h in holders(c)? {
        if !dead(&h) {
            continue;
        }
        let calls = crate::store::inflight::take_all(c, h.id)?;
        let mut charged: i64 = 0;
        for k in &calls {
            let run = match &k.run_id {
                Some(r) if run_exists(c, r)? => Some(r.clone()),
                _ => None,
            };
            crate::store::runs::insert_call(c, &estimated_call(k, run))?;
            charged = charged.saturating_add(k.worst.0.max(0));
            out.charged_calls += 1;
        }
        if h.run_id.is_none() && calls.is_empty() && h.amount.0 > 0 {
            charged = h.amount.0;
            out.charged_calls += 1;
        }
        super::budget::settle(c, h.id, Micros(charged))?;
        mark_estimated(c, h.team.as_deref(), charged)?;
        out.settled += 1;
        out.charged = Micros(out.charged.0.saturating_add(charged));
    }
    crate::store::inflight::delete_orphans(c)?;
    Ok(out)
}

fn run_exists(c: &Connection, run: &str) -> Result<bool, StoreError> {
    Ok(
        crate::store::query_row(c, "SELECT 1 FROM runs WHERE id = ?1", [run], |_| Ok(()))
            .optional()?
            .is_some(),
    )
}

/// The record of a call cut short by its process's death: what it held, charged in full.
fn estimated_call(
    k: &crate::store::inflight::InflightCall,
    run: Option<String>,
) -> crate::store::CallRecord {
    crate::store::CallRecord {
        run_id: run,
        task_id: k.task_id.clone(),
        attempt: k.attempt,
        role: k.role.clone(),
        provider: k.provider.clone(),
        model: k.model.clone(),
        simulated: k.simulated,
        input_tokens: 0,
        cached_tokens: 0,
        cache_write_tokens: 0,
        output_tokens: 0,
        reasoning_tokens: 0,
        cost: k.worst,
        cache_saving: crate::domain::Micros::ZERO,
        latency_ms: 0,
        ttft_ms: None,
        outcome: ESTIMATED,
        error: Some("the process died during this call: charged the worst case held for it".into()),
        retry: 0,
        breaker_after: None,
        // The recovery is when it was charged; the call itself started at `started_at`.
        at: crate::store::now_rfc3339(),
    }
}

/// Outcome of a call charged its held worst case at crash recovery.
pub const ESTIMATED: crate::domain::CallOutcome = crate::domain::CallOutcome::Estimated;

fn mark_estimated(c: &Connection, team: Option<&str>, amount: i64) -> Result<(), StoreError> {
    if amount <= 0 {
        return Ok(());
    }
    for l in crate::budget::level::shared_levels(team) {
        crate::store::exec(
            c,
            "UPDATE budget_levels SET estimated_micros = estimated_micros + ?2 WHERE level = ?1",
            params![l.to_string(), amount],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::ledger::Reserve;
    use crate::store::budget as ledger;
    use crate::store::inflight::{self, InflightCall};
    use crate::store::migrations::migrate;
    use crate::store::{NewRun, runs};

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        c
    }

    fn new_run(c: &Connection, id: &str, team: Option<&str>) {
        runs::insert_run(
            c,
            &NewRun {
                id: id.into(),
                description: "d".into(),
                criteria: String::new(),
                team: team.map(String::from),
                strategy: "quality".into(),
                budget: Micros(1_000_000),
                time_limit_secs: 60,
                concurrency: 1,
                output_dir: "/tmp/unused".into(),
                plan: None,
                simulated: true,
            },
        )
        .unwrap();
    }

    fn inflight(lease: i64, run: &str, task: &str, worst: i64) -> InflightCall {
        InflightCall {
            reservation_id: lease,
            n: inflight::next_n(),
            run_id: Some(run.into()),
            task_id: Some(task.into()),
            attempt: Some(1),
            role: "generate".into(),
            provider: "p".into(),
            model: "m".into(),
            simulated: true,
            worst: Micros(worst),
        }
    }

    fn one(c: &Connection, sql: &str) -> i64 {
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn calls_in_flight_are_charged_their_worst_case_and_only_headroom_goes_back() {
        let c = db();
        ledger::set_cap(&c, "org", Micros(10_000), None).unwrap();
        ledger::set_cap(&c, "team:web", Micros(10_000), None).unwrap();
        new_run(&c, "r-1", Some("web"));
        let lease = ledger::open_lease(&c, "r-1", Some("web"), 4242).unwrap();
        assert!(matches!(
            ledger::grow(&c, lease, Micros(1_000), 0).unwrap(),
            Reserve::Reserved(_)
        ));
        // Two calls took 300 and 200 of the lease; one of them settled at 50 before the crash.
        let a = inflight(lease, "r-1", "t1", 300);
        let b = inflight(lease, "r-1", "t2", 200);
        inflight::insert(&c, &a).unwrap();
        inflight::insert(&c, &b).unwrap();
        ledger::settle_part(&c, lease, Some("web"), Micros(50)).unwrap();
        runs::insert_call(&c, &settled_call("r-1", 50)).unwrap();
        inflight::remove(&c, lease, b.n).unwrap();

        let r = recover_stale(&c, &|_| true).unwrap();
        assert_eq!(r.settled, 1);
        assert_eq!(r.charged_calls, 1);
        assert_eq!(r.charged, Micros(300));
        for level in ["org", "team:web"] {
            let l = ledger::level(&c, level).unwrap().unwrap();
            assert_eq!(l.spent, Micros(350), "{level}");
            assert_eq!(l.estimated, Micros(300), "{level}");
            assert_eq!(l.reserved, Micros::ZERO, "{level}");
        }
        assert_eq!(one(&c, "SELECT spent_micros FROM runs"), 350);
        assert_eq!(one(&c, "SELECT reserved_micros FROM runs"), 0);
        assert_eq!(
            one(
                &c,
                "SELECT SUM(cost_micros) FROM calls WHERE outcome = 'estimated'"
            ),
            300
        );
        assert_eq!(one(&c, "SELECT COUNT(*) FROM reservations"), 0);
        assert_eq!(one(&c, "SELECT COUNT(*) FROM inflight_calls"), 0);
        assert_eq!(runs::call_counts(&c, "r-1").unwrap().estimated, Micros(300));
    }

    #[test]
    fn a_reservation_without_a_run_is_one_call_and_charged_whole() {
        let c = db();
        let id = match ledger::reserve(&c, None, Some("data"), Micros(700), 4242).unwrap() {
            Reserve::Reserved(id) => id,
            Reserve::Denied(d) => panic!("{d}"),
        };
        let r = recover_stale(&c, &|h| h.id == id).unwrap();
        assert_eq!((r.settled, r.charged_calls, r.charged), (1, 1, Micros(700)));
        let org = ledger::level(&c, "org").unwrap().unwrap();
        assert_eq!(
            (org.spent, org.estimated, org.reserved),
            (Micros(700), Micros(700), Micros::ZERO)
        );
    }

    #[test]
    fn live_holders_are_left_alone() {
        let c = db();
        new_run(&c, "r-1", None);
        let lease = ledger::open_lease(&c, "r-1", None, std::process::id()).unwrap();
        ledger::grow(&c, lease, Micros(500), 0).unwrap();
        inflight::insert(&c, &inflight(lease, "r-1", "t1", 100)).unwrap();
        ledger::reserve(&c, None, None, Micros(40), std::process::id()).unwrap();
        let holders = holders(&c).unwrap();
        assert_eq!(holders.len(), 2);
        assert!(
            holders
                .iter()
                .all(|h| h.owner.as_ref().is_some_and(|o| o.is_me())),
            "rows of this process carry its identity: {holders:?}"
        );
        let r = recover_stale(&c, &|_| false).unwrap();
        assert_eq!(r, Recovered::default());
        assert_eq!(one(&c, "SELECT COUNT(*) FROM inflight_calls"), 1);
        assert_eq!(
            ledger::level(&c, "org").unwrap().unwrap().reserved,
            Micros(540)
        );
    }

    #[test]
    fn reservation_ids_are_never_reused() {
        // A late settle of a released reservation must never find another holder's row.
        let c = db();
        let first = ledger::open_lease(&c, "r-x", None, 1).unwrap();
        ledger::release(&c, first).unwrap();
        let next = match ledger::reserve(&c, None, None, Micros(5), 1).unwrap() {
            Reserve::Reserved(id) => id,
            Reserve::Denied(d) => panic!("{d}"),
        };
        assert!(next > first, "id {first} was given out again");
        ledger::settle(&c, first, Micros(5)).unwrap();
        assert_eq!(one(&c, "SELECT COUNT(*) FROM reservations"), 1);
    }

    fn settled_call(run: &str, cost: i64) -> crate::store::CallRecord {
        crate::store::CallRecord {
            run_id: Some(run.into()),
            task_id: Some("t2".into()),
            attempt: Some(1),
            role: "generate".into(),
            provider: "p".into(),
            model: "m".into(),
            simulated: true,
            input_tokens: 1,
            cached_tokens: 0,
            cache_write_tokens: 0,
            output_tokens: 1,
            reasoning_tokens: 0,
            cost: Micros(cost),
            cache_saving: crate::domain::Micros::ZERO,
            latency_ms: 1,
            ttft_ms: None,
            outcome: crate::domain::CallOutcome::Ok,
            error: None,
            retry: 0,
            breaker_after: None,
            at: crate::store::now_rfc3339(),
        }
    }
}
