//! Hosted OpenAI-compatible services as presets (`assets/presets.toml`): a provider named after
//! one, or with `preset = "NAME"`, takes the preset's base URL, key variable, headers, API version
//! and auth style for whatever it does not set itself.

use super::{AuthStyle, ProviderConfig, ProviderKind};
use serde::Deserialize;
use std::collections::BTreeMap;

pub const PRESETS_TOML: &str = include_str!("../../assets/presets.toml");

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub api_version: Option<String>,
    pub auth: Option<AuthStyle>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetsFile {
    preset: BTreeMap<String, Preset>,
}

/// All presets by name (the embedded file is covered by a unit test).
pub fn all() -> BTreeMap<String, Preset> {
    toml::from_str::<PresetsFile>(PRESETS_TOML)
        .map(|f| f.preset)
        .unwrap_or_default()
}

/// The preset a provider uses: its `preset` key, else its own name when that names one.
pub fn preset_name<'a>(name: &'a str, p: &'a ProviderConfig) -> Option<&'a str> {
    match p.preset.as_deref() {
        Some(n) => Some(n),
        None => all().contains_key(name).then_some(name),
    }
}

/// Fill each provider's unset fields from its preset. An unknown `preset` is an error.
pub fn apply(providers: &mut BTreeMap<String, ProviderConfig>) -> Result<(), String> {
    let presets = all();
    for (name, p) in providers.iter_mut() {
        if let Some(k) = p.headers.keys().find(|k| is_secret_header(k)) {
            return Err(format!(
                "providers.{name}.headers: `{k}` carries a credential; set the key with `api_key_env`"
            ));
        }
        let Some(pname) = preset_name(name, p).map(str::to_string) else {
            continue;
        };
        let Some(pre) = presets.get(&pname) else {
            let known: Vec<&str> = presets.keys().map(String::as_str).collect();
            return Err(format!(
                "providers.{name}.preset: unknown preset `{pname}` (known: {})",
                known.join(", ")
            ));
        };
        p.preset = Some(pname);
        // Every preset speaks the OpenAI format.
        p.kind.get_or_insert(ProviderKind::Openai);
        if p.base_url.is_none() {
            p.base_url = pre.base_url.clone();
        }
        if p.api_key_env.is_none() && p.api_key.is_none() {
            p.api_key_env = pre.api_key_env.clone();
        }
        for (k, v) in &pre.headers {
            p.headers.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if p.api_version.is_none() {
            p.api_version = pre.api_version.clone();
        }
        if p.auth.is_none() {
            p.auth = pre.auth;
        }
    }
    Ok(())
}

/// Header names that carry credentials: never set through `headers`, never printed.
pub fn is_secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "authorization" | "api-key" | "x-api-key" | "x-goog-api-key" | "proxy-authorization"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_presets_parse_and_cover_the_hosted_services() {
        let p = all();
        for n in [
            "openrouter",
            "groq",
            "mistral",
            "xai",
            "together",
            "fireworks",
            "azure",
        ] {
            assert!(p.contains_key(n), "{n}");
            assert!(p[n].api_key_env.is_some(), "{n}");
        }
        assert!(p["openrouter"].headers.contains_key("HTTP-Referer"));
        assert!(p["openrouter"].headers.contains_key("X-Title"));
        assert_eq!(p["azure"].auth, Some(AuthStyle::ApiKey));
        assert!(
            p["azure"].base_url.is_none(),
            "a deployment URL is the user's"
        );
        assert!(p["azure"].api_version.is_some());
    }

    #[test]
    fn a_preset_fills_only_what_the_config_leaves_unset() {
        let mut providers = BTreeMap::new();
        providers.insert(
            "openrouter".to_string(),
            ProviderConfig {
                base_url: Some("http://127.0.0.1:9/v1".into()),
                headers: BTreeMap::from([("X-Title".into(), "mine".into())]),
                ..Default::default()
            },
        );
        providers.insert(
            "work".to_string(),
            ProviderConfig {
                preset: Some("azure".into()),
                base_url: Some("https://r.openai.azure.com/openai/deployments/d".into()),
                ..Default::default()
            },
        );
        providers.insert("local".to_string(), ProviderConfig::default());
        apply(&mut providers).unwrap();
        let o = &providers["openrouter"];
        assert_eq!(o.base_url.as_deref(), Some("http://127.0.0.1:9/v1"));
        assert_eq!(o.api_key_env.as_deref(), Some("OPENROUTER_API_KEY"));
        assert_eq!(o.headers["X-Title"], "mine");
        assert!(o.headers.contains_key("HTTP-Referer"));
        assert_eq!(o.preset.as_deref(), Some("openrouter"));
        let w = &providers["work"];
        assert_eq!(w.auth, Some(AuthStyle::ApiKey));
        assert_eq!(w.api_key_env.as_deref(), Some("AZURE_OPENAI_API_KEY"));
        assert!(providers["local"].preset.is_none());
        let mut bad = BTreeMap::from([(
            "x".to_string(),
            ProviderConfig {
                preset: Some("nope".into()),
                ..Default::default()
            },
        )]);
        let e = apply(&mut bad).unwrap_err();
        assert!(
            e.contains("providers.x.preset") && e.contains("nope"),
            "{e}"
        );
    }
}
