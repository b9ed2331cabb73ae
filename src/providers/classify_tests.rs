//! Unit tests of `classify.rs`: status, body and header classification per wire format.

use super::*;
use reqwest::header::{HeaderName, HeaderValue};

fn h(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut m = HeaderMap::new();
    for (k, v) in pairs {
        m.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    m
}

fn c(status: u16, headers: &[(&str, &str)], body: &str, f: WireFormat) -> ProviderError {
    classify(status, &h(headers), body, f)
}

const A: WireFormat = WireFormat::Anthropic;
const O: WireFormat = WireFormat::OpenAi;
const G: WireFormat = WireFormat::Gemini;

#[test]
fn rate_limit_with_retry_after_seconds() {
    let body = r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#;
    let e = c(429, &[("retry-after", "7")], body, A);
    assert_eq!(
        e,
        ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(7)),
            message: "slow down".into()
        }
    );
}

#[test]
fn retry_after_ms_wins_and_fractional_seconds_parse() {
    let e = c(
        429,
        &[("retry-after-ms", "1500"), ("retry-after", "9")],
        "{}",
        O,
    );
    assert!(
        matches!(e, ProviderError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_millis(1500))
    );
    let e = c(429, &[("retry-after", "0.25")], "", O);
    assert!(
        matches!(e, ProviderError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_millis(250))
    );
}

#[test]
fn retry_after_http_date() {
    let now =
        SystemTime::from(chrono::DateTime::parse_from_rfc3339("2015-10-21T07:27:30Z").unwrap());
    let e = classify_at(
        429,
        &h(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]),
        "",
        O,
        now,
    );
    assert!(
        matches!(e, ProviderError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(30))
    );
    // A date in the past means "now".
    let later = now + Duration::from_secs(3600);
    let e = classify_at(
        429,
        &h(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]),
        "",
        O,
        later,
    );
    assert!(matches!(e, ProviderError::RateLimited { retry_after: Some(d), .. } if d.is_zero()));
    let e = c(429, &[("retry-after", "soon")], "", O);
    assert!(matches!(
        e,
        ProviderError::RateLimited {
            retry_after: None,
            ..
        }
    ));
}

#[test]
fn openai_quota_429_is_permanent_but_rate_limit_is_not() {
    let quota = r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
    assert!(matches!(
        c(429, &[], quota, O),
        ProviderError::Permanent {
            key_scoped: true,
            status: Some(429),
            ..
        }
    ));
    let rl = r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#;
    assert!(matches!(
        c(429, &[("retry-after", "2")], rl, O),
        ProviderError::RateLimited { .. }
    ));
}

#[test]
fn anthropic_spend_cap_429_is_permanent() {
    let body = r#"{"type":"error","error":{"type":"rate_limit_error","message":"cap","details":{"error_code":"enforced_spend_limit_reached"}}}"#;
    assert!(matches!(
        c(429, &[], body, A),
        ProviderError::Permanent { .. }
    ));
}

#[test]
fn gemini_retry_info_and_daily_quota() {
    let body = r#"{"error":{"code":429,"message":"Resource exhausted","status":"RESOURCE_EXHAUSTED","details":[
        {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"m","quotaId":"GenerateRequestsPerMinutePerProjectPerModel"}]},
        {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}]}}"#;
    assert_eq!(
        c(429, &[], body, G),
        ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(37)),
            message: "Resource exhausted".into()
        }
    );
    let daily = body.replace("PerMinute", "PerDay");
    assert!(matches!(
        c(429, &[], &daily, G),
        ProviderError::Permanent {
            key_scoped: false,
            ..
        }
    ));
    let arr = r#"[{"error":{"code":429,"message":"x","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"}]}}]"#;
    assert!(
        matches!(c(429, &[], arr, G), ProviderError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_millis(1500))
    );
}

#[test]
fn gemini_invalid_key_400_is_key_scoped_permanent() {
    let body = r#"{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}"#;
    assert!(matches!(
        c(400, &[], body, G),
        ProviderError::Permanent {
            key_scoped: true,
            ..
        }
    ));
    let plain = r#"{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}"#;
    assert!(matches!(
        c(400, &[], plain, G),
        ProviderError::Request { .. }
    ));
}

#[test]
fn status_table() {
    for (s, class, key) in [
        (400, "request", None),
        (413, "request", None),
        (422, "request", None),
        (401, "permanent", Some(true)),
        (403, "permanent", Some(true)),
        (402, "permanent", Some(false)),
        (404, "permanent", Some(false)),
        (500, "transient", None),
        (502, "transient", None),
        (503, "transient", None),
        (504, "transient", None),
        (529, "transient", None),
        (408, "transient", None),
        (302, "permanent", Some(true)),
        (200, "transient", None),
    ] {
        for f in [A, O, G] {
            let e = c(s, &[], "", f);
            assert_eq!(e.class(), class, "{s} {f:?}");
            if let ProviderError::Permanent { key_scoped, .. } = e {
                assert_eq!(Some(key_scoped), key, "{s}");
            }
        }
    }
}

#[test]
fn messages_come_from_the_body_and_are_bounded() {
    let e = c(
        500,
        &[],
        r#"{"type":"error","error":{"type":"api_error","message":"boom"}}"#,
        A,
    );
    assert_eq!(
        e,
        ProviderError::Transient {
            status: Some(500),
            message: "boom".into()
        }
    );
    let e = c(502, &[], "", O);
    assert!(e.to_string().contains("Bad Gateway"), "{e}");
    let long = "x".repeat(5000);
    let e = c(500, &[], &long, O);
    assert!(e.to_string().len() < MAX_RAW_MESSAGE + 100);
    let shown = finish_message(long, None);
    assert!(shown.len() < 400, "{}", shown.len());
    // Message wording never changes the class.
    let e = c(
        500,
        &[],
        r#"{"error":{"message":"insufficient_quota invalid api key"}}"#,
        O,
    );
    assert_eq!(e.class(), "transient");
}

#[test]
fn stream_errors_map_by_type() {
    let over = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    assert!(matches!(
        classify_stream_error(over, A),
        ProviderError::Transient { status: None, .. }
    ));
    let rl = r#"{"type":"error","error":{"type":"rate_limit_error","message":"x"}}"#;
    assert_eq!(classify_stream_error(rl, A).class(), "rate_limited");
    let bad = r#"{"type":"error","error":{"type":"invalid_request_error","message":"x"}}"#;
    assert_eq!(classify_stream_error(bad, A).class(), "request");
    let auth = r#"{"type":"error","error":{"type":"authentication_error","message":"x"}}"#;
    assert_eq!(classify_stream_error(auth, A).class(), "permanent");
    let q = r#"{"error":{"message":"q","type":"insufficient_quota","code":"insufficient_quota"}}"#;
    assert_eq!(classify_stream_error(q, O).class(), "permanent");
    let g = r#"{"error":{"code":503,"message":"x","status":"UNAVAILABLE"}}"#;
    assert_eq!(classify_stream_error(g, G).class(), "transient");
    assert_eq!(classify_stream_error("garbage", O).class(), "transient");
}

#[test]
fn context_overflows_are_their_own_class_in_every_format() {
    let llama = r#"{"error":{"code":400,"message":"request (4145 tokens) exceeds the available context size (4096 tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":4145,"n_ctx":4096}}"#;
    assert!(matches!(
        c(400, &[], llama, O),
        ProviderError::ContextOverflow {
            limit: Some(4096),
            ..
        }
    ));
    let anthropic = r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 208310 tokens > 200000 maximum"}}"#;
    let e = c(400, &[], anthropic, A);
    assert_eq!(e.class(), "context_overflow");
    assert!(e.to_string().contains("limit 200000"), "{e}");
    let gemini = r#"{"error":{"code":400,"message":"The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}}"#;
    assert!(matches!(
        c(400, &[], gemini, G),
        ProviderError::ContextOverflow {
            limit: Some(1_048_576),
            ..
        }
    ));
    // Streamed: OpenAI's code maps to 400, then to an overflow.
    let streamed = r#"{"error":{"message":"This model's maximum context length is 8192 tokens.","code":"context_length_exceeded"}}"#;
    assert_eq!(
        classify_stream_error(streamed, O).class(),
        "context_overflow"
    );
    // Not under another status: a 500 or 429 with the same words keeps its class.
    assert_eq!(c(500, &[], llama, O).class(), "transient");
    assert_eq!(c(429, &[], llama, O).class(), "rate_limited");
    // Other 400s stay plain refused requests.
    let other = r#"{"error":{"message":"response_format is not supported","type":"invalid_request_error"}}"#;
    assert_eq!(c(400, &[], other, O).class(), "request");
}

/// The message of a provider error as the client hands it on (classify, then scrub and cut).
fn shown(body: &str, key: &str) -> String {
    let message = match c(401, &[], body, O) {
        ProviderError::Permanent { message, .. } => message,
        other => panic!("unexpected {other:?}"),
    };
    finish_message(message, Some(key))
}

/// No run of 4 or more of the key's first characters is left.
fn assert_no_key_part(text: &str, key: &str) {
    for l in 4..=key.len() {
        assert!(
            !text.contains(&key[..l]),
            "{l} characters of the key leaked: {text}"
        );
    }
}

#[test]
fn a_key_cut_at_the_display_limit_is_scrubbed_before_the_cut() {
    let key = "sk-live-abcdef123"; // 17 characters
    // The message puts the key so that a 300-byte cut falls after its 16th character.
    let filler = "y".repeat(MAX_MESSAGE - 16);
    let body = format!(r#"{{"error":{{"message":"{filler}{key} is not valid"}}}}"#);
    let m = shown(&body, key);
    assert_no_key_part(&m, key);
    assert!(m.contains("[redac"), "{m}");
    assert!(m.len() <= MAX_MESSAGE + '…'.len_utf8(), "{}", m.len());
    // Every cut position around the key.
    for pad in MAX_MESSAGE - 20..MAX_MESSAGE + 2 {
        let body = format!(r#"{{"error":{{"message":"{}{key}"}}}}"#, "z".repeat(pad));
        assert_no_key_part(&shown(&body, key), key);
    }
}

#[test]
fn key_prefixes_of_eight_or_more_characters_are_scrubbed_anywhere() {
    let key = "sk-proj-0123456789abcdef";
    let body = r#"{"error":{"message":"Incorrect API key provided: sk-proj-0123****cdef. Your key sk-proj-0123456789abcdef was sent as sk-proj-012345"}}"#;
    let m = shown(body, key);
    assert_eq!(
        m,
        "Incorrect API key provided: [redacted]****cdef. Your key [redacted] was sent as [redacted]"
    );
    // Seven characters are not a secret (every key of that vendor starts with them).
    assert_eq!(finish_message("sk-proj".into(), Some(key)), "sk-proj");
    // A short key is replaced only whole.
    assert_eq!(
        finish_message("k=abcde abcd".into(), Some("abcde")),
        "k=[redacted] abcd"
    );
    // Nothing to scrub, no key, a too-short key: unchanged.
    assert_eq!(finish_message("fine".into(), Some(key)), "fine");
    assert_eq!(
        finish_message("sk-proj-0123456789".into(), None),
        "sk-proj-0123456789"
    );
    assert_eq!(finish_message("abc".into(), Some("abc")), "abc");
}

#[test]
fn scrubbing_keeps_utf8_valid_with_non_ascii_keys() {
    let key = "ключ-секрет-42";
    let m = finish_message(format!("bad {} é", &key[..17]), Some(key));
    assert_eq!(m, "bad [redacted] é");
    // `с` and `р` share their first byte: the match ends at the last whole character.
    let m = finish_message("ключ-секс".into(), Some(key));
    assert_eq!(m, "[redacted]с");
    let m = finish_message(format!("x{key}y"), Some(key));
    assert_eq!(m, "x[redacted]y");
}
