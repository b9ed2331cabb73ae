//! Configuration: embedded defaults (`assets/config.default.toml`) with the user's TOML merged over
//! them. Unknown keys and wrong types are errors naming the file, the key and the line.

pub mod catalog;
pub mod litellm;
pub mod presets;
pub mod price_table;
mod pricing;
pub mod sources;
mod validate;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub use catalog::{Catalog, ModelInfo};
pub use validate::{
    LimitError, MAX_CONCURRENCY, MAX_TIME_SECS, check_concurrency, check_time_limit,
};

pub const DEFAULT_CONFIG: &str = include_str!("../../assets/config.default.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config error in {file}: {message}")]
    Invalid { file: String, message: String },
    #[error("cannot read config file {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub engine: EngineConfig,
    pub retry: RetryConfig,
    pub timeouts: TimeoutConfig,
    pub breaker: BreakerConfig,
    pub routing: RoutingConfig,
    pub providers: BTreeMap<String, ProviderConfig>,
    pub simulated: SimulatedConfig,
    pub tui: TuiConfig,
    #[serde(rename = "policy")]
    pub policies: Vec<PolicyConfig>,
    /// Extra or overriding catalog entries (same shape as `assets/models.toml`).
    pub models: Vec<ModelInfo>,
    /// Per task type overrides of threshold / iterations / max tokens.
    pub task_types: BTreeMap<String, TaskTypeOverride>,
    pub validators: crate::validators::ValidatorsConfig,
    /// Where the store lives: the SQLite file in the data dir unless `url` names a server.
    pub store: StoreConfig,
}

/// `[store]`: the org-wide PostgreSQL store (issue 19). `ORCHESTRATOR_STORE_URL` overrides `url`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `postgres://user@host:5432/db` (`sslmode` honoured); absent: SQLite in the data dir.
    pub url: Option<String>,
    /// The PostgreSQL schema (several orgs or test suites per database); default `orchestrator`.
    pub schema: Option<String>,
}

impl StoreConfig {
    /// The store URL in force: the environment first, then the file (empty means unset).
    pub fn effective_url(&self) -> Option<String> {
        std::env::var("ORCHESTRATOR_STORE_URL")
            .ok()
            .or_else(|| self.url.clone())
            .filter(|u| !u.trim().is_empty())
    }

    pub fn schema_name(&self) -> &str {
        self.schema.as_deref().unwrap_or("orchestrator")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    pub concurrency: usize,
    pub strategy: Strategy,
    pub default_budget_usd: f64,
    pub default_time_secs: u64,
    pub context_chars_per_dependency: usize,
    pub plateau_delta: f64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            concurrency: 3,
            strategy: Strategy::Quality,
            default_budget_usd: 8.0,
            default_time_secs: 5400,
            context_chars_per_dependency: 6000,
            plateau_delta: 0.02,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    #[default]
    Quality,
    Balanced,
    Cost,
    Latency,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Quality => "quality",
            Strategy::Balanced => "balanced",
            Strategy::Cost => "cost",
            Strategy::Latency => "latency",
        }
    }
    pub fn parse(s: &str) -> Option<Strategy> {
        match s {
            "quality" => Some(Strategy::Quality),
            "balanced" => Some(Strategy::Balanced),
            "cost" => Some(Strategy::Cost),
            "latency" => Some(Strategy::Latency),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    pub max_retries: u32,
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
    pub max_retry_after_secs: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 2,
            backoff_base_ms: 500,
            backoff_cap_ms: 8000,
            max_retry_after_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeoutConfig {
    pub connect_secs: u64,
    pub first_byte_secs: u64,
    pub idle_secs: u64,
    pub total_secs: u64,
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        TimeoutConfig {
            connect_secs: 10,
            first_byte_secs: 60,
            idle_secs: 30,
            total_secs: 300,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    pub failure_threshold: u32,
    pub cooldown_secs: u64,
    pub max_cooldown_secs: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 3,
            cooldown_secs: 30,
            max_cooldown_secs: 600,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// Share of generations routed to another capable model so learning gets samples.
    pub explore_rate: f64,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig { explore_rate: 0.05 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Anthropic,
    #[default]
    Openai,
    Gemini,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderConfig {
    pub kind: Option<ProviderKind>,
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
    pub api_key_env_fallback: Option<String>,
    /// Models served by this provider beyond the catalog (OpenAI-compatible local servers).
    pub models: Vec<String>,
    /// Literal key; prefer `api_key_env`. Never logged or stored.
    pub api_key: Option<String>,
    /// How JSON answers are asked for (`auto` starts at the richest mode the wire format has and
    /// steps down when the server rejects it).
    pub structured_output: StructuredOutput,
    /// A hosted service preset (`assets/presets.toml`); defaults to the provider's name when
    /// that names a preset.
    pub preset: Option<String>,
    /// Extra request headers (e.g. OpenRouter's `HTTP-Referer`/`X-Title`).
    pub headers: BTreeMap<String, String>,
    /// Azure OpenAI: the `api-version` query parameter added to every call.
    pub api_version: Option<String>,
    /// How the key is sent (OpenAI format): `bearer` (default) or `api-key` (Azure).
    pub auth: Option<AuthStyle>,
    /// The longest one call to this provider may take, in seconds; replaces `[timeouts]
    /// total_secs` for it (the connect, first-byte and idle limits still apply within it).
    pub timeout_secs: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthStyle {
    Bearer,
    ApiKey,
}

/// `[providers.NAME] structured_output`: a forced mode never falls back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StructuredOutput {
    #[default]
    Auto,
    JsonSchema,
    JsonObject,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SimulatedMode {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatedConfig {
    pub enabled: SimulatedMode,
    pub seed: u64,
    pub latency_ms_min: u64,
    pub latency_ms_max: u64,
    pub transient_failure_rate: f64,
    pub rate_limit_rate: f64,
    pub timeout_rate: f64,
    pub failing_models: Vec<String>,
    pub unauthorized_models: Vec<String>,
    /// Per-model quality override (0..1) for the simulated answers; defaults to the catalog prior.
    pub quality: BTreeMap<String, f64>,
}

impl Default for SimulatedConfig {
    fn default() -> Self {
        SimulatedConfig {
            enabled: SimulatedMode::Auto,
            seed: 42,
            latency_ms_min: 200,
            latency_ms_max: 1500,
            transient_failure_rate: 0.0,
            rate_limit_rate: 0.0,
            timeout_rate: 0.0,
            failing_models: vec![],
            unauthorized_models: vec![],
            quality: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TuiConfig {
    pub theme: String,
    pub mouse: bool,
}

impl Default for TuiConfig {
    fn default() -> Self {
        TuiConfig {
            theme: "default".into(),
            mouse: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    pub name: String,
    pub mode: String,
    pub scope: String,
    pub allowed_providers: Option<Vec<String>>,
    pub blocked_providers: Vec<String>,
    pub allowed_regions: Option<Vec<String>>,
    pub blocked_models: Vec<String>,
    pub required_tags: Vec<String>,
    pub max_cost_per_call_usd: Option<f64>,
    pub max_latency_p95_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TaskTypeOverride {
    pub threshold: Option<f64>,
    pub max_iterations: Option<u32>,
    pub max_output_tokens: Option<u32>,
    /// OpenAI `reasoning_effort` (minimal | low | medium | high) for this type's calls to
    /// reasoning models (OpenAI and OpenAI-compatible).
    pub reasoning_effort: Option<crate::domain::ReasoningEffort>,
    /// Thinking budget in tokens (Anthropic extended thinking, Gemini `thinkingBudget`), at
    /// least 1024; the call's `max_tokens` is raised by it (up to the model's output limit).
    pub thinking_budget: Option<u32>,
}

impl Config {
    /// The embedded defaults alone.
    pub fn defaults() -> Config {
        // The embedded file is covered by a unit test; failing here is a build defect.
        parse_text(DEFAULT_CONFIG, "<embedded defaults>").unwrap_or_default()
    }

    /// Load defaults, then merge the user's file over them when one is given or found.
    pub fn load(user_file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut merged: toml::Table =
            toml::from_str(DEFAULT_CONFIG).map_err(|e| ConfigError::Invalid {
                file: "<embedded defaults>".into(),
                message: e.to_string(),
            })?;
        if let Some(path) = user_file {
            let file = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                file: file.clone(),
                source,
            })?;
            // Validate the user's text alone first so errors point at its own lines.
            parse_text(&text, &file)?;
            let user: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
                file: file.clone(),
                message: describe(&e, &text),
            })?;
            merge(&mut merged, user);
            let mut cfg: Config =
                merged
                    .try_into()
                    .map_err(|e: toml::de::Error| ConfigError::Invalid {
                        file: file.clone(),
                        message: e.message().to_string(),
                    })?;
            presets::apply(&mut cfg.providers).map_err(|message| ConfigError::Invalid {
                file: file.clone(),
                message,
            })?;
            cfg.validate(&file)?;
            return Ok(cfg);
        }
        let cfg: Config = merged
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid {
                file: "<embedded defaults>".into(),
                message: e.message().to_string(),
            })?;
        Ok(cfg)
    }

    /// The reasoning controls configured for calls of type `t` (none for calls without a type).
    pub fn reasoning_for(&self, t: Option<crate::domain::TaskType>) -> crate::domain::Reasoning {
        t.and_then(|t| self.task_types.get(t.as_str()))
            .map(|o| crate::domain::Reasoning {
                effort: o.reasoning_effort,
                thinking_budget: o.thinking_budget,
                outside_max_tokens: 0,
            })
            .unwrap_or_default()
    }

    /// Threshold, iterations, max tokens for a type, after overrides.
    pub fn task_defaults(&self, t: crate::domain::TaskType) -> (f64, u32, u32) {
        let (mut th, mut it, mut mt) = t.defaults();
        if let Some(o) = self.task_types.get(t.as_str()) {
            th = o.threshold.unwrap_or(th);
            it = o.max_iterations.unwrap_or(it);
            mt = o.max_output_tokens.unwrap_or(mt);
        }
        (th, it.max(1), mt.max(1))
    }
}

fn parse_text(text: &str, file: &str) -> Result<Config, ConfigError> {
    toml::from_str::<Config>(text).map_err(|e| ConfigError::Invalid {
        file: file.to_string(),
        message: describe(&e, text),
    })
}

/// "line N, key `a.b`: message" from a toml error and its span.
fn describe(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().trim().to_string();
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let key = key_at(text, span.start);
            match key {
                Some(k) => format!("line {line}, key `{k}`: {msg}"),
                None => format!("line {line}: {msg}"),
            }
        }
        None => msg,
    }
}

/// Best-effort dotted key at a byte offset: the nearest `[table]` header plus the key on the line.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text[line_start..]
        .find('\n')
        .map(|i| line_start + i)
        .unwrap_or(text.len());
    let line = text[line_start..line_end].trim();
    let mut table = String::new();
    for l in before[..line_start].lines().rev() {
        let t = l.trim();
        if t.starts_with('[') {
            table = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            break;
        }
    }
    if line.starts_with('[') {
        return Some(
            line.trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string(),
        );
    }
    let key = line.split('=').next()?.trim();
    if key.is_empty() {
        return None;
    }
    Some(if table.is_empty() {
        key.to_string()
    } else {
        format!("{table}.{key}")
    })
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn embedded_defaults_parse() {
        let c = parse_text(DEFAULT_CONFIG, "d").unwrap();
        assert_eq!(c.engine.concurrency, 3);
        assert_eq!(c.engine.default_budget_usd, 8.0);
        assert_eq!(c.retry.max_retries, 2);
        assert!(c.providers.contains_key("anthropic"));
    }

    #[test]
    fn user_values_merge_over_defaults() {
        let f = write("[engine]\nconcurrency = 5\n[simulated]\nseed = 7\n");
        let c = Config::load(Some(f.path())).unwrap();
        assert_eq!(c.engine.concurrency, 5);
        assert_eq!(c.engine.default_time_secs, 5400);
        assert_eq!(c.simulated.seed, 7);
        assert_eq!(
            c.providers["openai"].base_url.as_deref(),
            Some("https://api.openai.com/v1")
        );
    }

    #[test]
    fn unknown_key_names_file_key_and_line() {
        let f = write("[engine]\nconcurrency = 2\ncolour = 3\n");
        let e = Config::load(Some(f.path())).unwrap_err().to_string();
        assert!(e.contains(&f.path().display().to_string()), "{e}");
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn wrong_type_names_key_and_line() {
        let f = write("[retry]\n\nmax_retries = \"many\"\n");
        let e = Config::load(Some(f.path())).unwrap_err().to_string();
        assert!(
            e.contains("line 3") && e.contains("retry.max_retries"),
            "{e}"
        );
    }

    #[test]
    fn malformed_toml_is_an_error() {
        let f = write("[engine\nconcurrency = 2\n");
        let e = Config::load(Some(f.path())).unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn out_of_range_values_are_rejected() {
        let f = write("[simulated]\ntransient_failure_rate = 1.5\n");
        let e = Config::load(Some(f.path())).unwrap_err().to_string();
        assert!(e.contains("simulated.transient_failure_rate"), "{e}");
    }
}
