//! OpenAI Chat Completions and compatible servers (DeepSeek, Kimi/Moonshot, Ollama, llama.cpp,
//! vLLM, LiteLLM): `POST {base_url}/chat/completions` with `Authorization: Bearer`.
//!
//! Quirks: OpenAI reasoning models (o1/o3/o4 series, gpt-5) take `max_completion_tokens`, the
//! system prompt as role `developer` and no temperature; `deepseek-reasoner` takes no
//! temperature; Moonshot accepts temperature in [0, 1] (clamped) and its fixed-sampling models
//! (K2 thinking, K2.5 and later) none. Usage: `prompt_tokens` includes cached tokens,
//! `completion_tokens` includes reasoning tokens (xAI's does not: its reasoning is billed on top);
//! both are split out here.

use super::classify::{WireFormat, classify_stream_error};
use super::sse::SseEvent;
use super::structured::StructuredMode;
use super::transport::{Step, StreamDecoder, malformed, truncated_stream};
use super::{ChatRequest, ChatResponse, ProviderError, Usage};
use serde_json::{Map, Value, json};

/// Which OpenAI-compatible vendor is behind a base URL: selects request quirks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vendor {
    Generic,
    DeepSeek,
    Moonshot,
}

impl Vendor {
    pub(crate) fn detect(name: &str, base_url: &str) -> Vendor {
        let host = reqwest::Url::parse(base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        let name = name.to_ascii_lowercase();
        if name == "deepseek" || host.ends_with("deepseek.com") {
            Vendor::DeepSeek
        } else if name == "kimi" || name == "moonshot" || host.contains("moonshot") {
            Vendor::Moonshot
        } else {
            Vendor::Generic
        }
    }
}

/// The model id without a routing prefix (`openai/o3` on a LiteLLM proxy), lowercased.
fn bare(model: &str) -> String {
    model
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .to_ascii_lowercase()
}

/// OpenAI reasoning models: o-series and gpt-5 (but not the `gpt-5-chat` variants).
pub fn is_openai_reasoning_model(model: &str) -> bool {
    let m = bare(model);
    let o_series = ["o1", "o3", "o4"]
        .iter()
        .any(|p| m == *p || m.strip_prefix(p).is_some_and(|r| r.starts_with('-')));
    o_series || (m.starts_with("gpt-5") && !m.contains("-chat"))
}

/// Kimi models whose sampling parameters are fixed by Moonshot (any temperature but the default
/// is refused): the thinking models and K2.5 onwards.
fn kimi_fixed_sampling(model: &str) -> bool {
    let m = bare(model);
    m.contains("thinking") || ["kimi-k2.", "kimi-k3"].iter().any(|p| m.starts_with(p))
}

/// The temperature actually sent for `model`, after the vendor's rules.
pub(crate) fn temperature(model: &str, vendor: Vendor, t: Option<f32>) -> Option<f32> {
    let t = t?;
    if is_openai_reasoning_model(model) || bare(model).starts_with("deepseek-reasoner") {
        return None;
    }
    match vendor {
        Vendor::Moonshot if kimi_fixed_sampling(model) => None,
        Vendor::Moonshot => Some(t.clamp(0.0, 1.0)),
        Vendor::DeepSeek | Vendor::Generic => Some(t.clamp(0.0, 2.0)),
    }
}

pub(crate) fn body(req: &ChatRequest, stream: bool, vendor: Vendor, mode: StructuredMode) -> Value {
    let reasoning = is_openai_reasoning_model(&req.model);
    let system_role = if reasoning { "developer" } else { "system" };
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if let Some(s) = &req.system {
        messages.push(json!({"role": system_role, "content": s}));
    }
    for m in &req.messages {
        let role = if m.role == "system" {
            system_role
        } else {
            &m.role
        };
        messages.push(json!({"role": role, "content": m.content}));
    }
    let mut b = Map::new();
    b.insert("model".into(), json!(req.model));
    b.insert("messages".into(), Value::Array(messages));
    let max_key = if reasoning {
        "max_completion_tokens"
    } else {
        "max_tokens"
    };
    b.insert(max_key.into(), json!(req.max_tokens));
    if let Some(t) = temperature(&req.model, vendor, req.temperature) {
        b.insert("temperature".into(), json!(t));
    }
    // Asked only of models that take it (the engine checks `providers::reasoning`); reasoning
    // tokens count inside `max_completion_tokens` and are billed as output.
    if let Some(e) = req.reasoning.effort {
        b.insert("reasoning_effort".into(), json!(e.as_str()));
    }
    if stream {
        b.insert("stream".into(), json!(true));
        b.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(f) = response_format(req, mode) {
        b.insert("response_format".into(), f);
    }
    Value::Object(b)
}

/// `response_format` for a request with a schema: `json_schema` (strict; llama.cpp, vLLM and
/// Ollama turn it into a grammar) or `json_object`; nothing for mode `off` or free text.
fn response_format(req: &ChatRequest, mode: StructuredMode) -> Option<Value> {
    let s = req.schema.as_deref()?;
    match mode {
        StructuredMode::JsonSchema => Some(json!({
            "type": "json_schema",
            "json_schema": {
                "name": s.name,
                "description": s.description,
                "schema": s.schema,
                "strict": true,
            },
        })),
        StructuredMode::JsonObject => Some(json!({"type": "json_object"})),
        StructuredMode::Off => None,
    }
}

fn n(v: &Value, path: &str) -> Option<u64> {
    super::count(v.pointer(path))
}

/// Normalise an OpenAI-format `usage` object (OpenAI, DeepSeek, Moonshot, local servers).
pub(crate) fn usage(u: &Value) -> Usage {
    // DeepSeek's hit + miss is the prompt when `prompt_tokens` is missing.
    let split = n(u, "/prompt_cache_hit_tokens")
        .zip(n(u, "/prompt_cache_miss_tokens"))
        .map(|(h, m)| h.saturating_add(m));
    let prompt = n(u, "/prompt_tokens").or(split).unwrap_or(0);
    let cached = n(u, "/prompt_cache_hit_tokens") // DeepSeek
        .or_else(|| n(u, "/prompt_tokens_details/cached_tokens"))
        .or_else(|| n(u, "/cached_tokens")) // Moonshot context caching
        .unwrap_or(0)
        .min(prompt);
    let completion = n(u, "/completion_tokens").unwrap_or(0);
    let reasoning = n(u, "/completion_tokens_details/reasoning_tokens").unwrap_or(0);
    // OpenAI, DeepSeek and most servers count reasoning inside `completion_tokens`; xAI counts
    // it beside them ("counted separately from completion_tokens, but counted in the
    // total_tokens"). Told apart by the sizes: reasoning above the completion, or a total that
    // adds it on top, is billed on top; never the smaller reading.
    let total = n(u, "/total_tokens");
    let beside = reasoning > completion
        || (reasoning > 0
            && total == Some(prompt.saturating_add(completion).saturating_add(reasoning)));
    let output = if beside {
        completion
    } else {
        completion - reasoning
    };
    Usage {
        input: prompt - cached,
        cached_input: cached,
        // OpenAI-format servers report no cache writes (none charges a write premium).
        cache_write: 0,
        output,
        reasoning,
    }
}

fn error_in(v: &Value) -> bool {
    v.get("error").is_some_and(|e| e.is_object())
}

pub(crate) fn decode_full(text: &str) -> Result<ChatResponse, ProviderError> {
    let v: Value = serde_json::from_str(text).map_err(malformed)?;
    if error_in(&v) {
        return Err(classify_stream_error(text, WireFormat::OpenAi));
    }
    let choice = v
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or_else(|| malformed("no `choices`"))?;
    let message = choice.get("message").unwrap_or(&Value::Null);
    Ok(ChatResponse {
        text: message
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        usage: v.get("usage").map(usage).unwrap_or_default(),
        finish_reason: choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(str::to_string),
        ttft: None,
    })
}

/// Streaming state: `chat.completion.chunk`s with `choices[].delta`, an optional usage chunk
/// (with `choices: []` or `null`), then `data: [DONE]`.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    text: String,
    usage: Option<Usage>,
    finish_reason: Option<String>,
    done: bool,
}

impl StreamDecoder for Stream {
    fn on_event(&mut self, ev: &SseEvent) -> Result<Step, ProviderError> {
        let data = ev.data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(Step {
                token: false,
                done: true,
            });
        }
        if data.is_empty() {
            return Ok(Step::default());
        }
        let v: Value = serde_json::from_str(data).map_err(malformed)?;
        if error_in(&v) || ev.event.as_deref() == Some("error") {
            return Err(classify_stream_error(data, WireFormat::OpenAi));
        }
        let mut step = Step::default();
        let choice = v
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|c| c.first());
        if let Some(choice) = choice {
            let delta = choice.get("delta").unwrap_or(&Value::Null);
            if let Some(t) = delta.get("content").and_then(Value::as_str) {
                self.text.push_str(t);
                step.token |= !t.is_empty();
            }
            for k in ["reasoning_content", "reasoning"] {
                if delta
                    .get(k)
                    .and_then(Value::as_str)
                    .is_some_and(|r| !r.is_empty())
                {
                    step.token = true;
                }
            }
            if let Some(r) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish_reason = Some(r.to_string());
            }
            // Moonshot puts the usage of a stream inside the last choice.
            if let Some(u) = choice.get("usage").filter(|u| u.is_object()) {
                self.usage = Some(usage(u));
            }
        }
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage(u));
        }
        Ok(step)
    }

    fn finish(self: Box<Self>) -> Result<ChatResponse, ProviderError> {
        if !self.done {
            return Err(truncated_stream("`data: [DONE]`"));
        }
        Ok(ChatResponse {
            text: self.text,
            usage: self.usage.unwrap_or_default(),
            finish_reason: self.finish_reason,
            ttft: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CallRole, Reasoning, ReasoningEffort};
    use crate::providers::Message;

    fn req(model: &str, t: Option<f32>) -> ChatRequest {
        ChatRequest {
            model: model.into(),
            system: Some("sys".into()),
            messages: vec![Message {
                role: "user".into(),
                content: "hi".into(),
            }],
            max_tokens: 64,
            temperature: t,
            role: CallRole::Generate,
            task_type: None,
            attempt: 1,
            schema: None,
            shared_prefix: 0,
            reasoning: Reasoning::default(),
        }
    }

    #[test]
    fn reasoning_model_detection() {
        for m in [
            "o1",
            "o3-mini",
            "o4-mini-2025-04-16",
            "gpt-5",
            "gpt-5-mini",
            "openai/o3",
        ] {
            assert!(is_openai_reasoning_model(m), "{m}");
        }
        for m in ["gpt-4o", "o1x", "gpt-5-chat-latest", "llama3.2", "omni"] {
            assert!(!is_openai_reasoning_model(m), "{m}");
        }
    }

    #[test]
    fn standard_body() {
        let b = body(
            &req("gpt-4o", Some(0.3)),
            true,
            Vendor::Generic,
            StructuredMode::JsonSchema,
        );
        assert_eq!(b["messages"][0], json!({"role":"system","content":"sys"}));
        assert_eq!(b["messages"][1], json!({"role":"user","content":"hi"}));
        assert_eq!(b["max_tokens"], 64);
        assert!((b["temperature"].as_f64().unwrap() - 0.3).abs() < 1e-6);
        assert_eq!(b["stream"], true);
        assert_eq!(b["stream_options"]["include_usage"], true);
        let nb = body(
            &req("gpt-4o", None),
            false,
            Vendor::Generic,
            StructuredMode::JsonSchema,
        );
        assert!(nb.get("temperature").is_none() && nb.get("stream").is_none());
    }

    #[test]
    fn structured_output_body_per_mode() {
        let mut r = req("llama", None);
        assert!(
            body(&r, false, Vendor::Generic, StructuredMode::JsonSchema)
                .get("response_format")
                .is_none(),
            "free text sends no response_format"
        );
        r.schema = Some(crate::providers::structured::sample_schema());
        let b = body(&r, true, Vendor::Generic, StructuredMode::JsonSchema);
        let f = &b["response_format"];
        assert_eq!(f["type"], "json_schema");
        assert_eq!(f["json_schema"]["name"], "critique");
        assert_eq!(f["json_schema"]["strict"], true);
        assert_eq!(
            f["json_schema"]["schema"],
            crate::providers::structured::sample_schema().schema
        );
        let b = body(&r, false, Vendor::Generic, StructuredMode::JsonObject);
        assert_eq!(b["response_format"], json!({"type": "json_object"}));
        let b = body(&r, false, Vendor::Generic, StructuredMode::Off);
        assert!(b.get("response_format").is_none());
    }

    #[test]
    fn reasoning_body_uses_developer_and_max_completion_tokens() {
        let b = body(
            &req("o3-mini", Some(0.5)),
            false,
            Vendor::Generic,
            StructuredMode::JsonSchema,
        );
        assert_eq!(b["messages"][0]["role"], "developer");
        assert_eq!(b["max_completion_tokens"], 64);
        assert!(b.get("max_tokens").is_none());
        assert!(b.get("temperature").is_none());
        assert!(
            b.get("reasoning_effort").is_none(),
            "sent only when configured"
        );
    }

    #[test]
    fn reasoning_effort_is_sent_as_configured() {
        for (e, s) in [
            (ReasoningEffort::Minimal, "minimal"),
            (ReasoningEffort::Low, "low"),
            (ReasoningEffort::Medium, "medium"),
            (ReasoningEffort::High, "high"),
        ] {
            let mut r = req("gpt-5", None);
            r.reasoning.effort = Some(e);
            // A thinking budget means nothing to this format.
            r.reasoning.thinking_budget = Some(2048);
            for vendor in [Vendor::Generic, Vendor::DeepSeek] {
                let b = body(&r, true, vendor, StructuredMode::JsonSchema);
                assert_eq!(b["reasoning_effort"], s);
                assert_eq!(b["max_completion_tokens"], 64);
                assert!(b.get("thinking").is_none());
            }
        }
    }

    #[test]
    fn vendor_temperature_rules() {
        assert_eq!(
            temperature("deepseek-reasoner", Vendor::DeepSeek, Some(0.7)),
            None
        );
        assert_eq!(
            temperature("deepseek-chat", Vendor::DeepSeek, Some(0.7)),
            Some(0.7)
        );
        assert_eq!(
            temperature("moonshot-v1-8k", Vendor::Moonshot, Some(1.7)),
            Some(1.0)
        );
        assert_eq!(
            temperature("moonshot-v1-8k", Vendor::Moonshot, Some(-1.0)),
            Some(0.0)
        );
        assert_eq!(
            temperature("kimi-k2-thinking", Vendor::Moonshot, Some(0.5)),
            None
        );
        assert_eq!(temperature("kimi-k2.5", Vendor::Moonshot, Some(0.5)), None);
        assert_eq!(
            temperature("kimi-k2-0905-preview", Vendor::Moonshot, Some(0.5)),
            Some(0.5)
        );
        assert_eq!(
            temperature("llama3.2", Vendor::Generic, Some(3.0)),
            Some(2.0)
        );
    }

    #[test]
    fn usage_variants() {
        let openai = json!({"prompt_tokens":100,"completion_tokens":50,"prompt_tokens_details":{"cached_tokens":60},
            "completion_tokens_details":{"reasoning_tokens":20}});
        assert_eq!(
            usage(&openai),
            Usage {
                input: 40,
                cached_input: 60,
                cache_write: 0,
                output: 30,
                reasoning: 20
            }
        );
        let deepseek = json!({"prompt_tokens":100,"completion_tokens":10,"prompt_cache_hit_tokens":70,"prompt_cache_miss_tokens":30});
        assert_eq!(
            usage(&deepseek),
            Usage {
                input: 30,
                cached_input: 70,
                cache_write: 0,
                output: 10,
                reasoning: 0
            }
        );
        let no_prompt = json!({"completion_tokens":1,"prompt_cache_hit_tokens":70,"prompt_cache_miss_tokens":30});
        assert_eq!(
            (usage(&no_prompt).input, usage(&no_prompt).cached_input),
            (30, 70)
        );
        // xAI: reasoning beside completion_tokens, in total_tokens; billed on top.
        let xai = json!({"prompt_tokens":32,"completion_tokens":9,"total_tokens":135,
            "completion_tokens_details":{"reasoning_tokens":94}});
        assert_eq!((usage(&xai).output, usage(&xai).reasoning), (9, 94));
        let no_total = json!({"prompt_tokens":20,"completion_tokens":2,
            "completion_tokens_details":{"reasoning_tokens":317}});
        assert_eq!(usage(&no_total).billed_output(), 319);
        // OpenAI's total does not add reasoning again: it stays inside.
        let inside = json!({"prompt_tokens":100,"completion_tokens":50,"total_tokens":150,
            "completion_tokens_details":{"reasoning_tokens":20}});
        assert_eq!((usage(&inside).output, usage(&inside).reasoning), (30, 20));
        let moonshot = json!({"prompt_tokens":10,"completion_tokens":5,"cached_tokens":4});
        assert_eq!(usage(&moonshot).cached_input, 4);
        let nonsense = json!({"prompt_tokens":10,"prompt_tokens_details":{"cached_tokens":99}});
        assert_eq!(usage(&nonsense).input, 0);
    }

    #[test]
    fn full_response() {
        let r = decode_full(
            r#"{"choices":[{"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],
            "usage":{"prompt_tokens":3,"completion_tokens":1}}"#,
        )
        .unwrap();
        assert_eq!(r.text, "Hi");
        assert_eq!(r.finish_reason.as_deref(), Some("stop"));
        assert_eq!(r.usage.input, 3);
        assert_eq!(
            decode_full(r#"{"choices":[]}"#).unwrap_err().class(),
            "transient"
        );
        assert_eq!(
            decode_full(r#"{"error":{"message":"x","type":"invalid_request_error"}}"#)
                .unwrap_err()
                .class(),
            "request"
        );
    }

    #[test]
    fn vendor_detection() {
        assert_eq!(
            Vendor::detect("deepseek", "https://api.deepseek.com"),
            Vendor::DeepSeek
        );
        assert_eq!(
            Vendor::detect("ds", "https://api.deepseek.com"),
            Vendor::DeepSeek
        );
        assert_eq!(
            Vendor::detect("kimi", "https://api.moonshot.ai/v1"),
            Vendor::Moonshot
        );
        assert_eq!(
            Vendor::detect("x", "https://api.moonshot.cn/v1"),
            Vendor::Moonshot
        );
        assert_eq!(
            Vendor::detect("local", "http://127.0.0.1:8080/v1"),
            Vendor::Generic
        );
    }
}
