//! Who drives a run, seen from every machine sharing the PostgreSQL store: the run's advisory
//! lock, held on the process's session connection (`pg/liveness.rs`) while the run is driven
//! and let go when it ends. On SQLite the lock file in the data dir does this (`liveness.rs`),
//! and claiming is a no-op.

use super::sql::Sql;
use super::{Job, Store, StoreError};

/// A run's lock, held until this is dropped.
pub struct RunClaim {
    store: Store,
    run: String,
}

impl Store {
    /// Take run `run`'s lock on the PostgreSQL store (`Ok(None)` on SQLite). Refused with
    /// `Invalid` while another process, on any machine, drives it.
    pub async fn claim_run(&self, run: &str) -> Result<Option<RunClaim>, StoreError> {
        let id = run.to_string();
        let taken = self
            .with_session(move |s| s.map(|s| s.claim_run(&id)))
            .await?;
        match taken {
            None => Ok(None),
            Some(Ok(())) => Ok(Some(RunClaim {
                store: self.clone(),
                run: run.to_string(),
            })),
            Some(Err(super::pg::liveness::LockError::Taken(_))) => {
                Err(StoreError::Invalid(format!(
                    "run {run} is being driven by another live process (its lock is held in \
                     {}); wait for it or stop it first",
                    self.describe()
                )))
            }
            Some(Err(super::pg::liveness::LockError::Store(e))) => Err(e),
        }
    }
}

impl Drop for RunClaim {
    fn drop(&mut self) {
        let run = std::mem::take(&mut self.run);
        // Queued behind the run's last writes; nobody waits for it.
        let _ = self.store.send(Job::Session(Box::new(move |s| {
            if let Some(s) = s
                && let Err(e) = s.release_run(&run)
            {
                tracing::warn!("could not let go of run {run}'s lock: {e}");
            }
        })));
    }
}

/// On PostgreSQL, whether each run's lock is held (one query for all of them); nothing on
/// SQLite.
pub(crate) fn fill_locks<T>(
    c: &dyn Sql,
    rows: &mut [T],
    id: impl Fn(&T) -> &String,
    set: impl Fn(&mut T, bool),
) -> Result<(), StoreError> {
    if c.dialect() != super::sql::Dialect::Postgres || rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = rows.iter().map(|r| id(r).clone()).collect();
    let held = c.pg(|t| super::pg::liveness::runs_held(t, &ids))?;
    for r in rows.iter_mut() {
        let h = held.contains(id(r));
        set(r, h);
    }
    Ok(())
}
