//! Administrative commands of the engine: breaker resets, run deletion and budget caps. The CLI
//! (`models reset`, `budget set`) and the TUI call these same methods, so both change memory and
//! the store the same way: what one process does, every other process sees.

use super::service::EngineHandle;
use super::{EngineError, EngineEvent};
use crate::domain::Micros;
use crate::routing::BreakerState;
use crate::store::{self, BreakerEventRow};
use std::collections::HashMap;

/// Who reset a breaker: the reason recorded with the transition says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetBy {
    /// `models reset` on the command line.
    Cli,
    /// The Models pane of the TUI.
    Tui,
}

impl ResetBy {
    fn reason(self) -> &'static str {
        match self {
            ResetBy::Cli => "reset by user",
            ResetBy::Tui => "reset from the TUI",
        }
    }
}

/// What [`EngineHandle::delete_run`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// The run and its calls are gone from the store.
    Deleted,
    /// A live process drives the run (this one or another): nothing was deleted.
    Live,
}

impl EngineHandle {
    /// Close one model's breaker, in this process and in the store, recording the transition.
    /// Returns the state it was in (`Closed`: nothing to record).
    pub async fn reset_breaker(
        &self,
        model: &str,
        by: ResetBy,
    ) -> Result<BreakerState, EngineError> {
        let was = self.reset_breakers(&[model.to_string()], by).await?;
        Ok(was
            .into_iter()
            .next()
            .map_or(BreakerState::Closed, |(_, s)| s))
    }

    /// Close the breaker of every model in the catalog; returns how many were not closed.
    pub async fn reset_all_breakers(&self, by: ResetBy) -> Result<usize, EngineError> {
        let all: Vec<String> = self
            .ctx
            .catalog
            .models
            .iter()
            .map(|m| m.id.clone())
            .collect();
        Ok(self.reset_breakers(&all, by).await?.len())
    }

    /// Close the breakers of `models` in one transaction; returns those that were not closed
    /// (with the state each was in). Each of them gets a breaker event, stored and emitted.
    pub async fn reset_breakers(
        &self,
        models: &[String],
        by: ResetBy,
    ) -> Result<Vec<(String, BreakerState)>, EngineError> {
        let ctx = &self.ctx;
        // Memory first: a call admitted from now on sees the closed breaker.
        let live: HashMap<String, BreakerState> = models
            .iter()
            .filter_map(|m| ctx.health.reset(m).map(|t| (m.clone(), t.from)))
            .collect();
        let targets: Vec<(String, String, Option<String>)> = models
            .iter()
            .map(|m| (m.clone(), ctx.hash_of(m), ctx.key_of(m)))
            .collect();
        let keys = ctx.key_list();
        let reason = by.reason();
        let changed = ctx
            .store
            .call(move |c| {
                store::atomic(c, |tx| {
                    let stored: HashMap<String, BreakerState> = store::breakers::load(tx, &keys)?
                        .into_iter()
                        .map(|(m, b, _)| (m, b.state))
                        .collect();
                    let mut changed = Vec::new();
                    for (m, hash, key) in &targets {
                        // This process's breaker when it moved, else what another process stored.
                        let was = live
                            .get(m)
                            .or_else(|| stored.get(m))
                            .copied()
                            .unwrap_or(BreakerState::Closed);
                        store::breakers::reset(tx, m, hash, key.as_deref())?;
                        if was != BreakerState::Closed {
                            store::runs::insert_breaker_event(
                                tx,
                                None,
                                &BreakerEventRow {
                                    at: store::now_rfc3339(),
                                    model: m.clone(),
                                    from: was.as_str().into(),
                                    to: BreakerState::Closed.as_str().into(),
                                    reason: reason.into(),
                                },
                            )?;
                            changed.push((m.clone(), was));
                        }
                    }
                    Ok(changed)
                })
            })
            .await?;
        for (model, was) in &changed {
            ctx.emit(EngineEvent::Breaker {
                run_id: None,
                model: model.clone(),
                from: *was,
                to: BreakerState::Closed,
                reason: reason.into(),
            });
        }
        Ok(changed)
    }

    /// Delete a stored run and its calls, unless a live process (this one or another, by its
    /// lock or its recorded owner) drives it.
    pub async fn delete_run(&self, run_id: &str) -> Result<Deleted, EngineError> {
        if self.active_runs().iter().any(|r| r == run_id) {
            return Ok(Deleted::Live);
        }
        let id = run_id.to_string();
        // A run that cannot be read has no owner to protect; deleting it says what is wrong.
        let row = self
            .ctx
            .store
            .call(move |c| store::runs::get_run(c, &id))
            .await
            .ok();
        if row.is_some_and(|r| crate::engine::report::run_live(&self.ctx.data_dir, &r)) {
            return Ok(Deleted::Live);
        }
        let id = run_id.to_string();
        self.ctx
            .store
            .call(move |c| store::atomic(c, |tx| store::runs::delete_run(tx, &id)))
            .await?;
        Ok(Deleted::Deleted)
    }

    /// Set the spending cap of a budget level (`org` or `team:<name>`), with an optional period
    /// (`daily`, `weekly`, `monthly`). The caller has checked the level name and the period.
    pub async fn set_budget(
        &self,
        level: &str,
        cap: Micros,
        period: Option<&str>,
    ) -> Result<(), EngineError> {
        let (level, period) = (level.to_string(), period.map(String::from));
        self.ctx
            .store
            .call(move |c| {
                store::atomic(c, |tx| {
                    crate::store::ledger::set_level_cap(tx, &level, cap, period.as_deref())
                })
            })
            .await?;
        Ok(())
    }

    /// Set one run's cap (`budget set-run`, `b` in the TUI). The caller has checked the amount.
    pub async fn set_run_budget(&self, run_id: &str, cap: Micros) -> Result<(), EngineError> {
        let id = run_id.to_string();
        self.ctx
            .store
            .call(move |c| store::atomic(c, |tx| crate::store::ledger::set_run_cap(tx, &id, cap)))
            .await
            .map_err(|e| match e {
                store::StoreError::NotFound(m) => EngineError::Invalid(m),
                other => EngineError::Store(other),
            })?;
        Ok(())
    }
}
