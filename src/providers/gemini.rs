//! Google Gemini: `POST {base_url}/v1beta/models/{model}:generateContent`, streamed as
//! `:streamGenerateContent?alt=sse`, key in `x-goog-api-key`. Each streamed `data:` is a whole
//! response; there is no terminal event, so a stream is complete only when a chunk carried a
//! `finishReason`. Usage: `promptTokenCount` includes `cachedContentTokenCount`;
//! `thoughtsTokenCount` (billed as output) is reported as reasoning.

use super::classify::{WireFormat, classify_stream_error};
use super::sse::SseEvent;
use super::structured::StructuredMode;
use super::transport::{Step, StreamDecoder, malformed, truncated_stream};
use super::{ChatRequest, ChatResponse, ProviderError, Usage};
use serde_json::{Map, Value, json};

pub(crate) fn endpoint(base_url: &str, model: &str, stream: bool) -> String {
    let model = model.strip_prefix("models/").unwrap_or(model);
    if stream {
        format!("{base_url}/v1beta/models/{model}:streamGenerateContent?alt=sse")
    } else {
        format!("{base_url}/v1beta/models/{model}:generateContent")
    }
}

pub(crate) fn body(req: &ChatRequest, mode: StructuredMode) -> Value {
    let mut system: Vec<&str> = req.system.as_deref().into_iter().collect();
    let mut contents = Vec::with_capacity(req.messages.len());
    for m in &req.messages {
        let role = match m.role.as_str() {
            "system" => {
                system.push(&m.content);
                continue;
            }
            "assistant" | "model" => "model",
            _ => "user",
        };
        contents.push(json!({"role": role, "parts": [{"text": m.content}]}));
    }
    let mut gen_cfg = Map::new();
    gen_cfg.insert("maxOutputTokens".into(), json!(req.max_tokens));
    if let Some(t) = req.temperature {
        gen_cfg.insert("temperature".into(), json!(t.clamp(0.0, 2.0)));
    }
    // Thinking tokens count inside maxOutputTokens (raised by the engine to make room) and are
    // reported as `thoughtsTokenCount`, billed as output.
    if let Some(budget) = req.reasoning.thinking_budget {
        gen_cfg.insert("thinkingConfig".into(), json!({"thinkingBudget": budget}));
    }
    if let Some(s) = req.schema.as_deref()
        && mode != StructuredMode::Off
    {
        gen_cfg.insert("responseMimeType".into(), json!("application/json"));
        if mode == StructuredMode::JsonSchema {
            gen_cfg.insert("responseSchema".into(), openapi_schema(&s.schema));
        }
    }
    let mut b = Map::new();
    b.insert("contents".into(), Value::Array(contents));
    if !system.is_empty() {
        b.insert(
            "systemInstruction".into(),
            json!({"parts": [{"text": system.join("\n\n")}]}),
        );
    }
    b.insert("generationConfig".into(), Value::Object(gen_cfg));
    Value::Object(b)
}

/// A JSON schema of the strict subset as Gemini's `responseSchema` (an OpenAPI 3.0 subset,
/// taken by every Gemini model; `responseJsonSchema` would take it as is but only from 2.5 on):
/// `additionalProperties` goes (Gemini only ever produces the listed properties), a
/// `["T", "null"]` type becomes `"T"` with `nullable: true`, several types become `anyOf`.
pub(crate) fn openapi_schema(v: &Value) -> Value {
    let Value::Object(o) = v else {
        return v.clone();
    };
    let mut out = Map::new();
    for (k, val) in o {
        match k.as_str() {
            "additionalProperties" | "$schema" => {}
            "type" => match val {
                Value::Array(types) => {
                    let named: Vec<&Value> = types
                        .iter()
                        .filter(|t| t.as_str() != Some("null"))
                        .collect();
                    if named.len() < types.len() {
                        out.insert("nullable".into(), json!(true));
                    }
                    match named.as_slice() {
                        [] => {}
                        [one] => {
                            out.insert("type".into(), (*one).clone());
                        }
                        many => {
                            let any: Vec<Value> = many.iter().map(|t| json!({"type": t})).collect();
                            out.insert("anyOf".into(), Value::Array(any));
                        }
                    }
                }
                other => {
                    out.insert("type".into(), other.clone());
                }
            },
            "properties" => {
                let props: Map<String, Value> = val
                    .as_object()
                    .map(|p| {
                        p.iter()
                            .map(|(name, s)| (name.clone(), openapi_schema(s)))
                            .collect()
                    })
                    .unwrap_or_default();
                out.insert(k.clone(), Value::Object(props));
            }
            "items" => {
                out.insert(k.clone(), openapi_schema(val));
            }
            "anyOf" => {
                let any = val
                    .as_array()
                    .map(|a| a.iter().map(openapi_schema).collect())
                    .unwrap_or_default();
                out.insert(k.clone(), Value::Array(any));
            }
            _ => {
                out.insert(k.clone(), val.clone());
            }
        }
    }
    Value::Object(out)
}

fn n(v: &Value, k: &str) -> u64 {
    super::count(v.get(k)).unwrap_or(0)
}

pub(crate) fn usage(u: &Value) -> Usage {
    let prompt = n(u, "promptTokenCount");
    let cached = n(u, "cachedContentTokenCount").min(prompt);
    Usage {
        input: prompt - cached,
        cached_input: cached,
        // Implicit caching has no write charge; explicit caches are paid as storage, not here.
        cache_write: 0,
        output: n(u, "candidatesTokenCount"),
        reasoning: n(u, "thoughtsTokenCount"),
    }
}

/// Gemini finish reasons in the OpenAI vocabulary (`stop`, `length`, `content_filter`).
pub(crate) fn finish_reason(r: &str) -> String {
    match r {
        "STOP" => "stop".to_string(),
        "MAX_TOKENS" => "length".to_string(),
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            "content_filter".to_string()
        }
        other => other.to_ascii_lowercase(),
    }
}

/// State shared by whole and streamed responses (a whole response is one chunk).
#[derive(Debug, Default)]
pub(crate) struct Stream {
    text: String,
    usage: Option<Usage>,
    finish_reason: Option<String>,
    chunks: usize,
}

impl Stream {
    fn absorb(&mut self, raw: &str) -> Result<Step, ProviderError> {
        let v: Value = serde_json::from_str(raw).map_err(malformed)?;
        let v = match v {
            // A non-streamed body can be an array of responses.
            Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
            v => v,
        };
        if v.get("error").is_some_and(Value::is_object) {
            return Err(classify_stream_error(raw, WireFormat::Gemini));
        }
        self.chunks += 1;
        let mut step = Step::default();
        if let Some(u) = v.get("usageMetadata").filter(|u| u.is_object()) {
            self.usage = Some(usage(u));
        }
        let candidate = v
            .get("candidates")
            .and_then(Value::as_array)
            .and_then(|c| c.first());
        let Some(candidate) = candidate else {
            if let Some(reason) = v
                .pointer("/promptFeedback/blockReason")
                .and_then(Value::as_str)
            {
                return Err(ProviderError::Request {
                    status: None,
                    message: format!("prompt blocked by the provider ({reason})"),
                });
            }
            return Ok(step);
        };
        let parts = candidate
            .pointer("/content/parts")
            .and_then(Value::as_array);
        for p in parts.into_iter().flatten() {
            let Some(t) = p.get("text").and_then(Value::as_str) else {
                continue;
            };
            if p.get("thought").and_then(Value::as_bool) == Some(true) {
                step.token = true;
            } else {
                self.text.push_str(t);
                step.token |= !t.is_empty();
            }
        }
        if let Some(r) = candidate.get("finishReason").and_then(Value::as_str) {
            self.finish_reason = Some(finish_reason(r));
        }
        Ok(step)
    }

    fn response(self) -> ChatResponse {
        ChatResponse {
            text: self.text,
            usage: self.usage.unwrap_or_default(),
            finish_reason: self.finish_reason,
            ttft: None,
        }
    }
}

pub(crate) fn decode_full(text: &str) -> Result<ChatResponse, ProviderError> {
    let mut s = Stream::default();
    s.absorb(text)?;
    if s.finish_reason.is_none() && s.text.is_empty() {
        return Err(malformed("no candidates"));
    }
    Ok(s.response())
}

impl StreamDecoder for Stream {
    fn on_event(&mut self, ev: &SseEvent) -> Result<Step, ProviderError> {
        if ev.data.trim().is_empty() {
            return Ok(Step::default());
        }
        self.absorb(&ev.data)
    }

    fn finish(self: Box<Self>) -> Result<ChatResponse, ProviderError> {
        if self.finish_reason.is_none() {
            return Err(truncated_stream(if self.chunks == 0 {
                "its first chunk"
            } else {
                "a chunk with `finishReason`"
            }));
        }
        Ok(self.response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CallRole, Reasoning};
    use crate::providers::Message;

    #[test]
    fn body_shape() {
        let req = ChatRequest {
            model: "gemini-2.5-flash".into(),
            system: Some("sys".into()),
            messages: vec![
                Message {
                    role: "user".into(),
                    content: "q".into(),
                },
                Message {
                    role: "assistant".into(),
                    content: "a".into(),
                },
            ],
            max_tokens: 32,
            temperature: Some(0.2),
            role: CallRole::Generate,
            task_type: None,
            attempt: 1,
            schema: None,
            shared_prefix: 0,
            reasoning: Reasoning::default(),
        };
        let b = body(&req, StructuredMode::JsonSchema);
        assert!(b["generationConfig"].get("thinkingConfig").is_none());
        let mut thinking = req.clone();
        thinking.reasoning.thinking_budget = Some(2048);
        thinking.reasoning.effort = Some(crate::domain::ReasoningEffort::High);
        let g = &body(&thinking, StructuredMode::JsonSchema)["generationConfig"];
        assert_eq!(g["thinkingConfig"], json!({"thinkingBudget": 2048}));
        assert!(g.get("reasoning_effort").is_none());
        assert_eq!(b["contents"][0]["role"], "user");
        assert_eq!(b["contents"][1]["role"], "model");
        assert_eq!(b["contents"][1]["parts"][0]["text"], "a");
        assert_eq!(b["systemInstruction"]["parts"][0]["text"], "sys");
        assert_eq!(b["generationConfig"]["maxOutputTokens"], 32);
        assert!(b["generationConfig"].get("responseMimeType").is_none());

        let mut req = req;
        req.schema = Some(crate::providers::structured::sample_schema());
        let g = &body(&req, StructuredMode::JsonSchema)["generationConfig"];
        assert_eq!(g["responseMimeType"], "application/json");
        assert_eq!(g["responseSchema"]["type"], "object");
        assert_eq!(
            g["responseSchema"]["properties"]["verdict"]["enum"],
            json!(["accept", "revise"])
        );
        assert!(g["responseSchema"].get("additionalProperties").is_none());
        let g = &body(&req, StructuredMode::JsonObject)["generationConfig"];
        assert_eq!(g["responseMimeType"], "application/json");
        assert!(g.get("responseSchema").is_none());
        let g = &body(&req, StructuredMode::Off)["generationConfig"];
        assert!(g.get("responseMimeType").is_none() && g.get("responseSchema").is_none());
    }

    #[test]
    fn schemas_become_the_openapi_subset() {
        let s = crate::providers::structured::sample_schema().schema.clone();
        let o = openapi_schema(&s);
        let text = o.to_string();
        assert!(!text.contains("additionalProperties"), "{text}");
        assert!(!text.contains("null\""), "no null type left: {text}");
        let line = &o["properties"]["defects"]["items"]["properties"]["line"];
        assert_eq!(line, &json!({"type": "integer", "nullable": true}));
        assert_eq!(o["required"], s["required"]);
        let many = openapi_schema(&json!({"type": ["string", "number", "null"]}));
        assert_eq!(
            many,
            json!({"nullable": true, "anyOf": [{"type": "string"}, {"type": "number"}]})
        );
        assert_eq!(
            openapi_schema(&json!({"anyOf": [{"type": ["integer", "null"]}]})),
            json!({"anyOf": [{"type": "integer", "nullable": true}]})
        );
    }

    #[test]
    fn full_response_with_thoughts_and_cache() {
        let r = decode_full(r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"hmm","thought":true},{"text":"Answer"}]},"finishReason":"MAX_TOKENS"}],
            "usageMetadata":{"promptTokenCount":120,"cachedContentTokenCount":100,"candidatesTokenCount":9,"thoughtsTokenCount":40,"totalTokenCount":169}}"#).unwrap();
        assert_eq!(r.text, "Answer");
        assert_eq!(r.finish_reason.as_deref(), Some("length"));
        assert_eq!(
            r.usage,
            Usage {
                input: 20,
                cached_input: 100,
                cache_write: 0,
                output: 9,
                reasoning: 40
            }
        );
    }

    #[test]
    fn blocked_prompt_is_a_request_error() {
        let e = decode_full(r#"{"promptFeedback":{"blockReason":"SAFETY"}}"#).unwrap_err();
        assert_eq!(e.class(), "request");
    }
}
