//! SIGINT, SIGTERM and SIGHUP while a run is driven. Each cancels the run like Ctrl-C: in-flight
//! calls are stopped and recorded, the run is stored `partial_success` (resumable) with a reason
//! naming the signal, and the process exits 130, 143 or 129 (cli-contract.md). Left to their
//! default action they would kill the process with settle writes still queued.
//!
//! [`install`] is called just before a run starts (a signal that arrives before anyone watches is
//! remembered, not lost); observers wait on [`first`]. A second Ctrl-C quits at once, as the
//! progress line promises; a repeated SIGTERM or SIGHUP (a closing terminal may send several) does
//! not cut the bounded cancellation short.

use std::sync::OnceLock;
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Interrupt,
    Terminate,
    Hangup,
}

impl Stop {
    pub fn name(self) -> &'static str {
        match self {
            Stop::Interrupt => "SIGINT",
            Stop::Terminate => "SIGTERM",
            Stop::Hangup => "SIGHUP",
        }
    }

    /// 128 + the signal number, as a shell reports a process the signal ended.
    pub fn exit_code(self) -> i32 {
        match self {
            Stop::Interrupt => crate::cli::exit::CANCELLED,
            Stop::Terminate => crate::cli::exit::TERMINATED,
            Stop::Hangup => crate::cli::exit::HANGUP,
        }
    }

    /// The run's status reason (Ctrl-C keeps its long-standing wording).
    pub fn reason(self) -> String {
        match self {
            Stop::Interrupt => "cancelled by the user".into(),
            s => format!("cancelled ({})", s.name()),
        }
    }
}

/// Run before a second Ctrl-C exits at once: the TUI registers its terminal restore here (this
/// module knows nothing of terminals).
static BEFORE_EXIT: OnceLock<fn()> = OnceLock::new();

/// Register what a second Ctrl-C runs before it exits (the first registration stays).
pub fn before_immediate_exit(f: fn()) {
    let _ = BEFORE_EXIT.set(f);
}

/// The first signal received since [`install`]; `None` until then.
static FIRST: OnceLock<watch::Sender<Option<Stop>>> = OnceLock::new();

fn sender() -> &'static watch::Sender<Option<Stop>> {
    FIRST.get_or_init(|| watch::channel(None).0)
}

/// Catch SIGINT, SIGTERM and SIGHUP from now on (idempotent). Needs a tokio runtime context.
pub fn install() -> std::io::Result<()> {
    static LISTENING: OnceLock<()> = OnceLock::new();
    if LISTENING.get().is_some() {
        return Ok(());
    }
    let mut next = listener()?;
    let _ = LISTENING.set(());
    tokio::spawn(async move {
        while let Some(s) = next.recv().await {
            let tx = sender();
            if tx.borrow().is_none() {
                tx.send_replace(Some(s));
            } else if s == Stop::Interrupt {
                // The second Ctrl-C: quit now, leaving the run to the next start's recovery.
                if let Some(f) = BEFORE_EXIT.get() {
                    f();
                }
                std::process::exit(crate::cli::exit::CANCELLED);
            }
        }
    });
    Ok(())
}

/// The signal that arrived first; resolves at once if one already has, never if none comes (or
/// [`install`] was not called).
pub async fn first() -> Stop {
    let mut rx = sender().subscribe();
    match rx.wait_for(Option::is_some).await {
        Ok(s) => s.unwrap_or(Stop::Interrupt),
        // The sender lives in a static and is never dropped.
        Err(_) => std::future::pending().await,
    }
}

/// The signal received so far, if any.
pub fn received() -> Option<Stop> {
    *sender().borrow()
}

/// Every caught signal in arrival order.
#[cfg(unix)]
fn listener() -> std::io::Result<tokio::sync::mpsc::UnboundedReceiver<Stop>> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    for (kind, stop) in [
        (SignalKind::interrupt(), Stop::Interrupt),
        (SignalKind::terminate(), Stop::Terminate),
        (SignalKind::hangup(), Stop::Hangup),
    ] {
        let mut sig = signal(kind)?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while sig.recv().await.is_some() {
                if tx.send(stop).is_err() {
                    return;
                }
            }
        });
    }
    Ok(rx)
}

#[cfg(not(unix))]
fn listener() -> std::io::Result<tokio::sync::mpsc::UnboundedReceiver<Stop>> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            if tx.send(Stop::Interrupt).is_err() {
                return;
            }
        }
    });
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_reasons() {
        assert_eq!(Stop::Terminate.exit_code(), 143);
        assert_eq!(Stop::Hangup.exit_code(), 129);
        assert_eq!(Stop::Interrupt.exit_code(), 130);
        assert_eq!(Stop::Terminate.reason(), "cancelled (SIGTERM)");
        assert_eq!(Stop::Hangup.reason(), "cancelled (SIGHUP)");
        assert_eq!(Stop::Interrupt.reason(), "cancelled by the user");
    }
}
