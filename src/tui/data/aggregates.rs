//! The aggregates a snapshot reuses while the store is unchanged: one row per catalog model
//! (calls, latency percentiles and sparkline, the breaker shown, learned quality, cache savings)
//! and the budget levels with their spend series.

use super::{ModelList, epoch_ms};
use crate::domain::CallOutcome;
use crate::routing::breaker::BreakerState;
use crate::store::{BudgetStore, StoreError, ViewStore};
use crate::tui::state::*;
use std::collections::HashMap;

/// Latencies kept per model for p50/p95 and the sparkline.
pub const RECENT_CALLS: usize = 200;
const SPARK_POINTS: usize = 60;

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
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

pub(super) fn models(
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

pub(super) fn budget(
    c: &(impl BudgetStore + ViewStore + ?Sized),
) -> Result<BudgetSnap, StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store;
    use crate::tui::data::{Cache, SnapshotReq, load_cached};

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
}
