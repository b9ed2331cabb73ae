//! Read-only SQL behind the TUI's snapshots (`tui/data.rs` turns these rows into view data). The
//! run list is `runs::list_runs`, shared with `runs`.

use super::sql::Sql;
use crate::args;
use crate::domain::Micros;
use crate::store::StoreError;

/// A task as the run detail lists it.
pub struct TaskView {
    pub id: String,
    pub task_type: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub model: Option<String>,
    pub iterations: u32,
    pub max_iterations: u32,
    pub score: Option<f64>,
    pub threshold: f64,
    pub cost: Micros,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The first characters of its prompt (the title is its first line).
    pub prompt_head: String,
    pub dependencies: Vec<String>,
}

/// Characters of a prompt read for a task's title.
pub const PROMPT_HEAD: usize = 160;

/// The tasks of a run in plan order, with their settled cost.
pub fn tasks(c: &dyn Sql, run_id: &str) -> Result<Vec<TaskView>, StoreError> {
    c.query_map(
        "SELECT t.id, t.type, t.status, t.status_reason, t.model, t.iterations, t.max_iterations,
            t.score, t.threshold, CAST(COALESCE(k.cost, 0) AS BIGINT), t.started_at,
            t.finished_at, substr(t.prompt, 1, ?2), t.dependencies
         FROM tasks t
         LEFT JOIN (SELECT task_id, SUM(cost_micros) AS cost FROM calls
                    WHERE run_id = ?1 AND task_id IS NOT NULL GROUP BY task_id) k
           ON k.task_id = t.id
         WHERE t.run_id = ?1 ORDER BY t.seq",
        args![run_id, PROMPT_HEAD],
        |r| {
            let deps: String = r.get(13)?;
            Ok(TaskView {
                id: r.get(0)?,
                task_type: r.get(1)?,
                status: r.get(2)?,
                status_reason: r.get(3)?,
                model: r.get(4)?,
                iterations: r.get(5)?,
                max_iterations: r.get(6)?,
                score: r.get(7)?,
                threshold: r.get(8)?,
                cost: Micros(r.get(9)?),
                started_at: r.get(10)?,
                finished_at: r.get(11)?,
                prompt_head: r.get(12)?,
                dependencies: serde_json::from_str(&deps).unwrap_or_default(),
            })
        },
    )
}

/// (prompt, final output) of one task.
pub fn task_text(
    c: &dyn Sql,
    run_id: &str,
    task_id: &str,
) -> Result<Option<(String, Option<String>)>, StoreError> {
    c.query_opt(
        "SELECT prompt, output FROM tasks WHERE run_id = ?1 AND id = ?2",
        args![run_id, task_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// An attempt as the task detail lists it.
pub struct AttemptView {
    pub n: u32,
    pub model: Option<String>,
    pub reviewer: Option<String>,
    pub score: Option<f64>,
    pub validators_json: String,
    pub failure_reason: Option<String>,
    pub critique: Option<String>,
    pub output: Option<String>,
    pub evaluator: Option<String>,
    /// Evaluated by its own generator (a single-model setup).
    pub self_evaluated: bool,
    /// How an out-of-range score was read, when it was.
    pub score_note: Option<String>,
    pub cost: Micros,
}

pub fn attempts(c: &dyn Sql, run_id: &str, task_id: &str) -> Result<Vec<AttemptView>, StoreError> {
    c.query_map(
        "SELECT a.n, a.model, a.reviewer, a.score, a.validators, a.failure_reason, a.critique,
            a.output, a.evaluator, a.self_evaluated, a.score_note,
            (SELECT CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) FROM calls k
               WHERE k.run_id = a.run_id AND k.task_id = a.task_id AND k.attempt = a.n)
         FROM attempts a WHERE a.run_id = ?1 AND a.task_id = ?2 ORDER BY a.n",
        args![run_id, task_id],
        |r| {
            Ok(AttemptView {
                n: r.get(0)?,
                model: r.get(1)?,
                reviewer: r.get(2)?,
                score: r.get(3)?,
                validators_json: r.get(4)?,
                failure_reason: r.get(5)?,
                critique: r.get(6)?,
                output: r.get(7)?,
                evaluator: r.get(8)?,
                self_evaluated: r.get(9)?,
                score_note: r.get(10)?,
                cost: Micros(r.get(11)?),
            })
        },
    )
}

/// Per model: (calls, successful calls, cost).
pub fn call_totals(c: &dyn Sql) -> Result<Vec<(String, u64, u64, Micros)>, StoreError> {
    c.query_map(
        "SELECT model, COUNT(*),
            CAST(COALESCE(SUM(CASE WHEN outcome = 'ok' THEN 1 ELSE 0 END), 0) AS BIGINT),
            CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT)
         FROM calls GROUP BY model",
        args![],
        |r| {
            Ok((
                r.get(0)?,
                r.get::<i64>(1)?.max(0) as u64,
                r.get::<i64>(2)?.max(0) as u64,
                Micros(r.get(3)?),
            ))
        },
    )
}

/// Per model that has any: what prompt caching saved (`calls.cache_saving_micros`).
pub fn cache_savings(c: &dyn Sql) -> Result<Vec<(String, Micros)>, StoreError> {
    c.query_map(
        "SELECT model, CAST(SUM(cache_saving_micros) AS BIGINT) FROM calls
         GROUP BY model HAVING SUM(cache_saving_micros) != 0",
        args![],
        |r| Ok((r.get(0)?, Micros(r.get(1)?))),
    )
}

/// The latest `per_model` calls of every model, newest first: (model, outcome, latency ms).
pub fn recent_calls(
    c: &dyn Sql,
    per_model: usize,
) -> Result<Vec<(String, String, u64)>, StoreError> {
    c.query_map(
        "SELECT model, outcome, latency_ms FROM (
            SELECT model, outcome, latency_ms, id,
                ROW_NUMBER() OVER (PARTITION BY model ORDER BY id DESC) AS rn
            FROM calls) AS numbered
         WHERE rn <= ?1 ORDER BY model, id DESC",
        args![per_model],
        |r| Ok((r.get(0)?, r.get(1)?, r.get::<i64>(2)?.max(0) as u64)),
    )
}

/// The state each model's breaker moved to last, as recorded by any process: (model, state, at).
pub fn last_breaker_states(c: &dyn Sql) -> Result<Vec<(String, String, String)>, StoreError> {
    c.query_map(
        "SELECT model, to_state, at FROM breaker_events
         WHERE id IN (SELECT MAX(id) FROM breaker_events GROUP BY model)",
        args![],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}

/// Persisted breakers, the state every process shares: (model, state, consecutive failures,
/// updated_at).
pub fn stored_breakers(c: &dyn Sql) -> Result<Vec<(String, String, u32, String)>, StoreError> {
    c.query_map(
        "SELECT model, state, consecutive_failures, updated_at FROM breakers",
        args![],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get::<i64>(2)?.clamp(0, u32::MAX as i64) as u32,
                r.get(3)?,
            ))
        },
    )
}

/// The newest breaker transition id (0 when there is none).
pub fn last_breaker_event_id(c: &dyn Sql) -> Result<i64, StoreError> {
    c.query_row(
        "SELECT COALESCE(MAX(id), 0) FROM breaker_events",
        args![],
        |r| r.get(0),
    )
}

/// Breaker transitions with `after < id <= upto`, oldest first: (at, run, text). At most `limit`
/// (the newest of them).
pub fn breaker_events_between(
    c: &dyn Sql,
    after: i64,
    upto: i64,
    limit: usize,
) -> Result<Vec<(String, Option<String>, String)>, StoreError> {
    let mut rows = c.query_map(
        "SELECT at, run_id, model, from_state, to_state, reason FROM breaker_events
         WHERE id > ?1 AND id <= ?2 ORDER BY id DESC LIMIT ?3",
        args![after, upto, limit],
        |r| {
            let (model, from, to, reason): (String, String, String, String) =
                (r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?);
            Ok((
                r.get(0)?,
                r.get(1)?,
                breaker_text(&model, &from, &to, &reason),
            ))
        },
    )?;
    rows.reverse();
    Ok(rows)
}

fn breaker_text(model: &str, from: &str, to: &str, reason: &str) -> String {
    format!("{model}: {from} → {to} ({reason})")
}

/// Average attempt score per (model, task type): (model, type, average, attempts).
pub fn quality(c: &dyn Sql) -> Result<Vec<(String, String, f64, u64)>, StoreError> {
    c.query_map(
        "SELECT a.model, t.type, AVG(a.score), COUNT(*) FROM attempts a
         JOIN tasks t ON t.run_id = a.run_id AND t.id = a.task_id
         WHERE a.score IS NOT NULL AND a.model IS NOT NULL
         GROUP BY a.model, t.type ORDER BY a.model, t.type",
        args![],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get::<i64>(3)?.max(0) as u64,
            ))
        },
    )
}

/// The most expensive runs: (id, description, spent).
pub fn spend_by_run(
    c: &dyn Sql,
    limit: usize,
) -> Result<Vec<(String, String, Micros)>, StoreError> {
    c.query_map(
        "SELECT id, description, spent_micros FROM runs WHERE spent_micros > 0
         ORDER BY spent_micros DESC, created_at DESC LIMIT ?1",
        args![limit],
        |r| Ok((r.get(0)?, r.get(1)?, Micros(r.get(2)?))),
    )
}

/// Spend per phase (call role), most expensive first.
pub fn spend_by_phase(c: &dyn Sql) -> Result<Vec<(String, Micros)>, StoreError> {
    // HAVING repeats the sum: PostgreSQL does not read output names there.
    c.query_map(
        "SELECT role, CAST(SUM(cost_micros) AS BIGINT) AS s FROM calls GROUP BY role
         HAVING SUM(cost_micros) > 0 ORDER BY s DESC",
        args![],
        |r| Ok((r.get(0)?, Micros(r.get(1)?))),
    )
}

/// (at, kind, run, text) of a stored event.
pub type HistoryRow = (String, &'static str, Option<String>, String);

/// Stored history for the Events pane, newest first.
/// Breaker transitions up to id `breaker_upto` (later ones arrive through
/// [`breaker_events_between`]) and stored run events, newest first.
pub fn history(
    c: &dyn Sql,
    limit: usize,
    breaker_upto: i64,
) -> Result<Vec<HistoryRow>, StoreError> {
    let mut out: Vec<HistoryRow> = breaker_events_between(c, 0, breaker_upto, limit)?
        .into_iter()
        .map(|(at, run, text)| (at, "breaker", run, text))
        .collect();
    // Every kind of event but breaker transitions (their own table, above).
    for (at, kind, run, text) in super::events::newest(c, limit)? {
        out.push((at, kind, run, text));
    }
    out.sort_by(|a, b| b.0.cmp(&a.0));
    out.truncate(limit);
    Ok(out)
}

/// The call each running task of a run is making, else its latest: (task, role, model, in
/// flight). Calls in flight come from `inflight_calls` (written when a call starts).
pub fn current_calls(
    c: &dyn Sql,
    run_id: &str,
) -> Result<Vec<(String, String, String, bool)>, StoreError> {
    let mut out: Vec<(String, String, String, bool)> = Vec::new();
    let in_flight = c.query_map(
        "SELECT task_id, role, model FROM inflight_calls
         WHERE run_id = ?1 AND task_id IS NOT NULL ORDER BY started_at DESC",
        args![run_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, true)),
    )?;
    out.extend(in_flight);
    let latest = c.query_map(
        "SELECT task_id, role, model FROM calls WHERE id IN (
            SELECT MAX(id) FROM calls WHERE run_id = ?1 AND task_id IS NOT NULL GROUP BY task_id)",
        args![run_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, false)),
    )?;
    out.extend(latest);
    Ok(out)
}

/// A call of a task that did not answer.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedCallView {
    pub attempt: Option<u32>,
    pub role: String,
    pub model: String,
    pub outcome: String,
    pub error: Option<String>,
    pub retry: u32,
    pub at: String,
}

/// Calls by a task that failed (outcomes that count as failures), oldest first, at most `limit`
/// (the newest).
pub fn failed_calls(
    c: &dyn Sql,
    run_id: &str,
    task_id: &str,
    limit: usize,
) -> Result<Vec<FailedCallView>, StoreError> {
    let rows = c.query_map(
        "SELECT attempt, role, model, outcome, error, retry, at FROM calls
         WHERE run_id = ?1 AND task_id = ?2 AND outcome != 'ok' ORDER BY id DESC",
        args![run_id, task_id],
        |r| {
            Ok(FailedCallView {
                attempt: r.get(0)?,
                role: r.get(1)?,
                model: r.get(2)?,
                outcome: r.get(3)?,
                error: r.get(4)?,
                retry: r.get::<i64>(5)?.clamp(0, u32::MAX as i64) as u32,
                at: r.get(6)?,
            })
        },
    )?;
    let mut out = Vec::new();
    for f in rows {
        if crate::domain::CallOutcome::parse(&f.outcome).is_some_and(|o| o.is_failure()) {
            out.push(f);
            if out.len() >= limit {
                break;
            }
        }
    }
    out.reverse();
    Ok(out)
}

/// Changes with every commit made through another connection (any thread or process). SQLite
/// only: on PostgreSQL, which has no such counter, it changes at every call, so a reader never
/// keeps stale data (a PostgreSQL reader learns of changes by LISTEN/NOTIFY, `pg/notify.rs`).
pub fn data_version(c: &dyn Sql) -> Result<i64, StoreError> {
    match c.sqlite() {
        Some(conn) => Ok(conn.query_row("PRAGMA data_version", [], |r| r.get(0))?),
        None => {
            static CALLS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
            Ok(CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CallOutcome;

    fn call(task: &str, role: &str, model: &str, outcome: CallOutcome) -> crate::store::CallRecord {
        crate::store::CallRecord {
            run_id: Some("r-1".into()),
            task_id: Some(task.into()),
            attempt: Some(1),
            role: role.into(),
            provider: "p".into(),
            model: model.into(),
            simulated: true,
            input_tokens: 0,
            cached_tokens: 0,
            cache_write_tokens: 0,
            output_tokens: 0,
            reasoning_tokens: 0,
            cost: Micros::ZERO,
            cache_saving: Micros::ZERO,
            latency_ms: 5,
            ttft_ms: None,
            outcome,
            error: (outcome != CallOutcome::Ok).then(|| "503 overloaded".into()),
            retry: 0,
            breaker_after: None,
            at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_tasks_call_in_flight_comes_first_then_its_latest_and_failures_are_listed() {
        let c = crate::store::open_in_memory().unwrap();
        crate::store::runs::insert_run(&c, &crate::store::routing::tests::run("r-1")).unwrap();
        let runs = crate::store::runs::insert_call;
        runs(&c, &call("t1", "generate", "m1", CallOutcome::Ok)).unwrap();
        runs(&c, &call("t1", "critique", "m2", CallOutcome::Transient)).unwrap();
        runs(&c, &call("t2", "generate", "m1", CallOutcome::Ok)).unwrap();
        crate::store::inflight::insert(
            &c,
            &crate::store::inflight::InflightCall {
                reservation_id: 1,
                n: 1,
                run_id: Some("r-1".into()),
                task_id: Some("t2".into()),
                attempt: Some(1),
                role: "evaluate".into(),
                provider: "p".into(),
                model: "m3".into(),
                simulated: true,
                worst: Micros(10),
            },
        )
        .unwrap();
        let now = current_calls(&c, "r-1").unwrap();
        // In flight first (t2 evaluates on m3), then each task's latest.
        assert_eq!(now[0], ("t2".into(), "evaluate".into(), "m3".into(), true));
        assert!(now.contains(&("t1".into(), "critique".into(), "m2".into(), false)));
        let failed = failed_calls(&c, "r-1", "t1", 10).unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(
            (
                failed[0].role.as_str(),
                failed[0].model.as_str(),
                failed[0].outcome.as_str()
            ),
            ("critique", "m2", "transient")
        );
        assert!(failed_calls(&c, "r-1", "t2", 10).unwrap().is_empty());
    }
}
