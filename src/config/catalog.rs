//! The model catalog: ids, providers, list prices, limits, capabilities and quality priors.

use super::ConfigError;
use crate::domain::money::MoneyError;
use crate::domain::{Micros, TaskType};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const MODELS_TOML: &str = include_str!("../../assets/models.toml");

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    pub id: String,
    pub provider: String,
    /// USD per million input tokens (uncached).
    #[serde(default)]
    pub input: f64,
    #[serde(default)]
    pub cached_input: f64,
    #[serde(default)]
    pub output: f64,
    /// Tokens of context (input + output) the model serves; `None` when neither the catalog nor
    /// the config says (the engine asks a local server, else assumes [`DEFAULT_CONTEXT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u32>,
    #[serde(default = "default_max_output")]
    pub max_output: u32,
    #[serde(default)]
    pub region: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default = "default_latency")]
    pub latency_ms: u64,
    #[serde(default)]
    pub task_types: Vec<String>,
    #[serde(default = "default_quality")]
    pub quality: f64,
    #[serde(default)]
    pub quality_by_type: BTreeMap<String, f64>,
    #[serde(default)]
    pub reasoning: bool,
    /// Reasoning tokens the model's server may bill beyond a request's `max_tokens` because it
    /// does not count the chain of thought inside it (DeepSeek R1's original API: up to 32K).
    /// Unset: the built-in rule of `providers::reasoning::outside_max_tokens` (0 for every
    /// provider that counts reasoning inside the limit). Held on every call and allowed by the
    /// usage check, no more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_outside_max_tokens: Option<u32>,
    /// USD per million input tokens written to the provider's cache (Anthropic's 5-minute write);
    /// unset: cache writes are priced as input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
    /// Long-context tier: a call whose input (cached or not) is above this many tokens is priced
    /// at the `*_long` prices that are set (200k for Google, 272k for OpenAI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_context_above: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_long: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input_long: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_long: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_response_schema: Option<bool>,
    /// Where the prices come from: `catalog`, `litellm:<file name>` or `config` (set on load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_source: Option<String>,
    /// Where and when the prices were checked (shown in the README table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_checked: Option<String>,
}

impl Default for ModelInfo {
    fn default() -> Self {
        ModelInfo {
            id: String::new(),
            provider: String::new(),
            input: 0.0,
            cached_input: 0.0,
            output: 0.0,
            context_window: None,
            max_output: default_max_output(),
            region: vec![],
            tags: vec![],
            latency_ms: default_latency(),
            task_types: vec![],
            quality: default_quality(),
            quality_by_type: BTreeMap::new(),
            reasoning: false,
            reasoning_outside_max_tokens: None,
            cache_write: None,
            long_context_above: None,
            input_long: None,
            cached_input_long: None,
            output_long: None,
            supports_response_schema: None,
            price_source: None,
            price_checked: None,
        }
    }
}

/// The context window assumed for a model no one gave one for.
pub const DEFAULT_CONTEXT: u32 = 32768;

fn default_max_output() -> u32 {
    4096
}
fn default_latency() -> u64 {
    1500
}
fn default_quality() -> f64 {
    0.7
}

impl ModelInfo {
    /// The context window as configured, else [`DEFAULT_CONTEXT`].
    pub fn window(&self) -> u32 {
        self.context_window.unwrap_or(DEFAULT_CONTEXT)
    }

    /// A model with no listed task types can do any of them.
    pub fn capable(&self, t: TaskType) -> bool {
        self.task_types.is_empty() || self.task_types.iter().any(|s| s == t.as_str())
    }

    pub fn prior(&self, t: TaskType) -> f64 {
        self.quality_by_type
            .get(t.as_str())
            .copied()
            .unwrap_or(self.quality)
    }

    /// Cost of a call from normalised token counts (providers.md, Costs), for estimates and
    /// ranking: saturates at [`Micros::MAX`]. Charges use [`ModelInfo::try_cost`].
    pub fn cost(&self, uncached_in: u64, cached_in: u64, out_incl_reasoning: u64) -> Micros {
        let p = self.prices_for(uncached_in.saturating_add(cached_in));
        (Micros::for_tokens(uncached_in, p.input)
            + Micros::for_tokens(cached_in, p.cached_input)
            + Micros::for_tokens(out_incl_reasoning, p.output))
        .min(Micros::MAX)
    }

    /// Cost of a call, or an error when token counts or prices put it out of range.
    pub fn try_cost(
        &self,
        uncached_in: u64,
        cached_in: u64,
        out_incl_reasoning: u64,
    ) -> Result<Micros, MoneyError> {
        let p = self.prices_for(uncached_in.saturating_add(cached_in));
        Micros::try_for_tokens(uncached_in, p.input)?
            .try_add(Micros::try_for_tokens(cached_in, p.cached_input)?)?
            .try_add(Micros::try_for_tokens(out_incl_reasoning, p.output)?)
    }

    /// Worst case reserved before a call: all input uncached plus every allowed output token.
    /// Saturates at [`Micros::MAX`]; holds use [`ModelInfo::try_worst_case`].
    pub fn worst_case(&self, est_input: u64, max_tokens: u32) -> Micros {
        let p = self.prices_for(est_input);
        (Micros::for_tokens(est_input, p.input) + Micros::for_tokens(max_tokens as u64, p.output))
            .min(Micros::MAX)
    }

    /// Worst case of a call, or an error when the model's prices put it out of range.
    pub fn try_worst_case(&self, est_input: u64, max_tokens: u32) -> Result<Micros, MoneyError> {
        let p = self.prices_for(est_input);
        Micros::try_for_tokens(est_input, p.input)?
            .try_add(Micros::try_for_tokens(max_tokens as u64, p.output)?)
    }
}

pub use super::pricing::{DEFAULT_LONG_CONTEXT_ABOVE, Prices};

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub models: Vec<ModelInfo>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    model: Vec<ModelInfo>,
}

impl Catalog {
    pub fn embedded() -> Result<Catalog, ConfigError> {
        let f: CatalogFile = toml::from_str(MODELS_TOML).map_err(|e| ConfigError::Invalid {
            file: "assets/models.toml".into(),
            message: e.to_string(),
        })?;
        Ok(Catalog { models: f.model })
    }

    pub fn get(&self, id: &str) -> Option<&ModelInfo> {
        self.models.iter().find(|m| m.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_covers_five_providers() {
        let c = Catalog::embedded().unwrap();
        for p in ["anthropic", "openai", "google", "kimi", "deepseek"] {
            assert!(c.models.iter().any(|m| m.provider == p), "{p}");
        }
        for m in &c.models {
            for t in &m.task_types {
                assert!(t.parse::<TaskType>().is_ok(), "{}: {t}", m.id);
            }
            assert!(m.input > 0.0 && m.output > 0.0, "{}", m.id);
            assert!(m.context_window.is_some(), "{}: its window is known", m.id);
        }
    }

    #[test]
    fn a_listed_local_model_has_no_window_unless_configured() {
        let cfg: crate::config::Config = toml::from_str(
            "[providers.local]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:1/v1\"\nmodels = [\"a\", \"b\"]\n\
             [[models]]\nid = \"b\"\nprovider = \"local\"\ncontext_window = 4096\n",
        )
        .unwrap();
        let c = Catalog::from_config(&cfg).unwrap();
        let a = c.get("a").unwrap();
        assert_eq!(a.context_window, None);
        assert_eq!(a.window(), DEFAULT_CONTEXT);
        assert_eq!(c.get("b").unwrap().context_window, Some(4096));
        assert_eq!(c.get("b").unwrap().window(), 4096);
    }

    #[test]
    fn cost_uses_cached_price_for_cached_tokens() {
        let c = Catalog::embedded().unwrap();
        let m = c.get("claude-sonnet-4-6").unwrap();
        // 1M uncached in ($3) + 1M cached ($0.30) + 1M out ($15)
        assert_eq!(m.cost(1_000_000, 1_000_000, 1_000_000), Micros(18_300_000));
    }

    #[test]
    fn absurd_usage_never_costs_a_wrapped_or_negative_amount() {
        let c = Catalog::embedded().unwrap();
        let m = c.get("claude-sonnet-4-6").unwrap();
        // u64::MAX input and output: each term saturates, the sum stays at the ceiling.
        assert_eq!(m.cost(u64::MAX, u64::MAX, u64::MAX), Micros::MAX);
        let e = m.try_cost(u64::MAX, 0, u64::MAX).unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
        // Just below the ceiling per term, their sum overflows it: an error, not a wrap.
        let big = ModelInfo {
            input: 1.0,
            output: 1.0,
            ..m.clone()
        };
        let half = (Micros::MAX.0 / 2 + 1) as u64;
        assert!(big.try_cost(half, 0, half).is_err());
        assert_eq!(big.cost(half, 0, half), Micros::MAX);
        assert_eq!(big.try_cost(3, 0, 4), Ok(Micros(7)));
        // A price that would make a worst case overflow is refused before any hold.
        let absurd = ModelInfo {
            output: 1e300,
            ..m.clone()
        };
        assert!(absurd.try_worst_case(100, 1000).is_err());
        assert_eq!(absurd.worst_case(100, 1000), Micros::MAX);
        // A negative price (a config typo) is an error for charges and zero for estimates.
        let negative = ModelInfo {
            input: -3.0,
            ..m.clone()
        };
        assert!(negative.try_cost(100, 0, 0).is_err());
        assert!(negative.try_worst_case(100, 10).is_err());
        assert_eq!(negative.cost(100, 0, 0), Micros::ZERO);
    }
}
