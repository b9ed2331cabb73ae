//! The single source of truth: one SQLite database (WAL) served by one writer thread. Callers send
//! closures over a channel; every state change is committed before the engine acts on it.

pub mod alerts;
pub mod analyses;
pub mod backend;
pub mod budget;
pub mod cancel;
pub mod events;
pub mod health;
pub mod inflight;
pub mod lease;
pub mod migrations;
pub mod models;
pub mod owner;
#[cfg(test)]
mod parity_tests;
pub mod pg;
pub mod records;
pub mod recovery;
pub mod resume;
pub mod routing;
pub mod runs;
pub mod sql;
pub mod structured;
pub mod tui_reads;
pub mod views;
pub mod waiters;

use health::{Health, Ran, TxWork, Work};
use rusqlite::{Connection, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::Duration;

pub use backend::{AnalysisStore, Backend, BudgetStore, RunStore, StoredRun, ViewStore};
pub use health::Outage;
pub use records::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database at {path}: {message}")]
    Open { path: String, message: String },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL error: {0}")]
    Postgres(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the store thread has stopped")]
    Closed,
    /// The database cannot be written or read (disk full, read-only, I/O error, corrupt).
    #[error("database {path} {message}")]
    Unavailable { path: String, message: String },
    #[error(
        "the database {path} has schema version {found}, newer than this binary knows ({known}): \
         it was written by a newer orchestrator-tui; upgrade it, or use another --data-dir"
    )]
    Newer {
        path: String,
        found: u32,
        known: u32,
    },
}

impl StoreError {
    /// The store itself is unusable (cli-contract.md exit 9), as opposed to a bad request.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Open { .. } | StoreError::Unavailable { .. } | StoreError::Newer { .. }
        )
    }
}

/// A transactional job queued for the store thread.
type TxJob = Box<dyn TxWork>;

enum Job {
    /// Runs alone with the connection; manages its own transactions.
    Plain(Box<dyn FnOnce(&mut Connection) + Send>),
    /// Runs inside a transaction the store thread opens; queued ones share one commit.
    Tx(TxJob),
}

/// Most transactional jobs committed together (bounds the latency one commit adds).
const MAX_GROUP: usize = 128;

/// What the store thread and every handle share: the file and whether it can be written.
struct Shared {
    path: PathBuf,
    health: Health,
}

impl Shared {
    /// Name the file in errors that are about it, and note that it cannot be written.
    fn name(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Sqlite(se) => match health::unavailable(&se) {
                Some(why) => {
                    let message = why.message(&se);
                    self.health.fail(&self.describe(&message));
                    StoreError::Unavailable {
                        path: self.path.display().to_string(),
                        message,
                    }
                }
                None => StoreError::Sqlite(se),
            },
            other => other,
        }
    }

    fn describe(&self, message: &str) -> String {
        format!("database {} {message}", self.path.display())
    }
}

/// Handle to the store thread; cheap to clone.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Job>,
    shared: Arc<Shared>,
}

pub const DB_FILE: &str = "orchestrator.db";

/// A migrated database in memory (tests and throwaway tools).
pub fn open_in_memory() -> Result<Connection, StoreError> {
    let mut c = Connection::open_in_memory()?;
    c.pragma_update(None, "foreign_keys", "ON")?;
    migrations::migrate(&mut c)?;
    Ok(c)
}

/// Open a connection with the pragmas every connection needs (several processes share the file).
pub fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let open_err = |e: rusqlite::Error| StoreError::Open {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let conn = Connection::open(path).map_err(open_err)?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(open_err)?;
    // Two processes opening a new file at once can both try to switch it to WAL; SQLite answers
    // the loser SQLITE_BUSY without calling the busy handler, so wait and try again here.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut pause = Duration::from_millis(5);
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Ok(()) => break,
            Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Err(e) => return Err(open_err(e)),
        }
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(open_err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(open_err)?;
    Ok(conn)
}

impl Store {
    /// Open (creating) `<data_dir>/orchestrator.db`, migrate, and start the writer thread.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Open {
            path: data_dir.display().to_string(),
            message: format!("cannot create the data directory: {e}"),
        })?;
        let path = data_dir.join(DB_FILE);
        let mut conn = open_connection(&path)?;
        let version = migrations::migrate(&mut conn).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            message: format!("migration failed: {e}"),
        })?;
        // A newer binary's schema may mean anything to this one: refuse rather than guess.
        if version as usize > migrations::MIGRATIONS.len() {
            return Err(StoreError::Newer {
                path: path.display().to_string(),
                found: version,
                known: migrations::MIGRATIONS.len() as u32,
            });
        }
        // Checkpoints run on their own connection and thread: a checkpoint inside a writer's
        // commit (the default) stalls that call for milliseconds, which shows in tail latency.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
        spawn_checkpointer(&path);
        let shared = Arc::new(Shared {
            path: path.clone(),
            health: Health::default(),
        });
        let (tx, rx) = mpsc::channel::<Job>();
        let sh = shared.clone();
        std::thread::Builder::new()
            .name("store".into())
            .spawn(move || serve(&mut conn, &rx, &sh))
            .map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
        Ok(Store { tx, shared })
    }

    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Can the database commit? False from the first write that failed for want of space, a
    /// read-only file, an I/O error or corruption, until a write that failed goes through on a
    /// retry. No new model call starts while it is false: an answer that cannot be recorded is
    /// money lost.
    pub fn writable(&self) -> bool {
        self.shared.health.writable()
    }

    /// The last time the database could not be written in this process, if ever, and what it
    /// cost: answered calls (and their spend) whose records were given up.
    pub fn outage(&self) -> Option<Outage> {
        self.shared.health.outage()
    }

    /// How long writes that must not be lost are retried while the database cannot commit
    /// (30 s by default; tests shorten it).
    pub fn set_retry_window(&self, d: Duration) {
        self.shared.health.set_window(d);
    }

    /// Run `f` on the store thread and await its result.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (otx, orx) = tokio::sync::oneshot::channel();
        let sh = self.shared.clone();
        self.tx
            .send(Job::Plain(Box::new(move |c| {
                let _ = otx.send(f(c).map_err(|e| sh.name(e)));
            })))
            .map_err(|_| StoreError::Closed)?;
        orx.await.map_err(|_| StoreError::Closed)?
    }

    /// Run `f` in a write transaction on the store thread and await its result, delivered only
    /// after the commit. Jobs queued together share one commit (group commit); each runs in its
    /// own savepoint, so an `Err` from `f` undoes only its own writes.
    pub async fn transact<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (otx, orx) = tokio::sync::oneshot::channel();
        self.submit(f, move |r| {
            let _ = otx.send(r);
        })?;
        orx.await.map_err(|_| StoreError::Closed)?
    }

    /// Queue `f` as `transact` does without waiting: `done` runs on the store thread after the
    /// commit. Later jobs from any caller are committed after this one (the queue is FIFO), so
    /// whatever the engine writes next can never be durable without it.
    pub fn submit<R, F, D>(&self, f: F, done: D) -> Result<(), StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
        D: FnOnce(Result<R, StoreError>) + Send + 'static,
    {
        let mut once = Some(f);
        let f = move |c: &Connection| match once.take() {
            Some(f) => f(c),
            None => Err(StoreError::Invalid("a write was run twice".into())),
        };
        self.queue(Work::new(f, done, false, None))
    }

    /// `submit` for a write that must not be lost (a call's settle and record): while the
    /// database cannot commit, it is run again for up to the retry window from the start of the
    /// outage, and nothing queued after it commits first. `answered` is the spend of an answered
    /// call the write records: if the write is given up, that call is counted as unrecorded.
    pub fn submit_retried<R, F, D>(
        &self,
        answered: Option<crate::domain::Micros>,
        f: F,
        done: D,
    ) -> Result<(), StoreError>
    where
        R: Send + 'static,
        F: FnMut(&Connection) -> Result<R, StoreError> + Send + 'static,
        D: FnOnce(Result<R, StoreError>) + Send + 'static,
    {
        let sent = self.queue(Work::new(f, done, true, answered));
        if sent.is_err()
            && let Some(cost) = answered
        {
            self.shared.health.lost(cost);
        }
        sent
    }

    fn queue<R, F, D>(&self, w: Work<R, F, D>) -> Result<(), StoreError>
    where
        R: Send + 'static,
        F: FnMut(&Connection) -> Result<R, StoreError> + Send + 'static,
        D: FnOnce(Result<R, StoreError>) + Send + 'static,
    {
        self.tx
            .send(Job::Tx(Box::new(w)))
            .map_err(|_| StoreError::Closed)
    }

    /// Blocking variant for one-shot commands and non-async callers.
    pub fn call_blocking<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (otx, orx) = mpsc::channel();
        let sh = self.shared.clone();
        self.tx
            .send(Job::Plain(Box::new(move |c| {
                let _ = otx.send(f(c).map_err(|e| sh.name(e)));
            })))
            .map_err(|_| StoreError::Closed)?;
        orx.recv().map_err(|_| StoreError::Closed)?
    }
}

/// The store thread: plain jobs one by one; transactional jobs already queued are drained into
/// one transaction, so under load a commit (WAL append + locks) is paid once per group.
fn serve(conn: &mut Connection, rx: &mpsc::Receiver<Job>, sh: &Shared) {
    let mut next: Option<Job> = None;
    loop {
        let job = match next.take() {
            Some(j) => j,
            None => match rx.recv() {
                Ok(j) => j,
                Err(_) => return,
            },
        };
        match job {
            Job::Plain(f) => f(conn),
            Job::Tx(f) => {
                let mut group = vec![f];
                while group.len() < MAX_GROUP {
                    match rx.try_recv() {
                        Ok(Job::Tx(g)) => group.push(g),
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                run_group(conn, group, sh);
            }
        }
    }
}

/// How one try at committing a group ended.
enum Try {
    /// Committed, or failed for a reason retrying cannot fix.
    Done(Result<(), String>),
    /// The database cannot commit (disk full, read-only, I/O error): everything was rolled back.
    Unavailable(String),
}

/// Commit a group; while the database cannot commit, retry the jobs that may run again (pausing
/// the queue behind them, so FIFO order holds) until the outage's retry window ends.
fn run_group(conn: &mut Connection, mut group: Vec<TxJob>, sh: &Shared) {
    let mut pause = Duration::from_millis(50);
    let mut failed_before = false;
    loop {
        match try_group(conn, &mut group) {
            Try::Done(commit) => {
                // Only writes that failed and then went through end an outage: on a full disk
                // a small write can still fit in the WAL while anything larger fails.
                if failed_before && commit.is_ok() {
                    sh.health.recovered();
                }
                let commit = commit.map_err(StoreError::Invalid);
                for j in group {
                    j.deliver(commit_copy(&commit));
                }
                return;
            }
            Try::Unavailable(message) => {
                failed_before = true;
                sh.health.fail(&sh.describe(&message));
                let err = || StoreError::Unavailable {
                    path: sh.path.display().to_string(),
                    message: message.clone(),
                };
                let retry = sh.health.may_retry();
                let mut keep = Vec::with_capacity(group.len());
                for j in group {
                    if retry && j.can_run_again() {
                        keep.push(j);
                    } else {
                        if let Some(cost) = j.answered() {
                            sh.health.lost(cost);
                        }
                        j.deliver(Err(err()));
                    }
                }
                if keep.is_empty() {
                    return;
                }
                group = keep;
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }
}

fn commit_copy(c: &Result<(), StoreError>) -> Result<(), StoreError> {
    match c {
        Ok(()) => Ok(()),
        Err(e) => Err(StoreError::Invalid(e.to_string())),
    }
}

fn try_group(conn: &mut Connection, group: &mut [TxJob]) -> Try {
    let unavailable = |conn: &Connection, e: &rusqlite::Error| {
        let _ = conn.execute_batch("ROLLBACK");
        health::unavailable(e).map(|k| Try::Unavailable(k.message(e)))
    };
    if let Err(e) = begin_immediate(conn) {
        return health::unavailable(&e).map_or_else(
            || Try::Done(Err(format!("cannot start a write transaction: {e}"))),
            |k| Try::Unavailable(k.message(&e)),
        );
    }
    let alone = group.len() == 1;
    let mut all_ok = true;
    for j in group.iter_mut() {
        // A savepoint per job so one job's error undoes only its own writes.
        let sp = alone || conn.execute_batch("SAVEPOINT job").is_ok();
        all_ok &= sp;
        let ok = match j.run(conn) {
            Ran::Ok => true,
            Ran::Failed => false,
            Ran::Unavailable(message) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Try::Unavailable(message);
            }
        };
        if !alone && sp {
            let end = if ok {
                "RELEASE job"
            } else {
                "ROLLBACK TO job; RELEASE job"
            };
            if let Err(e) = conn.execute_batch(end) {
                if let Some(t) = unavailable(conn, &e) {
                    return t;
                }
                all_ok = false;
            }
        }
        all_ok &= ok || !alone;
    }
    let commit = if all_ok {
        match conn.execute_batch("COMMIT") {
            Ok(()) => Ok(()),
            Err(e) => {
                if let Some(t) = unavailable(conn, &e) {
                    return t;
                }
                Err(e.to_string())
            }
        }
    } else {
        Err("the transaction was rolled back".to_string())
    };
    if commit.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    Try::Done(commit)
}

/// `BEGIN IMMEDIATE`, retrying while another process holds the write lock beyond the timeout.
fn begin_immediate(conn: &Connection) -> rusqlite::Result<()> {
    let mut tries = 0;
    loop {
        match conn.execute_batch("BEGIN IMMEDIATE") {
            Err(e) if is_busy(&e) && tries < 20 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(5 * tries));
            }
            r => return r,
        }
    }
}

/// Background WAL checkpoints (PASSIVE: never blocks the writer). Stops when the process ends.
fn spawn_checkpointer(path: &Path) {
    let path = path.to_path_buf();
    let _ = std::thread::Builder::new()
        .name("store-checkpoint".into())
        .spawn(move || {
            let Ok(conn) = open_connection(&path) else {
                return;
            };
            loop {
                std::thread::sleep(Duration::from_millis(250));
                let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            }
        });
}

/// Run `f` in a `BEGIN IMMEDIATE` transaction, retrying while another process holds the lock
/// beyond the busy timeout.
pub fn immediate<R>(
    conn: &mut Connection,
    mut f: impl FnMut(&rusqlite::Transaction) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    let mut tries = 0;
    loop {
        let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) if is_busy(&e) && tries < 20 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(5 * tries));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let r = f(&tx)?;
        match tx.commit() {
            Ok(()) => return Ok(r),
            Err(e) if is_busy(&e) && tries < 20 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(5 * tries));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// `execute` through the connection's statement cache: hot statements are parsed once. For the
/// SQLite-only modules (budget, waiters, recovery); the others write their SQL once on
/// `sql::Sql`, whose SQLite side caches statements too.
pub fn exec(c: &Connection, sql: &str, p: impl rusqlite::Params) -> rusqlite::Result<usize> {
    c.prepare_cached(sql)?.execute(p)
}

/// `query_row` through the statement cache.
pub fn query_row<T>(
    c: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    c.prepare_cached(sql)?.query_row(p, f)
}

/// Run `insert` (an INSERT without RETURNING) and return the new row's `id`, which must be the
/// table's integer key. PostgreSQL reads it with `RETURNING id`; SQLite from the connection's
/// last rowid, since its RETURNING costs more than the insert itself (debug build, call rows in
/// one transaction: 6 µs a row with the rowid, 10 µs with RETURNING).
pub fn insert_returning_id(
    c: &dyn sql::Sql,
    insert: &str,
    args: &[sql::Value],
) -> Result<i64, StoreError> {
    match c.sqlite() {
        Some(conn) => {
            c.execute(insert, args)?;
            Ok(conn.last_insert_rowid())
        }
        None => c.query_row(&format!("{insert} RETURNING id"), args, |r| r.get(0)),
    }
}

/// RFC 3339 timestamp (UTC, milliseconds).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestJob = Box<dyn FnOnce(&Connection) -> Result<i64, StoreError> + Send>;

    #[test]
    fn processes_opening_a_new_database_at_once_all_succeed() {
        // Several commands started together on a fresh data dir (a script, the TUI and a
        // `runs` poll) race to switch the new file to WAL; none may fail "database is locked".
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(DB_FILE);
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
            let threads: Vec<_> = (0..6)
                .map(|_| {
                    let (path, barrier) = (path.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        open_connection(&path).map(|_| ())
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap().unwrap();
            }
        }
    }

    async fn store_with(schema: &'static str) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .call(move |c| Ok(c.execute_batch(schema)?))
            .await
            .unwrap();
        (dir, store)
    }

    fn count(c: &Connection) -> Result<i64, StoreError> {
        Ok(c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))?)
    }

    #[tokio::test]
    async fn queued_transactions_share_a_commit_and_fail_alone() {
        let (_dir, store) = store_with("CREATE TABLE t (v INTEGER UNIQUE)").await;
        // Hold the store thread so the next jobs queue up and are drained as one group.
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (held_tx, held_rx) = mpsc::channel::<()>();
        store
            .submit(
                |_| Ok(()),
                move |_| {
                    let _ = held_tx.send(());
                    let _ = go_rx.recv();
                },
            )
            .unwrap();
        held_rx.recv().unwrap();
        let (rtx, rrx) = mpsc::channel::<(u8, Result<i64, String>)>();
        let jobs: Vec<(u8, TestJob)> = vec![
            (
                1,
                Box::new(|c| Ok(c.execute("INSERT INTO t VALUES (1)", [])? as i64)),
            ),
            // Writes a row, then fails: its row must be undone, the others kept.
            (
                2,
                Box::new(|c| {
                    c.execute("INSERT INTO t VALUES (2)", [])?;
                    Ok(c.execute("INSERT INTO t VALUES (1)", [])? as i64)
                }),
            ),
            (
                3,
                Box::new(|c| {
                    c.execute("INSERT INTO t VALUES (3)", [])?;
                    count(c)
                }),
            ),
        ];
        for (k, f) in jobs {
            let rtx = rtx.clone();
            store
                .submit(f, move |r| {
                    let _ = rtx.send((k, r.map_err(|e| e.to_string())));
                })
                .unwrap();
        }
        go_tx.send(()).unwrap();
        let mut got: Vec<(u8, Result<i64, String>)> = (0..3).map(|_| rrx.recv().unwrap()).collect();
        got.sort_by_key(|g| g.0);
        assert_eq!(got[0].1, Ok(1));
        assert!(got[1].1.is_err(), "the failing job reports its own error");
        assert_eq!(got[2].1, Ok(2), "sees rows 1 and 3, not the undone 2");
        let rows: Vec<i64> = store
            .call(|c| {
                let mut st = c.prepare("SELECT v FROM t ORDER BY v")?;
                let v = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
                Ok(v)
            })
            .await
            .unwrap();
        assert_eq!(rows, vec![1, 3]);
    }

    #[tokio::test]
    async fn submitted_job_is_done_before_later_jobs_run() {
        let (_dir, store) = store_with("CREATE TABLE t (v INTEGER)").await;
        let (dtx, drx) = mpsc::channel();
        store
            .submit(
                |c| Ok(c.execute("INSERT INTO t VALUES (7)", [])?),
                move |r| {
                    let _ = dtx.send(r.is_ok());
                },
            )
            .unwrap();
        // A plain read queued afterwards sees the committed row, and `done` already ran.
        let n = store.call(|c| count(c)).await.unwrap();
        assert_eq!(n, 1);
        assert_eq!(drx.try_recv().ok(), Some(true));
    }
}
