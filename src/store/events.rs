//! Events observers list (run started, plan warnings, failed calls, policy and budget warnings,
//! run finished...), persisted with their kind and run so the Events pane shows them after a
//! restart. Breaker transitions have their own table (`breaker_events`). Bounded: only the newest
//! [`KEEP_PER_RUN`] of each run (and of events without a run) are kept.

use super::sql::Sql;
use super::{StoreError, now_rfc3339};
use crate::args;

/// Events kept per run (events without a run count as one more run).
pub const KEEP_PER_RUN: i64 = 1000;
/// Pruning runs once every this many inserts (a cheap indexed delete).
const PRUNE_EVERY: i64 = 64;

/// The kinds stored; anything else reads back as `info`.
pub const KINDS: &[&str] = &["info", "warning", "error", "policy", "budget", "breaker"];

/// The stored name of a kind (unknown kinds are `info`).
pub fn kind_name(kind: &str) -> &'static str {
    KINDS
        .iter()
        .find(|k| **k == kind)
        .copied()
        .unwrap_or("info")
}

/// Store one event; older events of the same run beyond [`KEEP_PER_RUN`] go now and then.
pub fn insert(c: &dyn Sql, run_id: Option<&str>, kind: &str, text: &str) -> Result<(), StoreError> {
    let kind = kind_name(kind);
    // `level` is the column of version 1 (error | warn | info), kept readable for older code.
    let level = match kind {
        "error" => "error",
        "info" => "info",
        _ => "warn",
    };
    let id: i64 = super::insert_returning_id(
        c,
        "INSERT INTO run_events (at, run_id, level, message, kind) VALUES (?1, ?2, ?3, ?4, ?5)",
        args![now_rfc3339(), run_id, level, text, kind],
    )?;
    if id % PRUNE_EVERY == 0 {
        prune(c, run_id, KEEP_PER_RUN)?;
    }
    Ok(())
}

/// Keep only the newest `keep` events of `run_id` (`None`: events without a run).
pub fn prune(c: &dyn Sql, run_id: Option<&str>, keep: i64) -> Result<usize, StoreError> {
    // Two statements rather than SQLite's `run_id IS ?1`, which PostgreSQL does not read (and
    // its `IS NOT DISTINCT FROM` would not use the index).
    match run_id {
        Some(run) => c.execute(
            "DELETE FROM run_events WHERE run_id = ?1 AND id <= (
                SELECT id FROM run_events WHERE run_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
            args![run, keep],
        ),
        None => c.execute(
            "DELETE FROM run_events WHERE run_id IS NULL AND id <= (
                SELECT id FROM run_events WHERE run_id IS NULL ORDER BY id DESC LIMIT 1 OFFSET ?1)",
            args![keep],
        ),
    }
}

/// A run's events go with it.
pub fn delete_run(c: &dyn Sql, run_id: &str) -> Result<(), StoreError> {
    c.execute("DELETE FROM run_events WHERE run_id = ?1", args![run_id])?;
    c.execute(
        "DELETE FROM budget_alerts WHERE level = ?1",
        args![format!("run:{run_id}")],
    )?;
    Ok(())
}

/// (at, kind, run, text) of a stored event.
pub type EventRow = (String, &'static str, Option<String>, String);

/// The newest `limit` events, newest first.
pub fn newest(c: &dyn Sql, limit: usize) -> Result<Vec<EventRow>, StoreError> {
    c.query_map(
        "SELECT at, kind, run_id, message FROM run_events ORDER BY id DESC LIMIT ?1",
        args![limit],
        |r| {
            let kind: String = r.get(1)?;
            Ok((r.get(0)?, kind_name(&kind), r.get(2)?, r.get(3)?))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_keep_their_kind_and_run_and_are_bounded_per_run() {
        let c = crate::store::open_in_memory().unwrap();
        insert(&c, Some("r-1"), "budget", "80% of the run cap").unwrap();
        insert(&c, None, "policy", "p").unwrap();
        insert(&c, Some("r-1"), "no such kind", "x").unwrap();
        let rows = newest(&c, 10).unwrap();
        let got: Vec<(&str, Option<&str>, &str)> = rows
            .iter()
            .map(|(_, k, r, t)| (*k, r.as_deref(), t.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("info", Some("r-1"), "x"),
                ("policy", None, "p"),
                ("budget", Some("r-1"), "80% of the run cap"),
            ]
        );
        for i in 0..200 {
            insert(&c, Some("r-2"), "info", &format!("e{i}")).unwrap();
        }
        assert_eq!(prune(&c, Some("r-2"), 50).unwrap(), 150);
        let left: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM run_events WHERE run_id = 'r-2'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(left, 50);
        // The newest are the ones kept; other runs are untouched.
        assert_eq!(newest(&c, 1).unwrap()[0].3, "e199");
        let r1: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM run_events WHERE run_id = 'r-1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(r1, 2);
    }
}
