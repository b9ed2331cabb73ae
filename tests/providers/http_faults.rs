//! HTTP provider clients against the loopback provider server: error classes of every fault,
//! truncated and stalled streams, timeouts, cancellation.

use crate::support::loopback::clients::*;
use crate::support::loopback::{Fault, MockProvider, Reply};
use orchestrator_tui::providers::{HttpOptions, HttpProvider, Provider, ProviderError, WireFormat};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

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

/// A server that closes the connection under a request, at once and without answering (what a
/// server closing an idle keep-alive connection looks like to the client that reused it), gets
/// the request again on a fresh connection: the call succeeds and is no fault of the model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_closed_at_once_is_sent_again_on_a_fresh_one() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let mut seen = 0;
        for stream in listener.incoming().take(2) {
            let mut stream = stream.unwrap();
            seen += 1;
            let mut buf = vec![0u8; 64 * 1024];
            let mut got = Vec::new();
            // Read the whole request (headers and the body its Content-Length names).
            loop {
                let n = stream.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            let l = l.to_ascii_lowercase();
                            l.strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if got.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            if seen == 1 {
                drop(stream); // closed under the request, no answer
                continue;
            }
            let body = r#"{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
        }
        seen
    });
    let mut o = orchestrator_tui::providers::HttpOptions::new(
        "local",
        WireFormat::OpenAi,
        &format!("http://127.0.0.1:{port}/v1/"),
        None,
    );
    o.stream = false;
    o.timeouts = crate::support::loopback::clients::fast_timeouts();
    let p = orchestrator_tui::providers::HttpProvider::new(o).unwrap();
    let r = crate::support::loopback::clients::chat(&p, "m").await;
    let r = r.expect("sent again on a fresh connection");
    assert_eq!(r.text, "hello");
    assert_eq!(server.join().unwrap(), 2);
}
