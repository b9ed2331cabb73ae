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
            ReadTarget::Postgres(t) => {
                let mut client = t.connect()?;
                // Named in pg_stat_activity (what each connection of a process is for).
                client.batch_execute(&format!(
                    "SET application_name = 'orchestrator-tui reader {}'",
                    t.schema()
                ))?;
                Reader::Postgres {
                    client: Box::new(client),
                    cache: StatementCache::default(),
                }
            }
        })
    }
}

impl Reader {
    /// The server closed the connection (PostgreSQL; a SQLite file never is).
    pub fn is_closed(&self) -> bool {
        match self {
            Reader::Sqlite(_) => false,
            Reader::Postgres { client, .. } => client.is_closed(),
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Micros;
    use crate::domain::status::RunStatus;
    use crate::store::RunStore;

    #[test]
    fn a_reader_sees_the_postgres_store_with_who_drives_each_run() {
        let Some(schema) = pg::TestSchema::new("reader") else {
            return;
        };
        let store = Store::open_pg(&schema.0).unwrap();
        let new = |id: &str| super::super::NewRun {
            id: id.into(),
            description: format!("build {id}"),
            criteria: String::new(),
            team: None,
            strategy: "quality".into(),
            budget: Micros(1_000_000),
            time_limit_secs: 60,
            concurrency: 1,
            output_dir: "/tmp/unused".into(),
            plan: None,
            simulated: true,
        };
        store
            .call_blocking(move |c| {
                super::super::runs::insert_run(c, &new("r-dead"))?;
                super::super::runs::insert_run(c, &new("r-live"))
            })
            .unwrap();
        // r-live is driven (its lock held by this process's session); r-dead by nobody.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let claim = rt.block_on(store.claim_run("r-live")).unwrap();
        assert!(claim.is_some());
        let mut reader = store.read_target().open().unwrap();
        // What the TUI's loader reads (its runs list, through the reader's own connection).
        let runs = reader.read(|c| c.list_runs()).unwrap();
        let held = |id: &str| runs.iter().find(|r| r.id == id).and_then(|r| r.lock_held);
        assert_eq!(held("r-live"), Some(true));
        assert_eq!(held("r-dead"), Some(false));
        assert!(runs.iter().all(|r| r.status == RunStatus::Running));
        // Let go of it: interrupted for every reader.
        drop(claim);
        let n = store
            .call_blocking(|c| super::super::runs::list_runs(c))
            .unwrap();
        let live = n
            .iter()
            .find(|r| r.id == "r-live")
            .and_then(|r| r.lock_held);
        assert_eq!(live, Some(false));
    }
}
