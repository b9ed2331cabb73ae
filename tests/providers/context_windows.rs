//! Context-window discovery against the loopback server (issue 16 §4): llama.cpp `/props`, vLLM
//! `/v1/models`, Ollama `/api/show`, in that order, at the right paths; hostile or oversized
//! answers leave the window unknown. And the llama.cpp overflow 400 through a real client.

use crate::support::loopback::clients::{chat, client};
use crate::support::loopback::{MockProvider, Reply};
use orchestrator_tui::providers::discover::{discover, is_local};
use orchestrator_tui::providers::{ProviderError, WireFormat};

#[tokio::test]
async fn llama_cpp_props_is_asked_first_at_the_server_root() {
    let s = MockProvider::start().await;
    s.serve_discovery(
        "/props",
        200,
        r#"{"default_generation_settings": {"n_ctx": 8192, "temperature": 0.8}, "total_slots": 4}"#,
    );
    s.serve_discovery(
        "/v1/models",
        200,
        r#"{"data": [{"id": "m", "max_model_len": 1000}]}"#,
    );
    assert!(is_local(&s.openai_base_url()));
    assert_eq!(discover(&s.openai_base_url(), "m").await, Some(8192));
    let d = s.discovery_requests();
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].method.as_str(), d[0].path.as_str()),
        ("GET", "/props")
    );
    assert!(d[0].header("authorization").is_none(), "no key is sent");
    assert!(s.requests().is_empty());
}

#[tokio::test]
async fn vllm_models_is_asked_when_props_is_missing() {
    let s = MockProvider::start().await;
    s.serve_discovery(
        "/v1/models",
        200,
        r#"{"object": "list", "data": [{"id": "other", "max_model_len": 32768}, {"id": "qwen", "max_model_len": 4096}]}"#,
    );
    assert_eq!(discover(&s.openai_base_url(), "qwen").await, Some(4096));
    let paths: Vec<String> = s.discovery_requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/props", "/v1/models"]);
}

#[tokio::test]
async fn ollama_show_is_posted_with_the_model_name() {
    let s = MockProvider::start().await;
    s.serve_discovery(
        "/api/show",
        200,
        r#"{"parameters": "num_ctx 16384\nstop \"<|im_end|>\"", "model_info": {"general.architecture": "qwen2", "qwen2.context_length": 32768}}"#,
    );
    assert_eq!(
        discover(&s.openai_base_url(), "qwen2:0.5b").await,
        Some(16384)
    );
    let d = s.discovery_requests();
    let show = d.last().unwrap();
    assert_eq!(
        (show.method.as_str(), show.path.as_str()),
        ("POST", "/api/show")
    );
    assert_eq!(show.body["model"], "qwen2:0.5b");
}

#[tokio::test]
async fn hostile_or_missing_answers_leave_the_window_unknown() {
    let s = MockProvider::start().await;
    // Nothing served: every route 404s.
    assert_eq!(discover(&s.openai_base_url(), "m").await, None);
    assert_eq!(s.discovery_requests().len(), 3);
    // Absurd values, wrong types, not JSON, a body over the cap.
    s.serve_discovery(
        "/props",
        200,
        r#"{"default_generation_settings": {"n_ctx": 1e15}}"#,
    );
    s.serve_discovery(
        "/v1/models",
        200,
        r#"{"data": [{"id": "m", "max_model_len": "4096"}]}"#,
    );
    s.serve_discovery("/api/show", 200, "not json");
    assert_eq!(discover(&s.openai_base_url(), "m").await, None);
    let huge = format!(
        r#"{{"default_generation_settings": {{"n_ctx": 4096}}, "pad": "{}"}}"#,
        "x".repeat(400 * 1024)
    );
    s.serve_discovery("/props", 200, &huge);
    assert_eq!(discover(&s.openai_base_url(), "m").await, None);
    // A closed port: no answer, no error.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    assert_eq!(discover(&format!("http://{closed}/v1"), "m").await, None);
}

#[tokio::test]
async fn the_llama_cpp_overflow_400_is_a_context_overflow_with_its_limit() {
    let s = MockProvider::start().await;
    let body = r#"{"error":{"code":400,"message":"request (4145 tokens) exceeds the available context size (4096 tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":4145,"n_ctx":4096}}"#;
    s.script("m", [Reply::status(400, body)]);
    for stream in [false, true] {
        let p = client(&s, WireFormat::OpenAi, stream);
        match chat(&p, "m").await {
            Err(ProviderError::ContextOverflow { limit, message }) => {
                assert_eq!(limit, Some(4096));
                assert!(
                    message.contains("exceeds the available context size"),
                    "{message}"
                );
            }
            other => panic!("stream {stream}: {other:?}"),
        }
    }
}
