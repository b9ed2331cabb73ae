//! HTTP provider clients against the loopback provider server: wire formats, headers, bodies,
//! usage normalisation, vendor quirks, pooling.

use crate::support::loopback::clients::*;
use crate::support::loopback::{Fault, MockProvider, Reply};
use orchestrator_tui::config::{Config, ProviderConfig, ProviderKind};
use orchestrator_tui::providers::{ProviderError, Usage, WireFormat};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn anthropic_request_and_streamed_answer() {
    let s = MockProvider::start().await;
    s.script(
        "claude-t",
        [Reply::text("Hello there, friend").usage(USAGE).chunks(4)],
    );
    let p = client(&s, WireFormat::Anthropic, true);
    let r = chat(&p, "claude-t").await.unwrap();
    assert_eq!(r.text, "Hello there, friend");
    assert_eq!(r.finish_reason.as_deref(), Some("stop"));
    // Anthropic's input_tokens exclude cache reads; output_tokens include thinking.
    assert_eq!(
        r.usage,
        Usage {
            input: 40,
            cached_input: 60,
            cache_write: 0,
            output: 32,
            reasoning: 0
        }
    );
    assert!(r.ttft.is_some());
    let q = s.last_request();
    assert_eq!(q.method, "POST");
    assert_eq!(q.path, "/v1/messages");
    assert_eq!(q.header("x-api-key"), Some(KEY));
    assert_eq!(q.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(q.header("authorization"), None);
    assert_eq!(q.header("content-type"), Some("application/json"));
    assert_eq!(q.body["model"], "claude-t");
    assert_eq!(q.body["max_tokens"], 128);
    assert_eq!(q.body["system"], "You are terse.");
    assert_eq!(q.body["messages"][0]["role"], "user");
    assert_eq!(q.body["messages"][0]["content"], "Say hello");
    assert_eq!(q.body["stream"], true);
}

#[tokio::test]
async fn anthropic_whole_answer() {
    let s = MockProvider::start().await;
    s.script(
        "claude-t",
        [Reply::text("Hi").usage(USAGE).finish_reason("max_tokens")],
    );
    let p = client(&s, WireFormat::Anthropic, false);
    let r = chat(&p, "claude-t").await.unwrap();
    assert_eq!(r.text, "Hi");
    assert_eq!(r.finish_reason.as_deref(), Some("length"));
    assert_eq!(
        r.usage,
        Usage {
            input: 40,
            cached_input: 60,
            cache_write: 0,
            output: 32,
            reasoning: 0
        }
    );
    assert!(r.ttft.is_none());
    assert!(s.last_request().body.get("stream").is_none());
}

#[tokio::test]
async fn openai_request_and_streamed_answer() {
    let s = MockProvider::start().await;
    s.script(
        "gpt-t",
        [Reply::text("Streaming works").usage(USAGE).chunks(5)],
    );
    let p = client(&s, WireFormat::OpenAi, true);
    let r = chat(&p, "gpt-t").await.unwrap();
    assert_eq!(r.text, "Streaming works");
    assert_eq!(r.finish_reason.as_deref(), Some("stop"));
    // prompt_tokens (100) include cached (60); completion_tokens (32) include reasoning (7).
    assert_eq!(
        r.usage,
        Usage {
            input: 40,
            cached_input: 60,
            cache_write: 0,
            output: 25,
            reasoning: 7
        }
    );
    let q = s.last_request();
    assert_eq!(q.path, "/v1/chat/completions");
    assert_eq!(
        q.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(q.header("x-api-key"), None);
    assert_eq!(q.body["messages"][0]["role"], "system");
    assert_eq!(q.body["messages"][1]["content"], "Say hello");
    assert_eq!(q.body["max_tokens"], 128);
    assert!((q.body["temperature"].as_f64().unwrap() - 0.4).abs() < 1e-6);
    assert_eq!(q.body["stream"], true);
    assert_eq!(q.body["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn openai_whole_answer() {
    let s = MockProvider::start().await;
    s.script("gpt-t", [Reply::text("Whole").usage(USAGE)]);
    let p = client(&s, WireFormat::OpenAi, false);
    let r = chat(&p, "gpt-t").await.unwrap();
    assert_eq!(r.text, "Whole");
    assert_eq!(
        r.usage,
        Usage {
            input: 40,
            cached_input: 60,
            cache_write: 0,
            output: 25,
            reasoning: 7
        }
    );
    assert!(s.last_request().body.get("stream_options").is_none());
}

#[tokio::test]
async fn gemini_request_and_streamed_answer() {
    let s = MockProvider::start().await;
    s.script(
        "gemini-t",
        [Reply::text("Gemini speaks").usage(USAGE).chunks(3)],
    );
    let p = client(&s, WireFormat::Gemini, true);
    let r = chat(&p, "gemini-t").await.unwrap();
    assert_eq!(r.text, "Gemini speaks");
    assert_eq!(r.finish_reason.as_deref(), Some("stop"));
    // promptTokenCount includes cachedContentTokenCount; thoughts are reported as reasoning.
    assert_eq!(
        r.usage,
        Usage {
            input: 40,
            cached_input: 60,
            cache_write: 0,
            output: 25,
            reasoning: 7
        }
    );
    let q = s.last_request();
    assert_eq!(q.path, "/v1beta/models/gemini-t:streamGenerateContent");
    assert_eq!(q.query.as_deref(), Some("alt=sse"));
    assert_eq!(q.header("x-goog-api-key"), Some(KEY));
    assert_eq!(q.header("authorization"), None);
    assert_eq!(q.body["contents"][0]["role"], "user");
    assert_eq!(q.body["contents"][0]["parts"][0]["text"], "Say hello");
    assert_eq!(
        q.body["systemInstruction"]["parts"][0]["text"],
        "You are terse."
    );
    assert_eq!(q.body["generationConfig"]["maxOutputTokens"], 128);
}

#[tokio::test]
async fn gemini_whole_answer() {
    let s = MockProvider::start().await;
    s.script(
        "gemini-t",
        [Reply::text("One piece")
            .usage(USAGE)
            .finish_reason("MAX_TOKENS")],
    );
    let p = client(&s, WireFormat::Gemini, false);
    let r = chat(&p, "gemini-t").await.unwrap();
    assert_eq!(r.text, "One piece");
    assert_eq!(r.finish_reason.as_deref(), Some("length"));
    assert_eq!(r.usage.cached_input, 60);
    let q = s.last_request();
    assert_eq!(q.path, "/v1beta/models/gemini-t:generateContent");
    assert_eq!(q.query, None);
}

#[tokio::test]
async fn deepseek_cache_usage_keep_alives_and_reasoner_rules() {
    let s = MockProvider::start().await;
    s.script(
        "deepseek-reasoner",
        [Reply::text("Deep")
            .usage(USAGE)
            .deepseek_usage()
            .keep_alive()],
    );
    let cfg = Config::default();
    let pc = ProviderConfig {
        kind: Some(ProviderKind::Openai),
        base_url: Some(s.openai_base_url()),
        ..Default::default()
    };
    let p =
        orchestrator_tui::providers::http::build("deepseek", &pc, Some(KEY.into()), &cfg).unwrap();
    let r = p
        .chat(&req("deepseek-reasoner"), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(r.text, "Deep");
    assert_eq!(
        r.usage,
        Usage {
            input: 40,
            cached_input: 60,
            cache_write: 0,
            output: 25,
            reasoning: 7
        }
    );
    let q = s.last_request();
    assert!(
        q.body.get("temperature").is_none(),
        "deepseek-reasoner takes no temperature"
    );
    // 402 Insufficient Balance: permanent, model-scoped.
    s.script("deepseek-chat", [Reply::fault(Fault::PaymentRequired)]);
    let e = p
        .chat(&req("deepseek-chat"), &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ProviderError::Permanent {
                status: Some(402),
                key_scoped: false,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn kimi_clamps_temperature() {
    let s = MockProvider::start().await;
    let pc = ProviderConfig {
        kind: Some(ProviderKind::Openai),
        base_url: Some(s.openai_base_url()),
        ..Default::default()
    };
    let p =
        orchestrator_tui::providers::http::build("kimi", &pc, Some(KEY.into()), &Config::default())
            .unwrap();
    let mut r = req("moonshot-v1-8k");
    r.temperature = Some(1.6);
    p.chat(&r, &CancellationToken::new()).await.unwrap();
    assert_eq!(s.last_request().body["temperature"], 1.0);
}

#[tokio::test]
async fn openai_reasoning_models_get_developer_role_and_max_completion_tokens() {
    let s = MockProvider::start().await;
    let p = client(&s, WireFormat::OpenAi, true);
    chat(&p, "o3-mini").await.unwrap();
    let q = s.last_request();
    assert_eq!(q.body["messages"][0]["role"], "developer");
    assert_eq!(q.body["max_completion_tokens"], 128);
    assert!(q.body.get("max_tokens").is_none());
    assert!(q.body.get("temperature").is_none());
}

#[tokio::test]
async fn keyless_local_server_through_build() {
    let s = MockProvider::start().await;
    s.script("llama3.2", [Reply::text("local ok")]);
    let pc = ProviderConfig {
        kind: Some(ProviderKind::Openai),
        base_url: Some(format!("{}/", s.openai_base_url())),
        models: vec!["llama3.2".into()],
        ..Default::default()
    };
    let p =
        orchestrator_tui::providers::http::build("local", &pc, None, &Config::default()).unwrap();
    assert!(!p.is_simulated());
    assert_eq!(p.name(), "local");
    let r = p
        .chat(&req("llama3.2"), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(r.text, "local ok");
    let q = s.last_request();
    assert_eq!(q.path, "/v1/chat/completions");
    assert_eq!(q.header("authorization"), None);
}

#[tokio::test]
async fn registry_builds_http_clients_from_config() {
    let s = MockProvider::start().await;
    let mut cfg = Config::defaults();
    for p in cfg.providers.values_mut() {
        p.api_key_env = Some("ORCH_TEST_UNSET_VARIABLE_X".into());
        p.api_key_env_fallback = None;
    }
    let p = cfg.providers.get_mut("openai").unwrap();
    p.api_key = Some(KEY.into());
    p.base_url = Some(s.openai_base_url());
    let catalog = orchestrator_tui::config::Catalog::default();
    let reg = orchestrator_tui::providers::ProviderRegistry::from_config(&cfg, &catalog).unwrap();
    assert!(!reg.is_simulated());
    let p = reg.get("openai").expect("openai client");
    let r = p
        .chat(&req("gpt-t"), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(r.text, "mock answer");
    assert_eq!(
        s.last_request().header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
}

#[tokio::test]
async fn usage_chunk_with_null_choices_and_missing_usage() {
    let s = MockProvider::start().await;
    s.script(
        "m",
        [Reply::raw_sse([
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"},\"finish_reason\":\"length\"}]}\n\n",
            "data: {\"choices\":null,\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n",
            "data: [DONE]\n\n",
        ])],
    );
    let p = client(&s, WireFormat::OpenAi, true);
    let r = chat(&p, "m").await.unwrap();
    assert_eq!(r.text, "ab");
    assert_eq!(r.finish_reason.as_deref(), Some("length"));
    assert_eq!(
        r.usage,
        Usage {
            input: 5,
            cached_input: 4,
            cache_write: 0,
            output: 2,
            reasoning: 0
        }
    );
    // A server that reports no usage at all: estimated, never zero.
    s.script(
        "m",
        [Reply::raw_sse([
            "data: {\"choices\":[{\"delta\":{\"content\":\"hello world\"}}]}\n\n",
            "data: [DONE]\n\n",
        ])],
    );
    let r = chat(&p, "m").await.unwrap();
    assert!(r.usage.input > 0 && r.usage.output > 0, "{:?}", r.usage);
}

#[tokio::test]
async fn server_ignoring_stream_flag_still_answers() {
    let s = MockProvider::start().await;
    for f in FORMATS {
        s.set_default(Reply::text("plain json").ignore_stream());
        let p = client(&s, f, true);
        let r = chat(&p, "m").await.unwrap();
        assert_eq!(r.text, "plain json", "{f:?}");
    }
}

#[tokio::test]
async fn connections_are_pooled() {
    let s = MockProvider::start().await;
    for f in FORMATS {
        let before = s.connections();
        let p = client(&s, f, true);
        for _ in 0..5 {
            chat(&p, "m").await.unwrap();
        }
        assert_eq!(
            s.connections() - before,
            1,
            "{f:?}: one connection for five calls"
        );
    }
}
