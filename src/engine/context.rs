//! Shared state of the engine service and of one run being driven.

use super::EngineEvent;
use super::lock::RunLock;
use crate::config::{Catalog, Config, Strategy};
use crate::domain::status::StopReason;
use crate::providers::ProviderRegistry;
use crate::routing::Health;
use crate::store::Store;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};
use tokio_util::sync::CancellationToken;

pub struct EngineCtx {
    pub cfg: Config,
    pub catalog: Catalog,
    pub registry: ProviderRegistry,
    pub store: Store,
    pub health: Health,
    pub events: broadcast::Sender<EngineEvent>,
    pub data_dir: PathBuf,
}

impl EngineCtx {
    pub fn emit(&self, e: EngineEvent) {
        // No receiver is fine: events are for observers, the store has the truth.
        let _ = self.events.send(e);
    }

    pub fn warn(&self, run_id: Option<&str>, message: String) {
        tracing::warn!(run = run_id, "{message}");
        self.emit(EngineEvent::Warning {
            run_id: run_id.map(String::from),
            message,
        });
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
    pub slots: Arc<Semaphore>,
    pub _lock: RunLock,
}

impl RunCtx {
    /// Record why the run stops (first reason wins) and cancel in-flight work when asked.
    pub fn request_stop(&self, why: StopReason, cancel_inflight: bool) {
        let mut s = self.stop.lock().unwrap_or_else(|p| p.into_inner());
        if s.is_none() {
            *s = Some(why);
        }
        if cancel_inflight {
            self.cancel.cancel();
        }
    }

    pub fn stop_reason(&self) -> Option<StopReason> {
        *self.stop.lock().unwrap_or_else(|p| p.into_inner())
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
