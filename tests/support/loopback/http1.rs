//! Minimal HTTP/1.1 server plumbing: keep-alive connections, `content-length` request bodies,
//! `content-length` or chunked responses written event by event.

use super::render;
use super::{Answer, Format, Recorded, Reply, ReplyKind, State, StreamFault};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};

pub(crate) async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        state.connections.fetch_add(1, Ordering::Relaxed);
        let _ = sock.set_nodelay(true);
        tokio::spawn(serve_connection(sock, state.clone()));
    }
}

struct Incoming {
    rec: Recorded,
    include_usage: bool,
    close: bool,
}

async fn serve_connection(sock: TcpStream, state: Arc<State>) {
    let (rd, mut wr) = sock.into_split();
    let mut rd = BufReader::new(rd);
    while let Some(req) = read_request(&mut rd).await {
        let close = req.close;
        if !respond(&mut wr, &state, req).await || close {
            return;
        }
    }
}

async fn read_request(rd: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<Incoming> {
    let mut line = String::new();
    // Skip stray blank lines between requests.
    loop {
        line.clear();
        if rd.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = BTreeMap::new();
    loop {
        line.clear();
        if rd.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    rd.read_exact(&mut body).await.ok()?;
    let raw_body = String::from_utf8_lossy(&body).into_owned();
    let json: Value = serde_json::from_str(&raw_body).unwrap_or(Value::Null);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target.clone(), None),
    };
    let (format, model, stream) = if path.ends_with("/chat/completions") {
        (
            Some(Format::OpenAi),
            json["model"].as_str().map(str::to_string),
            json["stream"] == true,
        )
    } else if path.ends_with("/v1/messages") {
        (
            Some(Format::Anthropic),
            json["model"].as_str().map(str::to_string),
            json["stream"] == true,
        )
    } else if let Some(rest) = path.split_once("/v1beta/models/").map(|(_, r)| r) {
        match rest.split_once(':') {
            Some((m, method)) => (
                Some(Format::Gemini),
                Some(m.to_string()),
                method == "streamGenerateContent",
            ),
            None => (None, None, false),
        }
    } else {
        (None, None, false)
    };
    let include_usage = json["stream_options"]["include_usage"] == true;
    let close = headers
        .get("connection")
        .is_some_and(|v| v.eq_ignore_ascii_case("close"));
    Some(Incoming {
        rec: Recorded {
            method,
            path,
            query,
            headers,
            body: json,
            raw_body,
            format,
            model,
            stream,
        },
        include_usage,
        close,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Status",
    }
}

fn head(
    status: u16,
    content_type: &str,
    length: Option<usize>,
    extra: &[(String, String)],
) -> String {
    let mut h = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\n",
        reason(status)
    );
    match length {
        Some(n) => h.push_str(&format!("content-length: {n}\r\n")),
        None => h.push_str("transfer-encoding: chunked\r\ncache-control: no-cache\r\n"),
    }
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h
}

fn chunk(buf: &mut Vec<u8>, data: &str) {
    if !data.is_empty() {
        buf.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
        buf.extend_from_slice(data.as_bytes());
        buf.extend_from_slice(b"\r\n");
    }
}

async fn write_json(
    wr: &mut OwnedWriteHalf,
    status: u16,
    body: &str,
    extra: &[(String, String)],
) -> bool {
    let mut out = head(status, "application/json", Some(body.len()), extra).into_bytes();
    out.extend_from_slice(body.as_bytes());
    wr.write_all(&out).await.is_ok()
}

/// Answer one request; false when the connection must be dropped.
async fn respond(wr: &mut OwnedWriteHalf, state: &State, req: Incoming) -> bool {
    let Incoming {
        rec, include_usage, ..
    } = req;
    if rec.format.is_none()
        && let Some((status, body)) = state.discovery(&rec)
    {
        return write_json(wr, status, &body, &[]).await;
    }
    let (Some(format), Some(model)) = (rec.format, rec.model.clone()) else {
        state.record(rec);
        return write_json(
            wr,
            404,
            r#"{"error":{"message":"no such route","code":404}}"#,
            &[],
        )
        .await;
    };
    let stream = rec.stream;
    if let Some(body) = state.over_context(&model, &rec) {
        state.record(rec);
        return write_json(wr, 400, &body, &[]).await;
    }
    let reply: Reply = state.next_reply(&model);
    state.record(rec);
    if !reply.first_byte_delay.is_zero() {
        tokio::time::sleep(reply.first_byte_delay).await;
    }
    match reply.kind {
        ReplyKind::Fault(f) => {
            let (status, body, mut headers) = render::fault(format, f);
            headers.extend(reply.headers);
            write_json(wr, status, &body, &headers).await
        }
        ReplyKind::Status { status, body } => write_json(wr, status, &body, &reply.headers).await,
        ReplyKind::RawSse(pieces) => {
            let mut out = head(200, "text/event-stream", None, &reply.headers).into_bytes();
            if wr.write_all(&out).await.is_err() {
                return false;
            }
            for p in pieces {
                out.clear();
                chunk(&mut out, &p);
                if wr.write_all(&out).await.is_err() {
                    return false;
                }
            }
            wr.write_all(b"0\r\n\r\n").await.is_ok()
        }
        ReplyKind::Flood {
            content_type,
            head: first,
            piece,
            bytes,
            tail,
            declare_length,
        } => {
            let total = first.len() + bytes + tail.len();
            let length = declare_length.then_some(total);
            let out = head(200, &content_type, length, &reply.headers).into_bytes();
            flood(wr, out, &first, &piece, bytes, &tail, declare_length).await
        }
        ReplyKind::Answer(a) if stream && !a.ignore_stream => {
            let events = render::sse_events(format, &model, &a, include_usage);
            stream_events(wr, &a, events, &reply.headers).await
        }
        ReplyKind::Answer(a) => {
            let body = render::json_body(format, &model, &a);
            write_json(wr, 200, &body, &reply.headers).await
        }
    }
}

/// Write `first`, `piece` up to `bytes` (the last one cut to fit), then `tail`, each as it goes:
/// memory stays at one piece whatever the size. False once the client hung up.
async fn flood(
    wr: &mut OwnedWriteHalf,
    mut out: Vec<u8>,
    first: &str,
    piece: &str,
    bytes: usize,
    tail: &str,
    plain: bool,
) -> bool {
    let put = |out: &mut Vec<u8>, data: &[u8]| {
        if plain {
            out.extend_from_slice(data);
        } else if !data.is_empty() {
            out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
    };
    put(&mut out, first.as_bytes());
    let mut left = bytes;
    while left > 0 && !piece.is_empty() {
        let n = left.min(piece.len());
        put(&mut out, &piece.as_bytes()[..n]);
        left -= n;
        if wr.write_all(&out).await.is_err() {
            return false;
        }
        out.clear();
    }
    put(&mut out, tail.as_bytes());
    if !plain {
        out.extend_from_slice(b"0\r\n\r\n");
    }
    wr.write_all(&out).await.is_ok()
}

async fn stream_events(
    wr: &mut OwnedWriteHalf,
    a: &Answer,
    events: Vec<String>,
    extra: &[(String, String)],
) -> bool {
    let mut out = head(200, "text/event-stream", None, extra).into_bytes();
    let plain = a.fault == StreamFault::None && a.event_delay.is_zero() && !a.keep_alive;
    if plain {
        // Fast path (benchmarks): the whole response in one write.
        for e in &events {
            chunk(&mut out, e);
        }
        out.extend_from_slice(b"0\r\n\r\n");
        return wr.write_all(&out).await.is_ok();
    }
    if wr.write_all(&out).await.is_err() {
        return false;
    }
    for (i, e) in events.iter().enumerate() {
        match a.fault {
            StreamFault::TruncateAfter(n) if i == n => break,
            StreamFault::ResetAfter(n) if i == n => {
                let _ = wr.flush().await;
                return false;
            }
            StreamFault::StallAfter(n, d) if i == n => tokio::time::sleep(d).await,
            _ => {}
        }
        if i > 0 && !a.event_delay.is_zero() {
            tokio::time::sleep(a.event_delay).await;
        }
        out.clear();
        if a.keep_alive {
            chunk(&mut out, ": keep-alive\n\n");
            if wr.write_all(&out).await.is_err() {
                return false;
            }
            out.clear();
        }
        chunk(&mut out, e);
        if wr.write_all(&out).await.is_err() {
            return false;
        }
    }
    wr.write_all(b"0\r\n\r\n").await.is_ok()
}
