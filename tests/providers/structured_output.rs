//! Structured output on the wire (issue 16 §1), against the loopback server: each wire format
//! carries the schema its own way (request bodies asserted), Anthropic tool calls come back as
//! the JSON text, a 400 naming the structured parameter steps down the modes inside one `chat`
//! (json_schema -> json_object -> off) and the next call starts where the last one ended, forced
//! modes never step down, and a learned mode survives a restart of the engine.

use crate::support::loopback::clients::*;
use crate::support::loopback::{MockProvider, Recorded, Reply};
use orchestrator_tui::config::{Catalog, Config, ProviderConfig, ProviderKind, StructuredOutput};
use orchestrator_tui::engine::EngineCtx;
use orchestrator_tui::prompts::schemas;
use orchestrator_tui::providers::{
    ChatRequest, HttpOptions, HttpProvider, Provider, ProviderError, ProviderRegistry,
    StructuredMode, WireFormat,
};
use orchestrator_tui::store::Store;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn schema_req(model: &str) -> ChatRequest {
    let mut r = req(model);
    r.schema = Some(schemas::evaluation());
    r
}

fn provider(
    s: &MockProvider,
    format: WireFormat,
    stream: bool,
    mode: StructuredOutput,
) -> HttpProvider {
    let base = match format {
        WireFormat::OpenAi => s.openai_base_url(),
        _ => s.base_url(),
    };
    let mut o = HttpOptions::new("test", format, &base, Some(KEY.into()));
    o.stream = stream;
    o.timeouts = fast_timeouts();
    o.structured = mode;
    HttpProvider::new(o).expect("client")
}

async fn ask(p: &HttpProvider, r: &ChatRequest) -> Result<String, ProviderError> {
    p.chat(r, &CancellationToken::new()).await.map(|a| a.text)
}

/// Which structured parameter a recorded request carried, in the mode vocabulary.
fn mode_sent(format: WireFormat, q: &Recorded) -> StructuredMode {
    let b = &q.body;
    match format {
        WireFormat::OpenAi => match b.pointer("/response_format/type").and_then(Value::as_str) {
            Some("json_schema") => StructuredMode::JsonSchema,
            Some("json_object") => StructuredMode::JsonObject,
            None => StructuredMode::Off,
            Some(other) => panic!("unexpected response_format {other}"),
        },
        WireFormat::Anthropic => {
            assert_eq!(b.get("tools").is_some(), b.get("tool_choice").is_some());
            if b.get("tools").is_some() {
                StructuredMode::JsonSchema
            } else {
                StructuredMode::Off
            }
        }
        WireFormat::Gemini => {
            let g = &b["generationConfig"];
            match (g.get("responseMimeType"), g.get("responseSchema")) {
                (Some(_), Some(_)) => StructuredMode::JsonSchema,
                (Some(_), None) => StructuredMode::JsonObject,
                (None, None) => StructuredMode::Off,
                (None, Some(_)) => panic!("responseSchema without responseMimeType"),
            }
        }
    }
}

#[tokio::test]
async fn each_wire_format_carries_the_schema_its_own_way() {
    let s = MockProvider::start().await;
    s.set_default(Reply::text("{\"score\": 0.8, \"reason\": \"fine\"}"));
    let want = schemas::evaluation().schema.clone();
    for format in FORMATS {
        for stream in [true, false] {
            let p = provider(&s, format, stream, StructuredOutput::Auto);
            let text = ask(&p, &schema_req("m")).await.unwrap();
            assert_eq!(text, "{\"score\": 0.8, \"reason\": \"fine\"}");
            let q = s.last_request();
            assert_eq!(q.stream, stream, "{format:?}");
            let b = &q.body;
            match format {
                WireFormat::OpenAi => {
                    assert_eq!(
                        b["response_format"],
                        json!({"type": "json_schema", "json_schema": {
                            "name": "evaluation",
                            "description": schemas::evaluation().description,
                            "schema": want,
                            "strict": true,
                        }})
                    );
                }
                WireFormat::Anthropic => {
                    assert_eq!(b["tools"][0]["name"], "evaluation");
                    assert_eq!(b["tools"][0]["input_schema"], want);
                    assert_eq!(
                        b["tool_choice"],
                        json!({"type": "tool", "name": "evaluation"})
                    );
                    assert!(b.get("response_format").is_none());
                }
                WireFormat::Gemini => {
                    let g = &b["generationConfig"];
                    assert_eq!(g["responseMimeType"], "application/json");
                    assert_eq!(
                        g["responseSchema"],
                        json!({
                            "type": "object",
                            "properties": {"score": {"type": "number"}, "reason": {"type": "string"}},
                            "required": want["required"],
                        }),
                        "the OpenAPI subset: no additionalProperties"
                    );
                    assert_eq!(
                        g["maxOutputTokens"], 128,
                        "the rest of generationConfig stays"
                    );
                }
            }
            // Free text sends no structured parameter at all.
            ask(&p, &req("m")).await.unwrap();
            assert_eq!(
                mode_sent(format, &s.last_request()),
                StructuredMode::Off,
                "{format:?}"
            );
        }
    }
}

#[tokio::test]
async fn anthropic_tool_use_answers_come_back_as_the_json_text() {
    let s = MockProvider::start().await;
    let ev = |name: &str, v: Value| format!("event: {name}\ndata: {v}\n\n");
    s.script(
        "streamed",
        [Reply::raw_sse([
            ev("message_start", json!({"type": "message_start", "message": {"usage": {"input_tokens": 12, "output_tokens": 1}}})),
            ev("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "evaluation", "input": {}}})),
            ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": ""}})),
            ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"score\": 0.7"}})),
            ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": ", \"reason\": \"close\"}"}})),
            ev("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
            ev("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 20}})),
            ev("message_stop", json!({"type": "message_stop"})),
        ])],
    );
    s.script(
        "whole",
        [Reply::status(
            200,
            &json!({
                "id": "msg_1", "type": "message", "role": "assistant", "model": "whole",
                "content": [{"type": "tool_use", "id": "toolu_2", "name": "evaluation",
                             "input": {"score": 0.4, "reason": "thin"}}],
                "stop_reason": "tool_use",
                "usage": {"input_tokens": 12, "output_tokens": 15},
            })
            .to_string(),
        )],
    );
    let p = provider(&s, WireFormat::Anthropic, true, StructuredOutput::Auto);
    let a = p
        .chat(&schema_req("streamed"), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(a.text, "{\"score\": 0.7, \"reason\": \"close\"}");
    assert_eq!(a.usage.output, 20);
    assert_eq!(a.finish_reason.as_deref(), Some("stop"));
    let p = provider(&s, WireFormat::Anthropic, false, StructuredOutput::Auto);
    let a = p
        .chat(&schema_req("whole"), &CancellationToken::new())
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&a.text).unwrap();
    assert_eq!(v, json!({"score": 0.4, "reason": "thin"}));
    assert_eq!(s.last_request().body["tool_choice"]["name"], "evaluation");
}

fn openai_400(message: &str) -> Reply {
    Reply::status(
        400,
        &json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}}).to_string(),
    )
}

#[tokio::test]
async fn a_400_naming_response_format_steps_down_and_the_next_call_starts_there() {
    let s = MockProvider::start().await;
    s.script(
        "m",
        [
            openai_400("'response_format.type' json_schema is not supported by this server"),
            openai_400("response_format json_object: unknown variant"),
            Reply::text("{\"score\": 0.5, \"reason\": \"prompt only\"}"),
        ],
    );
    let p = provider(&s, WireFormat::OpenAi, true, StructuredOutput::Auto);
    let text = ask(&p, &schema_req("m")).await.unwrap();
    assert_eq!(text, "{\"score\": 0.5, \"reason\": \"prompt only\"}");
    let sent: Vec<StructuredMode> = s
        .requests_for("m")
        .iter()
        .map(|q| mode_sent(WireFormat::OpenAi, q))
        .collect();
    use StructuredMode::*;
    assert_eq!(
        sent,
        vec![JsonSchema, JsonObject, Off],
        "one chat, three requests"
    );
    // The rest of the request is the same each time.
    let reqs = s.requests_for("m");
    for q in &reqs[1..] {
        assert_eq!(q.body["messages"], reqs[0].body["messages"]);
        assert_eq!(q.body["max_tokens"], reqs[0].body["max_tokens"]);
    }
    assert_eq!(p.start_mode("m"), Off);
    assert_eq!(p.start_mode("other"), JsonSchema, "remembered per model");
    s.clear_requests();
    ask(&p, &schema_req("m")).await.unwrap();
    let reqs = s.requests_for("m");
    assert_eq!(reqs.len(), 1, "no 400 paid again");
    assert_eq!(mode_sent(WireFormat::OpenAi, &reqs[0]), Off);
}

#[tokio::test]
async fn anthropic_and_gemini_step_down_their_own_chains() {
    let s = MockProvider::start().await;
    s.script(
        "claude-x",
        [
            Reply::status(
                400,
                r#"{"type":"error","error":{"type":"invalid_request_error","message":"tool_choice: forced tool use is not available for this model"}}"#,
            ),
            Reply::text("{\"score\": 0.6, \"reason\": \"ok\"}"),
        ],
    );
    s.script(
        "gemini-x",
        [
            Reply::status(
                400,
                r#"{"error":{"code":400,"message":"Invalid JSON payload received. Unknown name \"responseSchema\" at 'generation_config': Cannot find field.","status":"INVALID_ARGUMENT"}}"#,
            ),
            Reply::text("{\"score\": 0.6, \"reason\": \"ok\"}"),
        ],
    );
    let a = provider(&s, WireFormat::Anthropic, true, StructuredOutput::Auto);
    ask(&a, &schema_req("claude-x")).await.unwrap();
    let sent: Vec<StructuredMode> = s
        .requests_for("claude-x")
        .iter()
        .map(|q| mode_sent(WireFormat::Anthropic, q))
        .collect();
    assert_eq!(sent, vec![StructuredMode::JsonSchema, StructuredMode::Off]);
    let g = provider(&s, WireFormat::Gemini, false, StructuredOutput::Auto);
    ask(&g, &schema_req("gemini-x")).await.unwrap();
    let sent: Vec<StructuredMode> = s
        .requests_for("gemini-x")
        .iter()
        .map(|q| mode_sent(WireFormat::Gemini, q))
        .collect();
    assert_eq!(
        sent,
        vec![StructuredMode::JsonSchema, StructuredMode::JsonObject]
    );
    assert_eq!(g.start_mode("gemini-x"), StructuredMode::JsonObject);
}

#[tokio::test]
async fn forced_modes_never_step_down_and_other_400s_are_returned_as_they_were() {
    let s = MockProvider::start().await;
    s.script(
        "m",
        [openai_400("response_format json_schema is not supported")],
    );
    let p = provider(&s, WireFormat::OpenAi, false, StructuredOutput::JsonSchema);
    let e = ask(&p, &schema_req("m")).await.unwrap_err();
    assert!(
        matches!(
            e,
            ProviderError::Request {
                status: Some(400),
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(s.requests_for("m").len(), 1);
    assert_eq!(p.start_mode("m"), StructuredMode::JsonSchema);

    // json_object forced: that mode is sent, and only it.
    s.clear_requests();
    let p = provider(&s, WireFormat::OpenAi, false, StructuredOutput::JsonObject);
    assert!(ask(&p, &schema_req("m")).await.is_err());
    let reqs = s.requests_for("m");
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].body["response_format"],
        json!({"type": "json_object"})
    );

    // Auto, but the 400 is about something else: one request, nothing learned.
    s.clear_requests();
    s.script(
        "n",
        [openai_400(
            "max_tokens is too large: 100000. This model supports at most 4096 completion tokens",
        )],
    );
    let p = provider(&s, WireFormat::OpenAi, false, StructuredOutput::Auto);
    let e = ask(&p, &schema_req("n")).await.unwrap_err();
    assert!(e.to_string().contains("max_tokens"), "{e}");
    assert_eq!(s.requests_for("n").len(), 1);
    assert_eq!(p.start_mode("n"), StructuredMode::JsonSchema);
}

#[tokio::test]
async fn mode_off_sends_no_structured_parameter() {
    let s = MockProvider::start().await;
    for format in FORMATS {
        for stream in [true, false] {
            let p = provider(&s, format, stream, StructuredOutput::Off);
            ask(&p, &schema_req("m")).await.unwrap();
            let q = s.last_request();
            assert_eq!(mode_sent(format, &q), StructuredMode::Off, "{format:?}");
            for key in ["response_format", "tools", "tool_choice"] {
                assert!(q.body.get(key).is_none(), "{format:?} {key}");
            }
        }
    }
}

fn local_config(s: &MockProvider) -> Config {
    let mut cfg = Config::defaults();
    cfg.providers.clear();
    cfg.providers.insert(
        "local".into(),
        ProviderConfig {
            kind: Some(ProviderKind::Openai),
            base_url: Some(s.openai_base_url()),
            models: vec!["smol".into()],
            ..Default::default()
        },
    );
    cfg
}

fn engine_ctx(cfg: &Config, dir: &std::path::Path) -> EngineCtx {
    let catalog = Catalog::default();
    let registry = ProviderRegistry::from_config(cfg, &catalog).unwrap();
    EngineCtx::new(
        cfg.clone(),
        catalog,
        registry,
        Store::open(dir).unwrap(),
        dir.to_path_buf(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learned_mode_survives_a_restart() {
    let s = MockProvider::start().await;
    s.script(
        "smol",
        [
            openai_400("Failed to parse grammar from json_schema"),
            Reply::text("{\"score\": 1, \"reason\": \"json_object\"}"),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = local_config(&s);
    let ctx = engine_ctx(&cfg, dir.path());
    let p = ctx.registry.get("local").unwrap().clone();
    p.chat(&schema_req("smol"), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(s.requests_for("smol").len(), 2);
    // Written behind: wait (bounded) until the row is there.
    let mut rows = Vec::new();
    for _ in 0..200 {
        rows = ctx
            .store
            .call(orchestrator_tui::store::structured::load)
            .await
            .unwrap();
        if !rows.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].provider, "local");
    assert_eq!(rows[0].model, "smol");
    assert_eq!(rows[0].mode, "json_object");
    assert_eq!(rows[0].base_url, s.openai_base_url().trim_end_matches('/'));
    drop(p);
    drop(ctx);

    // A new engine over the same data dir starts at json_object: no 400 paid again.
    s.clear_requests();
    let ctx = engine_ctx(&cfg, dir.path());
    let mem = ctx.registry.structured().clone();
    assert_eq!(
        mem.get("local", "smol", s.openai_base_url().trim_end_matches('/')),
        Some(StructuredMode::JsonObject)
    );
    let p = ctx.registry.get("local").unwrap().clone();
    p.chat(&schema_req("smol"), &CancellationToken::new())
        .await
        .unwrap();
    let reqs = s.requests_for("smol");
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].body["response_format"],
        json!({"type": "json_object"})
    );

    // Another server under the same provider name starts from the richest mode again.
    drop(p);
    drop(ctx);
    let other = MockProvider::start().await;
    let cfg = local_config(&other);
    let ctx = engine_ctx(&cfg, dir.path());
    let p = ctx.registry.get("local").unwrap().clone();
    p.chat(&schema_req("smol"), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        other.last_request().body["response_format"]["type"],
        "json_schema"
    );
}

/// The real binary with a keyless local server as the only provider: the first structured
/// request is refused naming `response_format`; the run goes on in `json_object`, the refused
/// request makes no call row (the engine saw one call), and the mode is in the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_steps_down_once_and_records_one_call_per_engine_call() {
    use crate::support::binary::{Env, code, flat_plan, stderr};
    let s = MockProvider::start().await;
    // One task: the generation (free text) first, then the critique or evaluation (a schema).
    let answer = Reply::text(
        "{\"score\": 0.95, \"reason\": \"ok\", \"verdict\": \"accept\", \"defects\": []}",
    );
    s.script(
        "smol",
        [
            answer.clone(),
            openai_400("response_format json_schema is not supported"),
            answer,
        ],
    );
    let env = Env::new(&format!(
        "[providers.local]\nkind = \"openai\"\nbase_url = \"{}\"\nmodels = [\"smol\"]\n[simulated]\nenabled = \"never\"\n[timeouts]\nfirst_byte_secs = 10\nidle_secs = 10\ntotal_secs = 30\n",
        s.openai_base_url()
    ));
    let plan = env.write("plan.json", &flat_plan(1));
    let mut cmd = env.cmd();
    cmd.args(["run", "--plan", plan.to_str().unwrap(), "--json"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(matches!(code(&out), 0 | 4), "{}", stderr(&out));
    let reqs = s.requests_for("smol");
    let first = reqs
        .iter()
        .position(|q| mode_sent(WireFormat::OpenAi, q) == StructuredMode::JsonSchema)
        .expect("a json_schema request");
    assert_eq!(
        mode_sent(WireFormat::OpenAi, &reqs[first + 1]),
        StructuredMode::JsonObject,
        "the refused request is repeated at once one mode down"
    );
    assert_eq!(
        reqs.iter()
            .filter(|q| mode_sent(WireFormat::OpenAi, q) == StructuredMode::JsonSchema)
            .count(),
        1,
        "the 400 is paid once"
    );
    let db = rusqlite::Connection::open(env.data().join("orchestrator.db")).unwrap();
    let calls: i64 = db
        .query_row("SELECT COUNT(*) FROM calls", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        calls as usize,
        reqs.len() - 1,
        "no row for the refused request"
    );
    let refused: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM calls WHERE outcome = 'request'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(refused, 0);
    let mode: String = db
        .query_row(
            "SELECT mode FROM structured_modes WHERE provider = 'local' AND model = 'smol'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(mode, "json_object");
}
