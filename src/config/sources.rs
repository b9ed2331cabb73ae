//! Where catalog rows come from and in which order: the embedded catalog (`catalog`), the
//! user's imported LiteLLM overlay (`litellm:<file>`: prices and limits of catalog rows; other
//! imported rows only once a provider lists them), the config's `[[models]]` (`config`), then
//! models named under `[providers.X] models = [...]`. A listed model
//! without a price is usable only on a loopback or private endpoint with no preset (price 0,
//! region `local`); elsewhere it is unavailable, with the reason, and never routed to.

use super::catalog::MODELS_TOML;
use super::{Catalog, Config, ConfigError, ModelInfo, ProviderConfig};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Name of the overlay file written by `models import-litellm`.
pub const OVERLAY_FILE: &str = "models.imported.toml";

/// Highest price per million tokens an overlay row may carry (as for [[models]]).
const MAX_OVERLAY_PRICE: f64 = 10_000.0;

/// A model the config names but that cannot be used, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Unavailable {
    pub id: String,
    pub provider: String,
    pub reason: String,
}

/// The catalog plus the models left out of it.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub catalog: Catalog,
    pub unavailable: Vec<Unavailable>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    #[serde(default)]
    pub model: Vec<ModelInfo>,
}

/// Read an overlay file (absent: empty). Bounded like any user file.
pub fn read_overlay(path: &Path) -> Result<Vec<ModelInfo>, ConfigError> {
    let file = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(source) => return Err(ConfigError::Read { file, source }),
    };
    if meta.len() > super::litellm::MAX_FILE_BYTES {
        return Err(ConfigError::Invalid {
            file,
            message: "larger than the 64 MiB accepted".into(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: file.clone(),
        source,
    })?;
    let f: CatalogFile = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
        file: file.clone(),
        message: e.message().trim().to_string(),
    })?;
    for m in &f.model {
        m.check_prices(MAX_OVERLAY_PRICE)
            .map_err(|message| ConfigError::Invalid {
                file: file.clone(),
                message,
            })?;
    }
    Ok(f.model)
}

impl Catalog {
    /// Embedded catalog, then config `[[models]]` (replacing by id), then models named under
    /// `[providers.X] models = [...]` (the rule for unpriced ones: [`build`]). The user's
    /// imported overlay is added by [`Catalog::from_config_with_overlay`].
    pub fn from_config(cfg: &Config) -> Result<Catalog, ConfigError> {
        Ok(build(cfg, &[])?.catalog)
    }

    /// Embedded catalog, then the imported overlay (when `overlay` names one), then the config.
    pub fn from_config_with_overlay(
        cfg: &Config,
        overlay: Option<&Path>,
    ) -> Result<Catalog, ConfigError> {
        Ok(load(cfg, overlay)?.catalog)
    }
}

/// The catalog and the unavailable models for a config and an optional overlay file.
pub fn load(cfg: &Config, overlay: Option<&Path>) -> Result<Loaded, ConfigError> {
    let imported = match overlay {
        Some(p) => read_overlay(p)?,
        None => vec![],
    };
    build(cfg, &imported)
}

/// Combine the sources (pure: the overlay rows are passed in).
pub fn build(cfg: &Config, imported: &[ModelInfo]) -> Result<Loaded, ConfigError> {
    let f: CatalogFile = toml::from_str(MODELS_TOML).map_err(|e| ConfigError::Invalid {
        file: "assets/models.toml".into(),
        message: e.to_string(),
    })?;
    let mut models = f.model;
    for m in &mut models {
        m.price_source.get_or_insert_with(|| "catalog".into());
    }
    // Imported rows the catalog does not have are price data: routable once named under a
    // provider's `models = [...]` (an import must not make hundreds of unvetted models
    // candidates at once).
    let mut priced_only: Vec<&ModelInfo> = Vec::new();
    for m in imported {
        match models
            .iter_mut()
            .find(|x| x.id == m.id && x.provider == m.provider)
        {
            // Prices and limits from the import; priors, tags and regions stay the catalog's.
            Some(slot) => apply_prices(slot, m),
            None => priced_only.push(m),
        }
    }
    for m in &cfg.models {
        let mut m = m.clone();
        m.price_source.get_or_insert_with(|| "config".into());
        match models.iter_mut().find(|x| x.id == m.id) {
            Some(slot) => *slot = m,
            None => models.push(m),
        }
    }
    let mut unavailable = Vec::new();
    for (pname, p) in &cfg.providers {
        for id in &p.models {
            if models.iter().any(|x| &x.id == id && &x.provider == pname) {
                continue;
            }
            // Priced by the import for this provider.
            if let Some(m) = priced_only
                .iter()
                .find(|x| &x.id == id && &x.provider == pname)
            {
                models.push(ModelInfo {
                    // Never tagged or placed in a region by an import.
                    tags: vec![],
                    region: vec![],
                    ..(*m).clone()
                });
                continue;
            }
            // The same id priced under another provider (a catalog model served by a proxy):
            // its prices follow it, not its tags or regions (another service's data handling).
            if let Some(src) = models.iter().find(|x| &x.id == id).cloned() {
                models.push(ModelInfo {
                    provider: pname.clone(),
                    tags: vec![],
                    region: vec![],
                    ..src
                });
                continue;
            }
            if may_default_to_free(p) {
                models.push(local_model(id, pname));
            } else {
                unavailable.push(Unavailable {
                    id: id.clone(),
                    provider: pname.clone(),
                    reason: no_price_reason(pname),
                });
            }
        }
    }
    Ok(Loaded {
        catalog: Catalog { models },
        unavailable,
    })
}

fn no_price_reason(provider: &str) -> String {
    format!(
        "no price: import LiteLLM's map (`models import-litellm FILE`), add it to [[models]] \
         with input and output prices, or remove it from providers.{provider}.models"
    )
}

/// Import fields: prices, limits, schema support, source.
fn apply_prices(slot: &mut ModelInfo, m: &ModelInfo) {
    slot.input = m.input;
    slot.cached_input = m.cached_input;
    slot.output = m.output;
    slot.cache_write = m.cache_write;
    slot.long_context_above = m.long_context_above;
    slot.input_long = m.input_long;
    slot.cached_input_long = m.cached_input_long;
    slot.output_long = m.output_long;
    slot.context_window = m.context_window;
    slot.max_output = m.max_output;
    if m.supports_response_schema.is_some() {
        slot.supports_response_schema = m.supports_response_schema;
    }
    slot.price_source = m.price_source.clone();
}

/// Only a server on this machine or a private network, with no hosted preset, may run models
/// for free (Ollama, llama.cpp, vLLM).
pub fn may_default_to_free(p: &ProviderConfig) -> bool {
    p.preset.is_none() && p.base_url.as_deref().is_some_and(is_local_url)
}

/// Loopback, private (RFC 1918, unique local IPv6), link-local, `localhost` or `*.local`.
pub fn is_local_url(url: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(url.trim()) else {
        return false;
    };
    let Some(host) = u.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => ip.is_loopback() || ip.is_private() || ip.is_link_local(),
        Ok(std::net::IpAddr::V6(ip)) => {
            let first = ip.segments()[0];
            ip.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
        Err(_) => {
            let d = host.to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost") || d.ends_with(".local")
        }
    }
}

fn local_model(id: &str, provider: &str) -> ModelInfo {
    ModelInfo {
        id: id.to_string(),
        provider: provider.to_string(),
        max_output: 8192,
        region: vec!["local".into()],
        tags: vec!["no_train".into(), "pii_ok".into()],
        price_source: Some("config".into()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderKind;

    fn provider(url: &str, models: &[&str]) -> ProviderConfig {
        ProviderConfig {
            kind: Some(ProviderKind::Openai),
            base_url: Some(url.into()),
            models: models.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn local_urls_are_loopback_private_or_local_names() {
        for u in [
            "http://127.0.0.1:11434/v1",
            "http://localhost:8080",
            "http://10.1.2.3/v1",
            "http://192.168.0.7:8000/v1",
            "http://172.20.0.2/v1",
            "http://[::1]:8000/v1",
            "http://gpu-box.local/v1",
        ] {
            assert!(is_local_url(u), "{u}");
        }
        for u in [
            "https://api.groq.com/openai/v1",
            "http://8.8.8.8/v1",
            "http://172.32.0.1/v1",
            "not a url",
        ] {
            assert!(!is_local_url(u), "{u}");
        }
    }

    #[test]
    fn unpriced_listed_models_are_free_only_on_local_servers_without_a_preset() {
        let mut cfg = Config::defaults();
        cfg.providers.insert(
            "local".into(),
            provider("http://127.0.0.1:11434/v1", &["llama3.2"]),
        );
        cfg.providers.insert(
            "hosted".into(),
            provider("https://llm.example.com/v1", &["big-model"]),
        );
        let mut router = provider("http://127.0.0.1:9/v1", &["vendor/x", "vendor/priced"]);
        router.preset = Some("openrouter".into());
        cfg.providers.insert("openrouter".into(), router);
        cfg.models.push(ModelInfo {
            id: "vendor/priced".into(),
            provider: "openrouter".into(),
            input: 1.0,
            output: 2.0,
            ..Default::default()
        });
        let l = build(&cfg, &[]).unwrap();
        let local = l.catalog.get("llama3.2").unwrap();
        assert_eq!((local.input, local.output), (0.0, 0.0));
        assert_eq!(local.region, vec!["local".to_string()]);
        assert!(l.catalog.get("big-model").is_none());
        assert!(l.catalog.get("vendor/x").is_none());
        let priced = l.catalog.get("vendor/priced").unwrap();
        assert_eq!(priced.price_source.as_deref(), Some("config"));
        assert!(priced.tags.is_empty() && priced.region.is_empty());
        let ids: Vec<&str> = l.unavailable.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(ids, vec!["big-model", "vendor/x"]);
        assert!(
            l.unavailable[1]
                .reason
                .starts_with("no price: import LiteLLM's map")
        );
        assert!(
            l.unavailable[1]
                .reason
                .contains("providers.openrouter.models")
        );
    }

    #[test]
    fn catalog_models_keep_their_prices_whatever_the_base_url() {
        let mut cfg = Config::defaults();
        // A proxy serving a catalog model: priced like the catalog row.
        cfg.providers.insert(
            "proxy".into(),
            provider("https://proxy.example.com/v1", &["gpt-5"]),
        );
        let l = build(&cfg, &[]).unwrap();
        let rows: Vec<&ModelInfo> = l
            .catalog
            .models
            .iter()
            .filter(|m| m.id == "gpt-5")
            .collect();
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|m| m.input == 1.25 && m.output == 10.0));
        let proxied = rows.iter().find(|m| m.provider == "proxy").unwrap();
        assert!(
            proxied.tags.is_empty(),
            "the catalog's no_train is OpenAI's, not the proxy's"
        );
        assert!(l.unavailable.is_empty());
        let cat = l.catalog.get("claude-sonnet-4-6").unwrap();
        assert_eq!(cat.price_source.as_deref(), Some("catalog"));
    }

    #[test]
    fn imported_rows_update_prices_but_keep_catalog_priors_and_tags() {
        let cfg = Config::defaults();
        let before = build(&cfg, &[]).unwrap().catalog;
        let sonnet = before.get("claude-sonnet-4-6").unwrap().clone();
        let imported = vec![
            ModelInfo {
                id: "claude-sonnet-4-6".into(),
                provider: "anthropic".into(),
                input: 9.0,
                output: 45.0,
                price_source: Some("litellm:map.json".into()),
                tags: vec!["pii_ok".into()],
                ..Default::default()
            },
            ModelInfo {
                id: "brand-new".into(),
                provider: "openrouter".into(),
                input: 1.0,
                output: 1.0,
                tags: vec!["no_train".into()],
                region: vec!["local".into()],
                ..Default::default()
            },
        ];
        let c = build(&cfg, &imported).unwrap().catalog;
        assert!(
            c.get("brand-new").is_none(),
            "price data until a provider lists it"
        );
        let mut listed = cfg.clone();
        listed.providers.insert(
            "openrouter".into(),
            ProviderConfig {
                preset: Some("openrouter".into()),
                base_url: Some("https://openrouter.ai/api/v1".into()),
                models: vec!["brand-new".into()],
                ..Default::default()
            },
        );
        let l = build(&listed, &imported).unwrap();
        assert!(l.unavailable.is_empty());
        let n = l.catalog.get("brand-new").unwrap();
        assert_eq!(n.input, 1.0);
        assert!(n.tags.is_empty() && n.region.is_empty());
        let s = c.get("claude-sonnet-4-6").unwrap();
        assert_eq!((s.input, s.output), (9.0, 45.0));
        assert_eq!(s.quality, sonnet.quality);
        assert_eq!(s.tags, sonnet.tags);
        assert_eq!(s.price_source.as_deref(), Some("litellm:map.json"));
    }

    #[test]
    fn an_overlay_with_a_bad_price_is_refused_naming_the_file_and_model() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(OVERLAY_FILE);
        assert!(read_overlay(&p).unwrap().is_empty(), "absent: empty");
        std::fs::write(
            &p,
            "[[model]]\nid = \"m\"\nprovider = \"openai\"\ninput = 1.0\noutput = 2.0\ninput_long = -4.0\n",
        )
        .unwrap();
        let e = read_overlay(&p).unwrap_err().to_string();
        assert!(
            e.contains(OVERLAY_FILE) && e.contains("`m`") && e.contains("input_long"),
            "{e}"
        );
    }
}
