//! Shared state of the engine service and of one run being driven.

use super::EngineEvent;
use crate::config::{Catalog, Config, Strategy};
use crate::domain::status::StopReason;
use crate::liveness::RunLock;
use crate::providers::ProviderRegistry;
use crate::routing::Health;
use crate::routing::learning::Learning;
use crate::routing::policy::Policy;
use crate::store::Store;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};
use tokio_util::sync::CancellationToken;

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// This process's lock in the data dir could not be taken (an I/O failure).
    #[error("cannot take the process lock in {}: {source}", dir.display())]
    Lock {
        dir: PathBuf,
        source: std::io::Error,
    },
    /// The configured policies do not parse (bad input).
    #[error(transparent)]
    Policy(#[from] crate::routing::policy::PolicyError),
    /// Persisted profiles or breakers could not be read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

pub struct EngineCtx {
    pub cfg: Config,
    pub catalog: Catalog,
    pub registry: ProviderRegistry,
    pub store: Store,
    pub health: Health,
    pub learning: Learning,
    pub policies: Vec<Policy>,
    /// Hash of each model's provider settings: a change resets its persisted breaker.
    pub model_hashes: HashMap<String, String>,
    /// On the PostgreSQL store: the hash each model's API key is known by (auth and billing
    /// disables are kept per key there); empty on SQLite.
    pub key_hashes: HashMap<String, String>,
    pub events: broadcast::Sender<EngineEvent>,
    pub data_dir: PathBuf,
    /// Context windows discovered from local servers or learned from overflows.
    pub windows: super::calls::Windows,
    /// Follow breakers changed by other machines (`live.rs`): engines that run, not the
    /// short-lived ones of administrative commands.
    pub(super) follow_breakers: bool,
    /// Held while this process may hold reservations in the data dir (crash recovery in other
    /// processes leaves them alone while it is).
    _process_lock: Arc<crate::liveness::ProcessLock>,
}

/// What identifies a model's provider settings (base URL, key variable, simulated faults).
/// (model, API key) of every catalog model whose provider has a key (never logged).
pub fn api_keys(cfg: &Config, catalog: &Catalog) -> Vec<(String, String)> {
    catalog
        .models
        .iter()
        .filter_map(|m| {
            let p = cfg.providers.get(&m.provider)?;
            Some((m.id.clone(), crate::providers::registry::resolve_key(p)?))
        })
        .collect()
}

/// The distinct values of a model -> key hash map.
pub fn distinct(hashes: &HashMap<String, String>) -> Vec<String> {
    let mut v: Vec<String> = hashes.values().cloned().collect();
    v.sort();
    v.dedup();
    v
}

pub fn model_config_hash(cfg: &Config, m: &crate::config::ModelInfo, simulated: bool) -> String {
    let p = cfg.providers.get(&m.provider).cloned().unwrap_or_default();
    let s = &cfg.simulated;
    let h = crate::domain::stable_hash(&[
        &m.provider,
        p.base_url.as_deref().unwrap_or(""),
        p.api_key_env.as_deref().unwrap_or(""),
        if simulated { "sim" } else { "real" },
        if s.failing_models.contains(&m.id) {
            "failing"
        } else {
            ""
        },
        if s.unauthorized_models.contains(&m.id) {
            "401"
        } else {
            ""
        },
    ]);
    format!("{h:016x}")
}

/// Seed the registry's structured-output memory with the modes learned in earlier processes,
/// and persist (written behind) every mode learned from now on.
fn remember_structured_modes(
    registry: &ProviderRegistry,
    store: &Store,
    rows: Vec<crate::store::structured::ModeRow>,
) {
    use crate::providers::structured::{Learned, StructuredMode};
    let memory = registry.structured();
    memory.seed(rows.into_iter().filter_map(|r| {
        Some(Learned {
            mode: StructuredMode::parse(&r.mode)?,
            provider: r.provider,
            model: r.model,
            base_url: r.base_url,
        })
    }));
    let store = store.clone();
    memory.set_sink(move |l| {
        let row = crate::store::structured::ModeRow {
            provider: l.provider.clone(),
            model: l.model.clone(),
            base_url: l.base_url.clone(),
            mode: l.mode.as_str().to_string(),
        };
        // Losing it costs one rejected request in a later process, nothing more.
        if let Err(e) = store.submit(
            move |c| crate::store::structured::save(c, &row),
            |r: Result<(), _>| {
                if let Err(e) = r {
                    tracing::warn!("cannot record a structured-output mode: {e}");
                }
            },
        ) {
            tracing::warn!("cannot record a structured-output mode: {e}");
        }
    });
}

impl EngineCtx {
    /// Build the engine context: take this process's lock, recover from crashes (reservations of
    /// dead processes settled, their calls in flight charged their worst case), parse policies,
    /// load learned profiles and persisted breakers (a breaker whose provider settings changed
    /// starts closed again).
    pub fn new(
        cfg: Config,
        catalog: Catalog,
        registry: ProviderRegistry,
        store: Store,
        data_dir: PathBuf,
    ) -> Result<EngineCtx, StartError> {
        Self::build(cfg, catalog, registry, store, data_dir, true)
    }

    /// [`Self::new`] for administrative commands (`models reset`, `budget set`): a persisted
    /// breaker whose provider settings changed is left as stored, so a reset records the state it
    /// really had.
    pub fn for_admin(
        cfg: Config,
        catalog: Catalog,
        registry: ProviderRegistry,
        store: Store,
        data_dir: PathBuf,
    ) -> Result<EngineCtx, StartError> {
        Self::build(cfg, catalog, registry, store, data_dir, false)
    }

    fn build(
        cfg: Config,
        catalog: Catalog,
        registry: ProviderRegistry,
        store: Store,
        data_dir: PathBuf,
        close_changed: bool,
    ) -> Result<EngineCtx, StartError> {
        let process_lock =
            crate::liveness::process_lock(&data_dir).map_err(|source| StartError::Lock {
                dir: data_dir.join("locks"),
                source,
            })?;
        super::service::release_stale_reservations(&store, &data_dir);
        let policies = crate::routing::policy::parse(&cfg.policies)?;
        let model_hashes: HashMap<String, String> = catalog
            .models
            .iter()
            .map(|m| {
                (
                    m.id.clone(),
                    model_config_hash(&cfg, m, registry.is_simulated()),
                )
            })
            .collect();
        let pairs = api_keys(&cfg, &catalog);
        let (profiles, breakers, modes, key_hashes) = store.call_blocking(move |c| {
            let key_hashes = crate::store::breakers::key_hashes(c, &pairs)?;
            let keys = distinct(&key_hashes);
            Ok((
                crate::store::models::load_profiles(c)?,
                crate::store::breakers::load(c, &keys)?,
                crate::store::structured::load(c)?,
                key_hashes,
            ))
        })?;
        remember_structured_modes(&registry, &store, modes);
        let health = Health::new(cfg.breaker.clone());
        let mut changed = Vec::new();
        for (model, b, hash) in breakers {
            // A disable kept for this process's key (PostgreSQL) has no config hash: it holds
            // whatever the provider settings, since the key itself was refused.
            let for_key = hash.is_empty() && b.state == crate::routing::BreakerState::Disabled;
            if model_hashes.get(&model) == Some(&hash) || for_key {
                health.load(&model, b);
            } else if close_changed && b.state != crate::routing::BreakerState::Closed {
                changed.push(model);
            }
        }
        if !changed.is_empty() {
            let (hashes, keys) = (model_hashes.clone(), key_hashes.clone());
            let _ = store.call_blocking(move |c| {
                crate::store::atomic(c, |tx| {
                    for m in &changed {
                        let b = crate::routing::Breaker::default();
                        let h = hashes.get(m).cloned().unwrap_or_default();
                        let k = keys.get(m).map(String::as_str);
                        crate::store::breakers::save(tx, m, &b, &h, k)?;
                    }
                    Ok(())
                })
            });
        }
        let (events, _) = broadcast::channel(8192);
        Ok(EngineCtx {
            learning: Learning::load(profiles),
            policies,
            model_hashes,
            key_hashes,
            health,
            cfg,
            catalog,
            registry,
            store,
            events,
            data_dir,
            windows: super::calls::Windows::default(),
            follow_breakers: close_changed,
            _process_lock: process_lock,
        })
    }

    pub fn hash_of(&self, model: &str) -> String {
        self.model_hashes.get(model).cloned().unwrap_or_default()
    }

    /// The hash of the API key `model` is called with, on the PostgreSQL store.
    pub fn key_of(&self, model: &str) -> Option<String> {
        self.key_hashes.get(model).cloned()
    }

    /// Every key hash of this process (which per-key disables apply to it).
    pub fn key_list(&self) -> Vec<String> {
        distinct(&self.key_hashes)
    }

    pub fn emit(&self, e: EngineEvent) {
        if let Some(part) = Self::event_part(&e) {
            let queued = self.store.submit(part, |r| {
                // Not told to observers: that would be one more event to store.
                if let Err(e) = r {
                    tracing::warn!("could not record an event: {e}");
                }
            });
            if let Err(e) = queued {
                tracing::warn!("could not record an event: {e}");
            }
        }
        // No receiver is fine: events are for observers, the store has the truth.
        let _ = self.events.send(e);
    }

    /// The write that stores what the Events pane lists about `e` (written behind: nothing
    /// waits on it), if anything. Failed calls are stored with their call record and breaker
    /// transitions in their own table.
    pub(crate) fn event_part(e: &EngineEvent) -> Option<super::calls::Part> {
        if matches!(e, EngineEvent::Call { .. } | EngineEvent::Breaker { .. }) {
            return None;
        }
        let lines = e.log_lines();
        if lines.is_empty() {
            return None;
        }
        let run = e.run_id().map(String::from);
        Some(Box::new(move |tx: &dyn crate::store::sql::Sql| {
            for (kind, text) in &lines {
                crate::store::events::insert(tx, run.as_deref(), kind, text)?;
            }
            Ok(())
        }))
    }

    pub fn warn(&self, run_id: Option<&str>, message: String) {
        tracing::warn!(run = run_id, "{message}");
        self.emit(EngineEvent::Warning {
            run_id: run_id.map(String::from),
            message,
        });
    }

    /// A call charged other than as reported (see [`EngineEvent::Budget`]).
    pub fn warn_budget(&self, run_id: Option<&str>, message: String) {
        tracing::warn!(run = run_id, "{message}");
        self.emit(EngineEvent::Budget {
            run_id: run_id.map(String::from),
            message,
        });
    }

    /// A policy's warning about the model chosen for a call: told to observers at once, stored
    /// with the call's next job (`pending`).
    pub(crate) fn warn_policy(
        &self,
        run_id: Option<&str>,
        model: &str,
        message: String,
        pending: &mut super::calls::Pending,
    ) {
        tracing::warn!(run = run_id, model, "policy warning: {message}");
        let e = EngineEvent::Policy {
            run_id: run_id.map(String::from),
            model: model.to_string(),
            message,
        };
        if let Some(part) = Self::event_part(&e) {
            pending.push(part);
        }
        let _ = self.events.send(e);
    }
}

pub struct RunCtx {
    pub id: String,
    pub description: String,
    pub criteria: String,
    pub team: Option<String>,
    pub strategy: Strategy,
    pub output_dir: PathBuf,
    pub cancel: CancellationToken,
    pub stop: Mutex<Option<StopReason>>,
    /// The status reason of a cancellation that says more than "by the user" (a signal).
    pub cancel_note: std::sync::OnceLock<String>,
    pub slots: Arc<Semaphore>,
    /// The run's budget lease (its reservations, held as one growing row).
    pub lease: Arc<crate::budget::lease::Lease>,
    /// The budget level that refused the run's last refused call (`run`, `org`, `team:<name>`).
    pub refused_by: Mutex<Option<String>>,
    pub _lock: RunLock,
    /// Its advisory lock on the PostgreSQL store (who drives it, for every machine).
    pub _claim: Option<crate::store::RunClaim>,
}

impl RunCtx {
    /// Record why the run stops (first reason wins) and cancel in-flight work when asked.
    pub fn request_stop(&self, why: StopReason, cancel_inflight: bool) {
        let mut s = self.stop.lock().unwrap_or_else(|p| p.into_inner());
        if s.is_none() {
            *s = Some(why);
        }
        // A run stopped because the store cannot commit lets its calls in flight finish: they
        // are likely billed already, and their answers are retried into the store.
        if cancel_inflight && *s != Some(StopReason::StoreUnavailable) {
            self.cancel.cancel();
        }
    }

    /// Cancel like [`Self::request_stop`], recording why for the run's status reason.
    pub fn cancel_because(&self, note: String) {
        let _ = self.cancel_note.set(note);
        self.request_stop(StopReason::Cancelled, true);
    }

    pub fn stop_reason(&self) -> Option<StopReason> {
        *self.stop.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stopped because the store could not commit: no call of this run starts any more.
    pub fn stopped_by_store(&self) -> bool {
        self.stop_reason() == Some(StopReason::StoreUnavailable)
    }
}

/// A task's concurrency slot, given back while it sleeps for a retry so waiting never blocks
/// other tasks (the original held the slot while sleeping).
pub struct Slot {
    sem: Arc<Semaphore>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Slot {
    pub fn new(sem: Arc<Semaphore>, permit: OwnedSemaphorePermit) -> Self {
        Slot {
            sem,
            permit: Some(permit),
        }
    }

    /// Sleep without holding the slot, then take one again.
    pub async fn sleep_released(
        &mut self,
        d: std::time::Duration,
        cancel: &CancellationToken,
    ) -> bool {
        self.permit = None;
        let slept = tokio::select! {
            _ = cancel.cancelled() => false,
            _ = tokio::time::sleep(d) => true,
        };
        if let Ok(p) = self.sem.clone().acquire_owned().await {
            self.permit = Some(p);
        }
        slept && !cancel.is_cancelled()
    }
}
