//! The call path of [`HttpProvider`]: send, step down structured-output modes, read the
//! stream or the capped body, classify and scrub errors, resend once on a stale connection.

use super::*;
use tokio_util::sync::CancellationToken;

impl HttpProvider {
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
        let Some(why) = crate::providers::tls::certificate_error(e) else {
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
    pub(super) fn scrub(&self, e: ProviderError) -> ProviderError {
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

/// When a server reported no usage at all, estimate it so budgets stay safe: the input from the
/// request, the output from the text's length but never above the `max_tokens` the request
/// allowed (the worst case held for it), however long the text.
pub(super) fn fill_missing_usage(out: &mut ChatResponse, req: &ChatRequest) {
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
pub(super) fn stale_connection(e: &reqwest::Error) -> bool {
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
