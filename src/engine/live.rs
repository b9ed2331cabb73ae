//! Breakers shared live on the org-wide PostgreSQL store (issue 19): an outage opened by another
//! machine is open in this running engine within a second, and a reset there closes it here, so
//! no process keeps sending to a provider that is down for everyone. The store's notification
//! listener (`store/pg/notify.rs`, one per process) wakes this engine's task on a `breakers`
//! change; the task reloads the stored states and updates the engine's health. Only the engine
//! changes its breakers: nothing else touches `Health`.

use super::context::EngineCtx;
use crate::routing::Breaker;
use crate::store::pg::notify::{Change, Heard};
use crate::store::reader::ReadTarget;
use std::collections::HashMap;
use std::sync::{Arc, Weak};

/// Follow other machines' breaker changes while the engine lives (PostgreSQL only, inside a
/// tokio runtime; administrative engines don't).
pub(super) fn follow_breakers(ctx: &Arc<EngineCtx>) {
    let ReadTarget::Postgres(target) = ctx.store.read_target() else {
        return;
    };
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let alive: Weak<EngineCtx> = Arc::downgrade(ctx);
    let watched = crate::store::pg::notify::watch(
        &target,
        Box::new(move |heard| {
            if alive.strong_count() == 0 {
                return false;
            }
            match heard {
                // Changes may have been missed while not listening: reload.
                Heard::Listening => tx.send(()).is_ok(),
                Heard::Changes(c) if c.contains(&Change::Breakers) => tx.send(()).is_ok(),
                _ => !tx.is_closed(),
            }
        }),
    );
    if let Err(e) = watched {
        tracing::warn!("cannot follow other machines' breakers: {e}");
        return;
    }
    let engine = Arc::downgrade(ctx);
    rt.spawn(async move {
        let mut seen: HashMap<String, Breaker> = HashMap::new();
        while rx.recv().await.is_some() {
            // A burst of notifications is one reload.
            while rx.try_recv().is_ok() {}
            let Some(ctx) = engine.upgrade() else { break };
            if let Err(e) = reload(&ctx, &mut seen).await {
                tracing::warn!("cannot reload breakers changed elsewhere: {e}");
            }
        }
    });
}

/// Apply the stored breakers that changed since the last look (`seen`). A row this engine wrote
/// itself comes back equal to its health (nothing to do); a row another machine wrote replaces
/// this engine's state. The same rows are taken as at start (`EngineCtx::build`): those of this
/// engine's provider settings, and the disables of its own keys.
async fn reload(
    ctx: &EngineCtx,
    seen: &mut HashMap<String, Breaker>,
) -> Result<(), crate::store::StoreError> {
    let keys = ctx.key_list();
    let rows = ctx
        .store
        .call(move |c| crate::store::breakers::load(c, &keys))
        .await?;
    let mut now: HashMap<String, Breaker> = HashMap::new();
    for (model, b, hash) in rows {
        let for_key = hash.is_empty() && b.state == crate::routing::BreakerState::Disabled;
        if ctx.model_hashes.get(&model) == Some(&hash) || for_key {
            now.insert(model, b);
        }
    }
    // A model whose row went (its key's disable lifted, no org row) is closed again.
    for model in seen.keys() {
        now.entry(model.clone()).or_default();
    }
    for (model, stored) in now {
        if seen.get(&model) == Some(&stored) {
            continue;
        }
        let mine = ctx.health.get(&model);
        if !same(&mine, &stored) {
            tracing::info!(
                "breaker of {model}: {} -> {} (changed by another process)",
                mine.state.as_str(),
                stored.state.as_str()
            );
            ctx.health.load(&model, stored.clone());
        }
        seen.insert(model, stored);
    }
    Ok(())
}

/// The same breaker as stored. A half-open probe in flight and the failures a closed breaker
/// counts are this process's own business (only transitions are stored).
fn same(a: &Breaker, b: &Breaker) -> bool {
    a.state == b.state && a.open_until_ms == b.open_until_ms && a.not_before_ms == b.not_before_ms
}
