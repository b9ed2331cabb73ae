//! Which backend serves each provider name: real HTTP clients for providers with a key, or the
//! simulator (product.md §10) when no key is set or `[simulated] enabled = "always"`.

use super::Provider;
use super::simulated::SimulatedProvider;
use super::structured::StructuredMemory;
use crate::config::{Catalog, Config, ModelInfo, ProviderConfig, SimulatedMode};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone)]
pub struct ProviderRegistry {
    providers: BTreeMap<String, Arc<dyn Provider>>,
    simulated: bool,
    /// Structured-output modes learned per (provider, model), shared by the HTTP clients.
    structured: Arc<StructuredMemory>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "no provider is usable: set a provider key (e.g. OPENAI_API_KEY) or `[simulated] enabled = \"auto\"`"
    )]
    NothingConfigured,
    #[error("provider `{0}`: {1}")]
    Provider(String, #[source] crate::providers::http::ClientError),
    /// `SSL_CERT_FILE` / `SSL_CERT_DIR` cannot be used (every HTTPS client depends on them).
    #[error("TLS trust: {0}")]
    Tls(#[from] crate::providers::tls::TlsError),
}

/// The key for a provider from its env variables (or a literal in the config). Never logged.
pub fn resolve_key(p: &ProviderConfig) -> Option<String> {
    let from_env = |v: &Option<String>| {
        v.as_ref()
            .and_then(|name| std::env::var(name).ok())
            .filter(|k| !k.trim().is_empty())
    };
    from_env(&p.api_key_env)
        .or_else(|| from_env(&p.api_key_env_fallback))
        .or_else(|| p.api_key.clone().filter(|k| !k.trim().is_empty()))
}

/// A keyless OpenAI-compatible server (Ollama, llama.cpp) configured with its own models.
fn is_keyless_local(p: &ProviderConfig) -> bool {
    p.api_key_env.is_none() && p.api_key.is_none() && !p.models.is_empty()
}

impl ProviderRegistry {
    pub fn from_config(cfg: &Config, catalog: &Catalog) -> Result<Self, RegistryError> {
        let real: Vec<(&String, &ProviderConfig, Option<String>)> = cfg
            .providers
            .iter()
            .filter_map(|(name, p)| {
                let key = resolve_key(p);
                (key.is_some() || is_keyless_local(p)).then_some((name, p, key))
            })
            .collect();
        let use_sim = match cfg.simulated.enabled {
            SimulatedMode::Always => true,
            SimulatedMode::Never => false,
            SimulatedMode::Auto => real.is_empty(),
        };
        let mut providers: BTreeMap<String, Arc<dyn Provider>> = BTreeMap::new();
        let structured = StructuredMemory::new();
        if use_sim {
            let sim: Arc<dyn Provider> = Arc::new(SimulatedProvider::new(
                "simulated",
                cfg.simulated.clone(),
                catalog.clone(),
            ));
            for m in &catalog.models {
                providers
                    .entry(m.provider.clone())
                    .or_insert_with(|| sim.clone());
            }
        } else {
            if !real.is_empty() {
                // Said once, not as the first provider's fault.
                crate::providers::tls::Trust::from_env()?;
            }
            for (name, p, key) in real {
                let client =
                    crate::providers::http::build_with(name, p, key, cfg, structured.clone())
                        .map_err(|e| RegistryError::Provider(name.clone(), e))?;
                providers.insert(name.clone(), client);
            }
            if providers.is_empty() {
                return Err(RegistryError::NothingConfigured);
            }
        }
        Ok(ProviderRegistry {
            providers,
            simulated: use_sim,
            structured,
        })
    }

    /// A registry over explicit backends (tests, benchmarks).
    pub fn with(providers: BTreeMap<String, Arc<dyn Provider>>, simulated: bool) -> Self {
        Self::with_memory(providers, simulated, StructuredMemory::new())
    }

    /// [`Self::with`] whose structured-output memory is the one its HTTP clients were built with.
    pub fn with_memory(
        providers: BTreeMap<String, Arc<dyn Provider>>,
        simulated: bool,
        structured: Arc<StructuredMemory>,
    ) -> Self {
        ProviderRegistry {
            providers,
            simulated,
            structured,
        }
    }

    /// The structured-output modes learned by this registry's clients (the engine seeds it from
    /// the store and persists what it learns).
    pub fn structured(&self) -> &Arc<StructuredMemory> {
        &self.structured
    }

    pub fn get(&self, provider: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(provider)
    }

    pub fn serves(&self, m: &ModelInfo) -> bool {
        self.providers.contains_key(&m.provider)
    }

    pub fn is_simulated(&self) -> bool {
        self.simulated
    }
}
