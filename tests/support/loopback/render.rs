//! Rendering answers and faults in each provider's wire format.

use super::{Answer, Fault, Format, MockUsage};
use serde_json::{Value, json};

/// Split `text` into `n` pieces on char boundaries (some may be empty for short texts).
fn pieces(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let n = n.max(1);
    let per = chars.len().div_ceil(n).max(1);
    let mut out: Vec<String> = chars.chunks(per).map(|c| c.iter().collect()).collect();
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

fn data(v: &Value) -> String {
    format!("data: {v}\n\n")
}

fn named(event: &str, v: &Value) -> String {
    format!("event: {event}\ndata: {v}\n\n")
}

fn openai_usage(u: &MockUsage, deepseek: bool) -> Value {
    let prompt = u.input + u.cached;
    let completion = u.output + u.reasoning;
    let mut v = json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "completion_tokens_details": {"reasoning_tokens": u.reasoning},
    });
    if deepseek {
        v["prompt_cache_hit_tokens"] = json!(u.cached);
        v["prompt_cache_miss_tokens"] = json!(u.input);
    } else {
        v["prompt_tokens_details"] = json!({"cached_tokens": u.cached});
    }
    v
}

fn anthropic_usage(u: &MockUsage, cache_write: u64) -> Value {
    json!({
        "input_tokens": u.input,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": u.cached,
        "output_tokens": u.output + u.reasoning,
    })
}

fn gemini_usage(u: &MockUsage) -> Value {
    let prompt = u.input + u.cached;
    json!({
        "promptTokenCount": prompt,
        "cachedContentTokenCount": u.cached,
        "candidatesTokenCount": u.output,
        "thoughtsTokenCount": u.reasoning,
        "totalTokenCount": prompt + u.output + u.reasoning,
    })
}

/// The whole (non-streamed) JSON body of an answer.
pub fn json_body(format: Format, model: &str, a: &Answer) -> String {
    let v = match format {
        Format::OpenAi => json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": a.text},
                "finish_reason": a.finish_reason.as_deref().unwrap_or("stop")}],
            "usage": openai_usage(&a.usage, a.deepseek_usage),
        }),
        Format::Anthropic => json!({
            "id": "msg_mock", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": a.text}],
            "stop_reason": a.finish_reason.as_deref().unwrap_or("end_turn"),
            "stop_sequence": null,
            "usage": anthropic_usage(&a.usage, a.cache_write),
        }),
        Format::Gemini => json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": a.text}]},
                "finishReason": a.finish_reason.as_deref().unwrap_or("STOP"), "index": 0}],
            "usageMetadata": gemini_usage(&a.usage),
            "modelVersion": model,
        }),
    };
    v.to_string()
}

/// The SSE events of a streamed answer, terminal event included.
pub fn sse_events(format: Format, model: &str, a: &Answer, include_usage: bool) -> Vec<String> {
    let parts = pieces(&a.text, a.chunks);
    let mut ev = Vec::new();
    match format {
        Format::OpenAi => {
            let chunk = |delta: Value, finish: Value| {
                json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0,
                    "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
            };
            ev.push(data(&chunk(
                json!({"role": "assistant", "content": ""}),
                Value::Null,
            )));
            for p in &parts {
                ev.push(data(&chunk(json!({"content": p}), Value::Null)));
            }
            let finish = a.finish_reason.as_deref().unwrap_or("stop");
            ev.push(data(&chunk(json!({}), json!(finish))));
            if include_usage {
                ev.push(data(
                    &json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk",
                    "created": 0, "model": model, "choices": [],
                    "usage": openai_usage(&a.usage, a.deepseek_usage)}),
                ));
            }
            ev.push("data: [DONE]\n\n".to_string());
        }
        Format::Anthropic => {
            let mut start_usage = anthropic_usage(&a.usage, a.cache_write);
            start_usage["output_tokens"] = json!(1);
            ev.push(named(
                "message_start",
                &json!({"type": "message_start", "message": {"id": "msg_mock", "type": "message",
                    "role": "assistant", "model": model, "content": [], "stop_reason": null,
                    "usage": start_usage}}),
            ));
            ev.push(named(
                "content_block_start",
                &json!({"type": "content_block_start", "index": 0,
                    "content_block": {"type": "text", "text": ""}}),
            ));
            ev.push(named("ping", &json!({"type": "ping"})));
            for p in &parts {
                ev.push(named(
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": 0,
                        "delta": {"type": "text_delta", "text": p}}),
                ));
            }
            ev.push(named(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": 0}),
            ));
            ev.push(named(
                "message_delta",
                &json!({"type": "message_delta",
                    "delta": {"stop_reason": a.finish_reason.as_deref().unwrap_or("end_turn"),
                        "stop_sequence": null},
                    "usage": {"output_tokens": a.usage.output + a.usage.reasoning}}),
            ));
            ev.push(named("message_stop", &json!({"type": "message_stop"})));
        }
        Format::Gemini => {
            let last = parts.len() - 1;
            for (i, p) in parts.iter().enumerate() {
                let mut cand =
                    json!({"content": {"role": "model", "parts": [{"text": p}]}, "index": 0});
                let mut v = json!({"modelVersion": model});
                if i == last {
                    cand["finishReason"] = json!(a.finish_reason.as_deref().unwrap_or("STOP"));
                    v["usageMetadata"] = gemini_usage(&a.usage);
                } else {
                    v["usageMetadata"] =
                        json!({"promptTokenCount": a.usage.input + a.usage.cached});
                }
                v["candidates"] = json!([cand]);
                ev.push(format!("data: {v}\r\n\r\n"));
            }
        }
    }
    ev
}

/// Status, JSON body and extra headers of a fault in `format`.
pub fn fault(format: Format, f: Fault) -> (u16, String, Vec<(String, String)>) {
    let status = f.status();
    let mut headers = Vec::new();
    let body = match format {
        Format::Anthropic => {
            let (ty, msg) = match f {
                Fault::RateLimited { .. } => (
                    "rate_limit_error",
                    "Number of requests has exceeded your rate limit",
                ),
                Fault::InsufficientQuota => (
                    "rate_limit_error",
                    "You have reached your specified workspace API usage limits",
                ),
                Fault::BadRequest => ("invalid_request_error", "messages: field required"),
                Fault::Unauthorized => ("authentication_error", "invalid x-api-key"),
                Fault::PaymentRequired => ("billing_error", "Your credit balance is too low"),
                Fault::Forbidden => ("permission_error", "Your API key does not have permission"),
                Fault::NotFound => ("not_found_error", "model: not found"),
                Fault::TooLarge => (
                    "request_too_large",
                    "Request exceeds the maximum allowed size",
                ),
                Fault::ServerError => ("api_error", "Internal server error"),
                Fault::Unavailable => ("api_error", "Service unavailable"),
                Fault::Overloaded => ("overloaded_error", "Overloaded"),
            };
            let mut err = json!({"type": ty, "message": msg});
            if f == Fault::InsufficientQuota {
                err["details"] = json!({"error_code": "enforced_spend_limit_reached"});
            }
            json!({"type": "error", "error": err, "request_id": "req_mock"})
        }
        Format::OpenAi => {
            let (ty, code, msg) = match f {
                Fault::RateLimited { .. } => (
                    "requests",
                    "rate_limit_exceeded",
                    "Rate limit reached for requests",
                ),
                Fault::InsufficientQuota => (
                    "insufficient_quota",
                    "insufficient_quota",
                    "You exceeded your current quota, please check your plan and billing details.",
                ),
                Fault::BadRequest => (
                    "invalid_request_error",
                    "invalid_value",
                    "Invalid value for 'messages'.",
                ),
                Fault::Unauthorized => (
                    "invalid_request_error",
                    "invalid_api_key",
                    "Incorrect API key provided.",
                ),
                Fault::PaymentRequired => (
                    "unknown_error",
                    "invalid_request_error",
                    "Insufficient Balance",
                ),
                Fault::Forbidden => (
                    "invalid_request_error",
                    "unsupported_country_region_territory",
                    "Country, region, or territory not supported",
                ),
                Fault::NotFound => (
                    "invalid_request_error",
                    "model_not_found",
                    "The model does not exist or you do not have access to it.",
                ),
                Fault::TooLarge => (
                    "invalid_request_error",
                    "request_too_large",
                    "Request too large.",
                ),
                Fault::ServerError => (
                    "server_error",
                    "server_error",
                    "The server had an error while processing your request.",
                ),
                Fault::Unavailable => (
                    "server_error",
                    "overloaded",
                    "The engine is currently overloaded.",
                ),
                Fault::Overloaded => ("server_error", "overloaded", "Overloaded."),
            };
            json!({"error": {"message": msg, "type": ty, "param": null, "code": code}})
        }
        Format::Gemini => {
            let (st, msg) = match f {
                Fault::RateLimited { .. } | Fault::InsufficientQuota => (
                    "RESOURCE_EXHAUSTED",
                    "Resource has been exhausted (e.g. check quota).",
                ),
                Fault::BadRequest | Fault::TooLarge => {
                    ("INVALID_ARGUMENT", "Request contains an invalid argument.")
                }
                Fault::Unauthorized => (
                    "UNAUTHENTICATED",
                    "Request had invalid authentication credentials.",
                ),
                Fault::PaymentRequired | Fault::Forbidden => {
                    ("PERMISSION_DENIED", "The caller does not have permission.")
                }
                Fault::NotFound => ("NOT_FOUND", "models/x is not found for API version v1beta."),
                Fault::ServerError => ("INTERNAL", "An internal error has occurred."),
                Fault::Unavailable | Fault::Overloaded => (
                    "UNAVAILABLE",
                    "The model is overloaded. Please try again later.",
                ),
            };
            let mut err = json!({"code": status, "message": msg, "status": st});
            match f {
                Fault::RateLimited { retry_after_secs } => {
                    err["details"] = json!([
                        {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                         "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                                         "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
                        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{retry_after_secs}s")}
                    ]);
                }
                Fault::InsufficientQuota => {
                    err["details"] = json!([
                        {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                         "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                                         "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]},
                        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "50s"}
                    ]);
                }
                _ => {}
            }
            json!({"error": err})
        }
    };
    // Gemini carries its wait in the body only; the others send `retry-after`.
    if let Fault::RateLimited { retry_after_secs } = f
        && format != Format::Gemini
    {
        headers.push(("retry-after".to_string(), retry_after_secs.to_string()));
    }
    (status, body.to_string(), headers)
}
