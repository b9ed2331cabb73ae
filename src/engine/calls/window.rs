//! Each model's context window as the call path uses it: the catalog's or config's, else asked
//! of a local server once (`providers::discover`), else the default; lowered for the rest of the
//! process when a server refuses a prompt as too long.

use crate::config::{Config, ModelInfo};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

#[derive(Default)]
pub struct Windows {
    /// Windows learned from overflows (only ever lowered), per model id.
    learned: Mutex<HashMap<String, u64>>,
    /// One discovery per model, shared by concurrent first calls.
    discovered: Mutex<HashMap<String, Arc<OnceCell<Option<u64>>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Windows {
    /// `model` refused a prompt: its window is at most `window` from now on.
    pub fn learn(&self, model: &str, window: u64) {
        let mut l = lock(&self.learned);
        let w = l.entry(model.to_string()).or_insert(window);
        *w = (*w).min(window);
    }

    /// The window a request to `model` must fit. Asks the server (once) when the model has no
    /// configured window and its provider is a real one on a local address.
    pub async fn window(&self, cfg: &Config, model: &ModelInfo, simulated: bool) -> u64 {
        let base = match model.context_window {
            Some(w) => w as u64,
            None => match local_base(cfg, model, simulated) {
                Some(url) => self
                    .discovered(&url, model)
                    .await
                    .unwrap_or(crate::config::catalog::DEFAULT_CONTEXT as u64),
                None => crate::config::catalog::DEFAULT_CONTEXT as u64,
            },
        };
        match lock(&self.learned).get(&model.id) {
            Some(&l) => base.min(l),
            None => base,
        }
    }

    /// The discovered window of `model` (asked at most once per process).
    async fn discovered(&self, url: &str, model: &ModelInfo) -> Option<u64> {
        let cell = lock(&self.discovered)
            .entry(model.id.clone())
            .or_default()
            .clone();
        *cell
            .get_or_init(|| async {
                let found = crate::providers::discover::discover(url, &model.id).await;
                match found {
                    Some(w) => tracing::info!(model = %model.id, window = w, "context window discovered"),
                    None => tracing::info!(model = %model.id, "context window not discovered: assuming the default"),
                }
                found
            })
            .await
    }
}

/// The base URL of `model`'s provider when it is worth asking: a real server on this machine or
/// a private network.
fn local_base(cfg: &Config, model: &ModelInfo, simulated: bool) -> Option<String> {
    if simulated {
        return None;
    }
    let url = cfg.providers.get(&model.provider)?.base_url.clone()?;
    crate::providers::discover::is_local(&url).then_some(url)
}
