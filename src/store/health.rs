//! Whether the database can be written, and the queued jobs that keep trying while it cannot.
//!
//! A full disk used to be a warning per call while the engine kept calling providers: answers
//! were paid for and never recorded, and `resume` paid for them again. Now the first write that
//! fails for want of space (or on a read-only file, an I/O error, a corrupt file) marks the store
//! unwritable; the engine starts no call while it is; writes that must not be lost are retried
//! for a bounded window with the queue paused behind them; what is given up is counted so the
//! process can say what it could not record.

use super::StoreError;
use super::sql::Sql;
use crate::domain::Micros;
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

    /// A write that had failed committed: the outage is over; its reason and losses are kept.
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
    /// A deadlock or serialization failure (PostgreSQL): running it again resolves it.
    Conflict,
    /// The database cannot be used (the message for "database <path> ...").
    Unavailable(String),
}

/// What an error from a job says about the store.
pub fn classify(e: &StoreError) -> Ran {
    match e {
        StoreError::Sqlite(se) => match unavailable(se) {
            Some(k) => Ran::Unavailable(k.message(se)),
            None => Ran::Failed,
        },
        // PostgreSQL's connection is gone (`From<postgres::Error>`).
        StoreError::Unavailable { message, .. } => Ran::Unavailable(message.clone()),
        e if super::pg::retryable(e) => Ran::Conflict,
        _ => Ran::Failed,
    }
}

/// Is `e` the store failing (rather than the job's own error)?
fn store_failure(e: &StoreError) -> bool {
    matches!(classify(e), Ran::Unavailable(_))
}

/// A transactional job as the store thread sees it.
pub trait TxWork: Send {
    fn run(&mut self, c: &dyn Sql) -> Ran;
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
    F: FnMut(&dyn Sql) -> Result<R, StoreError> + Send,
    D: FnOnce(Result<R, StoreError>) + Send,
{
    fn run(&mut self, c: &dyn Sql) -> Ran {
        self.started = true;
        let r = (self.f)(c);
        let ran = match &r {
            Ok(_) => Ran::Ok,
            Err(e) => classify(e),
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
            // Its own error, unless that is the store failing (then the error names the file).
            (Some(Err(own)), Err(e)) if store_failure(&own) => Err(e),
            (Some(r), Err(e)) => r.and(Err(e)),
            (None, Err(e)) => Err(e),
            (None, Ok(())) => Err(StoreError::Invalid("a write never ran".into())),
        };
        (self.done)(r)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DB_FILE, Store};
    use super::*;
    use std::sync::mpsc;

    /// A store whose writer may not grow the file: the next write needing a page is "disk
    /// full". `spare` holds pages another connection can free (space coming back).
    async fn full_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .call(|c| {
                let c = c.sqlite().expect("a SQLite store");
                c.execute_batch(
                    "CREATE TABLE t (v BLOB); CREATE TABLE spare (v BLOB);
                     INSERT INTO spare VALUES (zeroblob(400000));",
                )?;
                let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
                c.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
                Ok(())
            })
            .await
            .unwrap();
        (dir, store)
    }

    fn wait_until(what: &str, f: impl Fn() -> bool) {
        let start = Instant::now();
        while !f() {
            assert!(start.elapsed() < Duration::from_secs(30), "{what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[tokio::test]
    async fn a_write_that_must_not_be_lost_is_retried_until_space_returns() {
        let (dir, store) = full_store().await;
        let (tx, rx) = mpsc::channel();
        store
            .submit_retried(
                Some(Micros(1234)),
                |c| c.execute("INSERT INTO t VALUES (zeroblob(100000))", crate::args![]),
                move |r| {
                    let _ = tx.send(r.map_err(|e| e.to_string()));
                },
            )
            .unwrap();
        wait_until("the store notices it cannot commit", || !store.writable());
        let o = store.outage().unwrap();
        let db = dir.path().join(DB_FILE);
        assert!(o.reason.contains(&db.display().to_string()), "{}", o.reason);
        assert!(o.reason.contains("disk full"), "{}", o.reason);
        // Space comes back (another process deletes something): the write lands.
        let other = rusqlite::Connection::open(&db).unwrap();
        other.busy_timeout(Duration::from_secs(10)).unwrap();
        other.execute("DELETE FROM spare", []).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(30)).unwrap(), Ok(1));
        assert!(store.writable());
        let o = store.outage().unwrap();
        assert_eq!((o.ongoing, o.unrecorded_calls), (false, 0));
        let n: i64 = other
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[tokio::test]
    async fn writes_given_up_after_the_window_are_counted_and_name_the_file() {
        let (dir, store) = full_store().await;
        store.set_retry_window(Duration::from_millis(100));
        let (tx, rx) = mpsc::channel();
        for cost in [1000, 2000] {
            let tx = tx.clone();
            store
                .submit_retried(
                    Some(Micros(cost)),
                    |c| c.execute("INSERT INTO t VALUES (zeroblob(100000))", crate::args![]),
                    move |r| {
                        let _ = tx.send(r.map_err(|e| e.to_string()));
                    },
                )
                .unwrap();
        }
        let db = dir.path().join(DB_FILE).display().to_string();
        for _ in 0..2 {
            let e = rx
                .recv_timeout(Duration::from_secs(30))
                .unwrap()
                .unwrap_err();
            assert!(e.contains(&db) && e.contains("disk full"), "{e}");
        }
        let o = store.outage().unwrap();
        assert!(o.ongoing);
        assert_eq!((o.unrecorded_calls, o.unrecorded), (2, Micros(3000)));
        assert!(!store.writable());
        // Reads still work, and a plain write's error names the file too.
        let e = store
            .call(|c| c.execute("INSERT INTO t VALUES (zeroblob(100000))", crate::args![]))
            .await
            .unwrap_err();
        assert!(e.is_unavailable() && e.to_string().contains(&db), "{e}");
    }

    #[test]
    fn a_newer_schema_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        let db = dir.path().join(DB_FILE);
        let c = rusqlite::Connection::open(&db).unwrap();
        c.pragma_update(None, "user_version", 999).unwrap();
        drop(c);
        let e = Store::open(dir.path()).err().expect("refused");
        assert!(e.is_unavailable());
        let msg = e.to_string();
        assert!(
            msg.contains(&db.display().to_string()) && msg.contains("999"),
            "{msg}"
        );
    }

    #[test]
    fn failures_are_classified() {
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        assert_eq!(unavailable(&full), Some(Kind::Full));
        let corrupt = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            None,
        );
        assert_eq!(unavailable(&corrupt), Some(Kind::Corrupt));
        let constraint = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
            None,
        );
        assert_eq!(unavailable(&constraint), None);
    }
}
