//! HTTP provider clients against the loopback provider server (tests/support).

mod support;

use orchestrator_tui::config::{Config, ProviderConfig, ProviderKind};
use orchestrator_tui::domain::CallRole;
use orchestrator_tui::providers::{
    ChatRequest, HttpOptions, HttpProvider, Message, Provider, ProviderError, Timeouts, Usage,
    WireFormat,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Fault, MockProvider, MockUsage, Reply};
use tokio_util::sync::CancellationToken;

const KEY: &str = "test-key-0123456789";

fn fast_timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        first_byte: Duration::from_secs(3),
        idle: Duration::from_secs(2),
        total: Duration::from_secs(10),
    }
}

fn client_with(
    server: &MockProvider,
    format: WireFormat,
    stream: bool,
    t: Timeouts,
) -> HttpProvider {
    let base = match format {
        WireFormat::OpenAi => server.openai_base_url(),
        _ => server.base_url(),
    };
    let mut o = HttpOptions::new("test", format, &format!("{base}/"), Some(KEY.into()));
    o.stream = stream;
    o.timeouts = t;
    HttpProvider::new(o).expect("client")
}

fn client(server: &MockProvider, format: WireFormat, stream: bool) -> HttpProvider {
    client_with(server, format, stream, fast_timeouts())
}

fn req(model: &str) -> ChatRequest {
    ChatRequest {
        model: model.into(),
        system: Some("You are terse.".into()),
        messages: vec![Message {
            role: "user".into(),
            content: "Say hello".into(),
        }],
        max_tokens: 128,
        temperature: Some(0.4),
        role: CallRole::Generate,
        task_type: None,
        attempt: 1,
    }
}

async fn chat(
    p: &HttpProvider,
    model: &str,
) -> Result<orchestrator_tui::providers::ChatResponse, ProviderError> {
    p.chat(&req(model), &CancellationToken::new()).await
}

const FORMATS: [WireFormat; 3] = [
    WireFormat::Anthropic,
    WireFormat::OpenAi,
    WireFormat::Gemini,
];

const USAGE: MockUsage = MockUsage {
    input: 40,
    cached: 60,
    output: 25,
    reasoning: 7,
};

// ---------------------------------------------------------------- wire formats

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

// ---------------------------------------------------------------- errors

#[tokio::test]
async fn every_fault_maps_to_its_class_in_every_format() {
    let s = MockProvider::start().await;
    let cases: [(Fault, &str, Option<bool>); 11] = [
        (
            Fault::RateLimited {
                retry_after_secs: 3,
            },
            "rate_limited",
            None,
        ),
        (Fault::InsufficientQuota, "permanent", None),
        (Fault::BadRequest, "request", None),
        (Fault::Unauthorized, "permanent", Some(true)),
        (Fault::PaymentRequired, "permanent", None),
        (Fault::Forbidden, "permanent", Some(true)),
        (Fault::NotFound, "permanent", Some(false)),
        (Fault::TooLarge, "request", None),
        (Fault::ServerError, "transient", None),
        (Fault::Unavailable, "transient", None),
        (Fault::Overloaded, "transient", None),
    ];
    for f in FORMATS {
        for stream in [true, false] {
            let p = client(&s, f, stream);
            for (fault, class, key_scoped) in cases {
                let model = format!("{fault:?}").replace([' ', '{', '}', ':'], "");
                s.script(&model, [Reply::fault(fault)]);
                let e = chat(&p, &model).await.unwrap_err();
                assert_eq!(e.class(), class, "{f:?} stream={stream} {fault:?}: {e}");
                if let (Some(k), ProviderError::Permanent { key_scoped, .. }) = (key_scoped, &e) {
                    assert_eq!(*key_scoped, k, "{f:?} {fault:?}");
                }
                if let ProviderError::RateLimited { retry_after, .. } = &e {
                    assert_eq!(*retry_after, Some(Duration::from_secs(3)), "{f:?}");
                }
                assert!(!e.to_string().contains(KEY));
            }
        }
    }
}

#[tokio::test]
async fn retry_after_ms_and_http_date_headers() {
    let s = MockProvider::start().await;
    let p = client(&s, WireFormat::OpenAi, true);
    s.script(
        "m",
        [Reply::status(
            429,
            r#"{"error":{"message":"slow","type":"requests","code":"rate_limit_exceeded"}}"#,
        )
        .header("retry-after-ms", "250")],
    );
    let e = chat(&p, "m").await.unwrap_err();
    assert_eq!(
        e,
        ProviderError::RateLimited {
            retry_after: Some(Duration::from_millis(250)),
            message: "slow".into()
        }
    );
    let date = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
    s.script("m", [Reply::status(429, "{}").header("retry-after", &date)]);
    match chat(&p, "m").await.unwrap_err() {
        ProviderError::RateLimited {
            retry_after: Some(d),
            ..
        } => {
            assert!(
                d > Duration::from_secs(25) && d <= Duration::from_secs(31),
                "{d:?}"
            )
        }
        e => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let s = MockProvider::start().await;
    let elsewhere = MockProvider::start().await;
    for f in FORMATS {
        let target = format!("{}/v1/chat/completions", elsewhere.base_url());
        s.script("m", [Reply::status(307, "").header("location", &target)]);
        let e = chat(&client(&s, f, true), "m").await.unwrap_err();
        assert!(
            matches!(
                e,
                ProviderError::Permanent {
                    status: Some(307),
                    key_scoped: true,
                    ..
                }
            ),
            "{f:?}: {e:?}"
        );
    }
    assert_eq!(
        elsewhere.served(),
        0,
        "the key never travels to another host"
    );
}

#[tokio::test]
async fn key_never_appears_in_errors() {
    let s = MockProvider::start().await;
    let body = format!(
        r#"{{"error":{{"message":"Incorrect API key provided: {KEY}","type":"invalid_request_error","code":"invalid_api_key"}}}}"#
    );
    s.script("m", [Reply::status(401, &body)]);
    let p = client(&s, WireFormat::OpenAi, true);
    let e = chat(&p, "m").await.unwrap_err();
    assert!(matches!(
        e,
        ProviderError::Permanent {
            key_scoped: true,
            ..
        }
    ));
    assert!(!e.to_string().contains(KEY), "{e}");
    assert!(!format!("{e:?}").contains(KEY), "{e:?}");
}

#[tokio::test]
async fn anthropic_error_event_after_200_maps_to_taxonomy() {
    let s = MockProvider::start().await;
    let start = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n";
    let p = client(&s, WireFormat::Anthropic, true);
    for (ty, class) in [
        ("overloaded_error", "transient"),
        ("api_error", "transient"),
        ("rate_limit_error", "rate_limited"),
        ("invalid_request_error", "request"),
    ] {
        let err = format!(
            "event: error\ndata: {{\"type\":\"error\",\"error\":{{\"type\":\"{ty}\",\"message\":\"m\"}}}}\n\n"
        );
        s.script("m", [Reply::raw_sse([start.to_string(), err])]);
        let e = chat(&p, "m").await.unwrap_err();
        assert_eq!(e.class(), class, "{ty}: {e}");
    }
}

#[tokio::test]
async fn malformed_bodies_are_transient() {
    let s = MockProvider::start().await;
    for f in FORMATS {
        let p = client(&s, f, false);
        s.script("m", [Reply::status(200, "{not json")]);
        let e = chat(&p, "m").await.unwrap_err();
        assert_eq!(e.class(), "transient", "{f:?}: {e}");
        let p = client(&s, f, true);
        s.script("m", [Reply::raw_sse(["data: {broken\n\n"])]);
        let e = chat(&p, "m").await.unwrap_err();
        assert_eq!(e.class(), "transient", "{f:?}: {e}");
    }
}

#[tokio::test]
async fn connection_refused_is_transient() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let o = HttpOptions {
        timeouts: fast_timeouts(),
        ..HttpOptions::new(
            "x",
            WireFormat::OpenAi,
            &format!("http://127.0.0.1:{port}/v1"),
            None,
        )
    };
    let p = HttpProvider::new(o).unwrap();
    let e = chat(&p, "m").await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Transient { status: None, .. }),
        "{e:?}"
    );
}

// ---------------------------------------------------------------- streams and timeouts

#[tokio::test]
async fn truncated_streams_are_transient() {
    let s = MockProvider::start().await;
    for f in FORMATS {
        let p = client(&s, f, true);
        // Every prefix of the stream that lacks the terminal event.
        let full = match f {
            WireFormat::Anthropic => 9, // start, block start, ping, 3 deltas, block stop, delta, stop
            WireFormat::OpenAi => 7,    // role, 3 deltas, finish, usage, [DONE]
            WireFormat::Gemini => 3,    // 3 chunks, finishReason in the last
        };
        for n in 0..full {
            s.script("m", [Reply::text("abc def ghi").truncate_after(n)]);
            let e = chat(&p, "m").await.unwrap_err();
            assert!(
                matches!(e, ProviderError::Transient { .. }),
                "{f:?} after {n}: {e:?}"
            );
            assert!(e.to_string().contains("stream ended"), "{e}");
        }
        s.script("m", [Reply::text("abc def ghi").truncate_after(full)]);
        assert!(
            chat(&p, "m").await.is_ok(),
            "{f:?}: the complete stream succeeds"
        );
    }
}

#[tokio::test]
async fn connection_reset_mid_stream_is_transient() {
    let s = MockProvider::start().await;
    for f in FORMATS {
        let p = client(&s, f, true);
        s.script("m", [Reply::text("abc def ghi").reset_after(2)]);
        let e = chat(&p, "m").await.unwrap_err();
        assert_eq!(e.class(), "transient", "{f:?}: {e}");
        // The pool recovers: the next call works.
        s.script("m", [Reply::text("fine")]);
        assert_eq!(chat(&p, "m").await.unwrap().text, "fine");
    }
}

fn short(idle_ms: u64, first_byte_ms: u64, total_ms: u64) -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        first_byte: Duration::from_millis(first_byte_ms),
        idle: Duration::from_millis(idle_ms),
        total: Duration::from_millis(total_ms),
    }
}

#[tokio::test]
async fn idle_stall_mid_stream_times_out_as_transient() {
    let s = MockProvider::start().await;
    for f in FORMATS {
        let p = client_with(&s, f, true, short(150, 2000, 10_000));
        s.script(
            "m",
            [Reply::text("abc def ghi").stall_after(2, Duration::from_secs(5))],
        );
        let t = Instant::now();
        let e = chat(&p, "m").await.unwrap_err();
        assert!(
            matches!(e, ProviderError::Transient { status: None, .. }),
            "{f:?}: {e:?}"
        );
        assert!(e.to_string().contains("idle timeout"), "{e}");
        assert!(
            t.elapsed() < Duration::from_secs(4),
            "gave up before the stall ended"
        );
    }
}

#[tokio::test]
async fn slow_first_byte_times_out_as_transient() {
    let s = MockProvider::start().await;
    for (f, stream) in [
        (WireFormat::OpenAi, true),
        (WireFormat::Anthropic, false),
        (WireFormat::Gemini, true),
    ] {
        let p = client_with(&s, f, stream, short(2000, 150, 10_000));
        s.script(
            "m",
            [Reply::text("late").first_byte_delay(Duration::from_secs(5))],
        );
        let t = Instant::now();
        let e = chat(&p, "m").await.unwrap_err();
        assert!(e.to_string().contains("first-byte timeout"), "{f:?}: {e}");
        assert_eq!(e.class(), "transient");
        assert!(t.elapsed() < Duration::from_secs(4));
    }
}

#[tokio::test]
async fn slow_but_steady_stream_hits_the_total_timeout() {
    let s = MockProvider::start().await;
    let p = client_with(&s, WireFormat::OpenAi, true, short(1000, 1000, 300));
    s.script(
        "m",
        [Reply::text("a b c d e f g h")
            .chunks(8)
            .event_delay(Duration::from_millis(100))],
    );
    let e = chat(&p, "m").await.unwrap_err();
    assert!(e.to_string().contains("total timeout"), "{e}");
    assert_eq!(e.class(), "transient");
}

#[tokio::test]
async fn ttft_is_measured_from_the_first_token() {
    let s = MockProvider::start().await;
    let p = client(&s, WireFormat::Anthropic, true);
    s.script(
        "m",
        [Reply::text("a b c")
            .chunks(3)
            .event_delay(Duration::from_millis(30))],
    );
    let t = Instant::now();
    let r = chat(&p, "m").await.unwrap();
    let total = t.elapsed();
    let ttft = r.ttft.expect("ttft");
    // Three events (start, block start, ping) precede the first delta: ttft > 0, < total.
    assert!(
        ttft > Duration::ZERO && ttft < total,
        "{ttft:?} vs {total:?}"
    );
}

#[tokio::test]
async fn cancellation_returns_promptly() {
    let s = MockProvider::start().await;
    for f in FORMATS {
        let p = Arc::new(client_with(&s, f, true, short(30_000, 30_000, 60_000)));
        // Mid-stream stall and slow first byte: both interrupted by the token.
        for reply in [
            Reply::text("abc def ghi").stall_after(2, Duration::from_secs(20)),
            Reply::text("abc").first_byte_delay(Duration::from_secs(20)),
        ] {
            s.script("m", [reply]);
            let cancel = CancellationToken::new();
            let c2 = cancel.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                c2.cancel();
            });
            let t = Instant::now();
            let e = p.chat(&req("m"), &cancel).await.unwrap_err();
            assert_eq!(e, ProviderError::Cancelled, "{f:?}");
            assert!(
                t.elapsed() < Duration::from_secs(3),
                "{f:?}: {:?}",
                t.elapsed()
            );
        }
        // Already cancelled: no request is sent.
        let before = s.served();
        let cancel = CancellationToken::new();
        cancel.cancel();
        assert_eq!(
            p.chat(&req("m"), &cancel).await.unwrap_err(),
            ProviderError::Cancelled
        );
        assert_eq!(s.served(), before);
    }
}
