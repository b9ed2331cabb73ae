//! One store of either backend for property tests of the ledger (issue 19: "the same property
//! tests ... against SQLite and PostgreSQL"): an in-memory SQLite database, or a PostgreSQL
//! schema of its own (`PgSchema`, dropped with it). Operations run through `&dyn Sql`, as the
//! store thread's jobs do, each in one transaction.

use super::pg::PgSchema;
use orchestrator_tui::args;
use orchestrator_tui::store::pg::PgConn;
use orchestrator_tui::store::sql::{PgSql, Sql, StatementCache};
use orchestrator_tui::store::{self, StoreError};

pub enum LedgerDb {
    Sqlite(rusqlite::Connection),
    Pg {
        // Boxed, with the schema: each holds a client config of ~1 KB.
        conn: Box<PgConn>,
        cache: StatementCache,
        // Dropped last: the schema goes once the connection is closed.
        _schema: Box<PgSchema>,
    },
}

impl LedgerDb {
    /// A migrated in-memory SQLite store.
    pub fn sqlite() -> LedgerDb {
        let mut c = rusqlite::Connection::open_in_memory().expect("in-memory SQLite");
        store::migrations::migrate(&mut c).expect("migrate");
        LedgerDb::Sqlite(c)
    }

    /// A migrated PostgreSQL schema of its own; `None` (with a notice) without a server.
    pub fn postgres(tag: &str) -> Option<LedgerDb> {
        let schema = PgSchema::new(tag)?;
        let conn = PgConn::open(&schema.target).expect("PostgreSQL store opens");
        // Commits need not reach the disk for these properties (no crash of the server is
        // tested here), so no write transaction waits for its WAL flush.
        conn.client()
            .batch_execute("SET synchronous_commit = off")
            .expect("session setting");
        Some(LedgerDb::Pg {
            conn: Box::new(conn),
            cache: StatementCache::default(),
            _schema: Box::new(schema),
        })
    }

    /// Empty every table but the schema's version, so a property's next case starts fresh
    /// without migrating a new schema (seconds a case on the server). DELETE, not TRUNCATE:
    /// these tables hold a few rows and TRUNCATE makes new files for each (0.4 s); every
    /// foreign key cascades, so the order does not matter.
    pub fn reset(&self) {
        let list = match self {
            LedgerDb::Sqlite(_) => {
                "SELECT name FROM sqlite_master WHERE type = 'table'
                 AND name NOT LIKE 'sqlite_%' AND name <> 'schema_version'"
            }
            LedgerDb::Pg { .. } => {
                "SELECT tablename FROM pg_tables
                 WHERE schemaname = current_schema() AND tablename <> 'schema_version'"
            }
        };
        self.with(|c| {
            for t in c.query(list, args![])? {
                c.execute(&format!("DELETE FROM \"{}\"", t.get::<String>(0)?), args![])?;
            }
            Ok(())
        })
        .expect("empty the tables");
    }

    /// `f` in one write transaction (`BEGIN IMMEDIATE` on SQLite).
    pub fn with<R>(
        &self,
        mut f: impl FnMut(&dyn Sql) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        match self {
            LedgerDb::Sqlite(c) => store::atomic(c, f),
            LedgerDb::Pg { conn, cache, .. } => conn.tx(|t| f(&PgSql::new(t, cache))),
        }
    }

    /// The first column of the first row as an integer (SQL both backends read).
    pub fn one(&self, sql: &str, args: &[store::sql::Value]) -> i64 {
        self.with(|c| {
            let rows = c.query(sql, args)?;
            match rows.first() {
                Some(r) => r.get::<i64>(0),
                None => Ok(0),
            }
        })
        .expect("query")
    }
}

/// `n` cases, or `PROPTEST_CASES` when set (long local runs of the PostgreSQL properties, which
/// set their count explicitly).
pub fn cases(n: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(n)
}
