//! Anthropic Messages: `POST {base_url}/v1/messages` with `x-api-key` and
//! `anthropic-version: 2023-06-01`. Usage: `input_tokens` already excludes cache reads; cache
//! writes are counted as (uncached) input.
//!
//! Structured output is a forced tool call: the schema is the one tool's `input_schema`,
//! `tool_choice` names it, and the `tool_use` block's `input` (streamed as `input_json_delta`
//! pieces) is returned as the answer's text. No request here turns extended thinking on; one
//! that did could not force a tool (the API refuses both together) and would send mode `off`.

use super::classify::{WireFormat, classify_stream_error};
use super::sse::SseEvent;
use super::structured::StructuredMode;
use super::transport::{Step, StreamDecoder, malformed, truncated_stream};
use super::{ChatRequest, ChatResponse, ProviderError, Usage};
use serde_json::{Map, Value, json};

pub(crate) fn body(req: &ChatRequest, stream: bool, mode: StructuredMode) -> Value {
    let mut system: Vec<&str> = req.system.as_deref().into_iter().collect();
    let mut messages = Vec::with_capacity(req.messages.len());
    for m in &req.messages {
        if m.role == "system" {
            system.push(&m.content);
        } else {
            messages.push(json!({"role": m.role, "content": m.content}));
        }
    }
    let mut b = Map::new();
    b.insert("model".into(), json!(req.model));
    b.insert("max_tokens".into(), json!(req.max_tokens));
    if !system.is_empty() {
        b.insert("system".into(), json!(system.join("\n\n")));
    }
    b.insert("messages".into(), Value::Array(messages));
    if let Some(t) = req.temperature {
        // Anthropic accepts 0..=1.
        b.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
    }
    if stream {
        b.insert("stream".into(), json!(true));
    }
    if let Some(s) = req.schema.as_deref()
        && mode == StructuredMode::JsonSchema
    {
        b.insert(
            "tools".into(),
            json!([{"name": s.name, "description": s.description, "input_schema": s.schema}]),
        );
        b.insert(
            "tool_choice".into(),
            json!({"type": "tool", "name": s.name}),
        );
    }
    Value::Object(b)
}

fn n(v: &Value, k: &str) -> Option<u64> {
    super::count(v.get(k))
}

/// Raw Anthropic usage; later values (message_delta) overwrite earlier ones field by field.
#[derive(Debug, Default, Clone, Copy)]
struct RawUsage {
    input: Option<u64>,
    cache_write: Option<u64>,
    cache_read: Option<u64>,
    output: Option<u64>,
}

impl RawUsage {
    fn merge(&mut self, u: &Value) {
        self.input = n(u, "input_tokens").or(self.input);
        self.cache_write = n(u, "cache_creation_input_tokens").or(self.cache_write);
        self.cache_read = n(u, "cache_read_input_tokens").or(self.cache_read);
        self.output = n(u, "output_tokens").or(self.output);
    }

    fn normalised(&self) -> Usage {
        Usage {
            input: self
                .input
                .unwrap_or(0)
                .saturating_add(self.cache_write.unwrap_or(0)),
            cached_input: self.cache_read.unwrap_or(0),
            output: self.output.unwrap_or(0),
            reasoning: 0,
        }
    }
}

/// Anthropic stop reasons in the OpenAI vocabulary the engine uses (`stop`, `length`, ...).
pub(crate) fn finish_reason(r: &str) -> String {
    match r {
        "end_turn" | "stop_sequence" => "stop",
        "max_tokens" | "model_context_window_exceeded" => "length",
        "refusal" => "content_filter",
        "tool_use" => "tool_calls",
        other => other,
    }
    .to_string()
}

pub(crate) fn decode_full(text: &str) -> Result<ChatResponse, ProviderError> {
    let v: Value = serde_json::from_str(text).map_err(malformed)?;
    if v.get("type").and_then(Value::as_str) == Some("error") {
        return Err(classify_stream_error(text, WireFormat::Anthropic));
    }
    let content = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no `content` array"))?;
    let tool = content
        .iter()
        .find(|b| b.get("type").and_then(Value::as_str) == Some("tool_use"))
        .map(|b| {
            b.get("input")
                .cloned()
                .unwrap_or_else(|| json!({}))
                .to_string()
        });
    let forced = tool.is_some();
    let text: String = match tool {
        Some(t) => t,
        None => content
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect(),
    };
    let mut usage = RawUsage::default();
    if let Some(u) = v.get("usage") {
        usage.merge(u);
    }
    Ok(ChatResponse {
        text,
        usage: usage.normalised(),
        finish_reason: v
            .get("stop_reason")
            .and_then(Value::as_str)
            .map(|r| answered(r, forced)),
        ttft: None,
    })
}

/// The stop reason of an answer; a tool call answered the structured request as a whole
/// answer would (`stop`), so it is not told apart from one.
fn answered(r: &str, tool: bool) -> String {
    match finish_reason(r) {
        f if tool && f == "tool_calls" => "stop".to_string(),
        f => f,
    }
}

/// Streaming state: message_start (usage), content_block_delta (text), message_delta (stop
/// reason, output usage), message_stop (end). `error` events map to the taxonomy.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    text: String,
    /// The first `tool_use` block's input: `partial_json` pieces, or the start block's `input`
    /// when no piece came. Returned instead of the text when present.
    tool: Option<String>,
    /// True while the current content block is the tool call being read.
    in_tool: bool,
    started_pieces: bool,
    usage: RawUsage,
    stop_reason: Option<String>,
    started: bool,
    stopped: bool,
}

impl StreamDecoder for Stream {
    fn on_event(&mut self, ev: &SseEvent) -> Result<Step, ProviderError> {
        if ev.data.trim().is_empty() {
            return Ok(Step::default());
        }
        let v: Value = serde_json::from_str(&ev.data).map_err(malformed)?;
        let kind = match ev.event.as_deref() {
            Some(k) if k != "message" => k,
            _ => v.get("type").and_then(Value::as_str).unwrap_or(""),
        };
        let mut step = Step::default();
        match kind {
            "message_start" => {
                self.started = true;
                if let Some(u) = v.pointer("/message/usage") {
                    self.usage.merge(u);
                }
            }
            "content_block_start" => {
                let block = v.get("content_block").unwrap_or(&Value::Null);
                self.in_tool = false;
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        if let Some(t) = block.get("text").and_then(Value::as_str) {
                            self.text.push_str(t);
                            step.token = !t.is_empty();
                        }
                    }
                    Some("tool_use") if self.tool.is_none() => {
                        self.in_tool = true;
                        // Pieces follow; an input given whole here is kept unless they do.
                        let input = block
                            .get("input")
                            .filter(|i| i.as_object().is_some_and(|o| !o.is_empty()));
                        self.tool = Some(input.map(Value::to_string).unwrap_or_default());
                        step.token = true;
                    }
                    _ => {}
                }
            }
            "content_block_stop" => self.in_tool = false,
            "content_block_delta" => {
                let delta = v.get("delta").unwrap_or(&Value::Null);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        if let Some(t) = delta.get("text").and_then(Value::as_str) {
                            self.text.push_str(t);
                            step.token = true;
                        }
                    }
                    Some("thinking_delta") => step.token = true,
                    Some("input_json_delta") if self.in_tool => {
                        if let (Some(t), Some(p)) = (
                            self.tool.as_mut(),
                            delta.get("partial_json").and_then(Value::as_str),
                        ) {
                            if !self.started_pieces {
                                // The first piece replaces a whole input from the start block.
                                t.clear();
                                self.started_pieces = true;
                            }
                            t.push_str(p);
                            step.token = true;
                        }
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(r) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(finish_reason(r));
                }
                if let Some(u) = v.get("usage") {
                    self.usage.merge(u);
                }
            }
            "message_stop" => {
                self.stopped = true;
                step.done = true;
            }
            "error" => return Err(classify_stream_error(&ev.data, WireFormat::Anthropic)),
            _ => {} // ping, future event types
        }
        Ok(step)
    }

    fn finish(self: Box<Self>) -> Result<ChatResponse, ProviderError> {
        if !self.stopped {
            return Err(truncated_stream(if self.started {
                "`message_stop`"
            } else {
                "`message_start`"
            }));
        }
        let tool = self.tool.is_some();
        let text = match self.tool {
            Some(t) if t.trim().is_empty() => "{}".to_string(),
            Some(t) => t,
            None => self.text,
        };
        let stop_reason = self.stop_reason.map(|r| match r.as_str() {
            "tool_calls" if tool => "stop".to_string(),
            _ => r,
        });
        Ok(ChatResponse {
            text,
            usage: self.usage.normalised(),
            finish_reason: stop_reason,
            ttft: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CallRole;
    use crate::providers::Message;

    fn req() -> ChatRequest {
        ChatRequest {
            model: "claude-x".into(),
            system: Some("be brief".into()),
            messages: vec![Message {
                role: "user".into(),
                content: "hi".into(),
            }],
            max_tokens: 100,
            temperature: Some(1.5),
            role: CallRole::Generate,
            task_type: None,
            attempt: 1,
            schema: None,
        }
    }

    #[test]
    fn body_shape() {
        let b = body(&req(), true, StructuredMode::JsonSchema);
        assert_eq!(b["model"], "claude-x");
        assert_eq!(b["max_tokens"], 100);
        assert_eq!(b["system"], "be brief");
        assert_eq!(b["messages"][0]["role"], "user");
        assert_eq!(b["temperature"], 1.0);
        assert_eq!(b["stream"], true);
        assert!(
            body(&req(), false, StructuredMode::JsonSchema)
                .get("stream")
                .is_none()
        );
        assert!(b.get("tools").is_none(), "free text forces no tool");
    }

    #[test]
    fn structured_output_is_a_forced_tool() {
        let mut r = req();
        r.schema = Some(crate::providers::structured::sample_schema());
        let b = body(&r, true, StructuredMode::JsonSchema);
        assert_eq!(b["tools"][0]["name"], "critique");
        assert_eq!(
            b["tools"][0]["input_schema"],
            crate::providers::structured::sample_schema().schema
        );
        assert!(b["tools"][0]["description"].as_str().is_some());
        assert_eq!(
            b["tool_choice"],
            json!({"type": "tool", "name": "critique"})
        );
        for m in [StructuredMode::Off, StructuredMode::JsonObject] {
            let b = body(&r, false, m);
            assert!(b.get("tools").is_none() && b.get("tool_choice").is_none());
        }
    }

    #[test]
    fn tool_use_answers_come_back_as_json_text() {
        let r = decode_full(r#"{"content":[{"type":"text","text":"Here:"},{"type":"tool_use","id":"t1","name":"evaluation","input":{"score":0.5,"reason":"ok"}}],"stop_reason":"tool_use","usage":{"input_tokens":3,"output_tokens":4}}"#).unwrap();
        let v: Value = serde_json::from_str(&r.text).unwrap();
        assert_eq!(v, json!({"score": 0.5, "reason": "ok"}));
        assert_eq!(r.finish_reason.as_deref(), Some("stop"));

        let mut st = Box::<Stream>::default();
        let ev = |event: &str, data: Value| SseEvent {
            event: Some(event.to_string()),
            data: data.to_string(),
            id: None,
        };
        let events = [
            ev(
                "message_start",
                json!({"type":"message_start","message":{"usage":{"input_tokens":5}}}),
            ),
            ev(
                "content_block_start",
                json!({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"evaluation","input":{}}}),
            ),
            ev(
                "content_block_delta",
                json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}),
            ),
            ev(
                "content_block_delta",
                json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"score\": 0.9"}}),
            ),
            ev(
                "content_block_delta",
                json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":", \"reason\": \"fine\"}"}}),
            ),
            ev(
                "content_block_stop",
                json!({"type":"content_block_stop","index":0}),
            ),
            ev(
                "message_delta",
                json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}}),
            ),
            ev("message_stop", json!({"type":"message_stop"})),
        ];
        for e in &events {
            st.on_event(e).unwrap();
        }
        let out = st.finish().unwrap();
        assert_eq!(out.text, "{\"score\": 0.9, \"reason\": \"fine\"}");
        assert_eq!(out.usage.output, 9);
        assert_eq!(out.finish_reason.as_deref(), Some("stop"));
    }

    #[test]
    fn full_response_usage_normalisation() {
        let r = decode_full(r#"{"content":[{"type":"thinking","thinking":"..."},{"type":"text","text":"Hello"},{"type":"text","text":"!"}],
            "stop_reason":"max_tokens","usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":100,"output_tokens":7}}"#).unwrap();
        assert_eq!(r.text, "Hello!");
        assert_eq!(r.finish_reason.as_deref(), Some("length"));
        assert_eq!(
            r.usage,
            Usage {
                input: 15,
                cached_input: 100,
                output: 7,
                reasoning: 0
            }
        );
        assert_eq!(decode_full("{}").unwrap_err().class(), "transient");
        assert_eq!(decode_full("not json").unwrap_err().class(), "transient");
    }
}
