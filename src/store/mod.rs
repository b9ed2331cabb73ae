//! The single source of truth: one SQLite database (WAL) served by one writer thread. Callers send
//! closures over a channel; every state change is committed before the engine acts on it.

pub mod alerts;
pub mod analyses;
pub mod backend;
pub mod breakers;
pub mod budget;
pub mod cancel;
mod claim;
pub mod events;
pub mod health;
pub mod inflight;
pub mod lease;
pub mod ledger;
pub mod migrations;
pub mod models;
pub mod owner;
#[cfg(test)]
mod parity_tests;
pub mod pg;
pub mod reader;
pub mod records;
pub mod recovery;
pub mod resume;
pub mod routing;
pub mod runs;
mod serve;
pub mod sql;
pub mod stmt_stats;
pub mod structured;
pub mod tui_reads;
pub mod views;
pub mod waiters;

use health::{Health, TxWork, Work};
use rusqlite::{Connection, TransactionBehavior};
use sql::Sql;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

pub use backend::{AnalysisStore, Backend, BudgetStore, RunStore, StoredRun, ViewStore};
pub use claim::RunClaim;
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

/// Work on the process's PostgreSQL session (its advisory locks); `None` on SQLite.
type SessionJob = Box<dyn FnOnce(Option<&mut pg::liveness::Session>) + Send>;

enum Job {
    /// Runs alone: on SQLite with the bare connection (it manages its own transactions), on
    /// PostgreSQL in a transaction of its own. Its result is delivered after its commit.
    Plain(TxJob),
    /// Runs inside a transaction the store thread opens; queued ones share one commit. The
    /// flag: someone awaits its commit (`transact`), so it is not held back to gather a group.
    Tx(TxJob, bool),
    Session(SessionJob),
}

impl Job {
    /// Someone waits for this job to be done (every job but a write sent behind).
    fn awaited(&self) -> bool {
        !matches!(self, Job::Tx(_, false))
    }
}

/// Most transactional jobs committed together (bounds the latency one commit adds).
const MAX_GROUP: usize = 128;
/// Prepared statements a connection keeps (rusqlite's LRU cache).
const STATEMENT_CACHE: usize = 256;

/// Where the store is.
#[derive(Debug, Clone)]
pub enum Target {
    /// `<data dir>/orchestrator.db`.
    Sqlite(PathBuf),
    /// The org-wide store (`[store] url`).
    Postgres(Box<pg::PgTarget>),
}

/// What the store thread and every handle share: the database and whether it can be written.
struct Shared {
    path: PathBuf,
    /// The file's path, or the server and schema (never a password): what errors name.
    label: String,
    dialect: sql::Dialect,
    /// The server, on PostgreSQL (readers connect to it).
    pg: Option<pg::PgTarget>,
    health: Health,
    /// This process lost its locks on the PostgreSQL store to another: nothing runs any more.
    stopped: AtomicBool,
    /// Jobs sent to the store thread so far (each may wake it): what a call costs the store.
    jobs: std::sync::atomic::AtomicU64,
    /// Groups of write jobs the store thread has committed (or tried to): one transaction each.
    groups: std::sync::atomic::AtomicU64,
    /// Jobs someone awaits, queued and not yet taken by the store thread.
    awaited: std::sync::atomic::AtomicUsize,
}

impl Shared {
    /// Name the database in errors that are about it, and note that it cannot be written.
    fn name(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Sqlite(se) => match health::unavailable(&se) {
                Some(why) => {
                    let message = why.message(&se);
                    self.health.fail(&self.describe(&message));
                    StoreError::Unavailable {
                        path: self.label.clone(),
                        message,
                    }
                }
                None => StoreError::Sqlite(se),
            },
            StoreError::Unavailable { message, .. } => {
                self.health.fail(&self.describe(&message));
                StoreError::Unavailable {
                    path: self.label.clone(),
                    message,
                }
            }
            other => other,
        }
    }

    fn describe(&self, message: &str) -> String {
        format!("database {} {message}", self.label)
    }

    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
    }
}

/// Handle to the store thread; cheap to clone.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Job>,
    shared: Arc<Shared>,
    /// The store thread, unparked when a job someone awaits is queued (serve.rs's GATHER).
    thread: std::thread::Thread,
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
    // A call's writes alone run some twenty distinct statements; rusqlite keeps 16 by default,
    // and one evicted is parsed and planned again on its next use.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

impl Store {
    /// Open the store at `target` and start its thread.
    pub fn open_at(target: &Target) -> Result<Store, StoreError> {
        match target {
            Target::Sqlite(dir) => Store::open(dir),
            Target::Postgres(t) => Store::open_pg(t),
        }
    }

    /// Connect to the PostgreSQL store, migrate, take this process's lock, and start the
    /// thread that serves every job on one connection.
    pub fn open_pg(target: &pg::PgTarget) -> Result<Store, StoreError> {
        let pg = pg::thread::PgThread::open(target)?;
        let shared = Arc::new(Shared {
            path: PathBuf::from(target.describe()),
            label: target.describe().to_string(),
            dialect: sql::Dialect::Postgres,
            pg: Some(target.clone()),
            health: Health::default(),
            stopped: AtomicBool::new(false),
            jobs: Default::default(),
            groups: Default::default(),
            awaited: Default::default(),
        });
        Store::spawn(serve::Conn::Pg(Box::new(pg)), shared)
    }

    fn spawn(mut conn: serve::Conn, shared: Arc<Shared>) -> Result<Store, StoreError> {
        let (tx, rx) = mpsc::channel::<Job>();
        let sh = shared.clone();
        let thread = std::thread::Builder::new()
            .name("store".into())
            .spawn(move || {
                background_priority();
                serve::serve(&mut conn, &rx, &sh)
            })
            .map_err(|e| StoreError::Open {
                path: shared.label.clone(),
                message: e.to_string(),
            })?
            .thread()
            .clone();
        Ok(Store { tx, shared, thread })
    }

    /// Jobs sent to the store thread since it started (tests and benchmarks count what a model
    /// call costs the store: each job is a hand-off to the store thread, often a wake-up).
    pub fn jobs_sent(&self) -> u64 {
        self.shared.jobs.load(Ordering::Relaxed)
    }

    /// Groups of write jobs run as one transaction each so far (jobs per group: how much the
    /// store thread's group commit saves).
    pub fn groups_run(&self) -> u64 {
        self.shared.groups.load(Ordering::Relaxed)
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        self.shared.jobs.fetch_add(1, Ordering::Relaxed);
        let awaited = job.awaited();
        if awaited {
            // Counted before it is queued: the store thread uncounts it when it takes it.
            self.shared.awaited.fetch_add(1, Ordering::SeqCst);
        }
        match self.tx.send(job) {
            Ok(()) => {
                if awaited {
                    self.thread.unpark();
                }
                Ok(())
            }
            Err(_) => {
                if awaited {
                    self.shared.awaited.fetch_sub(1, Ordering::SeqCst);
                }
                Err(StoreError::Closed)
            }
        }
    }

    /// Which database this is (SQLite or PostgreSQL).
    pub fn dialect(&self) -> sql::Dialect {
        self.shared.dialect
    }

    /// The file's path, or the PostgreSQL server and schema (no password).
    pub fn describe(&self) -> &str {
        &self.shared.label
    }

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
            label: path.display().to_string(),
            dialect: sql::Dialect::Sqlite,
            pg: None,
            health: Health::default(),
            stopped: AtomicBool::new(false),
            jobs: Default::default(),
            groups: Default::default(),
            awaited: Default::default(),
        });
        Store::spawn(serve::Conn::Sqlite(conn), shared)
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

    /// Run `f` alone on the store thread and await its result: on SQLite with the bare
    /// connection (it manages its own transactions: [`immediate`]), on PostgreSQL in a
    /// transaction of its own (delivered after the commit).
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Sql) -> Result<R, StoreError> + Send + 'static,
    {
        let (otx, orx) = tokio::sync::oneshot::channel();
        self.plain(f, move |r| {
            let _ = otx.send(r);
        })?;
        orx.await.map_err(|_| StoreError::Closed)?
    }

    fn plain<R, F, D>(&self, f: F, done: D) -> Result<(), StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Sql) -> Result<R, StoreError> + Send + 'static,
        D: FnOnce(Result<R, StoreError>) + Send + 'static,
    {
        let sh = self.shared.clone();
        let done = move |r: Result<R, StoreError>| done(r.map_err(|e| sh.name(e)));
        let w = Work::new(once(f), done, false, None);
        self.send(Job::Plain(Box::new(w)))
    }

    /// Run `f` in a write transaction on the store thread and await its result, delivered only
    /// after the commit. Jobs queued together share one commit (group commit); each runs in its
    /// own savepoint, so an `Err` from `f` undoes only its own writes.
    pub async fn transact<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Sql) -> Result<R, StoreError> + Send + 'static,
    {
        let (otx, orx) = tokio::sync::oneshot::channel();
        let done = move |r| {
            let _ = otx.send(r);
        };
        self.queue(Work::new(once(f), done, false, None), true)?;
        orx.await.map_err(|_| StoreError::Closed)?
    }

    /// Queue `f` as `transact` does without waiting: `done` runs on the store thread after the
    /// commit. Later jobs from any caller are committed after this one (the queue is FIFO), so
    /// whatever the engine writes next can never be durable without it.
    pub fn submit<R, F, D>(&self, f: F, done: D) -> Result<(), StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Sql) -> Result<R, StoreError> + Send + 'static,
        D: FnOnce(Result<R, StoreError>) + Send + 'static,
    {
        self.queue(Work::new(once(f), done, false, None), false)
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
        F: FnMut(&dyn Sql) -> Result<R, StoreError> + Send + 'static,
        D: FnOnce(Result<R, StoreError>) + Send + 'static,
    {
        let sent = self.queue(Work::new(f, done, true, answered), false);
        if sent.is_err()
            && let Some(cost) = answered
        {
            self.shared.health.lost(cost);
        }
        sent
    }

    fn queue<R, F, D>(&self, w: Work<R, F, D>, awaited: bool) -> Result<(), StoreError>
    where
        R: Send + 'static,
        F: FnMut(&dyn Sql) -> Result<R, StoreError> + Send + 'static,
        D: FnOnce(Result<R, StoreError>) + Send + 'static,
    {
        self.send(Job::Tx(Box::new(w), awaited))
    }

    /// Blocking variant of [`Self::call`] for one-shot commands and non-async callers.
    pub fn call_blocking<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Sql) -> Result<R, StoreError> + Send + 'static,
    {
        let (otx, orx) = mpsc::channel();
        self.plain(f, move |r| {
            let _ = otx.send(r);
        })?;
        orx.recv().map_err(|_| StoreError::Closed)?
    }

    /// Run `f` on this process's PostgreSQL session (its advisory locks: taking a run's, letting
    /// it go) on the store thread, in order with the other jobs; `None` on SQLite.
    pub fn with_session_blocking<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(Option<&mut pg::liveness::Session>) -> R + Send + 'static,
    {
        let (otx, orx) = mpsc::channel();
        self.send(Job::Session(Box::new(move |s| {
            let _ = otx.send(f(s));
        })))?;
        orx.recv().map_err(|_| StoreError::Closed)
    }

    /// [`Self::with_session_blocking`] for async callers.
    pub async fn with_session<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(Option<&mut pg::liveness::Session>) -> R + Send + 'static,
    {
        let (otx, orx) = tokio::sync::oneshot::channel();
        self.send(Job::Session(Box::new(move |s| {
            let _ = otx.send(f(s));
        })))?;
        orx.await.map_err(|_| StoreError::Closed)
    }
}

/// The store thread's writes are behind the engine (nothing on a call's path waits for them),
/// so on Linux it may run as SCHED_BATCH, whose wake-ups do not preempt a running thread: a
/// wake-up per call then does not cut into the runtime threads serving other calls on a busy
/// machine. Opt-in (`ORCHESTRATOR_STORE_SCHED_BATCH=1`) until measured on a quiet machine: on
/// PostgreSQL every round trip is a wake-up of this thread, which a busy machine then delays.
fn background_priority() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("ORCHESTRATOR_STORE_SCHED_BATCH").is_some_and(|v| v == "1") {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: sets the calling thread's policy (pid 0) from a valid sched_param.
        let _ = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
    }
}

/// A job that runs once: run again (after a rollback) it says so instead.
fn once<R>(
    f: impl FnOnce(&dyn Sql) -> Result<R, StoreError>,
) -> impl FnMut(&dyn Sql) -> Result<R, StoreError> {
    let mut once = Some(f);
    move |c: &dyn Sql| match once.take() {
        Some(f) => f(c),
        None => Err(StoreError::Invalid("a write was run twice".into())),
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
    conn: &Connection,
    mut f: impl FnMut(&rusqlite::Transaction) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    let mut tries = 0;
    loop {
        let tx = match rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate) {
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

/// Run `f` as one write transaction on either backend: on a SQLite connection in autocommit
/// mode a `BEGIN IMMEDIATE` one ([`immediate`]); inside a transaction already (a PostgreSQL
/// plain job always is) in that one.
pub fn atomic<R>(
    c: &dyn Sql,
    mut f: impl FnMut(&dyn Sql) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    match c.sqlite() {
        Some(conn) if conn.is_autocommit() => immediate(conn, |tx| f(tx)),
        _ => f(c),
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
mod thread_tests;
