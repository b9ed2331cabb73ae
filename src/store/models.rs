//! Persisted breakers, learned model profiles and the policy audit trail.

use super::sql::Sql;
use super::{StoreError, now_rfc3339};
use crate::args;
use crate::domain::{Micros, TaskType};
use crate::routing::learning::Profile;
use crate::routing::{Breaker, BreakerState};
use serde_json::{Value, json};

pub fn save_breaker(
    c: &dyn Sql,
    model: &str,
    b: &Breaker,
    config_hash: &str,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO breakers (model, state, consecutive_failures, trips, open_until_ms, not_before_ms,
            config_hash, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(model) DO UPDATE SET state = ?2, consecutive_failures = ?3, trips = ?4,
            open_until_ms = ?5, not_before_ms = ?6, config_hash = ?7, updated_at = ?8",
        args![
            model,
            b.state.as_str(),
            b.consecutive_failures,
            b.trips,
            b.open_until_ms as i64,
            b.not_before_ms as i64,
            config_hash,
            now_rfc3339()
        ],
    )?;
    Ok(())
}

/// (model, breaker, config hash) of every persisted breaker.
pub fn load_breakers(c: &dyn Sql) -> Result<Vec<(String, Breaker, String)>, StoreError> {
    c.query_map(
        "SELECT model, state, consecutive_failures, trips, open_until_ms, not_before_ms, config_hash FROM breakers",
        args![],
        |r| {
            let state: String = r.get(1)?;
            Ok((
                r.get(0)?,
                Breaker {
                    state: BreakerState::parse(&state),
                    consecutive_failures: r.get(2)?,
                    trips: r.get(3)?,
                    open_until_ms: r.get::<i64>(4)?.max(0) as u64,
                    not_before_ms: r.get::<i64>(5)?.max(0) as u64,
                    // A probe in flight belonged to a process that is gone.
                    probe_in_flight: false,
                },
                r.get(6)?,
            ))
        },
    )
}

pub fn save_profile(c: &dyn Sql, model: &str, t: TaskType, p: &Profile) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO model_profiles (model, task_type, samples, quality, calls, successes,
            latency_ema_ms, cost_total_micros, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT(model, task_type) DO UPDATE SET samples = ?3, quality = ?4, calls = ?5,
            successes = ?6, latency_ema_ms = ?7, cost_total_micros = ?8, updated_at = ?9
         -- Snapshots are taken on several threads and queued in any order: never let an older
         -- one (fewer calls and samples) overwrite a newer one.
         WHERE excluded.samples + excluded.calls >= model_profiles.samples + model_profiles.calls",
        args![
            model,
            t.as_str(),
            p.samples as i64,
            p.quality,
            p.calls as i64,
            p.successes as i64,
            p.latency_ema_ms,
            p.cost_total.0,
            now_rfc3339()
        ],
    )?;
    Ok(())
}

pub fn load_profiles(c: &dyn Sql) -> Result<Vec<(String, TaskType, Profile)>, StoreError> {
    let rows = c.query_map(
        "SELECT model, task_type, samples, quality, calls, successes, latency_ema_ms, cost_total_micros
         FROM model_profiles",
        args![],
        |r| {
            let t: String = r.get(1)?;
            Ok((
                r.get::<String>(0)?,
                t,
                Profile {
                    samples: r.get::<i64>(2)?.max(0) as u64,
                    quality: r.get(3)?,
                    calls: r.get::<i64>(4)?.max(0) as u64,
                    successes: r.get::<i64>(5)?.max(0) as u64,
                    latency_ema_ms: r.get(6)?,
                    cost_total: Micros(r.get(7)?),
                },
            ))
        },
    )?;
    // Rows of task types this version does not know are skipped.
    Ok(rows
        .into_iter()
        .filter_map(|(m, t, p)| t.parse::<TaskType>().ok().map(|t| (m, t, p)))
        .collect())
}

/// One routing decision under policies.
pub struct AuditRow<'a> {
    pub run_id: Option<&'a str>,
    pub task_id: Option<&'a str>,
    pub model: &'a str,
    pub policies: &'a [String],
    pub mode: Option<&'a str>,
    pub violations: &'a [String],
    pub allowed: bool,
}

pub fn insert_audit(c: &dyn Sql, a: &AuditRow) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO audit (at, run_id, task_id, model, policies, mode, violations, allowed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        args![
            now_rfc3339(),
            a.run_id,
            a.task_id,
            a.model,
            serde_json::to_string(a.policies).unwrap_or_else(|_| "[]".into()),
            a.mode,
            serde_json::to_string(a.violations).unwrap_or_else(|_| "[]".into()),
            a.allowed
        ],
    )?;
    Ok(())
}

/// Audit records as the contract's JSON objects, oldest first.
pub fn audit(c: &dyn Sql, run: Option<&str>) -> Result<Vec<Value>, StoreError> {
    // The cast types the parameter for PostgreSQL, which cannot infer it from `IS NULL`.
    c.query_map(
        "SELECT at, run_id, task_id, model, policies, mode, violations, allowed FROM audit
         WHERE CAST(?1 AS TEXT) IS NULL OR run_id = ?1 ORDER BY id",
        args![run],
        |r| {
            let p: String = r.get(4)?;
            let v: String = r.get(6)?;
            Ok(json!({
                "at": r.get::<String>(0)?,
                "run": r.get::<Option<String>>(1)?,
                "task": r.get::<Option<String>>(2)?,
                "model": r.get::<String>(3)?,
                "policies": serde_json::from_str::<Value>(&p).unwrap_or(json!([])),
                "mode": r.get::<Option<String>>(5)?,
                "violations": serde_json::from_str::<Value>(&v).unwrap_or(json!([])),
                "allowed": r.get::<bool>(7)?,
            }))
        },
    )
}

/// Per model: calls, successes and latency percentiles from the telemetry.
pub struct CallStats {
    pub calls: u64,
    pub ok: u64,
    pub p50_ms: Option<u64>,
    pub p95_ms: Option<u64>,
    pub recent_ms: Vec<u64>,
}

pub fn call_stats(c: &dyn Sql, model: &str) -> Result<CallStats, StoreError> {
    let rows: Vec<(u64, bool)> = c.query_map(
        "SELECT latency_ms, outcome = 'ok' FROM calls WHERE model = ?1 ORDER BY id DESC LIMIT 2000",
        args![model],
        |r| Ok((r.get::<i64>(0)?.max(0) as u64, r.get(1)?)),
    )?;
    let (calls, ok): (u64, u64) = c.query_row(
        // A call cut short by a crash says nothing about the model's health.
        "SELECT COUNT(*),
            CAST(COALESCE(SUM(CASE WHEN outcome = 'ok' THEN 1 ELSE 0 END), 0) AS BIGINT)
         FROM calls WHERE model = ?1 AND outcome != 'estimated'",
        args![model],
        |r| Ok((r.get::<i64>(0)? as u64, r.get::<i64>(1)? as u64)),
    )?;
    let mut lat: Vec<u64> = rows.iter().filter(|(_, ok)| *ok).map(|(l, _)| *l).collect();
    let recent: Vec<u64> = lat.iter().take(40).rev().copied().collect();
    lat.sort_unstable();
    let pct = |p: f64| -> Option<u64> {
        if lat.is_empty() {
            None
        } else {
            let i = ((lat.len() as f64 - 1.0) * p).round() as usize;
            lat.get(i).copied()
        }
    };
    Ok(CallStats {
        calls,
        ok,
        p50_ms: pct(0.5),
        p95_ms: pct(0.95),
        recent_ms: recent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn an_older_profile_snapshot_never_overwrites_a_newer_one() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::migrations::migrate(&mut c).unwrap();
        let snap = |samples, calls, quality| Profile {
            samples,
            quality,
            calls,
            successes: calls,
            latency_ema_ms: 10.0,
            cost_total: crate::domain::Micros(100 * samples as i64),
        };
        let t = TaskType::CodeGeneration;
        save_profile(&c, "m", t, &snap(5, 20, 0.9)).unwrap();
        // Queued late: a snapshot from before the last two samples.
        save_profile(&c, "m", t, &snap(3, 20, 0.7)).unwrap();
        let loaded = load_profiles(&c).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!((loaded[0].2.samples, loaded[0].2.quality), (5, 0.9));
        save_profile(&c, "m", t, &snap(5, 21, 0.9)).unwrap();
        assert_eq!(load_profiles(&c).unwrap()[0].2.calls, 21);
    }
}
