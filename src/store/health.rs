//! Whether the database can be written, and the queued jobs that keep trying while it cannot.
//!
//! A full disk used to be a warning per call while the engine kept calling providers: answers
//! were paid for and never recorded, and `resume` paid for them again. Now the first write that
//! fails for want of space (or on a read-only file, an I/O error, a corrupt file) marks the store
//! unwritable; the engine starts no call while it is; writes that must not be lost are retried
//! for a bounded window with the queue paused behind them; what is given up is counted so the
//! process can say what it could not record.

use super::StoreError;
use crate::domain::Micros;
use rusqlite::Connection;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long writes that must not be lost are retried from the start of an outage.
pub const RETRY_WINDOW: Duration = Duration::from_secs(30);

/// Why the database cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Full,
    ReadOnly,
    Io,
    CannotOpen,
    Corrupt,
}

impl Kind {
    /// The end of "database <path> ...": what is wrong, in words, with SQLite's own.
    pub fn message(self, e: &rusqlite::Error) -> String {
        let what = match self {
            Kind::Full => "is not writable: disk full",
            Kind::ReadOnly => "is not writable: read-only",
            Kind::Io => "is not writable: I/O error",
            Kind::CannotOpen => "cannot be opened",
            Kind::Corrupt => "is corrupt (move it aside and restore a backup)",
        };
        format!("{what} ({e})")
    }
}

/// The store-level failures (as opposed to a bad statement or a constraint).
pub fn unavailable(e: &rusqlite::Error) -> Option<Kind> {
    use rusqlite::ErrorCode as C;
    Some(match e.sqlite_error_code()? {
        C::DiskFull => Kind::Full,
        C::ReadOnly => Kind::ReadOnly,
        C::SystemIoFailure => Kind::Io,
        C::CannotOpen => Kind::CannotOpen,
        C::DatabaseCorrupt | C::NotADatabase => Kind::Corrupt,
        _ => return None,
    })
}

/// What an outage cost this process.
#[derive(Debug, Clone, PartialEq)]
pub struct Outage {
    /// "database <path> is not writable: disk full (...)".
    pub reason: String,
    /// Still unwritable at the last write.
    pub ongoing: bool,
    /// Answered calls whose record (and spend) was given up, and that spend.
    pub unrecorded_calls: u64,
    pub unrecorded: Micros,
}

#[derive(Debug, Default)]
struct State {
    reason: Option<String>,
    since: Option<Instant>,
    unrecorded_calls: u64,
    unrecorded: i64,
    window: Option<Duration>,
}

#[derive(Debug, Default)]
pub struct Health {
    bad: AtomicBool,
    state: Mutex<State>,
}

impl Health {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn writable(&self) -> bool {
        !self.bad.load(Ordering::Acquire)
    }

    /// A write failed because the database cannot be used.
    pub fn fail(&self, reason: &str) {
        let mut s = self.state();
        if s.since.is_none() {
            s.since = Some(Instant::now());
            tracing::error!("{reason}: no new model call starts until it can be written");
        }
        s.reason = Some(reason.to_string());
        self.bad.store(true, Ordering::Release);
    }

    /// A write committed: the outage (if any) is over; its reason and losses are kept.
    pub fn recovered(&self) {
        if self.writable() {
            return;
        }
        let mut s = self.state();
        s.since = None;
        self.bad.store(false, Ordering::Release);
        tracing::info!("the database can be written again");
    }

    /// May a write that must not be lost be tried again?
    pub fn may_retry(&self) -> bool {
        let s = self.state();
        let window = s.window.unwrap_or(RETRY_WINDOW);
        s.since.is_none_or(|t| t.elapsed() < window)
    }

    pub fn lost(&self, cost: Micros) {
        let mut s = self.state();
        s.unrecorded_calls += 1;
        s.unrecorded = s.unrecorded.saturating_add(cost.0.max(0));
    }

    pub fn set_window(&self, d: Duration) {
        self.state().window = Some(d);
    }

    pub fn outage(&self) -> Option<Outage> {
        let s = self.state();
        Some(Outage {
            reason: s.reason.clone()?,
            ongoing: !self.writable(),
            unrecorded_calls: s.unrecorded_calls,
            unrecorded: Micros(s.unrecorded),
        })
    }
}

/// How a job's run inside the group's transaction ended.
pub enum Ran {
    Ok,
    /// Its own error: its writes are undone, the group goes on.
    Failed,
    /// The database cannot be used (the message for "database <path> ...").
    Unavailable(String),
}

/// A transactional job as the store thread sees it.
pub trait TxWork: Send {
    fn run(&mut self, c: &Connection) -> Ran;
    /// Can it run again after its transaction was rolled back (retried, or never started)?
    fn can_run_again(&self) -> bool;
    /// The spend of the answered call it records, if it records one.
    fn answered(&self) -> Option<Micros>;
    /// Hand over the result once the group committed (`Ok`) or failed.
    fn deliver(self: Box<Self>, commit: Result<(), StoreError>);
}

pub struct Work<R, F, D> {
    f: F,
    done: D,
    result: Option<Result<R, StoreError>>,
    retried: bool,
    started: bool,
    answered: Option<Micros>,
}

impl<R, F, D> Work<R, F, D> {
    pub fn new(f: F, done: D, retried: bool, answered: Option<Micros>) -> Self {
        Work {
            f,
            done,
            result: None,
            retried,
            started: false,
            answered,
        }
    }
}

impl<R, F, D> TxWork for Work<R, F, D>
where
    R: Send,
    F: FnMut(&Connection) -> Result<R, StoreError> + Send,
    D: FnOnce(Result<R, StoreError>) + Send,
{
    fn run(&mut self, c: &Connection) -> Ran {
        self.started = true;
        let r = (self.f)(c);
        let ran = match &r {
            Ok(_) => Ran::Ok,
            Err(StoreError::Sqlite(e)) => match unavailable(e) {
                Some(k) => Ran::Unavailable(k.message(e)),
                None => Ran::Failed,
            },
            Err(_) => Ran::Failed,
        };
        self.result = Some(r);
        ran
    }

    fn can_run_again(&self) -> bool {
        self.retried || !self.started
    }

    fn answered(&self) -> Option<Micros> {
        self.answered
    }

    fn deliver(self: Box<Self>, commit: Result<(), StoreError>) {
        let r = match (self.result, commit) {
            (Some(r), Ok(())) => r,
            (Some(r), Err(e)) => r.and(Err(e)),
            (None, Err(e)) => Err(e),
            (None, Ok(())) => Err(StoreError::Invalid("a write never ran".into())),
        };
        (self.done)(r)
    }
}
