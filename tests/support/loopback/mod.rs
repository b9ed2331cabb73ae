//! A programmable loopback provider server for tests and benchmarks.
//!
//! It listens on `127.0.0.1:0`, speaks HTTP/1.1 with keep-alive, and answers the three wire
//! formats our clients use, streamed (SSE, chunked) or not, deciding by the request:
//! - `POST …/chat/completions` — OpenAI format (`model` and `stream` from the body);
//! - `POST …/v1/messages` — Anthropic Messages;
//! - `POST …/v1beta/models/{model}:generateContent` / `:streamGenerateContent?alt=sse` — Gemini.
//!
//! Replies are scripted per model ([`MockProvider::script`]); the last scripted reply repeats.
//! Unscripted models get [`MockProvider::set_default`] (a short text answer unless changed).
//! Every request is recorded (method, path, query, lowercased headers, body).
//!
//! ```ignore
//! let server = MockProvider::start().await;
//! server.script("gpt-4o", [Reply::fault(Fault::RateLimited { retry_after_secs: 2 }), Reply::text("ok")]);
//! // point a client at server.openai_base_url() / server.base_url()
//! ```
#![allow(dead_code)]

pub mod clients;
mod http1;
pub mod proxy;
mod render;
pub mod tls;

use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Which wire format a request used (from its path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    OpenAi,
    Anthropic,
    Gemini,
}

/// Token counts of an answer, in normalised terms; the server renders them per format (OpenAI
/// `prompt_tokens = input + cached`, `completion_tokens = output + reasoning`; Anthropic
/// `input_tokens = input`, `cache_read_input_tokens = cached`; Gemini `promptTokenCount = input
/// + cached`, `thoughtsTokenCount = reasoning`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MockUsage {
    pub input: u64,
    pub cached: u64,
    pub output: u64,
    pub reasoning: u64,
}

/// What goes wrong in a streamed answer, counted in SSE events sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamFault {
    #[default]
    None,
    /// Send this many events, then end the body cleanly (no terminal event).
    TruncateAfter(usize),
    /// Send this many events, then go silent for the duration, then carry on.
    StallAfter(usize, Duration),
    /// Send this many events, then drop the connection mid-body.
    ResetAfter(usize),
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub text: String,
    pub usage: MockUsage,
    /// Number of text deltas the text is cut into when streamed.
    pub chunks: usize,
    /// Format-native finish reason; `None` uses `stop` / `end_turn` / `STOP`.
    pub finish_reason: Option<String>,
    pub fault: StreamFault,
    /// Pause between streamed events.
    pub event_delay: Duration,
    /// OpenAI format: DeepSeek usage fields (`prompt_cache_hit_tokens`/`_miss_tokens`).
    pub deepseek_usage: bool,
    /// Insert `: keep-alive` comment lines between streamed events.
    pub keep_alive: bool,
    /// Answer with one JSON document even when the request asked for a stream.
    pub ignore_stream: bool,
    /// Anthropic format: `cache_creation_input_tokens` (input tokens written to the cache, on
    /// top of `usage.input`); the other formats report no cache writes.
    pub cache_write: u64,
}

/// Provider errors, rendered in each format's native error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `retry-after` (and Gemini `RetryInfo`).
    RateLimited {
        retry_after_secs: u64,
    },
    /// 429 out of quota: OpenAI `insufficient_quota`, Anthropic spend cap, Gemini per-day quota.
    InsufficientQuota,
    BadRequest,
    Unauthorized,
    PaymentRequired,
    Forbidden,
    NotFound,
    TooLarge,
    ServerError,
    Unavailable,
    /// 529 (Anthropic overloaded; other formats get it too).
    Overloaded,
}

impl Fault {
    pub fn status(self) -> u16 {
        match self {
            Fault::RateLimited { .. } | Fault::InsufficientQuota => 429,
            Fault::BadRequest => 400,
            Fault::Unauthorized => 401,
            Fault::PaymentRequired => 402,
            Fault::Forbidden => 403,
            Fault::NotFound => 404,
            Fault::TooLarge => 413,
            Fault::ServerError => 500,
            Fault::Unavailable => 503,
            Fault::Overloaded => 529,
        }
    }
}

#[derive(Debug, Clone)]
pub enum ReplyKind {
    Answer(Answer),
    Fault(Fault),
    /// Any status with a literal body (`content-type: application/json`).
    Status {
        status: u16,
        body: String,
    },
    /// A 200 `text/event-stream` made of these literal pieces, each written as its own chunk
    /// (include the `\n\n` yourself).
    RawSse(Vec<String>),
    /// A 200 of `content_type` whose body is `head`, then `piece` repeated until `bytes` are
    /// written, then `tail`: a huge body that the server never holds in memory. With
    /// `declare_length` the total is sent as `content-length` (the client may refuse it unread),
    /// otherwise the body is chunked.
    Flood {
        content_type: String,
        head: String,
        piece: String,
        bytes: usize,
        tail: String,
        declare_length: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub kind: ReplyKind,
    /// Sleep before writing anything (a slow first byte).
    pub first_byte_delay: Duration,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
}

impl Reply {
    fn of(kind: ReplyKind) -> Self {
        Reply {
            kind,
            first_byte_delay: Duration::ZERO,
            headers: Vec::new(),
        }
    }

    /// A text answer with small default usage.
    pub fn text(text: &str) -> Self {
        Self::of(ReplyKind::Answer(Answer {
            text: text.to_string(),
            usage: MockUsage {
                input: 10,
                cached: 0,
                output: 5,
                reasoning: 0,
            },
            chunks: 3,
            finish_reason: None,
            fault: StreamFault::None,
            event_delay: Duration::ZERO,
            deepseek_usage: false,
            keep_alive: false,
            ignore_stream: false,
            cache_write: 0,
        }))
    }

    pub fn fault(f: Fault) -> Self {
        Self::of(ReplyKind::Fault(f))
    }

    pub fn status(status: u16, body: &str) -> Self {
        Self::of(ReplyKind::Status {
            status,
            body: body.to_string(),
        })
    }

    pub fn raw_sse<S: Into<String>>(pieces: impl IntoIterator<Item = S>) -> Self {
        Self::of(ReplyKind::RawSse(
            pieces.into_iter().map(Into::into).collect(),
        ))
    }

    /// An SSE stream of whole `piece` events (include the `\n\n`) making at least `bytes`,
    /// then `tail`.
    pub fn sse_flood(piece: &str, bytes: usize, tail: &str) -> Self {
        Self::of(ReplyKind::Flood {
            content_type: "text/event-stream".into(),
            head: String::new(),
            piece: piece.to_string(),
            bytes: bytes.div_ceil(piece.len().max(1)) * piece.len(),
            tail: tail.to_string(),
            declare_length: false,
        })
    }

    /// A JSON document of `bytes` bytes: `head`, filler `x`s, `tail` (so it can be a valid
    /// answer whose text is the filler).
    pub fn json_flood(head: &str, bytes: usize, tail: &str, declare_length: bool) -> Self {
        Self::of(ReplyKind::Flood {
            content_type: "application/json".into(),
            head: head.to_string(),
            piece: "x".repeat(64 * 1024),
            bytes: bytes.saturating_sub(head.len() + tail.len()),
            tail: tail.to_string(),
            declare_length,
        })
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn first_byte_delay(mut self, d: Duration) -> Self {
        self.first_byte_delay = d;
        self
    }

    fn answer(mut self, f: impl FnOnce(&mut Answer)) -> Self {
        if let ReplyKind::Answer(a) = &mut self.kind {
            f(a);
        }
        self
    }

    pub fn usage(self, u: MockUsage) -> Self {
        self.answer(|a| a.usage = u)
    }
    pub fn chunks(self, n: usize) -> Self {
        self.answer(|a| a.chunks = n.max(1))
    }
    pub fn finish_reason(self, r: &str) -> Self {
        self.answer(|a| a.finish_reason = Some(r.to_string()))
    }
    pub fn truncate_after(self, events: usize) -> Self {
        self.answer(|a| a.fault = StreamFault::TruncateAfter(events))
    }
    pub fn stall_after(self, events: usize, d: Duration) -> Self {
        self.answer(|a| a.fault = StreamFault::StallAfter(events, d))
    }
    pub fn reset_after(self, events: usize) -> Self {
        self.answer(|a| a.fault = StreamFault::ResetAfter(events))
    }
    pub fn event_delay(self, d: Duration) -> Self {
        self.answer(|a| a.event_delay = d)
    }
    pub fn cache_write(self, tokens: u64) -> Self {
        self.answer(|a| a.cache_write = tokens)
    }
    pub fn deepseek_usage(self) -> Self {
        self.answer(|a| a.deepseek_usage = true)
    }
    pub fn keep_alive(self) -> Self {
        self.answer(|a| a.keep_alive = true)
    }
    pub fn ignore_stream(self) -> Self {
        self.answer(|a| a.ignore_stream = true)
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path without the query.
    pub path: String,
    pub query: Option<String>,
    /// Header names lowercased; a repeated header keeps its last value.
    pub headers: BTreeMap<String, String>,
    pub body: Value,
    pub raw_body: String,
    pub format: Option<Format>,
    pub model: Option<String>,
    pub stream: bool,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// Characters of every message's text in a request body (OpenAI `messages`, Anthropic `system`
/// + `messages`, Gemini `contents`/`systemInstruction` parts).
pub fn prompt_chars(body: &Value) -> usize {
    fn text(v: &Value) -> usize {
        match v {
            Value::String(s) => s.chars().count(),
            Value::Array(a) => a.iter().map(text).sum(),
            Value::Object(o) => o
                .iter()
                .filter(|(k, _)| matches!(k.as_str(), "content" | "text" | "parts"))
                .map(|(_, v)| text(v))
                .sum(),
            _ => 0,
        }
    }
    ["system", "messages", "contents", "systemInstruction"]
        .iter()
        .filter_map(|k| body.get(*k))
        .map(|v| match v {
            Value::String(s) => s.chars().count(),
            Value::Array(a) => a.iter().map(text).sum(),
            v => text(v),
        })
        .sum()
}

#[derive(Default)]
struct Script {
    by_model: HashMap<String, VecDeque<Reply>>,
    default: Option<Reply>,
}

pub(crate) struct State {
    script: Mutex<Script>,
    requests: Mutex<Vec<Recorded>>,
    /// Context-window discovery routes (`/props`, `/v1/models`, `/api/show`): path -> (status,
    /// body); unlisted ones answer 404. Their requests are kept apart from `requests`.
    discovery: Mutex<HashMap<String, (u16, String)>>,
    discovery_requests: Mutex<Vec<Recorded>>,
    /// Per model: prompts longer than this many characters get this 400 body (a server's
    /// context window), before any scripted reply is used.
    context_limits: Mutex<HashMap<String, (usize, String)>>,
    record: std::sync::atomic::AtomicBool,
    connections: AtomicUsize,
    served: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl State {
    /// The next reply for `model`: scripted ones in order, the last one repeating.
    pub(crate) fn next_reply(&self, model: &str) -> Reply {
        let mut s = lock(&self.script);
        if let Some(q) = s.by_model.get_mut(model) {
            if q.len() > 1
                && let Some(r) = q.pop_front()
            {
                return r;
            }
            if let Some(r) = q.front() {
                return r.clone();
            }
        }
        s.default
            .clone()
            .unwrap_or_else(|| Reply::text("mock answer"))
    }

    /// The answer of a discovery route, if `path` is one (recorded apart).
    pub(crate) fn discovery(&self, r: &Recorded) -> Option<(u16, String)> {
        let p = r.path.as_str();
        if !(p == "/props" || p.ends_with("/models") || p == "/api/show") {
            return None;
        }
        lock(&self.discovery_requests).push(r.clone());
        Some(lock(&self.discovery).get(p).cloned().unwrap_or((
            404,
            r#"{"error":{"message":"no such route","code":404}}"#.to_string(),
        )))
    }

    /// The 400 body for a request to `model` whose messages are over its context limit.
    pub(crate) fn over_context(&self, model: &str, r: &Recorded) -> Option<String> {
        let (max, body) = lock(&self.context_limits).get(model).cloned()?;
        (prompt_chars(&r.body) > max).then_some(body)
    }

    pub(crate) fn record(&self, r: Recorded) {
        self.served.fetch_add(1, Ordering::Relaxed);
        if self.record.load(Ordering::Relaxed) {
            lock(&self.requests).push(r);
        }
    }
}

/// The running server; stops accepting when dropped.
pub struct MockProvider {
    addr: SocketAddr,
    state: Arc<State>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl MockProvider {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State {
            script: Mutex::new(Script::default()),
            requests: Mutex::new(Vec::new()),
            discovery: Mutex::new(HashMap::new()),
            discovery_requests: Mutex::new(Vec::new()),
            context_limits: Mutex::new(HashMap::new()),
            record: std::sync::atomic::AtomicBool::new(true),
            connections: AtomicUsize::new(0),
            served: AtomicUsize::new(0),
        });
        let accept = tokio::spawn(http1::accept_loop(listener, state.clone()));
        MockProvider {
            addr,
            state,
            accept,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` — the base URL for Anthropic and Gemini clients.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1` — the base URL for OpenAI-format clients.
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Replace the script of `model`: replies in order, the last one repeating.
    pub fn script(&self, model: &str, replies: impl IntoIterator<Item = Reply>) {
        let q: VecDeque<Reply> = replies.into_iter().collect();
        lock(&self.state.script)
            .by_model
            .insert(model.to_string(), q);
    }

    /// Reply for every model without a script.
    pub fn set_default(&self, reply: Reply) {
        lock(&self.state.script).default = Some(reply);
    }

    /// Stop (or resume) recording requests (benchmarks).
    pub fn set_recording(&self, on: bool) {
        self.state.record.store(on, Ordering::Relaxed);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state.requests).clone()
    }

    pub fn last_request(&self) -> Recorded {
        self.requests().pop().expect("no request recorded")
    }

    pub fn requests_for(&self, model: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.model.as_deref() == Some(model))
            .collect()
    }

    /// Answer the context-window discovery route `path` (`/props`, `/v1/models`, `/api/show`).
    pub fn serve_discovery(&self, path: &str, status: u16, body: &str) {
        lock(&self.state.discovery).insert(path.to_string(), (status, body.to_string()));
    }

    /// Answer `model`'s requests whose messages (system included) are over `max_chars`
    /// characters with a 400 `body`, as a server with a small context window does.
    pub fn limit_context(&self, model: &str, max_chars: usize, body: &str) {
        lock(&self.state.context_limits).insert(model.to_string(), (max_chars, body.to_string()));
    }

    /// Requests to the discovery routes (not in [`Self::requests`]).
    pub fn discovery_requests(&self) -> Vec<Recorded> {
        lock(&self.state.discovery_requests).clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.state.requests).clear();
    }

    /// TCP connections accepted so far (pooling checks).
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::Relaxed)
    }

    /// Requests answered so far, recorded or not.
    pub fn served(&self) -> usize {
        self.state.served.load(Ordering::Relaxed)
    }
}
