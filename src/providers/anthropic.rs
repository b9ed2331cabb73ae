//! Anthropic Messages: `POST {base_url}/v1/messages` with `x-api-key` and
//! `anthropic-version: 2023-06-01`. Usage: `input_tokens` excludes cache reads
//! (`cache_read_input_tokens`) and cache writes (`cache_creation_input_tokens`), kept apart.
//!
//! Structured output is a forced tool call: the schema is the one tool's `input_schema`,
//! `tool_choice` names it, and the `tool_use` block's `input` (streamed as `input_json_delta`
//! pieces) is returned as the answer's text. With extended thinking on (a thinking budget) the
//! tool is offered with `tool_choice: auto` (the API refuses a forced tool with thinking), and
//! `thinking` blocks / `thinking_delta`s are never part of the answer's text.
//!
//! Prompt caching: `cache_control` breakpoints on the system prompt and after the shared context
//! of the first user message, where the prefix reaches the model's minimum (`caching.rs`).

use super::caching;
use super::classify::{WireFormat, classify_stream_error};
use super::sse::SseEvent;
use super::structured::StructuredMode;
use super::transport::{Step, StreamDecoder, malformed, truncated_stream};
use super::{ChatRequest, ChatResponse, ProviderError, Usage};
use crate::domain::reasoning::MIN_THINKING_BUDGET;
use serde_json::{Map, Value, json};

pub(crate) fn body(req: &ChatRequest, stream: bool, mode: StructuredMode) -> Value {
    let tool = req
        .schema
        .as_deref()
        .filter(|_| mode == StructuredMode::JsonSchema);
    let tools = if tool.is_some() {
        caching::tool_tokens(req)
    } else {
        0
    };
    let marks = caching::breakpoints(req, tools);
    let mut system: Vec<&str> = req.system.as_deref().into_iter().collect();
    let mut messages = Vec::with_capacity(req.messages.len());
    let mut first = true;
    for m in &req.messages {
        if m.role == "system" {
            system.push(&m.content);
            continue;
        }
        let content = match m.content.split_at_checked(req.shared_prefix) {
            // The shared context gets its own block, marked; the rest follows uncached.
            Some((shared, rest)) if first && marks.prefix => {
                let mut blocks = vec![cached_text(shared)];
                if !rest.is_empty() {
                    blocks.push(json!({"type": "text", "text": rest}));
                }
                Value::Array(blocks)
            }
            _ => json!(m.content),
        };
        first = false;
        messages.push(json!({"role": m.role, "content": content}));
    }
    let thinking = thinking_budget(req);
    let mut b = Map::new();
    b.insert("model".into(), json!(req.model));
    b.insert("max_tokens".into(), json!(req.max_tokens));
    if !system.is_empty() {
        let text = system.join("\n\n");
        let system = if marks.system {
            json!([cached_text(&text)])
        } else {
            json!(text)
        };
        b.insert("system".into(), system);
    }
    b.insert("messages".into(), Value::Array(messages));
    match (req.temperature, thinking) {
        // Extended thinking refuses any temperature but the default.
        (_, Some(budget)) => {
            b.insert(
                "thinking".into(),
                json!({"type": "enabled", "budget_tokens": budget}),
            );
        }
        // Anthropic accepts 0..=1.
        (Some(t), None) => {
            b.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
        }
        (None, None) => {}
    }
    if stream {
        b.insert("stream".into(), json!(true));
    }
    if let Some(s) = tool {
        b.insert(
            "tools".into(),
            json!([{"name": s.name, "description": s.description, "input_schema": s.schema}]),
        );
        // With thinking on, the API only takes `auto`: the model may then answer in text,
        // which the engine's parsers read as well.
        let choice = match thinking {
            Some(_) => json!({"type": "auto"}),
            None => json!({"type": "tool", "name": s.name}),
        };
        b.insert("tool_choice".into(), choice);
    }
    Value::Object(b)
}

/// A text block with an ephemeral (5-minute) cache breakpoint after it.
fn cached_text(text: &str) -> Value {
    json!({"type": "text", "text": text, "cache_control": {"type": "ephemeral"}})
}

/// The thinking budget sent, if any: Anthropic requires 1024 <= budget < max_tokens (the engine
/// raised `max_tokens` to make room; a budget that still does not fit is not sent).
fn thinking_budget(req: &ChatRequest) -> Option<u32> {
    req.reasoning
        .thinking_budget
        .filter(|b| *b >= MIN_THINKING_BUDGET && *b < req.max_tokens)
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

    /// `input_tokens` excludes both cache reads and cache writes: each is its own count.
    /// Thinking tokens are inside `output_tokens` (billed as output; not reported apart).
    fn normalised(&self) -> Usage {
        Usage {
            input: self.input.unwrap_or(0),
            cached_input: self.cache_read.unwrap_or(0),
            cache_write: self.cache_write.unwrap_or(0),
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
    use crate::domain::{CallRole, Reasoning};
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
            shared_prefix: 0,
            reasoning: Reasoning::default(),
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
                input: 10,
                cached_input: 100,
                cache_write: 5,
                output: 7,
                reasoning: 0
            }
        );
        assert_eq!(decode_full("{}").unwrap_err().class(), "transient");
        assert_eq!(decode_full("not json").unwrap_err().class(), "transient");
    }

    #[test]
    fn cache_control_marks_the_system_and_the_shared_context_above_the_minimum() {
        let context = "d".repeat(4200); // ~1050 tokens: above Sonnet's 1024.
        let mut r = req();
        r.model = "claude-sonnet-4-6".into();
        r.messages[0].content = format!("{context}Task:\nwrite it");
        r.shared_prefix = context.len();
        let b = body(&r, false, StructuredMode::JsonSchema);
        let content = &b["messages"][0]["content"];
        assert_eq!(content[0]["text"], context.as_str());
        assert_eq!(content[0]["cache_control"], json!({"type": "ephemeral"}));
        assert_eq!(
            content[1],
            json!({"type": "text", "text": "Task:\nwrite it"})
        );
        assert_eq!(
            b["system"], "be brief",
            "a short system prompt is not marked"
        );
        // The same request on a model whose minimum is 4096 tokens: plain text, no marks.
        r.model = "claude-opus-4-5".into();
        let b = body(&r, false, StructuredMode::JsonSchema);
        assert!(b["messages"][0]["content"].is_string());
        assert!(!b.to_string().contains("cache_control"));
        // A long system prompt is marked too: two breakpoints, never more than four.
        r.model = "claude-sonnet-4-6".into();
        r.system = Some("s".repeat(4200));
        let b = body(&r, true, StructuredMode::JsonSchema);
        assert_eq!(b["system"][0]["cache_control"]["type"], "ephemeral");
        assert_eq!(b["system"][0]["text"], "s".repeat(4200).as_str());
        let marks = b.to_string().matches("cache_control").count();
        assert_eq!(marks, 2);
        assert!(marks <= caching::MAX_BREAKPOINTS);
    }

    #[test]
    fn thinking_budget_is_sent_without_temperature_and_with_an_unforced_tool() {
        let mut r = req();
        r.max_tokens = 6000;
        r.reasoning.thinking_budget = Some(4000);
        let b = body(&r, false, StructuredMode::JsonSchema);
        assert_eq!(
            b["thinking"],
            json!({"type": "enabled", "budget_tokens": 4000})
        );
        assert!(b.get("temperature").is_none(), "{b}");
        r.schema = Some(crate::providers::structured::sample_schema());
        let b = body(&r, false, StructuredMode::JsonSchema);
        assert_eq!(b["tool_choice"], json!({"type": "auto"}));
        // A budget that does not fit under max_tokens, or below 1024, is not sent.
        for (budget, max) in [(6000, 6000), (1000, 6000)] {
            r.reasoning.thinking_budget = Some(budget);
            r.max_tokens = max;
            let b = body(&r, false, StructuredMode::JsonSchema);
            assert!(b.get("thinking").is_none(), "{budget} / {max}");
            assert_eq!(b["temperature"], 1.0);
        }
    }

    #[test]
    fn thinking_is_not_part_of_the_answer_and_is_billed_as_output() {
        let mut st = Box::<Stream>::default();
        let ev = |event: &str, data: Value| SseEvent {
            event: Some(event.to_string()),
            data: data.to_string(),
            id: None,
        };
        let events = [
            ev(
                "message_start",
                json!({"type":"message_start","message":{"usage":{"input_tokens":5,"cache_creation_input_tokens":2000,"cache_read_input_tokens":0,"output_tokens":1}}}),
            ),
            ev(
                "content_block_start",
                json!({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}),
            ),
            ev(
                "content_block_delta",
                json!({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me think"}}),
            ),
            ev(
                "content_block_delta",
                json!({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"abc"}}),
            ),
            ev(
                "content_block_stop",
                json!({"type":"content_block_stop","index":0}),
            ),
            ev(
                "content_block_start",
                json!({"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}),
            ),
            ev(
                "content_block_delta",
                json!({"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Answer"}}),
            ),
            ev(
                "message_delta",
                json!({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":300}}),
            ),
            ev("message_stop", json!({"type":"message_stop"})),
        ];
        for e in &events {
            st.on_event(e).unwrap();
        }
        let out = st.finish().unwrap();
        assert_eq!(out.text, "Answer");
        assert_eq!(
            out.usage,
            Usage {
                input: 5,
                cached_input: 0,
                cache_write: 2000,
                output: 300,
                reasoning: 0
            }
        );
        let full = decode_full(r#"{"content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"redacted_thinking","data":"x"},{"type":"text","text":"Done"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":40}}"#).unwrap();
        assert_eq!(full.text, "Done");
        assert_eq!(full.usage.billed_output(), 40);
    }
}
