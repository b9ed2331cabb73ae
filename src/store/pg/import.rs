//! `store migrate --to URL`: copy one machine's SQLite history into the org-wide PostgreSQL store
//! (issue 19). Idempotent: a run is copied once (by its id, which is unique across machines);
//! rows outside runs (events, audit, analyses) are copied when newer than this source's last
//! import, recorded in `org_settings` as `imported:<source>`; learned profiles are merged into
//! the shared ones only on a source's first import. Integer ids are not copied (another machine
//! may already use them): the shared store numbers the rows it receives.
//!
//! Budgets: a level the shared store does not have yet (or has without a cap) gets this
//! machine's cap and period (a shared cap is never overwritten), and each copied run's spend is added to the org
//! and team levels (within their current period), so the shared ledger still equals the sum of
//! its runs' call costs. Runs a live process here is driving are left for a later migrate.

use crate::store::StoreError;
use crate::store::sql::{Row, Sql, Value};
use std::collections::BTreeMap;

/// What one import copied, by table, and what it left.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ImportReport {
    /// Rows copied per table.
    pub copied: BTreeMap<String, u64>,
    /// Runs already in the shared store (an earlier import, or another machine).
    pub runs_already_there: u64,
    /// Runs a live process here is still driving (not copied: migrate again after they end).
    pub runs_live: Vec<String>,
    /// Budget levels whose cap and period came from this machine (absent or uncapped there).
    pub levels_created: Vec<String>,
    /// Budget levels the shared store already had a cap for (its cap kept).
    pub levels_kept: Vec<String>,
    /// Spend added to shared levels for the copied runs, per level (micro-dollars).
    pub spend_added_micros: BTreeMap<String, i64>,
    /// Whether learned model profiles were merged (only on a source's first import).
    pub profiles_merged: bool,
    /// The previous import of this source, if any.
    pub previous_import: Option<String>,
}

/// Tables keyed by a run (plus their own key), copied with every column.
const RUN_KEYED: &[&str] = &["tasks", "attempts", "artifacts"];
/// Tables with an integer id and a run id: copied for a run, without the id.
const RUN_ROWS: &[&str] = &[
    "calls",
    "artifact_refusals",
    "routing",
    "run_events",
    "breaker_events",
    "audit",
];
/// Rows that may belong to no run: those without one are copied when newer than the last import.
const UNOWNED_ROWS: &[(&str, &str)] = &[
    ("run_events", "at"),
    ("breaker_events", "at"),
    ("audit", "at"),
];
/// Keyed state copied where the shared store has no row for the key.
const IF_ABSENT: &[&str] = &["breakers", "structured_modes", "budget_alerts"];
/// Run columns that describe this machine's live state, not history.
const RUN_LIVE_COLS: &[&str] = &["owner_host", "owner_pid", "owner_start", "reserved_micros"];

fn columns(src: &dyn Sql, table: &str) -> Result<Vec<String>, StoreError> {
    src.query_map(
        "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
        crate::args![table],
        |r| r.get::<String>(0),
    )
}

/// The source and each of its tables' columns, read once per import (runs are copied one by
/// one, each through every history table).
struct Source<'a> {
    sql: &'a dyn Sql,
    known: std::collections::HashMap<String, Vec<String>>,
}

impl Source<'_> {
    fn columns(&mut self, table: &str) -> Result<&[String], StoreError> {
        if !self.known.contains_key(table) {
            let cols = columns(self.sql, table)?;
            self.known.insert(table.to_string(), cols);
        }
        Ok(self.known.get(table).map(Vec::as_slice).unwrap_or_default())
    }
}

/// Copy the rows of `table` matching `filter` (a WHERE clause on the source), without the
/// columns in `drop`; rows whose key the destination already has are skipped.
fn copy(
    source: &mut Source<'_>,
    dst: &dyn Sql,
    table: &str,
    filter: &str,
    args: &[Value],
    drop: &[&str],
    report: &mut ImportReport,
) -> Result<u64, StoreError> {
    let src = source.sql;
    let cols: Vec<&String> = source
        .columns(table)?
        .iter()
        .filter(|c| !drop.contains(&c.as_str()))
        .collect();
    if cols.is_empty() {
        return Ok(0);
    }
    let list = cols
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let rows = src.query(&format!("SELECT {list} FROM {table} WHERE {filter}"), args)?;
    let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
    let insert = format!(
        "INSERT INTO {table} ({list}) VALUES ({}) ON CONFLICT DO NOTHING",
        marks.join(", ")
    );
    let mut n = 0u64;
    for Row(vals) in &rows {
        n += dst.execute(&insert, vals)? as u64;
    }
    *report.copied.entry(table.to_string()).or_default() += n;
    Ok(n)
}

/// Copy `src`'s history into `dst` (a PostgreSQL transaction, so all of it or nothing).
/// `source` names this history for later imports (host and file); `live(run)` says whether a
/// process here still drives a run.
pub fn import(
    src: &dyn Sql,
    dst: &dyn Sql,
    source: &str,
    live: &dyn Fn(&str, &Row) -> bool,
) -> Result<ImportReport, StoreError> {
    let mut report = ImportReport::default();
    let mut tables = Source {
        sql: src,
        known: Default::default(),
    };
    let marker = format!("imported:{source}");
    let since: Option<String> = dst.query_opt(
        "SELECT value FROM org_settings WHERE name = ?1",
        crate::args![marker],
        |r| r.get(0),
    )?;
    report.previous_import = since.clone();
    let now = crate::store::now_rfc3339();

    levels(src, dst, &mut report)?;
    let runs = src.query(
        "SELECT id, status, owner_host, owner_pid, owner_start, team, spent_micros, updated_at
         FROM runs ORDER BY created_at, rowid",
        crate::args![],
    )?;
    let run_cols: Vec<String> = columns(src, "runs")?;
    let drop_live: Vec<&str> = RUN_LIVE_COLS
        .iter()
        .copied()
        .filter(|c| run_cols.iter().any(|k| k == c))
        .collect();
    for run in &runs {
        let id: String = run.get(0)?;
        let there = dst
            .query_opt("SELECT 1 FROM runs WHERE id = ?1", crate::args![id], |r| {
                r.get::<i64>(0)
            })?
            .is_some();
        if there {
            report.runs_already_there += 1;
            continue;
        }
        if live(&id, run) {
            report.runs_live.push(id);
            continue;
        }
        let by_run = crate::args![id];
        copy(
            &mut tables,
            dst,
            "runs",
            "id = ?1",
            by_run,
            &drop_live,
            &mut report,
        )?;
        for t in RUN_KEYED {
            copy(&mut tables, dst, t, "run_id = ?1", by_run, &[], &mut report)?;
        }
        for t in RUN_ROWS {
            copy(
                &mut tables,
                dst,
                t,
                "run_id = ?1",
                by_run,
                &["id"],
                &mut report,
            )?;
        }
        let series = format!("run:{id}");
        copy(
            &mut tables,
            dst,
            "spend_series",
            "level = ?1",
            crate::args![series],
            &["id"],
            &mut report,
        )?;
        let team: Option<String> = run.get(5)?;
        let spent: i64 = run.get(6)?;
        let at: String = run.get(7)?;
        add_spend(dst, "org", spent, &at, &mut report)?;
        if let Some(t) = team {
            add_spend(dst, &format!("team:{t}"), spent, &at, &mut report)?;
        }
    }
    for (table, at) in UNOWNED_ROWS {
        let (filter, args) = match &since {
            Some(s) => (
                format!("run_id IS NULL AND {at} > ?1"),
                vec![Value::Text(s.clone())],
            ),
            None => ("run_id IS NULL".to_string(), vec![]),
        };
        copy(
            &mut tables,
            dst,
            table,
            &filter,
            &args,
            &["id"],
            &mut report,
        )?;
    }
    for t in IF_ABSENT {
        copy(
            &mut tables,
            dst,
            t,
            "1 = 1",
            crate::args![],
            &[],
            &mut report,
        )?;
    }
    analyses(src, dst, since.as_deref(), &mut report)?;
    if since.is_none() {
        merge_profiles(src, dst)?;
        report.profiles_merged = true;
    }
    dst.execute(
        "INSERT INTO org_settings (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        crate::args![marker, now],
    )?;
    Ok(report)
}

/// Create the levels the shared store lacks (or has without a cap) with this machine's cap and
/// period, nothing spent yet (the copied runs add theirs); a shared cap is kept.
fn levels(src: &dyn Sql, dst: &dyn Sql, report: &mut ImportReport) -> Result<(), StoreError> {
    let rows = src.query(
        "SELECT level, cap_micros, period FROM budget_levels ORDER BY level",
        crate::args![],
    )?;
    for r in &rows {
        let level: String = r.get(0)?;
        let cap: Option<i64> = r.get(1)?;
        let period: Option<String> = r.get(2)?;
        let key = period
            .as_deref()
            .and_then(|p| crate::budget::period::period_key(p, chrono::Utc::now()));
        let n = dst.execute(
            "INSERT INTO budget_levels (level, cap_micros, period, period_key)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (level) DO UPDATE SET cap_micros = excluded.cap_micros,
                period = excluded.period, period_key = excluded.period_key
             WHERE budget_levels.cap_micros IS NULL AND excluded.cap_micros IS NOT NULL",
            crate::args![level, cap, period, key],
        )?;
        if n == 1 {
            report.levels_created.push(level);
        } else if cap.is_some() {
            report.levels_kept.push(level);
        }
    }
    Ok(())
}

/// Add a copied run's spend to a shared level, if the level exists and the run falls in its
/// current period (a level without a period counts everything).
fn add_spend(
    dst: &dyn Sql,
    level: &str,
    spent: i64,
    at: &str,
    report: &mut ImportReport,
) -> Result<(), StoreError> {
    if spent <= 0 {
        return Ok(());
    }
    let Some(period) = dst.query_opt(
        "SELECT period FROM budget_levels WHERE level = ?1",
        crate::args![level],
        |r| r.get::<Option<String>>(0),
    )?
    else {
        return Ok(());
    };
    if let Some(key) = period
        .as_deref()
        .and_then(|p| crate::budget::period::period_key(p, chrono::Utc::now()))
        && at < key.as_str()
    {
        return Ok(());
    }
    dst.execute(
        "UPDATE budget_levels SET spent_micros = spent_micros + ?2 WHERE level = ?1",
        crate::args![level, spent],
    )?;
    *report
        .spend_added_micros
        .entry(level.to_string())
        .or_default() += spent;
    Ok(())
}

/// Analyses newer than the last import, with their findings under the shared store's new ids.
fn analyses(
    src: &dyn Sql,
    dst: &dyn Sql,
    since: Option<&str>,
    report: &mut ImportReport,
) -> Result<(), StoreError> {
    let cols: Vec<String> = columns(src, "analyses")?
        .into_iter()
        .filter(|c| c != "id")
        .collect();
    if cols.is_empty() {
        return Ok(());
    }
    let list = cols.join(", ");
    let rows = src.query(
        &format!("SELECT id, {list} FROM analyses WHERE analyzed_at > ?1 ORDER BY id"),
        crate::args![since.unwrap_or("")],
    )?;
    let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
    let insert = format!(
        "INSERT INTO analyses ({list}) VALUES ({}) RETURNING id",
        marks.join(", ")
    );
    let fcols: Vec<String> = columns(src, "findings")?
        .into_iter()
        .filter(|c| c != "analysis_id")
        .collect();
    let flist = fcols.join(", ");
    let fmarks: Vec<String> = (2..=fcols.len() + 1).map(|i| format!("?{i}")).collect();
    let finsert = format!(
        "INSERT INTO findings (analysis_id, {flist}) VALUES (?1, {})",
        fmarks.join(", ")
    );
    for r in &rows {
        let old: i64 = r.get(0)?;
        let new: i64 = dst.query_row(&insert, &r.0[1..], |x| x.get(0))?;
        *report.copied.entry("analyses".into()).or_default() += 1;
        let findings = src.query(
            &format!("SELECT {flist} FROM findings WHERE analysis_id = ?1"),
            crate::args![old],
        )?;
        for f in &findings {
            let mut vals = vec![Value::Int(new)];
            vals.extend(f.0.iter().cloned());
            dst.execute(&finsert, &vals)?;
            *report.copied.entry("findings".into()).or_default() += 1;
        }
    }
    Ok(())
}

/// Learned quality from this machine joins the shared profile as if its samples had been taken
/// there: counts add up, quality and latency are weighted by samples and calls.
fn merge_profiles(src: &dyn Sql, dst: &dyn Sql) -> Result<(), StoreError> {
    let rows = src.query(
        "SELECT model, task_type, samples, quality, calls, successes, latency_ema_ms,
            cost_total_micros, updated_at FROM model_profiles",
        crate::args![],
    )?;
    for r in &rows {
        dst.execute(
            "INSERT INTO model_profiles (model, task_type, samples, quality, calls, successes,
                latency_ema_ms, cost_total_micros, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (model, task_type) DO UPDATE SET
                quality = CASE WHEN model_profiles.samples + excluded.samples = 0
                    THEN model_profiles.quality
                    ELSE (model_profiles.quality * model_profiles.samples
                          + excluded.quality * excluded.samples)
                         / (model_profiles.samples + excluded.samples) END,
                latency_ema_ms = CASE WHEN model_profiles.calls + excluded.calls = 0
                    THEN model_profiles.latency_ema_ms
                    ELSE (model_profiles.latency_ema_ms * model_profiles.calls
                          + excluded.latency_ema_ms * excluded.calls)
                         / (model_profiles.calls + excluded.calls) END,
                samples = model_profiles.samples + excluded.samples,
                calls = model_profiles.calls + excluded.calls,
                successes = model_profiles.successes + excluded.successes,
                cost_total_micros = model_profiles.cost_total_micros + excluded.cost_total_micros,
                updated_at = CASE WHEN excluded.updated_at > model_profiles.updated_at
                    THEN excluded.updated_at ELSE model_profiles.updated_at END",
            &r.0,
        )?;
    }
    Ok(())
}
