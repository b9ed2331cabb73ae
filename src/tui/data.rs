//! Snapshot loading, off the UI thread: a dedicated thread with its own read connection (WAL lets
//! it read while the engine's store thread writes) turns store rows into view data and sends them
//! back on the UI's channel. Requests that pile up are merged, so a burst of engine events costs
//! one load.

use super::analysis::StoredAnalysis;
use super::state::*;
use crate::domain::CallOutcome;
use crate::domain::status::{RunStatus, TaskStatus};
use crate::routing::breaker::BreakerState;
use crate::store::sql::Sql;
use crate::store::{Backend, BudgetStore, StoreError, ViewStore};
use std::collections::HashMap;
use std::path::Path;

/// What to load besides the always-loaded lists.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapshotReq {
    pub open_run: Option<String>,
    /// (run, task) of the detail view.
    pub task: Option<(String, String)>,
    /// Include the stored event history (first load only).
    pub history: bool,
}

impl SnapshotReq {
    pub(super) fn merge(self, newer: SnapshotReq) -> SnapshotReq {
        SnapshotReq {
            history: self.history || newer.history,
            ..newer
        }
    }
}

/// The catalog models to list: (id, provider).
pub type ModelList = Vec<(String, String)>;

/// Failed calls listed in a task's detail (the newest).
const FAILED_CALLS: usize = 50;

/// Latencies kept per model for p50/p95 and the sparkline.
pub const RECENT_CALLS: usize = 200;
const SPARK_POINTS: usize = 60;

fn epoch_ms(rfc3339: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.timestamp_millis())
}

pub(super) fn local(rfc3339: &str, fmt: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.with_timezone(&chrono::Local).format(fmt).to_string())
        .unwrap_or_default()
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

fn validators_line(json: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    let name = x["name"].as_str().unwrap_or("?");
                    match x["result"].as_str().unwrap_or("") {
                        "pass" | "passed" | "ok" => format!("{name} ✓"),
                        "fail" | "failed" => format!("{name} ✕"),
                        other => format!("{name} {other}"),
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// The breaker state to show: the persisted row every process writes, unless a transition was
/// recorded after it (open -> half_open is recorded as an event only). This process's in-memory
/// breakers are not consulted: its engine persists them too, and they would hide what other
/// processes store (a model disabled elsewhere showed `closed` here).
fn breaker_shown(
    row: Option<&(String, u32, String)>,
    last_event: Option<&(String, String)>,
    trailing_failures: u32,
) -> (BreakerState, u32) {
    let failures = |st: BreakerState, n: u32| if st == BreakerState::Closed { 0 } else { n };
    match (row, last_event) {
        (Some((_, n, updated)), Some((to, at))) if at > updated => {
            let st = BreakerState::parse(to);
            (st, failures(st, *n))
        }
        (Some((st, n, _)), _) => (BreakerState::parse(st), *n),
        (None, Some((to, _))) => {
            let st = BreakerState::parse(to);
            (st, failures(st, trailing_failures))
        }
        (None, None) => (BreakerState::Closed, trailing_failures),
    }
}

/// (model, task type, learned profile)
type Profiles = [(
    String,
    crate::domain::TaskType,
    crate::routing::learning::Profile,
)];

fn models(
    c: &(impl ViewStore + ?Sized),
    catalog: &ModelList,
    profiles: &Profiles,
) -> Result<Vec<ModelRow>, StoreError> {
    let totals: HashMap<String, (u64, u64, crate::domain::Micros)> = c
        .call_totals()?
        .into_iter()
        .map(|(m, n, ok, cost)| (m, (n, ok, cost)))
        .collect();
    let mut recent: HashMap<String, Vec<(String, u64)>> = HashMap::new();
    for (m, outcome, lat) in c.recent_calls(RECENT_CALLS)? {
        recent.entry(m).or_default().push((outcome, lat));
    }
    let rows: HashMap<String, (String, u32, String)> = c
        .stored_breakers()?
        .into_iter()
        .map(|(m, st, n, at)| (m, (st, n, at)))
        .collect();
    let events: HashMap<String, (String, String)> = c
        .last_breaker_states()?
        .into_iter()
        .map(|(m, to, at)| (m, (to, at)))
        .collect();
    let savings: HashMap<String, crate::domain::Micros> = c.cache_savings()?.into_iter().collect();
    // Learned quality (the EMA routing blends with the prior), per task type with its samples.
    let mut quality: HashMap<String, Vec<(String, f64, u64)>> = HashMap::new();
    for (m, ty, p) in profiles {
        if p.samples > 0 {
            quality
                .entry(m.clone())
                .or_default()
                .push((ty.to_string(), p.quality, p.samples));
        }
    }
    Ok(catalog
        .iter()
        .map(|(id, provider)| {
            let (calls, ok, cost) = totals.get(id).copied().unwrap_or_default();
            let rec = recent.remove(id).unwrap_or_default();
            // Newest first in `rec`: trailing failures, and successful latencies oldest first.
            let trailing = rec
                .iter()
                .filter(|(o, _)| !CallOutcome::parse(o).is_some_and(CallOutcome::is_neutral))
                .take_while(|(o, _)| o != CallOutcome::Ok.as_str())
                .count() as u32;
            let mut ok_lat: Vec<u64> = rec
                .iter()
                .filter(|(o, _)| o == CallOutcome::Ok.as_str())
                .map(|x| x.1)
                .collect();
            ok_lat.reverse();
            let mut sorted = ok_lat.clone();
            sorted.sort_unstable();
            let (breaker, failures) = breaker_shown(rows.get(id), events.get(id), trailing);
            ModelRow {
                id: id.clone(),
                provider: provider.clone(),
                breaker,
                failures,
                calls,
                ok,
                cost,
                p50_ms: percentile(&sorted, 50.0),
                p95_ms: percentile(&sorted, 95.0),
                recent_ms: ok_lat[ok_lat.len().saturating_sub(SPARK_POINTS)..].to_vec(),
                quality: quality.remove(id).unwrap_or_default(),
                cache_saving: savings.get(id).copied().unwrap_or_default(),
            }
        })
        .collect())
}

fn budget(c: &(impl BudgetStore + ViewStore + ?Sized)) -> Result<BudgetSnap, StoreError> {
    let mut levels = Vec::new();
    for l in c.all_levels()? {
        let series = c
            .spend_series(&l.level, 500)?
            .into_iter()
            .filter_map(|(at, m)| epoch_ms(&at).map(|t| (t, m)))
            .collect();
        levels.push(LevelItem {
            level: l.level,
            cap: l.cap,
            spent: l.spent,
            reserved: l.reserved,
            period: l.period,
            estimated: l.estimated,
            series,
        });
    }
    Ok(BudgetSnap {
        levels,
        by_run: c.spend_by_run(8)?,
        by_phase: c.spend_by_phase()?,
    })
}

/// Model and budget aggregates only change when the database does: they are reused while
/// `PRAGMA data_version` (bumped by every commit of another connection, this process's store
/// thread or another process) is unchanged, or on PostgreSQL while no change was notified, so an
/// idle UI's periodic reload costs only the cheap queries. `MAX_AGE` only bounds what changes with the clock alone (budget periods).
#[derive(Default)]
pub struct Cache {
    key: Option<i64>,
    at: Option<std::time::Instant>,
    models: Vec<ModelRow>,
    recommendations: Vec<String>,
    budget: BudgetSnap,
    /// The stored analysis last sent (a report is sent once, when a newer one is stored).
    analysis_id: Option<i64>,
    /// Where the Events pane's feed of stored events is (`feed.rs`).
    feed: super::feed::Cursors,
    /// On PostgreSQL, what the store's notifications say (`loader.rs`): while they are heard,
    /// their count stands for `data_version` (which changes at every read there).
    pub(super) notified: Option<std::sync::Arc<Notified>>,
}

/// What the store's notifications told the loader (`loader.rs`, PostgreSQL only).
#[derive(Default)]
pub struct Notified {
    /// The listener is connected: changes are notified.
    pub(super) listening: std::sync::atomic::AtomicBool,
    /// Changes heard so far.
    pub(super) heard: std::sync::atomic::AtomicI64,
}

impl Notified {
    /// A key that changes with every notified change while listening (negative, so never equal
    /// to a `data_version`); `None` while not listening.
    pub fn generation(&self) -> Option<i64> {
        self.listening
            .load(std::sync::atomic::Ordering::SeqCst)
            .then(|| -1 - self.heard.load(std::sync::atomic::Ordering::SeqCst))
    }
}

const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(30);

/// Load one snapshot.
pub fn load(
    c: &dyn Sql,
    data_dir: &Path,
    catalog: &ModelList,
    req: &SnapshotReq,
) -> Result<Snapshot, StoreError> {
    load_cached(c, data_dir, catalog, req, &mut Cache::default())
}

/// `load`, reusing unchanged aggregates from `cache`.
pub fn load_cached(
    c: &dyn Sql,
    data_dir: &Path,
    catalog: &ModelList,
    req: &SnapshotReq,
    cache: &mut Cache,
) -> Result<Snapshot, StoreError> {
    let runs = run_list(c, data_dir)?;
    let detail = match &req.open_run {
        Some(id) => run_detail(c, data_dir, id)?,
        None => None,
    };
    let attempts = match &req.task {
        Some((run, task)) => task_attempts(c, run, task)?,
        None => None,
    };
    let (breaker_events, stored_events, history) =
        super::feed::events(c, req.history, &mut cache.feed)?;
    let key = Some(match cache.notified.as_ref().and_then(|n| n.generation()) {
        Some(g) => g,
        None => c.data_version()?,
    });
    let fresh = cache.at.is_some_and(|t| t.elapsed() < MAX_AGE) && cache.key == key;
    if !fresh {
        let profiles = c.profiles()?;
        cache.recommendations = crate::routing::learning::recommendations(&profiles)
            .into_iter()
            .map(|r| r.text)
            .collect();
        cache.models = models(c, catalog, &profiles)?;
        cache.budget = budget(c)?;
        cache.key = key;
        cache.at = Some(std::time::Instant::now());
    }
    let analysis = latest_analysis(c, cache);
    Ok(Snapshot {
        analysis,
        runs,
        detail,
        attempts,
        models: cache.models.clone(),
        recommendations: cache.recommendations.clone(),
        budget: cache.budget.clone(),
        history,
        breaker_events,
        stored_events,
    })
}

/// Every run, newest first, with liveness folded into its status by the same rule as
/// `runs`/`show` (a deleted lock file does not make a live run interrupted).
fn run_list(c: &(impl Backend + ?Sized), data_dir: &Path) -> Result<Vec<RunItem>, StoreError> {
    Ok(c.list_runs()?
        .into_iter()
        .map(|r| RunItem {
            status: crate::engine::report::effective_status(data_dir, &r),
            created: local(&r.created_at, "%m-%d %H:%M"),
            id: r.id,
            description: r.description,
            team: r.team,
            spent: r.spent,
            budget: r.budget,
            tasks_done: r.tasks_done,
            tasks_total: r.tasks_total,
            // Written by any machine of a shared store: shown, so text-safe.
            host: r
                .host
                .map(|h| crate::text_safe::clean_line(&h).into_owned()),
            user: r
                .user
                .map(|u| crate::text_safe::clean_line(&u).into_owned()),
        })
        .collect())
}

/// The open run and its tasks (`None`: it was deleted).
fn run_detail(
    c: &(impl Backend + ?Sized),
    data_dir: &Path,
    id: &str,
) -> Result<Option<RunDetail>, StoreError> {
    let run = match c.run(id) {
        Ok(run) => run,
        Err(StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    // The call each running task makes: in flight first, else its latest.
    let mut calls: HashMap<String, CallNow> = HashMap::new();
    for (task, role, model, in_flight) in c.current_calls(id)? {
        calls.entry(task).or_insert(CallNow {
            role,
            model,
            in_flight,
        });
    }
    let tasks: Vec<TaskItem> = c
        .task_views(id)?
        .into_iter()
        .map(|t| TaskItem {
            call: if t.status == TaskStatus::Running.as_str() {
                calls.remove(&t.id)
            } else {
                None
            },
            title: task_title(&t.prompt_head),
            dependencies: t.dependencies,
            id: t.id,
            task_type: t.task_type,
            status: t.status.parse().unwrap_or(TaskStatus::Pending),
            status_reason: t.status_reason,
            model: t.model,
            iteration: t.iterations,
            max_iterations: t.max_iterations,
            score: t.score,
            threshold: t.threshold,
            cost: t.cost,
            started_ms: t.started_at.as_deref().and_then(epoch_ms),
            finished_ms: t.finished_at.as_deref().and_then(epoch_ms),
        })
        .collect();
    let status = crate::engine::report::effective_status(data_dir, &run);
    // An interrupted run has no finish time: its last update is when it stopped.
    let ended_ms = (status != RunStatus::Running)
        .then(|| run.finished_at.as_deref().unwrap_or(&run.updated_at))
        .and_then(epoch_ms);
    // The level that refused: the run's reason once it stopped, else a parked task's.
    let binding = run
        .status_reason
        .as_deref()
        .and_then(crate::budget::denial::binding_level)
        .or_else(|| {
            tasks
                .iter()
                .filter_map(|t| t.status_reason.as_deref())
                .find_map(crate::budget::denial::binding_level)
        })
        .map(String::from);
    Ok(Some(RunDetail {
        binding,
        status,
        ended_ms,
        output_dir: run.output_dir,
        tasks,
        id: run.id,
        description: run.description,
        status_reason: run.status_reason,
        team: run.team,
        budget: run.budget,
        spent: run.spent,
    }))
}

/// The task detail: prompt, output and attempts (`None`: no such task).
fn task_attempts(
    c: &(impl Backend + ?Sized),
    run: &str,
    task: &str,
) -> Result<Option<TaskAttempts>, StoreError> {
    let Some((prompt, output)) = c.task_text(run, task)? else {
        return Ok(None);
    };
    let attempts = c.attempt_views(run, task).unwrap_or_default();
    Ok(Some(TaskAttempts {
        failed_calls: c.failed_calls(run, task, FAILED_CALLS)?,
        routing: c.routing(run, task)?,
        run_id: run.to_string(),
        task_id: task.to_string(),
        prompt,
        output,
        attempts: attempts
            .into_iter()
            .map(|a| AttemptItem {
                n: a.n,
                model: a.model,
                reviewer: a.reviewer,
                score: a.score,
                cost: a.cost,
                failure_reason: a.failure_reason,
                validators: validators_line(&a.validators_json),
                critique: a.critique,
                output: a.output,
                self_evaluated: a.self_evaluated,
                score_note: a.score_note,
            })
            .collect(),
    }))
}

/// The latest stored analysis when it is newer than the one last sent. A failure here is logged
/// and leaves the rest of the snapshot intact.
fn latest_analysis(c: &(impl Backend + ?Sized), cache: &mut Cache) -> Option<StoredAnalysis> {
    let latest: Option<i64> = match c.latest_analysis_id() {
        Ok(id) => id,
        Err(e) => {
            tracing::warn!("reading the latest analysis: {e}");
            return None;
        }
    };
    let id = latest.filter(|id| cache.analysis_id != Some(*id))?;
    match c.latest_analysis() {
        Ok(Some(report)) => {
            cache.analysis_id = Some(id);
            Some(StoredAnalysis { id, report })
        }
        Ok(None) => None,
        Err(e) => {
            tracing::warn!("loading analysis {id}: {e}");
            cache.analysis_id = Some(id);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store;

    /// A successful call of model `m1` that took 42 ms.
    fn call_at_42ms() -> store::CallRecord {
        store::CallRecord {
            run_id: None,
            task_id: None,
            attempt: None,
            role: "generate".into(),
            provider: "p".into(),
            model: "m1".into(),
            simulated: true,
            input_tokens: 0,
            cached_tokens: 0,
            cache_write_tokens: 0,
            output_tokens: 0,
            reasoning_tokens: 0,
            cost: crate::domain::Micros::ZERO,
            cache_saving: crate::domain::Micros::ZERO,
            latency_ms: 42,
            ttft_ms: None,
            outcome: CallOutcome::Ok,
            error: None,
            retry: 0,
            breaker_after: None,
            at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 95.0), Some(95));
        assert_eq!(percentile(&[7], 95.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn validators_read_as_one_line() {
        let j =
            r#"[{"name":"length","result":"pass"},{"name":"json","result":"fail","reason":"x"}]"#;
        assert_eq!(validators_line(j), "length ✓, json ✕");
        assert_eq!(validators_line("not json"), "");
    }

    #[test]
    fn aggregates_are_reused_until_another_connection_writes() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("db");
        let mut w = store::open_connection(&path).unwrap();
        store::migrations::migrate(&mut w).unwrap();
        let r = store::open_connection(&path).unwrap();
        let cat = vec![("m1".to_string(), "p".to_string())];
        let mut cache = Cache::default();
        let req = SnapshotReq::default();
        let s = load_cached(&r, d.path(), &cat, &req, &mut cache).unwrap();
        assert_eq!(s.models[0].calls, 0);
        store::runs::insert_call(&w, &call_at_42ms()).unwrap();
        let s = load_cached(&r, d.path(), &cat, &req, &mut cache).unwrap();
        assert_eq!((s.models[0].calls, s.models[0].p50_ms), (1, Some(42)));
        // Nothing written since: the cached aggregates are reused (and equal).
        let again = load_cached(&r, d.path(), &cat, &req, &mut cache).unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn the_stored_breaker_is_shown_and_new_transitions_are_sent_once() {
        use crate::routing::breaker::Breaker;
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("db");
        let mut w = store::open_connection(&path).unwrap();
        store::migrations::migrate(&mut w).unwrap();
        let r = store::open_connection(&path).unwrap();
        let cat = vec![("m1".to_string(), "p".to_string())];
        let mut cache = Cache::default();
        let first = SnapshotReq {
            history: true,
            ..Default::default()
        };
        let s = load_cached(&r, d.path(), &cat, &first, &mut cache).unwrap();
        assert_eq!(s.models[0].breaker, BreakerState::Closed);
        assert!(s.breaker_events.is_empty());
        let event = |at: &str, from: &str, to: &str| store::BreakerEventRow {
            at: at.into(),
            model: "m1".into(),
            from: from.into(),
            to: to.into(),
            reason: "test".into(),
        };
        let open = Breaker {
            state: BreakerState::Open,
            consecutive_failures: 3,
            ..Breaker::default()
        };
        store::models::save_breaker(&w, "m1", &open, "h").unwrap();
        let e = event("2000-01-01T00:00:00.000Z", "closed", "open");
        store::runs::insert_breaker_event(&w, None, &e).unwrap();
        let req = SnapshotReq::default();
        let s = load_cached(&r, d.path(), &cat, &req, &mut cache).unwrap();
        assert_eq!(
            (s.models[0].breaker, s.models[0].failures),
            (BreakerState::Open, 3)
        );
        let texts: Vec<&str> = s.breaker_events.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["m1: closed → open (test)"]);
        let s = load_cached(&r, d.path(), &cat, &req, &mut cache).unwrap();
        assert!(s.breaker_events.is_empty(), "sent once");
        // A transition recorded after the row (half-open is an event only) wins over it.
        let e = event("2999-01-01T00:00:00.000Z", "open", "half_open");
        store::runs::insert_breaker_event(&w, None, &e).unwrap();
        let s = load_cached(&r, d.path(), &cat, &req, &mut cache).unwrap();
        assert_eq!(s.models[0].breaker, BreakerState::HalfOpen);
        assert_eq!(s.breaker_events.len(), 1);
    }

    #[test]
    fn the_latest_analysis_is_sent_once_then_only_when_a_newer_one_is_stored() {
        let c = store::open_in_memory().unwrap();
        let d = tempfile::tempdir().unwrap();
        let req = SnapshotReq::default();
        let mut cache = Cache::default();
        let s = load_cached(&c, d.path(), &vec![], &req, &mut cache).unwrap();
        assert_eq!(s.analysis, None, "nothing stored yet");
        let mut a = crate::analysis::AnalysisReport::empty("/a");
        a.files = 3;
        crate::store::analyses::save(&c, &a).unwrap();
        let s = load_cached(&c, d.path(), &vec![], &req, &mut cache).unwrap();
        assert_eq!(s.analysis, Some(StoredAnalysis { id: 1, report: a }));
        let s = load_cached(&c, d.path(), &vec![], &req, &mut cache).unwrap();
        assert_eq!(s.analysis, None, "already sent");
        let b = crate::analysis::AnalysisReport::empty("/b");
        crate::store::analyses::save(&c, &b).unwrap();
        let s = load_cached(&c, d.path(), &vec![], &req, &mut cache).unwrap();
        assert_eq!(
            s.analysis.map(|x| (x.id, x.report.path)),
            Some((2, "/b".into()))
        );
    }

    #[test]
    fn loads_from_an_empty_store() {
        let c = store::open_in_memory().unwrap();
        let d = tempfile::tempdir().unwrap();
        let cat = vec![("m1".to_string(), "p".to_string())];
        let req = SnapshotReq {
            open_run: Some("r-none".into()),
            task: None,
            history: true,
        };
        let s = load(&c, d.path(), &cat, &req).unwrap();
        assert!(s.runs.is_empty() && s.detail.is_none());
        assert_eq!(s.models.len(), 1);
        assert_eq!(s.models[0].breaker, BreakerState::Closed);
        assert_eq!(s.budget.levels[0].level, "org");
        assert_eq!(s.history, Some(vec![]));
    }
}
