//! A refusal because the prompt does not fit the model's context window, told apart from other
//! 400s. Unlike the rest of the taxonomy (`classify.rs`) this reads the message too: most servers
//! have no structured code for it (only OpenAI's `context_length_exceeded` and llama.cpp's
//! `exceed_context_size_error`), and treating it as a plain `request` would lose the one useful
//! reaction (shrink the prompt and ask again).

use serde_json::Value;

/// A window a server names, to be believed: anything outside is ignored (the overflow stands,
/// the limit is unknown).
pub const SANE_WINDOW: std::ops::RangeInclusive<u64> = 256..=10_000_000;

/// Phrases of overflow messages, lowercase, per server:
/// OpenAI, DeepSeek, vLLM, Kimi: "This model's maximum context length is 8192 tokens. However...";
/// llama.cpp: "request (4145 tokens) exceeds the available context size (4096 tokens)";
/// Anthropic: "prompt is too long: 208310 tokens > 200000 maximum", "input length and
/// `max_tokens` exceed context limit: 197000 + 8192 > 200000";
/// Gemini: "The input token count (1200000) exceeds the maximum number of tokens allowed
/// (1048576)"; Ollama: "the input length exceeds the context length"; others as listed.
const PHRASES: [&str; 11] = [
    "maximum context length",
    "exceeds the available context size",
    "context_length_exceeded",
    "context length exceeded",
    "prompt is too long",
    "exceed context limit",
    "exceeds the maximum number of tokens",
    "input token count",
    "exceeds the context length",
    "context window exceeded",
    "too many tokens in the prompt",
];

/// Where a message states the window: the first number after one of these (lowercase).
const LIMIT_AFTER: [&str; 5] = [
    "available context size",
    "maximum context length is",
    "maximum number of tokens allowed",
    "context length of",
    "context window of",
];

/// `Some(limit)` when `err` (the body's error object) and `message` say the prompt overflowed
/// the context window; the limit is the window they name, if sane.
pub fn detect(err: &Value, message: &str) -> Option<Option<u64>> {
    let code = |k: &str| err.get(k).and_then(Value::as_str).unwrap_or("");
    let structured = code("code") == "context_length_exceeded"
        || code("type") == "exceed_context_size_error"
        || code("type") == "context_length_exceeded";
    let lower = message.to_ascii_lowercase();
    if !structured && !PHRASES.iter().any(|p| lower.contains(p)) {
        return None;
    }
    // llama.cpp also sends the slot's window as a number.
    let n_ctx = err.get("n_ctx").and_then(Value::as_u64);
    Some(
        n_ctx
            .or_else(|| limit_in(&lower))
            .filter(|n| SANE_WINDOW.contains(n)),
    )
}

/// The window a (lowercase) message names: after a [`LIMIT_AFTER`] phrase, else Anthropic's
/// `... > 200000` (the number after the last `>`).
fn limit_in(lower: &str) -> Option<u64> {
    for p in LIMIT_AFTER {
        if let Some(i) = lower.find(p)
            && let Some(n) = first_number(&lower[i + p.len()..])
        {
            return Some(n);
        }
    }
    let i = lower.rfind('>')?;
    first_number(&lower[i + 1..])
}

/// The first run of digits within the next 24 bytes (`(4096 tokens)`, ` is 8192`), if any.
fn first_number(s: &str) -> Option<u64> {
    let window = &s.as_bytes()[..s.len().min(24)];
    let start = window.iter().position(u8::is_ascii_digit)?;
    let digits: String = s[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .take(12)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg(m: &str) -> Option<Option<u64>> {
        detect(&Value::Null, m)
    }

    #[test]
    fn each_servers_overflow_message_is_recognised_with_its_limit() {
        let llama = json!({"code":400,"message":"request (4145 tokens) exceeds the available context size (4096 tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":4145,"n_ctx":4096});
        assert_eq!(detect(&llama, "x"), Some(Some(4096)));
        // Older llama.cpp: no numbers.
        assert_eq!(
            msg("the request exceeds the available context size, try increasing it"),
            Some(None)
        );
        assert_eq!(
            msg("request (4145 tokens) exceeds the available context size (4096 tokens)"),
            Some(Some(4096))
        );
        let openai = json!({"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.","type":"invalid_request_error","code":"context_length_exceeded"});
        assert_eq!(
            detect(
                &openai,
                "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens."
            ),
            Some(Some(8192))
        );
        assert_eq!(
            detect(&json!({"code":"context_length_exceeded"}), "too long"),
            Some(None)
        );
        // vLLM (no code) and its newer wording.
        assert_eq!(
            msg(
                "This model's maximum context length is 2048 tokens. However, you requested 2100 tokens (1100 in the messages, 1000 in the completion)."
            ),
            Some(Some(2048))
        );
        assert_eq!(
            msg(
                "'max_tokens' is too large: 4096. This model's maximum context length is 4096 tokens and your request has 40 input tokens (4096 > 4096 - 40)."
            ),
            Some(Some(4096))
        );
        // Anthropic.
        assert_eq!(
            msg("prompt is too long: 208310 tokens > 200000 maximum"),
            Some(Some(200_000))
        );
        assert_eq!(
            msg(
                "input length and `max_tokens` exceed context limit: 197000 + 8192 > 200000, decrease input length or `max_tokens` and try again"
            ),
            Some(Some(200_000))
        );
        // Gemini.
        assert_eq!(
            msg(
                "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
            ),
            Some(Some(1_048_576))
        );
        // Ollama.
        assert_eq!(
            msg("the input length exceeds the context length"),
            Some(None)
        );
    }

    #[test]
    fn other_refusals_are_not_overflows() {
        for m in [
            "Invalid value for 'temperature'",
            "response_format json_schema is not supported",
            "max_tokens must be at least 1",
            "model not found",
            "",
        ] {
            assert_eq!(msg(m), None, "{m}");
        }
        assert_eq!(
            detect(&json!({"type":"invalid_request_error"}), "bad field"),
            None
        );
    }

    #[test]
    fn hostile_limits_are_dropped_not_believed() {
        let huge = json!({"type":"exceed_context_size_error","n_ctx": 1u64 << 60});
        assert_eq!(detect(&huge, "x"), Some(None));
        assert_eq!(
            msg("maximum context length is 12 tokens"),
            Some(None),
            "below the sane floor"
        );
        assert_eq!(
            msg("maximum context length is 99999999999999999999999 tokens"),
            Some(None)
        );
        assert_eq!(msg("prompt is too long: no numbers here"), Some(None));
        let neg = json!({"type":"exceed_context_size_error","n_ctx": -5});
        assert_eq!(detect(&neg, "x"), Some(None));
    }
}
