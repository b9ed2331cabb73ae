//! Unit tests of the HTTP clients: build, headers, endpoints, missing usage.

use super::call::fill_missing_usage;
use super::*;

#[test]
fn local_servers_get_a_short_idle_pool() {
    assert_eq!(pool_idle("http://127.0.0.1:8090/v1").as_secs(), 3);
    assert_eq!(pool_idle("http://192.168.1.5:11434/v1").as_secs(), 3);
    assert_eq!(pool_idle("https://api.openai.com/v1").as_secs(), 90);
}

#[test]
fn build_picks_format_and_default_urls() {
    let cfg = Config::default();
    let p = ProviderConfig::default();
    assert!(build("anthropic", &p, None, &cfg).is_err(), "needs a key");
    assert!(build("anthropic", &p, Some("k".into()), &cfg).is_ok());
    assert!(build("mystery", &p, Some("k".into()), &cfg).is_err());
    let local = ProviderConfig {
        kind: Some(ProviderKind::Openai),
        base_url: Some("http://127.0.0.1:11434/v1/".into()),
        ..Default::default()
    };
    assert!(build("local", &local, None, &cfg).is_ok());
    let bad = ProviderConfig {
        base_url: Some("ftp://x".into()),
        ..local.clone()
    };
    assert!(build("local", &bad, None, &cfg).is_err());
}

#[test]
fn endpoints_trim_slash_and_keep_versions_where_they_belong() {
    let mk = |f, url: &str| HttpProvider::new(HttpOptions::new("x", f, url, Some("k".into())));
    let a = mk(WireFormat::Anthropic, "https://api.anthropic.com/").unwrap();
    assert_eq!(
        a.endpoint("m", true),
        "https://api.anthropic.com/v1/messages"
    );
    let o = mk(WireFormat::OpenAi, "https://api.openai.com/v1/").unwrap();
    assert_eq!(
        o.endpoint("m", true),
        "https://api.openai.com/v1/chat/completions"
    );
    let g = mk(
        WireFormat::Gemini,
        "https://generativelanguage.googleapis.com",
    )
    .unwrap();
    assert_eq!(
        g.endpoint("gemini-2.5-pro", false),
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent"
    );
    assert_eq!(
        g.endpoint("models/gemini-2.5-pro", true),
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    );
}

#[test]
fn debug_output_never_shows_the_key() {
    let o = HttpOptions::new(
        "x",
        WireFormat::OpenAi,
        "http://h/v1",
        Some("sk-secret-123".into()),
    );
    assert!(!format!("{o:?}").contains("sk-secret"));
    let p = HttpProvider::new(o).unwrap();
    assert!(!format!("{p:?}").contains("sk-secret"));
    let e = p.scrub(ProviderError::Permanent {
        status: Some(401),
        message: "bad key sk-secret-123".into(),
        key_scoped: true,
    });
    assert!(!e.to_string().contains("sk-secret"), "{e}");
}

#[test]
fn extra_headers_and_api_version_are_checked() {
    let mk = |headers: Vec<(&str, &str)>, version: Option<&str>| {
        let mut o = HttpOptions::new("x", WireFormat::OpenAi, "http://h/v1", Some("k".into()));
        o.headers = headers
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        o.api_version = version.map(str::to_string);
        HttpProvider::new(o)
    };
    let ok = mk(vec![("X-Title", "app")], Some("2024-10-21")).unwrap();
    assert_eq!(
        ok.endpoint("m", true),
        "http://h/v1/chat/completions?api-version=2024-10-21"
    );
    // Credentials only through the key; a bad name or an injected query is refused.
    for (h, v) in [
        ("Authorization", "Bearer x"),
        ("api-key", "x"),
        ("bad name", "v"),
    ] {
        assert!(
            matches!(mk(vec![(h, v)], None), Err(ClientError::BadHeader(_))),
            "{h}"
        );
    }
    assert!(matches!(
        mk(vec![], Some("1&x=y")),
        Err(ClientError::BadApiVersion(_))
    ));
}

#[test]
fn default_base_urls_come_from_the_embedded_config() {
    let d = Config::defaults();
    let url = |n: &str| d.providers[n].base_url.clone();
    assert_eq!(
        default_base_url("claude", WireFormat::Anthropic),
        url("anthropic")
    );
    assert_eq!(
        default_base_url("gemini", WireFormat::Gemini),
        url("google")
    );
    assert_eq!(
        default_base_url("openai", WireFormat::OpenAi),
        url("openai")
    );
    assert_eq!(
        default_base_url("moonshot", WireFormat::OpenAi),
        url("kimi")
    );
    assert_eq!(default_base_url("local", WireFormat::OpenAi), None);
    assert_eq!(default_base_url("anthropic", WireFormat::OpenAi), None);
}

#[test]
fn missing_usage_is_estimated_but_never_above_max_tokens() {
    let req = ChatRequest {
        model: "m".into(),
        system: None,
        messages: vec![super::super::Message {
            role: "user".into(),
            content: "abcdefgh".into(),
        }],
        max_tokens: 100,
        temperature: None,
        role: crate::domain::CallRole::Generate,
        task_type: None,
        attempt: 1,
        schema: None,
        shared_prefix: 0,
        reasoning: Default::default(),
    };
    let mut out = ChatResponse {
        text: "x".repeat(1 << 20),
        usage: Usage::default(),
        finish_reason: None,
        ttft: None,
    };
    fill_missing_usage(&mut out, &req);
    assert_eq!(
        out.usage.output, 100,
        "1 MiB of text is charged as max_tokens"
    );
    assert_eq!(out.usage.input, req.estimated_input_tokens());
    out.text = "short".into();
    out.usage = Usage::default();
    fill_missing_usage(&mut out, &req);
    assert_eq!(out.usage.output, 2);
}
