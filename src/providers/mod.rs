//! The provider seam: one trait every backend implements (HTTP clients and the simulator), the
//! request/response types, and the error taxonomy of providers.md.

mod anthropic;
pub mod caching;
pub mod classify;
pub mod discover;
mod gemini;
pub mod http;
mod openai;
pub mod overflow;
pub mod reasoning;
pub mod registry;
pub mod simulated;
pub mod sse;
pub mod structured;
pub mod tls;
mod transport;

use crate::domain::{CallOutcome, CallRole, Reasoning, TaskType};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub use crate::domain::OutputSchema;
pub use classify::{WireFormat, classify};
pub use http::{HttpOptions, HttpProvider};
pub use openai::is_openai_reasoning_model;
pub use registry::ProviderRegistry;
pub use structured::{StructuredMemory, StructuredMode};
pub use transport::Timeouts;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Message {
    /// `user` or `assistant`; the system prompt travels separately.
    pub role: String,
    pub content: String,
}

#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub model: String,
    pub system: Option<String>,
    pub messages: Vec<Message>,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
    /// What the call is for; the simulator answers per role, HTTP clients ignore it.
    pub role: CallRole,
    pub task_type: Option<TaskType>,
    /// Iteration number of the attempt (1-based), when the call belongs to one.
    pub attempt: u32,
    /// The JSON shape the answer must have, sent through the wire format's structured-output
    /// mechanism (`None`: free text).
    pub schema: Option<std::sync::Arc<OutputSchema>>,
    /// Bytes at the start of the first user message that are context shared by several calls
    /// (a task's dependency outputs): a prompt-cache breakpoint goes after them where the wire
    /// format has explicit caching (`caching.rs`). 0: none. Always on a char boundary.
    pub shared_prefix: usize,
    /// Reasoning effort / thinking budget; each wire format sends what it understands.
    pub reasoning: Reasoning,
}

impl ChatRequest {
    /// Output tokens (answer and reasoning) the provider may bill for this request: `max_tokens`,
    /// plus the reasoning its server does not count inside it. The worst case held and the
    /// usage check both use this.
    pub fn max_billed_output(&self) -> u32 {
        self.max_tokens
            .saturating_add(self.reasoning.outside_max_tokens)
    }

    /// Rough input-token estimate (4 characters a token) used for reservations and estimates.
    pub fn estimated_input_tokens(&self) -> u64 {
        self.system.as_deref().map_or(0, estimate_tokens)
            + self
                .messages
                .iter()
                .map(|m| estimate_tokens(&m.content))
                .sum::<u64>()
            + 8
    }
}

/// Input tokens of `text`, estimated high rather than low because budgets reserve with it:
/// ASCII at 4 bytes a token (English and code tokenize at 3.5-4.5), every other character at 2
/// tokens or its UTF-8 length if smaller (CJK and emoji run 1-2 tokens a character, and a
/// byte-level tokenizer never needs more tokens than bytes).
pub fn estimate_tokens(text: &str) -> u64 {
    let ascii = text.bytes().filter(u8::is_ascii).count() as u64;
    if ascii == text.len() as u64 {
        return ascii.div_ceil(4);
    }
    let other: u64 = text
        .chars()
        .filter(|c| !c.is_ascii())
        .map(|c| c.len_utf8().min(2) as u64)
        .sum();
    ascii.div_ceil(4) + other
}

/// Token usage normalised across providers: `input` excludes cache reads and cache writes
/// (Anthropic reports them apart; OpenAI, Gemini and DeepSeek count reads inside the prompt and
/// are split here; none of those reports writes, which they do not charge extra for).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Uncached input tokens (priced as input).
    pub input: u64,
    /// Input tokens read from the provider's cache (priced as cached input).
    pub cached_input: u64,
    /// Input tokens written to the provider's cache (Anthropic `cache_creation_input_tokens`,
    /// priced at the cache-write rate).
    #[serde(default)]
    pub cache_write: u64,
    /// Visible output tokens, excluding `reasoning` (Anthropic thinking is not reported
    /// separately and stays here).
    pub output: u64,
    /// Reasoning/thinking tokens reported separately (OpenAI `reasoning_tokens`, Gemini
    /// `thoughtsTokenCount`); billed at the output price.
    pub reasoning: u64,
}

impl Usage {
    /// Tokens billed at the output price: `output + reasoning` (providers.md, Costs).
    pub fn billed_output(&self) -> u64 {
        self.output.saturating_add(self.reasoning)
    }

    /// Input tokens of every kind: `input + cached_input + cache_write`.
    pub fn total_input(&self) -> u64 {
        self.input
            .saturating_add(self.cached_input)
            .saturating_add(self.cache_write)
    }
}

/// What a token count the server sent as something other than a non-negative integer (a
/// negative number, a fraction, text) is read as: far beyond any request's bounds, so the engine
/// rejects the usage as malformed instead of reading it as zero (a free call).
pub const INVALID_COUNT: u64 = u64::MAX;

/// A token count from a usage object: `None` when absent or null, [`INVALID_COUNT`] when it is
/// not a non-negative integer. Integral floats (`12.0`) are accepted.
pub(crate) fn count(v: Option<&serde_json::Value>) -> Option<u64> {
    let v = v.filter(|v| !v.is_null())?;
    if let Some(n) = v.as_u64() {
        return Some(n);
    }
    Some(match v.as_f64() {
        Some(f) if f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64 => f as u64,
        _ => INVALID_COUNT,
    })
}

#[derive(Debug, Clone)]
pub struct ChatResponse {
    pub text: String,
    pub usage: Usage,
    pub finish_reason: Option<String>,
    /// Time to first token when streamed.
    pub ttft: Option<Duration>,
}

/// Error classes of providers.md; the engine's retry and breaker rules key off these only.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ProviderError {
    /// 429 with a wait the provider asked for: a wait, not a fault.
    #[error("rate limited{}: {message}", fmt_wait(.retry_after))]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    /// 5xx, 529, timeouts, connection errors, truncated streams, malformed bodies.
    #[error("transient failure{}: {message}", fmt_status(.status))]
    Transient {
        status: Option<u16>,
        message: String,
    },
    /// 401, 403, 404, 402, quota/spend-cap 429: the model is disabled until config or reset.
    #[error("permanent failure{}: {message}", fmt_status(.status))]
    Permanent {
        status: Option<u16>,
        message: String,
        /// The key itself is bad (401/403): every model using it is affected.
        key_scoped: bool,
    },
    /// 400, 413: this request is wrong; the model is fine.
    #[error("request rejected{}: {message}", fmt_status(.status))]
    Request {
        status: Option<u16>,
        message: String,
    },
    /// 400 (any wire format) saying the prompt does not fit the model's context window: the
    /// request is shrunk and sent again; the model is fine. `limit` is the window the message
    /// gave, when it gave a sane one.
    #[error("context window exceeded{}: {message}", fmt_limit(.limit))]
    ContextOverflow { message: String, limit: Option<u64> },
    /// The body of a 200 answer exceeded the size limit and was cut there: a transient fault,
    /// and the call is charged its held worst case (the server produced and billed it).
    #[error("transient failure: {message}")]
    Oversized { message: String },
    #[error("cancelled")]
    Cancelled,
}

fn fmt_wait(d: &Option<Duration>) -> String {
    d.map(|d| format!(" (retry after {:.1}s)", d.as_secs_f64()))
        .unwrap_or_default()
}

fn fmt_limit(l: &Option<u64>) -> String {
    l.map(|l| format!(" (limit {l} tokens)"))
        .unwrap_or_default()
}

fn fmt_status(s: &Option<u16>) -> String {
    s.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
}

impl ProviderError {
    pub fn class(&self) -> CallOutcome {
        match self {
            ProviderError::RateLimited { .. } => CallOutcome::RateLimited,
            ProviderError::Transient { .. } | ProviderError::Oversized { .. } => {
                CallOutcome::Transient
            }
            ProviderError::Permanent { .. } => CallOutcome::Permanent,
            ProviderError::Request { .. } => CallOutcome::Request,
            ProviderError::ContextOverflow { .. } => CallOutcome::ContextOverflow,
            ProviderError::Cancelled => CallOutcome::Cancelled,
        }
    }

    /// The server answered and the answer was refused after it was produced: the provider has
    /// billed it, so the call is charged its held worst case rather than nothing.
    pub fn billed(&self) -> bool {
        matches!(self, ProviderError::Oversized { .. })
    }
}

/// One backend. Implementations must be cancel-safe: when `cancel` fires they return
/// `ProviderError::Cancelled` promptly.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Provider name as in the catalog (`anthropic`, `openai`, `local`, ...).
    fn name(&self) -> &str;
    /// True for the built-in simulator (marked `"simulated": true` in JSON).
    fn is_simulated(&self) -> bool;
    async fn chat(
        &self,
        req: &ChatRequest,
        cancel: &CancellationToken,
    ) -> Result<ChatResponse, ProviderError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_estimate_is_bytes_over_four_for_ascii() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        let code = "fn main() { println!(\"hello\"); }\n".repeat(100);
        assert_eq!(estimate_tokens(&code), (code.len() as u64).div_ceil(4));
    }

    #[test]
    fn token_estimate_is_high_for_cjk_and_never_above_the_byte_count() {
        // 12 CJK characters: byte/4 would say 9; tokenizers use 12-24.
        let cjk = "预算不能超支即使在并发下";
        assert_eq!(cjk.chars().count(), 12);
        assert_eq!(estimate_tokens(cjk), 24);
        assert!(estimate_tokens(cjk) <= cjk.len() as u64);
        // Mixed text: the ASCII part at 4 bytes a token, accents at their UTF-8 length (2).
        assert_eq!(estimate_tokens("café au lait"), 3 + 2);
        for s in ["é", "日本", "🙂", "a🙂b", "Ωmega"] {
            assert!(estimate_tokens(s) <= s.len() as u64, "{s}");
        }
    }

    #[test]
    fn counts_that_are_not_non_negative_integers_are_invalid_not_zero() {
        use serde_json::json;
        let c = |v: serde_json::Value| count(Some(&v));
        assert_eq!(count(None), None);
        assert_eq!(c(json!(null)), None);
        assert_eq!(c(json!(12)), Some(12));
        assert_eq!(c(json!(12.0)), Some(12));
        assert_eq!(c(json!(u64::MAX)), Some(u64::MAX));
        for bad in [
            json!(-5),
            json!(1.5),
            json!(1e300),
            json!("12"),
            json!(true),
            json!({}),
        ] {
            assert_eq!(c(bad.clone()), Some(INVALID_COUNT), "{bad}");
        }
        let u = Usage {
            input: u64::MAX,
            cached_input: 5,
            cache_write: 0,
            output: u64::MAX,
            reasoning: 1,
        };
        assert_eq!(u.total_input(), u64::MAX);
        assert_eq!(u.billed_output(), u64::MAX);
    }
}
