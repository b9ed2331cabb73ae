//! The single source of truth: one SQLite database (WAL) served by one writer thread. Callers send
//! closures over a channel; every state change is committed before the engine acts on it.

pub mod migrations;
pub mod models;
pub mod records;
pub mod runs;

use rusqlite::{Connection, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

pub use records::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database at {path}: {message}")]
    Open { path: String, message: String },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the store thread has stopped")]
    Closed,
}

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Handle to the store thread; cheap to clone.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Job>,
    path: PathBuf,
}

pub const DB_FILE: &str = "orchestrator.db";

/// Open a connection with the pragmas every connection needs (several processes share the file).
pub fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let open_err = |e: rusqlite::Error| StoreError::Open {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let conn = Connection::open(path).map_err(open_err)?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(open_err)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(open_err)?;
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
        migrations::migrate(&mut conn).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            message: format!("migration failed: {e}"),
        })?;
        // Checkpoints run on their own connection and thread: a checkpoint inside a writer's
        // commit (the default) stalls that call for milliseconds, which shows in tail latency.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
        spawn_checkpointer(&path);
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("store".into())
            .spawn(move || {
                for job in rx {
                    job(&mut conn);
                }
            })
            .map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
        Ok(Store { tx, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `f` on the store thread and await its result.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (otx, orx) = tokio::sync::oneshot::channel();
        self.tx
            .send(Box::new(move |c| {
                let _ = otx.send(f(c));
            }))
            .map_err(|_| StoreError::Closed)?;
        orx.await.map_err(|_| StoreError::Closed)?
    }

    /// Blocking variant for one-shot commands and non-async callers.
    pub fn call_blocking<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (otx, orx) = mpsc::channel();
        self.tx
            .send(Box::new(move |c| {
                let _ = otx.send(f(c));
            }))
            .map_err(|_| StoreError::Closed)?;
        orx.recv().map_err(|_| StoreError::Closed)?
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

/// `execute` through the connection's statement cache: hot statements are parsed once.
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

/// RFC 3339 timestamp (UTC, milliseconds).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
