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
#[path = "classify_tests.rs"]
mod tests;
