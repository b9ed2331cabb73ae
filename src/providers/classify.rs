//! The error taxonomy of providers.md applied to a provider's answer: HTTP status first, then the
//! structured fields of the error body (`error.type`, `error.code`, `error.status`,
//! `error.details`) and the `retry-after` headers. Never the wording of a message, except to tell
//! a context-window overflow from other refused requests (`overflow.rs`).

use super::ProviderError;
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireFormat {
    /// Anthropic Messages (`/v1/messages`).
    Anthropic,
    /// OpenAI Chat Completions and compatible servers (`/chat/completions`).
    OpenAi,
    /// Google Gemini `generateContent`.
    Gemini,
}

impl WireFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            WireFormat::Anthropic => "anthropic",
            WireFormat::OpenAi => "openai",
            WireFormat::Gemini => "gemini",
        }
    }
}

/// Longest provider error message shown (in an error, the database, `show`, summaries).
const MAX_MESSAGE: usize = 300;
/// Longest message kept while classifying. The cut to [`MAX_MESSAGE`] happens in
/// [`finish_message`], after the key is scrubbed: cutting first could leave most of an echoed
/// key at the cut point, out of reach of the scrubber.
const MAX_RAW_MESSAGE: usize = 4096;
/// A run of at least this many characters of the key (its start) is scrubbed too: servers echo
/// keys cut or masked (`sk-proj-abc1****wxyz`), and a cut point can fall inside one.
const MIN_KEY_PREFIX: usize = 8;

/// Classify a non-success HTTP answer. Pure: depends only on its arguments (and the clock, for a
/// `retry-after` given as an HTTP date).
pub fn classify(status: u16, headers: &HeaderMap, body: &str, format: WireFormat) -> ProviderError {
    classify_at(status, headers, body, format, SystemTime::now())
}

/// [`classify`] with an explicit "now" for HTTP-date `retry-after` values.
pub fn classify_at(
    status: u16,
    headers: &HeaderMap,
    body: &str,
    format: WireFormat,
    now: SystemTime,
) -> ProviderError {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let err = parsed.as_ref().map(error_object).unwrap_or(&Value::Null);
    let mut message = error_message(err, body, status);
    if status == 200 {
        message = format!("error in a successful response: {message}");
    }
    decide(status, Some(status), headers, err, format, message, now)
}

/// Classify an error delivered inside a 200 stream (Anthropic `event: error`, an OpenAI chunk with
/// an `error` object, a Gemini chunk with `error`). The status is inferred from the error's type;
/// an unknown error is transient.
pub fn classify_stream_error(data: &str, format: WireFormat) -> ProviderError {
    let parsed: Option<Value> = serde_json::from_str(data).ok();
    let err = parsed.as_ref().map(error_object).unwrap_or(&Value::Null);
    let status = inferred_status(err, format);
    let message = format!(
        "error event in the stream: {}",
        error_message(err, data, status.unwrap_or(500))
    );
    match status {
        Some(s) => decide(
            s,
            None,
            &HeaderMap::new(),
            err,
            format,
            message,
            SystemTime::now(),
        ),
        None => ProviderError::Transient {
            status: None,
            message,
        },
    }
}

/// The `error` object of a body: `{"error":{...}}`, Gemini's `[{"error":{...}}]`, or the body.
fn error_object(v: &Value) -> &Value {
    let v = match v {
        Value::Array(a) => a.first().unwrap_or(&Value::Null),
        v => v,
    };
    match v.get("error") {
        Some(e) if e.is_object() => e,
        _ => v,
    }
}

fn error_message(err: &Value, body: &str, status: u16) -> String {
    let msg = match err.get("message") {
        Some(Value::String(m)) if !m.trim().is_empty() => m.trim().to_string(),
        _ => {
            let b = body.trim();
            if b.is_empty() {
                reqwest::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("no error body")
                    .to_string()
            } else {
                b.to_string()
            }
        }
    };
    truncate(msg, MAX_RAW_MESSAGE)
}

/// The message as it leaves a provider client: `key` and every run of 8 or more of its first
/// characters replaced by `[redacted]`, then cut to [`MAX_MESSAGE`] bytes.
pub fn finish_message(message: String, key: Option<&str>) -> String {
    let scrubbed = match key {
        Some(k) if k.len() >= 4 => match scrub_key(&message, k) {
            std::borrow::Cow::Borrowed(_) => message,
            std::borrow::Cow::Owned(s) => s,
        },
        _ => message,
    };
    truncate(scrubbed, MAX_MESSAGE)
}

/// Replace the key and any prefix of it of [`MIN_KEY_PREFIX`] or more bytes (whole characters).
/// Keys shorter than that are only replaced whole.
fn scrub_key<'a>(text: &'a str, key: &str) -> std::borrow::Cow<'a, str> {
    const MARK: &[u8] = b"[redacted]";
    let (t, k) = (text.as_bytes(), key.as_bytes());
    let matched = |i: usize| {
        let mut l = t[i..].iter().zip(k).take_while(|(a, b)| a == b).count();
        // Matches start on a character boundary (a key never starts with a continuation
        // byte); ending on one of the key's keeps the result valid UTF-8.
        while !key.is_char_boundary(l) {
            l -= 1;
        }
        (l == k.len() || l >= MIN_KEY_PREFIX).then_some(l)
    };
    let Some(first) = (0..t.len()).find(|&i| matched(i).is_some()) else {
        return std::borrow::Cow::Borrowed(text);
    };
    let mut out: Vec<u8> = Vec::with_capacity(t.len());
    out.extend_from_slice(&t[..first]);
    let mut i = first;
    while i < t.len() {
        match matched(i) {
            Some(l) => {
                out.extend_from_slice(MARK);
                i += l;
            }
            None => {
                out.push(t[i]);
                i += 1;
            }
        }
    }
    std::borrow::Cow::Owned(
        String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into()),
    )
}

pub(crate) fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// The HTTP status an in-stream error stands for, from its structured type.
fn inferred_status(err: &Value, format: WireFormat) -> Option<u16> {
    if let Some(n) = err.get("code").and_then(Value::as_u64)
        && (400..600).contains(&n)
    {
        return u16::try_from(n).ok();
    }
    let by_name = |name: &str| -> Option<u16> {
        Some(match name {
            "invalid_request_error" | "INVALID_ARGUMENT" | "context_length_exceeded" => 400,
            "authentication_error" | "UNAUTHENTICATED" | "invalid_api_key" => 401,
            "billing_error" => 402,
            "permission_error" | "PERMISSION_DENIED" => 403,
            "not_found_error" | "NOT_FOUND" | "model_not_found" => 404,
            "request_too_large" => 413,
            "rate_limit_error"
            | "RESOURCE_EXHAUSTED"
            | "rate_limit_exceeded"
            | "insufficient_quota" => 429,
            "api_error" | "server_error" | "INTERNAL" => 500,
            "UNAVAILABLE" => 503,
            "DEADLINE_EXCEEDED" => 504,
            "overloaded_error" => 529,
            _ => return None,
        })
    };
    let candidates: &[&[&str]] = match format {
        WireFormat::Anthropic => &[&["type"]],
        WireFormat::OpenAi => &[&["code"], &["type"]],
        WireFormat::Gemini => &[&["status"]],
    };
    candidates
        .iter()
        .filter_map(|p| str_at(err, p))
        .find_map(by_name)
}

fn decide(
    rule_status: u16,
    reported: Option<u16>,
    headers: &HeaderMap,
    err: &Value,
    format: WireFormat,
    message: String,
    now: SystemTime,
) -> ProviderError {
    let permanent = |key_scoped: bool, message: String| ProviderError::Permanent {
        status: reported,
        message,
        key_scoped,
    };
    // A key Gemini rejects comes back as 400 INVALID_ARGUMENT with ErrorInfo API_KEY_INVALID.
    if format == WireFormat::Gemini {
        if gemini_error_info_reason(err).is_some_and(|r| r == "API_KEY_INVALID") {
            return permanent(true, message);
        }
        if str_at(err, &["status"]) == Some("FAILED_PRECONDITION") {
            // e.g. free tier unavailable in the caller's region: every model on the key fails.
            return permanent(true, message);
        }
    }
    match rule_status {
        429 => {
            if is_spend_cap(err) || is_quota(err) {
                return permanent(true, message);
            }
            if format == WireFormat::Gemini && gemini_daily_quota(err) {
                return permanent(false, message);
            }
            ProviderError::RateLimited {
                retry_after: retry_after(headers, now).or_else(|| gemini_retry_delay(err)),
                message,
            }
        }
        401 | 403 => permanent(true, message),
        402 | 404 => permanent(false, message),
        400 | 413 | 422 => request_or_overflow(reported, err, message),
        408 | 409 | 425 => ProviderError::Transient {
            status: reported,
            message,
        },
        s if (400..500).contains(&s) => request_or_overflow(reported, err, message),
        // Redirects are not followed (they would carry the key elsewhere): the base URL is wrong.
        s if (300..400).contains(&s) => {
            let to = headers
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("?");
            permanent(
                true,
                truncate(
                    format!("redirected to {to}; fix the provider's base_url"),
                    300,
                ),
            )
        }
        // 5xx, 529, and anything else unexpected (1xx/3xx/2xx-with-error).
        _ => ProviderError::Transient {
            status: reported,
            message,
        },
    }
}

/// A refused request, or a prompt longer than the context window (`overflow.rs`).
fn request_or_overflow(status: Option<u16>, err: &Value, message: String) -> ProviderError {
    match super::overflow::detect(err, &message) {
        Some(limit) => ProviderError::ContextOverflow { message, limit },
        None => ProviderError::Request { status, message },
    }
}

/// Anthropic spend cap: `error.details.error_code == "enforced_spend_limit_reached"`.
fn is_spend_cap(err: &Value) -> bool {
    str_at(err, &["details", "error_code"]) == Some("enforced_spend_limit_reached")
}

/// OpenAI-format out-of-quota: `error.code` (or `error.type`) `insufficient_quota`.
fn is_quota(err: &Value) -> bool {
    str_at(err, &["code"]) == Some("insufficient_quota")
        || str_at(err, &["type"]) == Some("insufficient_quota")
}

fn gemini_details(err: &Value) -> impl Iterator<Item = &Value> {
    err.get("details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn detail_is(d: &Value, ty: &str) -> bool {
    d.get("@type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.ends_with(ty))
}

fn gemini_error_info_reason(err: &Value) -> Option<&str> {
    gemini_details(err)
        .find(|d| detail_is(d, "google.rpc.ErrorInfo"))
        .and_then(|d| d.get("reason"))
        .and_then(Value::as_str)
}

/// A `google.rpc.QuotaFailure` naming a per-day quota: no point retrying before tomorrow.
fn gemini_daily_quota(err: &Value) -> bool {
    gemini_details(err)
        .filter(|d| detail_is(d, "google.rpc.QuotaFailure"))
        .filter_map(|d| d.get("violations").and_then(Value::as_array))
        .flatten()
        .filter_map(|v| v.get("quotaId").and_then(Value::as_str))
        .any(|id| id.to_ascii_lowercase().contains("perday"))
}

/// `google.rpc.RetryInfo{retryDelay:"37s"}` (protobuf Duration JSON: seconds with an `s`).
fn gemini_retry_delay(err: &Value) -> Option<Duration> {
    let d = gemini_details(err)
        .find(|d| detail_is(d, "google.rpc.RetryInfo"))?
        .get("retryDelay")?;
    match d {
        Value::String(s) => parse_seconds(s.strip_suffix('s')?),
        // Some proxies render the Duration message as an object.
        Value::Object(_) => {
            let secs = d.get("seconds").and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            });
            let nanos = d.get("nanos").and_then(Value::as_u64).unwrap_or(0);
            Some(Duration::from_secs(secs.unwrap_or(0)) + Duration::from_nanos(nanos))
        }
        _ => None,
    }
}

fn parse_seconds(s: &str) -> Option<Duration> {
    let v: f64 = s.trim().parse().ok()?;
    (0.0..1e9).contains(&v).then(|| Duration::from_secs_f64(v))
}

/// `retry-after-ms`, else `retry-after` as seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = header("retry-after-ms").and_then(parse_seconds) {
        return Some(ms / 1000);
    }
    let v = header("retry-after")?.trim();
    if let Some(d) = parse_seconds(v) {
        return Some(d);
    }
    let date = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let at = SystemTime::from(date.with_timezone(&chrono::Utc));
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
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
        assert!(
            matches!(e, ProviderError::RateLimited { retry_after: Some(d), .. } if d.is_zero())
        );
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
        let q =
            r#"{"error":{"message":"q","type":"insufficient_quota","code":"insufficient_quota"}}"#;
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
}
