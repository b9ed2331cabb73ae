//! LiteLLM's public price and context map (`model_prices_and_context_window.json`): parsed into
//! catalog rows for `models import-litellm`. Chat models of the providers we map only; prices
//! per token become prices per million. The file is untrusted input: size and entry count are
//! capped, and a known field of the wrong type is an error naming the entry.

use super::ModelInfo;
use serde_json::{Map, Value};

/// Largest map accepted (LiteLLM's is about 3 MB).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Most entries accepted (LiteLLM's has about 4,000).
pub const MAX_ENTRIES: usize = 100_000;
/// Longest model id kept.
const MAX_ID_LEN: usize = 200;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LitellmError {
    #[error("{0}: not JSON: {1}")]
    NotJson(String, String),
    #[error("{0}: the top level must be an object of model entries")]
    NotAnObject(String),
    #[error("{file}: {n} entries, more than the {max} accepted")]
    TooManyEntries { file: String, n: usize, max: usize },
    #[error("{file}: entry `{entry}`: {message}")]
    Entry {
        file: String,
        entry: String,
        message: String,
    },
}

/// LiteLLM's `litellm_provider` -> our provider name (README, Hosted services).
pub const PROVIDER_MAP: &[(&str, &str)] = &[
    ("anthropic", "anthropic"),
    ("openai", "openai"),
    ("gemini", "google"),
    ("moonshot", "kimi"),
    ("deepseek", "deepseek"),
    ("openrouter", "openrouter"),
    ("groq", "groq"),
    ("mistral", "mistral"),
    ("xai", "xai"),
    ("together_ai", "together"),
    ("fireworks_ai", "fireworks"),
    ("azure", "azure"),
];

pub fn our_provider(litellm: &str) -> Option<&'static str> {
    PROVIDER_MAP
        .iter()
        .find(|(l, _)| *l == litellm)
        .map(|(_, o)| *o)
}

/// What an import read, before it is merged into the overlay.
#[derive(Debug, Default)]
pub struct Parsed {
    pub models: Vec<ModelInfo>,
    /// Chat entries of wanted providers without an input and output price (or priced 0).
    pub skipped_no_price: usize,
    /// Entries that are not chat models (embeddings, images, audio, ...).
    pub skipped_not_chat: usize,
    /// Chat entries of providers not mapped or not asked for.
    pub skipped_provider: usize,
    /// Entries whose id repeats one already read (`deepseek-chat` and `deepseek/deepseek-chat`).
    pub skipped_duplicate: usize,
}

/// Parse a LiteLLM map. `source` names the file in errors and in `price_source`
/// (`litellm:<source>`); `wanted` says which of our provider names to import.
pub fn parse(
    text: &str,
    source: &str,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Parsed, LitellmError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| LitellmError::NotJson(source.to_string(), e.to_string()))?;
    let Value::Object(entries) = v else {
        return Err(LitellmError::NotAnObject(source.to_string()));
    };
    if entries.len() > MAX_ENTRIES {
        return Err(LitellmError::TooManyEntries {
            file: source.to_string(),
            n: entries.len(),
            max: MAX_ENTRIES,
        });
    }
    let mut out = Parsed::default();
    let mut seen = std::collections::BTreeSet::new();
    for (key, entry) in &entries {
        // The documentation entry describes the fields with strings in place of numbers.
        if key == "sample_spec" {
            continue;
        }
        let err = |message: String| LitellmError::Entry {
            file: source.to_string(),
            entry: key.chars().take(MAX_ID_LEN).collect(),
            message,
        };
        let Value::Object(e) = entry else {
            return Err(err("not an object".into()));
        };
        let mode = opt_str(e, "mode").map_err(&err)?;
        if mode != Some("chat") {
            out.skipped_not_chat += 1;
            continue;
        }
        let Some(lp) = opt_str(e, "litellm_provider").map_err(&err)? else {
            out.skipped_provider += 1;
            continue;
        };
        let Some(provider) = our_provider(lp).filter(|p| wanted(p)) else {
            out.skipped_provider += 1;
            continue;
        };
        let row = entry_to_model(key, lp, provider, e, source).map_err(&err)?;
        let Some(m) = row else {
            out.skipped_no_price += 1;
            continue;
        };
        if !seen.insert((m.provider.clone(), m.id.clone())) {
            out.skipped_duplicate += 1;
            continue;
        }
        out.models.push(m);
    }
    Ok(out)
}

fn opt_str<'a>(e: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, String> {
    match e.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("`{field}` must be a string")),
    }
}

/// A price per token: a finite, non-negative number, or absent.
fn opt_price(e: &Map<String, Value>, field: &str) -> Result<Option<f64>, String> {
    match e.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            // At most $10,000 per million tokens, the bound of every catalog price.
            Some(x) if x.is_finite() && (0.0..=0.01).contains(&x) => Ok(Some(per_million(x))),
            _ => Err(format!(
                "`{field}` must be a price per token between 0 and 0.01"
            )),
        },
        Some(_) => Err(format!("`{field}` must be a number")),
    }
}

/// A token count: a non-negative whole number (LiteLLM writes some as 65536.0), or absent.
fn opt_tokens(e: &Map<String, Value>, field: &str) -> Result<Option<u32>, String> {
    match e.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0 => {
                Ok(Some(x.min(u32::MAX as f64) as u32))
            }
            _ => Err(format!("`{field}` must be a whole number of tokens")),
        },
        Some(_) => Err(format!("`{field}` must be a number")),
    }
}

fn opt_bool(e: &Map<String, Value>, field: &str) -> Result<Option<bool>, String> {
    match e.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(format!("`{field}` must be true or false")),
    }
}

/// USD per token -> USD per million, without float noise (3e-06 * 1e6 = 2.9999999999999996).
fn per_million(per_token: f64) -> f64 {
    (per_token * 1e6 * 1e6).round() / 1e6
}

/// Our id: LiteLLM's key without its provider prefix (`gemini/gemini-2.5-pro` ->
/// `gemini-2.5-pro`; `openrouter/anthropic/claude-x` -> `anthropic/claude-x`, OpenRouter's id).
fn our_id(key: &str, litellm_provider: &str) -> String {
    key.strip_prefix(litellm_provider)
        .and_then(|r| r.strip_prefix('/'))
        .unwrap_or(key)
        .to_string()
}

fn entry_to_model(
    key: &str,
    litellm_provider: &str,
    provider: &str,
    e: &Map<String, Value>,
    source: &str,
) -> Result<Option<ModelInfo>, String> {
    let id = our_id(key, litellm_provider);
    if id.is_empty() || id.len() > MAX_ID_LEN || id.chars().any(|c| c.is_control()) {
        return Err("the model id is empty, too long or has control characters".into());
    }
    let input = opt_price(e, "input_cost_per_token")?;
    let output = opt_price(e, "output_cost_per_token")?;
    let cached = opt_price(e, "cache_read_input_token_cost")?;
    let write = opt_price(e, "cache_creation_input_token_cost")?;
    let (mut above, mut input_long, mut output_long, mut cached_long) = (None, None, None, None);
    for (tokens, suffix) in [(200_000u64, "200k"), (272_000, "272k")] {
        let i = opt_price(e, &format!("input_cost_per_token_above_{suffix}_tokens"))?;
        let o = opt_price(e, &format!("output_cost_per_token_above_{suffix}_tokens"))?;
        let c = opt_price(
            e,
            &format!("cache_read_input_token_cost_above_{suffix}_tokens"),
        )?;
        if above.is_none() && (i.is_some() || o.is_some()) {
            (above, input_long, output_long, cached_long) = (Some(tokens), i, o, c);
        }
    }
    let max_input = opt_tokens(e, "max_input_tokens")?;
    let max_output = opt_tokens(e, "max_output_tokens")?;
    let max_tokens = opt_tokens(e, "max_tokens")?;
    let schema = opt_bool(e, "supports_response_schema")?;
    let reasoning = opt_bool(e, "supports_reasoning")?;
    // A model without both prices, or free of charge, would never be bound by a budget.
    let (Some(input), Some(output)) = (input, output) else {
        return Ok(None);
    };
    if input == 0.0 && output == 0.0 {
        return Ok(None);
    }
    let mut m = ModelInfo {
        id,
        provider: provider.to_string(),
        input,
        // Providers without a cache discount charge cached tokens as input.
        cached_input: cached.unwrap_or(input),
        output,
        cache_write: write.filter(|w| *w > 0.0),
        long_context_above: above,
        input_long,
        cached_input_long: cached_long,
        output_long,
        supports_response_schema: schema,
        reasoning: reasoning.unwrap_or(false),
        price_source: Some(format!("litellm:{source}")),
        ..Default::default()
    };
    if let Some(ctx) = max_input.or(max_tokens).filter(|n| *n > 0) {
        m.context_window = Some(ctx);
    }
    if let Some(out) = max_output.or(max_tokens).filter(|n| *n > 0) {
        m.max_output = out;
    }
    Ok(Some(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = r#"{
      "sample_spec": {"max_input_tokens": "docs", "mode": "one of: chat"},
      "claude-x": {"litellm_provider": "anthropic", "mode": "chat",
        "input_cost_per_token": 5e-06, "output_cost_per_token": 2.5e-05,
        "cache_read_input_token_cost": 5e-07, "cache_creation_input_token_cost": 6.25e-06,
        "max_input_tokens": 200000, "max_output_tokens": 64000.0,
        "supports_response_schema": true},
      "gemini/g-pro": {"litellm_provider": "gemini", "mode": "chat",
        "input_cost_per_token": 2e-06, "output_cost_per_token": 1.2e-05,
        "input_cost_per_token_above_200k_tokens": 4e-06,
        "output_cost_per_token_above_200k_tokens": 1.8e-05, "max_tokens": 65536},
      "gpt-x": {"litellm_provider": "openai", "mode": "chat",
        "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1.5e-05,
        "input_cost_per_token_above_272k_tokens": 5e-06},
      "free": {"litellm_provider": "openai", "mode": "chat",
        "input_cost_per_token": 0.0, "output_cost_per_token": 0.0},
      "unpriced": {"litellm_provider": "openai", "mode": "chat"},
      "embed": {"litellm_provider": "openai", "mode": "embedding", "input_cost_per_token": 1e-07},
      "bedrock/x": {"litellm_provider": "bedrock", "mode": "chat",
        "input_cost_per_token": 1e-06, "output_cost_per_token": 1e-06}
    }"#;

    #[test]
    fn chat_rows_of_mapped_providers_become_catalog_rows() {
        let p = parse(MAP, "m.json", &|_| true).unwrap();
        assert_eq!(p.models.len(), 3);
        assert_eq!(
            (p.skipped_no_price, p.skipped_not_chat, p.skipped_provider),
            (2, 1, 1)
        );
        let c = &p.models[0];
        assert_eq!(
            (c.id.as_str(), c.provider.as_str()),
            ("claude-x", "anthropic")
        );
        assert_eq!((c.input, c.output, c.cached_input), (5.0, 25.0, 0.5));
        assert_eq!(c.cache_write, Some(6.25));
        assert_eq!((c.context_window, c.max_output), (Some(200_000), 64_000));
        assert_eq!(c.supports_response_schema, Some(true));
        assert_eq!(c.price_source.as_deref(), Some("litellm:m.json"));
        assert!(
            c.tags.is_empty() && c.region.is_empty(),
            "imported rows are never tagged"
        );
        let g = &p.models[1];
        assert_eq!((g.id.as_str(), g.provider.as_str()), ("g-pro", "google"));
        assert_eq!(
            (g.long_context_above, g.input_long, g.output_long),
            (Some(200_000), Some(4.0), Some(18.0))
        );
        assert_eq!((g.context_window, g.max_output), (Some(65536), 65536));
        assert_eq!(
            g.cached_input, 2.0,
            "no cache price: cached tokens cost input"
        );
        assert_eq!(p.models[2].long_context_above, Some(272_000));
        let only = parse(MAP, "m.json", &|p| p == "google").unwrap();
        assert_eq!(only.models.len(), 1);
    }

    #[test]
    fn a_field_of_the_wrong_type_names_the_entry() {
        let bad = r#"{"ok": {"litellm_provider": "openai", "mode": "chat",
            "input_cost_per_token": 1e-06, "output_cost_per_token": 1e-06},
          "broken-model": {"litellm_provider": "openai", "mode": "chat",
            "input_cost_per_token": "cheap", "output_cost_per_token": 1e-06}}"#;
        let e = parse(bad, "bad.json", &|_| true).unwrap_err().to_string();
        assert!(e.contains("bad.json") && e.contains("broken-model"), "{e}");
        assert!(e.contains("input_cost_per_token"), "{e}");
        let e = parse(r#"{"m": {"litellm_provider": "openai", "mode": "chat", "max_input_tokens": -3, "input_cost_per_token": 1e-06, "output_cost_per_token": 1e-06}}"#, "f", &|_| true).unwrap_err();
        assert!(e.to_string().contains("max_input_tokens"), "{e}");
        assert!(matches!(
            parse("[1]", "f", &|_| true),
            Err(LitellmError::NotAnObject(_))
        ));
        assert!(matches!(
            parse("{", "f", &|_| true),
            Err(LitellmError::NotJson(..))
        ));
        let e = parse(r#"{"m": 3}"#, "f", &|_| true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`m`") && e.contains("not an object"), "{e}");
    }

    #[test]
    fn per_token_prices_convert_without_float_noise() {
        assert_eq!(per_million(3e-06), 3.0);
        assert_eq!(per_million(1.25e-07), 0.125);
        assert_eq!(per_million(2.8e-08), 0.028);
    }
}
