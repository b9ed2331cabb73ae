//! Transport mechanics shared by the three formats: call deadlines (connect, first byte, idle,
//! total), cancellation, body reading, and mapping transport failures to the taxonomy.

use super::classify;
use super::sse::SseEvent;
use super::{ChatResponse, ProviderError};
use crate::config::TimeoutConfig;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Timeouts of one call. A zero in the config means "no limit" (mapped to a very long time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP + TLS connect.
    pub connect: Duration,
    /// From sending the request to the first body byte (time to first token when streaming).
    pub first_byte: Duration,
    /// Between two body chunks once the first one arrived.
    pub idle: Duration,
    /// Whole call, from sending to the last byte.
    pub total: Duration,
}

const NO_LIMIT: Duration = Duration::from_secs(365 * 24 * 3600);

impl Timeouts {
    pub fn from_config(t: &TimeoutConfig) -> Self {
        let d = |s: u64| {
            if s == 0 {
                NO_LIMIT
            } else {
                Duration::from_secs(s)
            }
        };
        Timeouts {
            connect: d(t.connect_secs),
            first_byte: d(t.first_byte_secs),
            idle: d(t.idle_secs),
            total: d(t.total_secs),
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self::from_config(&TimeoutConfig::default())
    }
}

/// One streamed format's state machine over SSE events.
pub(crate) trait StreamDecoder: Send {
    fn on_event(&mut self, ev: &SseEvent) -> Result<Step, ProviderError>;
    /// The response once the stream ended; an error when it ended without its terminal event.
    fn finish(self: Box<Self>) -> Result<ChatResponse, ProviderError>;
}

/// What one event contributed.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Step {
    /// The event carried generated text or reasoning (first one marks time to first token).
    pub token: bool,
    /// The terminal event: stop reading.
    pub done: bool,
}

pub(crate) fn malformed(what: impl std::fmt::Display) -> ProviderError {
    ProviderError::Transient {
        status: None,
        message: classify::truncate(format!("malformed response: {what}"), 300),
    }
}

/// The most bytes a 200 answer may have, streamed or not: far above any real completion (a
/// 128k-token answer is under 1 MiB), small enough that a hostile server cannot exhaust memory.
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// `64 MiB`, `8 KiB` or `1000 bytes`.
pub(crate) fn size(n: usize) -> String {
    const MIB: usize = 1024 * 1024;
    match n {
        n if n >= MIB && n % MIB == 0 => format!("{} MiB", n / MIB),
        n if n >= 1024 && n % 1024 == 0 => format!("{} KiB", n / 1024),
        n => format!("{n} bytes"),
    }
}

/// A 200 answer's body went past `limit`: cut there (`what` says which part, e.g. `response
/// body`, `SSE line`).
pub(crate) fn oversized(what: &str, limit: usize) -> ProviderError {
    ProviderError::Oversized {
        message: format!(
            "{what} exceeded the size limit of {}; the response was cut there",
            size(limit)
        ),
    }
}

pub(crate) fn truncated_stream(what: &str) -> ProviderError {
    ProviderError::Transient {
        status: None,
        message: format!("stream ended before {what}"),
    }
}

pub(crate) fn transport_error(e: &reqwest::Error, during: &str) -> ProviderError {
    let mut msg = format!("{during}: {}", e.to_string().replace(" for url", ""));
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    let message = classify::truncate(msg, 300);
    if e.is_builder() {
        return ProviderError::Permanent {
            status: None,
            message,
            key_scoped: true,
        };
    }
    let message = if e.is_timeout() || e.is_connect() && msg_is_timeout(e) {
        format!("timeout ({message})")
    } else {
        message
    };
    ProviderError::Transient {
        status: None,
        message,
    }
}

fn msg_is_timeout(e: &reqwest::Error) -> bool {
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return true;
        }
        src = s.source();
    }
    false
}

/// Deadlines of one call: first byte, then idle between chunks, all under the total.
pub(crate) struct Clock {
    started: Instant,
    total: Instant,
    first_byte: Instant,
    idle: Duration,
    last_bytes: Option<Instant>,
}

impl Clock {
    pub(crate) fn start(t: Timeouts) -> Self {
        let started = Instant::now();
        let total = started + t.total;
        Clock {
            started,
            total,
            first_byte: (started + t.first_byte).min(total),
            idle: t.idle,
            last_bytes: None,
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub(crate) fn got_bytes(&mut self) {
        self.last_bytes = Some(Instant::now());
    }

    fn deadline(&self) -> (Instant, &'static str) {
        let (d, what) = match self.last_bytes {
            None => (
                self.first_byte,
                "no first byte within the first-byte timeout",
            ),
            Some(t) => (t + self.idle, "no data within the idle timeout"),
        };
        if self.total <= d {
            (self.total, "the total timeout elapsed")
        } else {
            (d, what)
        }
    }

    /// The limit that `what` (from [`Self::deadline`]) names, e.g. `30 s`: a per-provider
    /// `timeout_secs` and `[timeouts]` are told apart by it.
    fn limit_of(&self, what: &str) -> String {
        let d = if what.starts_with("the total") {
            self.total - self.started
        } else if what.contains("first-byte") {
            self.first_byte - self.started
        } else {
            self.idle
        };
        format!("{} s", d.as_secs_f64().round())
    }

    /// Await `fut` unless the call is cancelled or its current deadline passes.
    pub(crate) async fn guard<F: Future>(
        &self,
        fut: F,
        cancel: &CancellationToken,
    ) -> Result<F::Output, ProviderError> {
        let (deadline, what) = self.deadline();
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(ProviderError::Cancelled),
            out = fut => Ok(out),
            _ = tokio::time::sleep_until(deadline) => Err(ProviderError::Transient {
                status: None,
                message: format!("timeout: {what} ({})", self.limit_of(what)),
            }),
        }
    }
}

/// Read a whole 200 body under the call's deadlines; a body (declared or received) of more than
/// `limit` bytes is an [`ProviderError::Oversized`] error, so it is never parsed cut short.
pub(crate) async fn read_limited(
    resp: &mut reqwest::Response,
    clock: &mut Clock,
    cancel: &CancellationToken,
    limit: usize,
) -> Result<String, ProviderError> {
    if let Some(declared) = resp.content_length().filter(|&n| n > limit as u64) {
        return Err(ProviderError::Oversized {
            message: format!(
                "response body of {declared} bytes exceeds the size limit of {}; not read",
                size(limit)
            ),
        });
    }
    let mut buf: Vec<u8> = Vec::new();
    loop {
        match clock.guard(resp.chunk(), cancel).await? {
            Ok(Some(bytes)) => {
                clock.got_bytes();
                if buf.len() + bytes.len() > limit {
                    return Err(oversized("response body", limit));
                }
                buf.extend_from_slice(&bytes);
            }
            Ok(None) => break,
            Err(e) => return Err(transport_error(&e, "reading the body")),
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Read a whole error body under the call's deadlines, keeping at most `cap` bytes.
pub(crate) async fn read_capped(
    resp: &mut reqwest::Response,
    clock: &mut Clock,
    cancel: &CancellationToken,
    cap: usize,
) -> Result<String, ProviderError> {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        match clock.guard(resp.chunk(), cancel).await? {
            Ok(Some(bytes)) => {
                clock.got_bytes();
                let room = cap.saturating_sub(buf.len());
                buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
                if buf.len() >= cap {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) if buf.is_empty() => return Err(transport_error(&e, "reading the body")),
            Err(_) => break,
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_timeouts_mean_no_limit() {
        let t = Timeouts::from_config(&TimeoutConfig {
            connect_secs: 0,
            first_byte_secs: 5,
            idle_secs: 0,
            total_secs: 0,
        });
        assert_eq!(t.first_byte, Duration::from_secs(5));
        assert!(t.total > Duration::from_secs(1_000_000));
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(MAX_BODY), "64 MiB");
        assert_eq!(size(8 * 1024), "8 KiB");
        assert_eq!(size(1000), "1000 bytes");
        let e = oversized("response body", MAX_BODY);
        assert_eq!(e.class(), "transient");
        assert!(e.billed());
        assert!(
            e.to_string()
                .contains("response body exceeded the size limit of 64 MiB"),
            "{e}"
        );
    }
}
