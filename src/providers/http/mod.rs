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
mod call;
#[cfg(test)]
mod tests;

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
