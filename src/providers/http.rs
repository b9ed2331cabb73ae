//! Real HTTP provider clients: one [`HttpProvider`] per configured provider, sharing one pooled
//! `reqwest::Client` (rustls, HTTP/2 when the server offers it over ALPN), speaking one of three
//! wire formats (`anthropic.rs`, `openai.rs`, `gemini.rs`). Responses are streamed (SSE) by
//! default so time to first token is known and an idle timeout applies between chunks.
//!
//! Keys are held in memory only, sent as sensitive headers, and scrubbed from error messages.

use super::classify::{self, WireFormat};
use super::openai::{self, Vendor};
use super::sse::{SseError, SseEvent, SseParser};
use super::structured::{Learned, StructuredMemory, StructuredMode, rejects_structured};
use super::tls::{TlsError, Trust};
use super::transport::{
    Clock, MAX_BODY, StreamDecoder, oversized, read_capped, read_limited, transport_error,
};
use super::{ChatRequest, ChatResponse, Provider, ProviderError, Timeouts, Usage};
use super::{anthropic, gemini};
use crate::config::{AuthStyle, Config, ProviderConfig, ProviderKind, StructuredOutput};
use async_trait::async_trait;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Everything needed to build one client.
#[derive(Clone)]
pub struct HttpOptions {
    /// Provider name as in the config (`openai`, `deepseek`, `local`, ...).
    pub name: String,
    pub format: WireFormat,
    /// Base URL; OpenAI format includes the version (`.../v1`), the others do not.
    pub base_url: String,
    /// `None` for keyless local servers (OpenAI format only).
    pub key: Option<String>,
    pub timeouts: Timeouts,
    /// Ask for SSE streaming (default). Without it the body is one JSON document.
    pub stream: bool,
    /// Size limit of a 200 answer in bytes, streamed or not ([`MAX_BODY`] by default).
    pub max_body: usize,
    /// `structured_output` of the provider's config (auto by default).
    pub structured: StructuredOutput,
    /// Modes learned per model; the registry shares one among its clients.
    pub memory: Arc<StructuredMemory>,
    /// Extra headers of hosted services (OpenRouter's `HTTP-Referer`, `X-Title`, ...).
    pub headers: Vec<(String, String)>,
    /// Azure OpenAI: `?api-version=` on every call.
    pub api_version: Option<String>,
    /// How the key is sent in the OpenAI format: `Authorization: Bearer` or `api-key` (Azure).
    pub auth: AuthStyle,
    /// Certificate authorities trusted beyond webpki's roots; `None`: the process's
    /// ([`Trust::from_env`]: the system store, `SSL_CERT_FILE`, `SSL_CERT_DIR`).
    pub trust: Option<Arc<Trust>>,
}

impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOptions")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("base_url", &self.base_url)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("timeouts", &self.timeouts)
            .field("stream", &self.stream)
            .field("max_body", &self.max_body)
            .field("structured", &self.structured)
            // Header values may hold account or project ids: names only.
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("api_version", &self.api_version)
            .field("auth", &self.auth)
            .field("trust", &self.trust.as_ref().map(|t| t.len()))
            .finish()
    }
}

impl HttpOptions {
    pub fn new(name: &str, format: WireFormat, base_url: &str, key: Option<String>) -> Self {
        HttpOptions {
            name: name.to_string(),
            format,
            base_url: base_url.to_string(),
            key,
            timeouts: Timeouts::default(),
            stream: true,
            max_body: MAX_BODY,
            structured: StructuredOutput::Auto,
            memory: StructuredMemory::new(),
            headers: vec![],
            api_version: None,
            auth: AuthStyle::Bearer,
            trust: None,
        }
    }
}

/// One provider's client.
pub struct HttpProvider {
    name: String,
    format: WireFormat,
    vendor: Vendor,
    base_url: String,
    key: Option<String>,
    auth: HeaderMap,
    client: reqwest::Client,
    timeouts: Timeouts,
    stream: bool,
    max_body: usize,
    structured: StructuredOutput,
    memory: Arc<StructuredMemory>,
    /// Query string appended to OpenAI-format endpoints (`?api-version=...`), or empty.
    query: String,
}

impl std::fmt::Debug for HttpProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProvider")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("base_url", &self.base_url)
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

/// Why a provider's client could not be built (the message never contains the key).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("set `providers.{0}.base_url`")]
    NoBaseUrl(String),
    /// `reason`: the URL parser's message (its error type is not re-exported by reqwest).
    #[error("invalid base_url `{url}`: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("base_url `{0}` must be http or https")]
    Scheme(String),
    #[error("provider `{name}` needs an API key ({format} format)")]
    NeedsKey { name: String, format: &'static str },
    #[error("the API key contains characters not allowed in a header")]
    KeyNotAHeader,
    #[error("header `{0}` is not a valid HTTP header name and value")]
    BadHeader(String),
    #[error("api_version `{0}` may only hold letters, digits, `-` and `.`")]
    BadApiVersion(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(reqwest::Error),
    /// `SSL_CERT_FILE` / `SSL_CERT_DIR` cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Build the client for one configured provider (called by the registry).
pub fn build(
    name: &str,
    p: &ProviderConfig,
    key: Option<String>,
    cfg: &Config,
) -> Result<Arc<dyn Provider>, ClientError> {
    build_with(name, p, key, cfg, StructuredMemory::new())
}

/// [`build`] sharing `memory` (the registry's) for learned structured-output modes.
pub fn build_with(
    name: &str,
    p: &ProviderConfig,
    key: Option<String>,
    cfg: &Config,
    memory: Arc<StructuredMemory>,
) -> Result<Arc<dyn Provider>, ClientError> {
    let format = match p.kind {
        Some(k) => wire_format(k),
        None => match name {
            "anthropic" => WireFormat::Anthropic,
            "google" | "gemini" => WireFormat::Gemini,
            _ => WireFormat::OpenAi,
        },
    };
    let base_url = match p.base_url.as_deref().filter(|u| !u.trim().is_empty()) {
        Some(u) => u.trim().to_string(),
        None => default_base_url(name, format)
            .ok_or_else(|| ClientError::NoBaseUrl(name.to_string()))?,
    };
    let mut opts = HttpOptions::new(name, format, &base_url, key);
    opts.timeouts = Timeouts::from_config(&cfg.timeouts);
    if let Some(secs) = p.timeout_secs {
        // The provider's own limit of a whole call replaces `[timeouts] total_secs`.
        opts.timeouts.total = Duration::from_secs(secs);
    }
    opts.structured = p.structured_output;
    opts.memory = memory;
    opts.headers = p
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    opts.api_version = p.api_version.clone();
    opts.auth = p.auth.unwrap_or(AuthStyle::Bearer);
    Ok(Arc::new(HttpProvider::new(opts)?))
}

/// A provider configured without a base URL takes the one the embedded defaults
/// (`assets/config.default.toml`) give its namesake, or, for the Anthropic and Gemini formats, the
/// one provider of that format there (`moonshot` is Kimi's other name).
fn default_base_url(name: &str, format: WireFormat) -> Option<String> {
    let defaults = Config::defaults();
    let of_format = |n: &str| {
        defaults
            .providers
            .get(n)
            .filter(|p| p.kind.map(wire_format) == Some(format))
            .and_then(|p| p.base_url.clone())
    };
    match format {
        WireFormat::Anthropic => of_format("anthropic"),
        WireFormat::Gemini => of_format("google"),
        WireFormat::OpenAi if name == "moonshot" => of_format("kimi"),
        WireFormat::OpenAi => of_format(name),
    }
}

fn wire_format(k: ProviderKind) -> WireFormat {
    match k {
        ProviderKind::Anthropic => WireFormat::Anthropic,
        ProviderKind::Gemini => WireFormat::Gemini,
        ProviderKind::Openai => WireFormat::OpenAi,
    }
}

impl HttpProvider {
    /// Validate the options and build the pooled client. Errors never contain the key.
    pub fn new(opts: HttpOptions) -> Result<Self, ClientError> {
        let base_url = opts.base_url.trim().trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&base_url).map_err(|e| ClientError::BadUrl {
            url: base_url.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ClientError::Scheme(base_url));
        }
        let key = opts.key.filter(|k| !k.trim().is_empty());
        if key.is_none() && opts.format != WireFormat::OpenAi {
            return Err(ClientError::NeedsKey {
                name: opts.name,
                format: opts.format.as_str(),
            });
        }
        let mut auth = auth_headers(opts.format, key.as_deref(), opts.auth)?;
        for (k, v) in &opts.headers {
            // Credentials go through `api_key_env` only (config::presets refuses them here too).
            if crate::config::presets::is_secret_header(k) {
                return Err(ClientError::BadHeader(k.clone()));
            }
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| ClientError::BadHeader(k.clone()))?;
            let mut value =
                HeaderValue::from_str(v).map_err(|_| ClientError::BadHeader(k.clone()))?;
            // Values may name accounts or projects: kept out of any debug dump.
            value.set_sensitive(true);
            auth.insert(name, value);
        }
        let query = match opts.api_version.as_deref().map(str::trim) {
            Some(v) if !v.is_empty() => {
                if !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                {
                    return Err(ClientError::BadApiVersion(v.to_string()));
                }
                format!("?api-version={v}")
            }
            _ => String::new(),
        };
        let trust = match opts.trust {
            Some(t) => t,
            None => Trust::from_env()?,
        };
        // System proxies (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY) are honoured: reqwest's
        // default, kept on purpose (README Networks).
        let client = trust
            .apply(reqwest::Client::builder())
            .use_rustls_tls()
            // Never follow redirects: they would carry `x-api-key` / `x-goog-api-key` elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(opts.timeouts.connect.min(opts.timeouts.total))
            .pool_idle_timeout(pool_idle(&base_url))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .tcp_keepalive(Duration::from_secs(30))
            .user_agent(concat!("orchestrator-tui/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientError::Client)?;
        Ok(HttpProvider {
            vendor: Vendor::detect(&opts.name, &base_url),
            name: opts.name,
            format: opts.format,
            base_url,
            key,
            auth,
            client,
            timeouts: opts.timeouts,
            stream: opts.stream,
            max_body: opts.max_body.max(1),
            structured: opts.structured,
            memory: opts.memory,
            query,
        })
    }

    pub fn format(&self) -> WireFormat {
        self.format
    }

    /// The base URL with any trailing `/` trimmed.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// The URL a call to `model` posts to.
    pub fn endpoint(&self, model: &str, stream: bool) -> String {
        match self.format {
            WireFormat::Anthropic => format!("{}/v1/messages", self.base_url),
            WireFormat::OpenAi => format!("{}/chat/completions{}", self.base_url, self.query),
            WireFormat::Gemini => gemini::endpoint(&self.base_url, model, stream),
        }
    }

    /// The JSON body a call sends now (exposed for tests and diagnostics).
    pub fn request_body(&self, req: &ChatRequest, stream: bool) -> serde_json::Value {
        self.body_in(req, stream, self.start_mode(&req.model))
    }

    fn body_in(&self, req: &ChatRequest, stream: bool, mode: StructuredMode) -> serde_json::Value {
        match self.format {
            WireFormat::Anthropic => anthropic::body(req, stream, mode),
            WireFormat::OpenAi => openai::body(req, stream, self.vendor, mode),
            WireFormat::Gemini => gemini::body(req, mode),
        }
    }

    /// The structured-output mode a call to `model` starts in: the forced one, else the one
    /// learned for it on this server, else the richest the format has.
    pub fn start_mode(&self, model: &str) -> StructuredMode {
        StructuredMode::forced(self.structured, self.format).unwrap_or_else(|| {
            self.memory
                .get(&self.name, model, &self.base_url)
                .unwrap_or(StructuredMode::richest(self.format))
        })
    }

    /// The shared memory of learned modes.
    pub fn structured_memory(&self) -> &Arc<StructuredMemory> {
        &self.memory
    }

    /// One call, stepping down the structured-output modes (auto only) while the server
    /// rejects the structured parameter: the engine sees one call either way.
    async fn call_structured(
        &self,
        req: &ChatRequest,
        cancel: &CancellationToken,
    ) -> Result<ChatResponse, ProviderError> {
        let mut mode = self.start_mode(&req.model);
        let auto = self.structured == StructuredOutput::Auto;
        loop {
            let r = self.call(req, mode, cancel).await;
            let next = match &r {
                Err(ProviderError::Request { status, message })
                    if auto && req.schema.is_some() && rejects_structured(*status, message) =>
                {
                    mode.next(self.format)
                }
                _ => None,
            };
            let Some(next) = next else {
                return r;
            };
            tracing::info!(
                provider = %self.name,
                model = %req.model,
                from = mode.as_str(),
                to = next.as_str(),
                "structured output rejected by the server; stepping down"
            );
            self.memory.learn(Learned {
                provider: self.name.clone(),
                model: req.model.clone(),
                base_url: self.base_url.clone(),
                mode: next,
            });
            mode = next;
        }
    }

    async fn call(
        &self,
        req: &ChatRequest,
        mode: StructuredMode,
        cancel: &CancellationToken,
    ) -> Result<ChatResponse, ProviderError> {
        if cancel.is_cancelled() {
            return Err(ProviderError::Cancelled);
        }
        let body = serde_json::to_vec(&self.body_in(req, self.stream, mode)).map_err(|e| {
            ProviderError::Request {
                status: None,
                message: format!("cannot encode the request: {e}"),
            }
        })?;
        let mut clock = Clock::start(self.timeouts);
        let request = self
            .client
            .post(self.endpoint(&req.model, self.stream))
            .headers(self.auth.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .body(body);
        let again = request.try_clone();
        let sent = std::time::Instant::now();
        let mut resp = match clock.guard(request.send(), cancel).await? {
            Ok(r) => r,
            // A pooled connection the server was closing as it was reused: the request never
            // reached it. Once more on a fresh connection, not as a fault of the model.
            Err(e) if stale_connection(&e) && sent.elapsed() < STALE_WINDOW => match again {
                Some(again) => {
                    tracing::debug!(provider = %self.name, "connection closed at once: sent again");
                    clock
                        .guard(again.send(), cancel)
                        .await?
                        .map_err(|e| self.send_error(&e))?
                }
                None => return Err(self.send_error(&e)),
            },
            Err(e) => return Err(self.send_error(&e)),
        };
        let status = resp.status();
        if !status.is_success() {
            let headers = std::mem::take(resp.headers_mut());
            let text = read_capped(&mut resp, &mut clock, cancel, 64 * 1024).await?;
            return Err(classify::classify(
                status.as_u16(),
                &headers,
                &text,
                self.format,
            ));
        }
        let is_sse = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
        if is_sse {
            self.read_stream(resp, req, clock, cancel).await
        } else {
            let text = read_limited(&mut resp, &mut clock, cancel, self.max_body).await?;
            let mut out = match self.format {
                WireFormat::Anthropic => anthropic::decode_full(&text),
                WireFormat::OpenAi => openai::decode_full(&text),
                WireFormat::Gemini => gemini::decode_full(&text),
            }?;
            fill_missing_usage(&mut out, req);
            Ok(out)
        }
    }

    async fn read_stream(
        &self,
        mut resp: reqwest::Response,
        req: &ChatRequest,
        mut clock: Clock,
        cancel: &CancellationToken,
    ) -> Result<ChatResponse, ProviderError> {
        let mut decoder: Box<dyn StreamDecoder> = match self.format {
            WireFormat::Anthropic => Box::<anthropic::Stream>::default(),
            WireFormat::OpenAi => Box::<openai::Stream>::default(),
            WireFormat::Gemini => Box::<gemini::Stream>::default(),
        };
        let mut parser = SseParser::with_max_line(SseParser::DEFAULT_MAX_LINE.min(self.max_body));
        // Bytes of the body so far: a stream is capped like a whole body (a server streaming
        // without end must neither fill memory nor be charged by its length).
        let mut received: usize = 0;
        let mut events: Vec<SseEvent> = Vec::new();
        let mut ttft: Option<Duration> = None;
        let mut done = false;
        let mut eof = false;
        while !done {
            let chunk = clock
                .guard(resp.chunk(), cancel)
                .await?
                .map_err(|e| transport_error(&e, "reading the stream"))?;
            match chunk {
                Some(bytes) => {
                    clock.got_bytes();
                    received = received.saturating_add(bytes.len());
                    if received > self.max_body {
                        return Err(oversized("streamed response body", self.max_body));
                    }
                    parser
                        .feed(&bytes, &mut events)
                        .map_err(|SseError::LineTooLong(n)| oversized("an SSE line", n))?;
                }
                None => {
                    events.extend(parser.finish());
                    done = true;
                    eof = true;
                }
            }
            for ev in events.drain(..) {
                let step = decoder.on_event(&ev)?;
                if step.token && ttft.is_none() {
                    ttft = Some(clock.elapsed());
                }
                if step.done {
                    done = true;
                    break;
                }
            }
        }
        let mut out = decoder.finish()?;
        out.ttft = ttft.or(Some(clock.elapsed()));
        fill_missing_usage(&mut out, req);
        if !eof {
            // Let the connection go back to the pool when the body end is already on its way.
            let _ = tokio::time::timeout(Duration::from_millis(20), resp.chunk()).await;
        }
        Ok(out)
    }

    /// A request that got no answer. A certificate the client does not trust is said plainly,
    /// with its cure: it stays a transient fault (retries are bounded, and the breaker closes
    /// again by itself once `SSL_CERT_FILE` is fixed, where a permanent one would stay disabled).
    fn send_error(&self, e: &reqwest::Error) -> ProviderError {
        let Some(why) = super::tls::certificate_error(e) else {
            return transport_error(e, "sending the request");
        };
        let host = reqwest::Url::parse(&self.base_url)
            .ok()
            .and_then(|u| {
                let port = u.port_or_known_default()?;
                Some(format!("{}:{port}", u.host_str()?))
            })
            .unwrap_or_else(|| self.base_url.clone());
        ProviderError::Transient {
            status: None,
            message: format!(
                "TLS: provider `{}`: the certificate of {host} is not trusted ({why}); if a proxy \
                 inspects HTTPS, name its CA in SSL_CERT_FILE or SSL_CERT_DIR",
                self.name
            ),
        }
    }

    /// Remove the key (and any long enough start of it) from a message, should a server ever
    /// echo it back, then cut the message to its shown length: scrubbing first, so a cut never
    /// leaves part of the key behind.
    fn scrub(&self, e: ProviderError) -> ProviderError {
        let key = self.key.as_deref();
        let fix = |m: String| classify::finish_message(m, key);
        match e {
            ProviderError::RateLimited {
                retry_after,
                message,
            } => ProviderError::RateLimited {
                retry_after,
                message: fix(message),
            },
            ProviderError::Transient { status, message } => ProviderError::Transient {
                status,
                message: fix(message),
            },
            ProviderError::Permanent {
                status,
                message,
                key_scoped,
            } => ProviderError::Permanent {
                status,
                message: fix(message),
                key_scoped,
            },
            ProviderError::Request { status, message } => ProviderError::Request {
                status,
                message: fix(message),
            },
            ProviderError::Oversized { message } => ProviderError::Oversized {
                message: fix(message),
            },
            ProviderError::ContextOverflow { message, limit } => ProviderError::ContextOverflow {
                message: fix(message),
                limit,
            },
            ProviderError::Cancelled => ProviderError::Cancelled,
        }
    }
}

#[async_trait]
impl Provider for HttpProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn is_simulated(&self) -> bool {
        false
    }

    async fn chat(
        &self,
        req: &ChatRequest,
        cancel: &CancellationToken,
    ) -> Result<ChatResponse, ProviderError> {
        self.call_structured(req, cancel)
            .await
            .map_err(|e| self.scrub(e))
    }
}

fn auth_headers(
    format: WireFormat,
    key: Option<&str>,
    style: AuthStyle,
) -> Result<HeaderMap, ClientError> {
    let mut h = HeaderMap::new();
    let secret = |v: String| {
        let mut v = HeaderValue::from_str(&v).map_err(|_| ClientError::KeyNotAHeader)?;
        v.set_sensitive(true);
        Ok::<_, ClientError>(v)
    };
    match (format, key) {
        (WireFormat::Anthropic, Some(k)) => {
            h.insert(HeaderName::from_static("x-api-key"), secret(k.to_string())?);
            h.insert(
                HeaderName::from_static("anthropic-version"),
                HeaderValue::from_static("2023-06-01"),
            );
        }
        (WireFormat::OpenAi, Some(k)) if style == AuthStyle::ApiKey => {
            h.insert(HeaderName::from_static("api-key"), secret(k.to_string())?);
        }
        (WireFormat::OpenAi, Some(k)) => {
            h.insert(header::AUTHORIZATION, secret(format!("Bearer {k}"))?);
        }
        (WireFormat::Gemini, Some(k)) => {
            h.insert(
                HeaderName::from_static("x-goog-api-key"),
                secret(k.to_string())?,
            );
        }
        (_, None) => {}
    }
    Ok(h)
}

/// When a server reported no usage at all, estimate it so budgets stay safe: the input from the
/// request, the output from the text's length but never above the `max_tokens` the request
/// allowed (the worst case held for it), however long the text.
fn fill_missing_usage(out: &mut ChatResponse, req: &ChatRequest) {
    if out.usage == Usage::default() {
        out.usage.input = req.estimated_input_tokens();
        out.usage.output = (out.text.len() as u64)
            .div_ceil(4)
            .min(u64::from(req.max_tokens));
    }
}

/// A send that failed this fast, with the connection closed or reset before any answer, was on
/// a connection the server had closed; it did no work there.
const STALE_WINDOW: Duration = Duration::from_millis(250);

/// The connection was closed or reset under the request before any response came back
/// (hyper's "connection closed before message completed", a reset, a broken pipe).
fn stale_connection(e: &reqwest::Error) -> bool {
    if e.is_timeout() || e.is_connect() {
        return false;
    }
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            )
        {
            return true;
        }
        if err
            .to_string()
            .contains("connection closed before message completed")
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// How long an idle connection is kept for reuse. Local servers (llama.cpp, Ollama's and
/// uvicorn's defaults) close idle keep-alive connections after about 5 s; reusing one they are
/// closing fails the next call with "connection closed before message completed" (seen against
/// llama-server: 2 of 27 calls of a run), which counts toward the model's breaker. Hosted APIs keep
/// connections for a minute or more, and their TLS handshakes are worth saving.
fn pool_idle(base_url: &str) -> Duration {
    if super::discover::is_local(base_url) {
        Duration::from_secs(3)
    } else {
        Duration::from_secs(90)
    }
}

#[cfg(test)]
mod tests {
    use super::pool_idle;

    #[test]
    fn local_servers_get_a_short_idle_pool() {
        assert_eq!(pool_idle("http://127.0.0.1:8090/v1").as_secs(), 3);
        assert_eq!(pool_idle("http://192.168.1.5:11434/v1").as_secs(), 3);
        assert_eq!(pool_idle("https://api.openai.com/v1").as_secs(), 90);
    }

    use super::*;

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
}
