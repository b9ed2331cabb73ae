//! Call rows (one provider request each, its settled cost charged to its run) and the
//! breaker transitions recorded with a run.

use crate::args;
use crate::domain::Micros;
use crate::store::records::*;
use crate::store::sql::{Sql, Value};
use crate::store::{StoreError, insert_returning_id};
use std::sync::LazyLock;

/// The columns of a call row, in the order of [`call_args`].
const CALL_COLUMNS: &str =
    "run_id, task_id, attempt, role, provider, model, simulated, input_tokens,
    cached_tokens, output_tokens, reasoning_tokens, cost_micros, latency_ms, ttft_ms, outcome,
    error, retry, breaker_after, at, cache_write_tokens, cache_saving_micros";

const CALL_VALUES: &str = "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
    ?17, ?18, ?19, ?20, ?21";

fn call_args(k: &CallRecord) -> Vec<Value> {
    args![
        k.run_id,
        k.task_id,
        k.attempt,
        k.role,
        k.provider,
        k.model,
        k.simulated,
        k.input_tokens as i64,
        k.cached_tokens as i64,
        k.output_tokens as i64,
        k.reasoning_tokens as i64,
        k.cost.0,
        k.latency_ms as i64,
        k.ttft_ms.map(|t| t as i64),
        k.outcome.as_str(),
        k.error,
        k.retry,
        k.breaker_after,
        k.at,
        k.cache_write_tokens as i64,
        k.cache_saving.0
    ]
    .to_vec()
}

/// Store a call's row and charge its cost to its run.
pub fn insert_call(c: &dyn Sql, k: &CallRecord) -> Result<i64, StoreError> {
    if c.sqlite().is_none() {
        // PostgreSQL: one round trip on every call's settle (the run's charge rides along).
        static ONE: LazyLock<String> = LazyLock::new(|| {
            format!(
                "WITH c AS (INSERT INTO calls ({CALL_COLUMNS}) VALUES ({CALL_VALUES}) RETURNING id),
                      r AS (UPDATE runs SET spent_micros = spent_micros + ?12
                            WHERE id = ?1 AND ?12 <> 0)
                 SELECT id FROM c"
            )
        });
        return c.query_row(&ONE, &call_args(k), |r| r.get(0));
    }
    static INSERT: LazyLock<String> =
        LazyLock::new(|| format!("INSERT INTO calls ({CALL_COLUMNS}) VALUES ({CALL_VALUES})"));
    let id: i64 = insert_returning_id(c, &INSERT, &call_args(k))?;
    if let Some(run) = &k.run_id
        && k.cost.0 != 0
    {
        c.execute(
            "UPDATE runs SET spent_micros = spent_micros + ?2 WHERE id = ?1",
            args![run, k.cost.0],
        )?;
    }
    Ok(id)
}

#[derive(Debug, Clone, Copy, Default)]
pub struct CallCounts {
    pub total: u64,
    pub ok: u64,
    pub cost: Micros,
    /// Part of `cost` charged as an estimate (calls cut short by a crash).
    pub estimated: Micros,
    /// Input tokens read from and written to providers' caches.
    pub cached_tokens: u64,
    pub cache_write_tokens: u64,
    /// What caching saved, summed over the calls.
    pub cache_saving: Micros,
}

pub fn call_counts(c: &dyn Sql, run_id: &str) -> Result<CallCounts, StoreError> {
    c.query_row(
        "SELECT COUNT(*),
            CAST(COALESCE(SUM(CASE WHEN outcome = 'ok' THEN 1 ELSE 0 END), 0) AS BIGINT),
            CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT),
            CAST(COALESCE(SUM(CASE WHEN outcome = 'estimated' THEN cost_micros END), 0) AS BIGINT),
            CAST(COALESCE(SUM(cached_tokens), 0) AS BIGINT),
            CAST(COALESCE(SUM(cache_write_tokens), 0) AS BIGINT),
            CAST(COALESCE(SUM(cache_saving_micros), 0) AS BIGINT)
         FROM calls WHERE run_id = ?1",
        args![run_id],
        |r| {
            Ok(CallCounts {
                total: r.get::<i64>(0)? as u64,
                ok: r.get::<i64>(1)? as u64,
                cost: Micros(r.get(2)?),
                estimated: Micros(r.get(3)?),
                cached_tokens: r.get::<i64>(4)?.max(0) as u64,
                cache_write_tokens: r.get::<i64>(5)?.max(0) as u64,
                cache_saving: Micros(r.get(6)?),
            })
        },
    )
}

/// Settled cost per task of a run.
pub fn task_costs(c: &dyn Sql, run_id: &str) -> Result<Vec<(String, Micros)>, StoreError> {
    c.query_map(
        "SELECT task_id, CAST(SUM(cost_micros) AS BIGINT) FROM calls
         WHERE run_id = ?1 AND task_id IS NOT NULL GROUP BY task_id",
        args![run_id],
        |r| Ok((r.get(0)?, Micros(r.get(1)?))),
    )
}

pub fn insert_breaker_event(
    c: &dyn Sql,
    run_id: Option<&str>,
    e: &BreakerEventRow,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO breaker_events (at, run_id, model, from_state, to_state, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        args![e.at, run_id, e.model, e.from, e.to, e.reason],
    )?;
    Ok(())
}

pub fn breaker_events(c: &dyn Sql, run_id: &str) -> Result<Vec<BreakerEventRow>, StoreError> {
    c.query_map(
        "SELECT at, model, from_state, to_state, reason FROM breaker_events WHERE run_id = ?1 ORDER BY id",
        args![run_id],
        |r| {
            Ok(BreakerEventRow {
                at: r.get(0)?,
                model: r.get(1)?,
                from: r.get(2)?,
                to: r.get(3)?,
                reason: r.get(4)?,
            })
        },
    )
}

/// Did any call of the run go to a simulated provider (false when it made none)?
pub fn any_call_simulated(c: &dyn Sql, run_id: &str) -> Result<bool, StoreError> {
    c.query_row(
        "SELECT COALESCE(MAX(simulated), 0) FROM calls WHERE run_id = ?1",
        args![run_id],
        |r| r.get(0),
    )
}
