//! Snapshot loading, off the UI thread: a dedicated thread with its own read connection (WAL lets
//! it read while the engine's store thread writes) turns store rows into view data and sends them
//! back on the UI's channel. Requests that pile up are merged, so a burst of engine events costs
//! one load.
//!
//! The cached aggregates (model rows, budget levels) are built in aggregates.rs, the run list,
//! open run and task detail in runs.rs.

mod aggregates;
mod runs;

pub use aggregates::{RECENT_CALLS, percentile};

use super::analysis::StoredAnalysis;
use super::state::*;
use crate::store::sql::Sql;
use crate::store::{Backend, StoreError, ViewStore};
use aggregates::{budget, models};
use runs::{run_detail, run_list, task_attempts};
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
    use crate::routing::breaker::BreakerState;
    use crate::store;

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
