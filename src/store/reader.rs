//! A connection of its own for a reader outside the store thread (the TUI's snapshot loader):
//! SQLite's file opened again (WAL: reads never wait for the writer), or a PostgreSQL
//! connection where each read is one transaction, so a snapshot is consistent.

use super::sql::{PgSql, Sql, StatementCache};
use super::{Store, StoreError, pg};
use std::path::PathBuf;

/// Where a reader connects: the store's file or its server.
#[derive(Debug, Clone)]
pub enum ReadTarget {
    Sqlite(PathBuf),
    Postgres(Box<pg::PgTarget>),
}

impl From<PathBuf> for ReadTarget {
    fn from(p: PathBuf) -> Self {
        ReadTarget::Sqlite(p)
    }
}

pub enum Reader {
    Sqlite(rusqlite::Connection),
    Postgres {
        client: Box<postgres::Client>,
        cache: StatementCache,
    },
}

impl ReadTarget {
    pub fn open(&self) -> Result<Reader, StoreError> {
        Ok(match self {
            ReadTarget::Sqlite(p) => Reader::Sqlite(super::open_connection(p)?),
            ReadTarget::Postgres(t) => Reader::Postgres {
                client: Box::new(t.connect()?),
                cache: StatementCache::default(),
            },
        })
    }
}

impl Reader {
    /// Run `f` on the connection (on PostgreSQL in a transaction of its own, rolled back).
    pub fn read<R>(
        &mut self,
        f: impl FnOnce(&dyn Sql) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        match self {
            Reader::Sqlite(c) => f(c),
            Reader::Postgres { client, cache } => {
                let mut t = client
                    .build_transaction()
                    .isolation_level(postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()?;
                let r = f(&PgSql::new(&mut t, cache));
                let _ = t.rollback();
                r
            }
        }
    }
}

impl Store {
    /// Where a reader of this store connects.
    pub fn read_target(&self) -> ReadTarget {
        match &self.shared.pg {
            Some(t) => ReadTarget::Postgres(Box::new(t.clone())),
            None => ReadTarget::Sqlite(self.shared.path.clone()),
        }
    }
}
