//! Real HTTP provider clients (Anthropic, OpenAI format, Gemini). Built by the provider issue.

use super::Provider;
use crate::config::{Config, ProviderConfig};
use std::sync::Arc;

/// Build the client for one configured provider.
pub fn build(
    name: &str,
    _p: &ProviderConfig,
    _key: Option<String>,
    _cfg: &Config,
) -> Result<Arc<dyn Provider>, String> {
    Err(format!(
        "real HTTP clients are not built yet; unset the key for `{name}` or set [simulated] enabled = \"always\""
    ))
}
