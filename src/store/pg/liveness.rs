//! Liveness across machines: the driving process holds session-level advisory locks on a
//! connection it keeps open (one for the process, one per run it drives); the server drops them
//! the moment the process or its network dies. A `running` run whose lock is free is
//! `interrupted`; a reservation whose owner's process lock is free is settled by whoever opens
//! the store next. No timeout or heartbeat decides.
//!
//! Keys are 64-bit hashes of (schema, name), so orgs and test suites sharing a database never
//! see each other's locks.

use super::{PgTarget, StoreError};
use postgres::Client;

/// FNV-1a of `schema`, a 0 byte, and `name`: stable across builds and machines.
pub fn key(schema: &str, name: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in schema.bytes().chain([0u8]).chain(name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
}

/// The lock key of a run.
pub fn run_key(schema: &str, run: &str) -> i64 {
    key(schema, &format!("run:{run}"))
}

/// Is the advisory lock `key` held by any session on this database? Read from `pg_locks`, so
/// asking never takes (or briefly steals) the lock.
pub fn held(c: &mut impl postgres::GenericClient, key: i64) -> Result<bool, StoreError> {
    let hi = (key as u64 >> 32) as i64;
    let lo = (key as u64 & 0xffff_ffff) as i64;
    let row = c.query_one(
        "SELECT EXISTS (SELECT 1 FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND objsubid = 1
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND classid = $1::bigint::oid AND objid = $2::bigint::oid)",
        &[&hi, &lo],
    )?;
    Ok(row.get(0))
}

/// Which of `keys` are held (one round trip).
pub fn held_set(
    c: &mut impl postgres::GenericClient,
    keys: &[i64],
) -> Result<std::collections::HashSet<i64>, StoreError> {
    let rows = c.query(
        "SELECT ((classid::bigint << 32) | objid::bigint) FROM pg_locks
          WHERE locktype = 'advisory' AND granted AND objsubid = 1
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        &[],
    )?;
    let all: std::collections::HashSet<i64> = rows.iter().map(|r| r.get::<_, i64>(0)).collect();
    Ok(keys.iter().copied().filter(|k| all.contains(k)).collect())
}

/// Which of `runs` have their run lock held, on the schema the transaction works in.
pub fn runs_held(
    t: &mut impl postgres::GenericClient,
    runs: &[String],
) -> Result<std::collections::HashSet<String>, StoreError> {
    let schema: String = t.query_one("SELECT current_schema()::text", &[])?.get(0);
    let keys: Vec<i64> = runs.iter().map(|r| run_key(&schema, r)).collect();
    let held = held_set(t, &keys)?;
    Ok(runs
        .iter()
        .zip(&keys)
        .filter(|(_, k)| held.contains(k))
        .map(|(r, _)| r.clone())
        .collect())
}

/// A process's hold on the store: its own connection with its process lock and the locks of
/// the runs it drives.
pub struct Session {
    client: Client,
    target: PgTarget,
    process_key: i64,
    runs: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("run {0} is driven by another process (its lock is held)")]
    Taken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Session {
    /// Connect and take a fresh process lock (a random key, drawn again if ever held).
    pub fn open(target: &PgTarget) -> Result<Session, StoreError> {
        let mut client = target.connect()?;
        let mut tries = 0;
        let process_key = loop {
            let k = random_key();
            let got: bool = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&k])?
                .get(0);
            if got {
                break k;
            }
            tries += 1;
            if tries > 8 {
                return Err(StoreError::Postgres("could not take a process lock".into()));
            }
        };
        Ok(Session {
            client,
            target: target.clone(),
            process_key,
            runs: Vec::new(),
        })
    }

    /// The key stamped on this process's reservations.
    pub fn process_key(&self) -> i64 {
        self.process_key
    }

    /// Take run `run`'s lock; refused while another session holds it.
    pub fn claim_run(&mut self, run: &str) -> Result<(), LockError> {
        let k = run_key(self.target.schema(), run);
        let got: bool = self
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&k])
            .map_err(StoreError::from)?
            .get(0);
        if !got {
            return Err(LockError::Taken(run.to_string()));
        }
        if !self.runs.iter().any(|r| r == run) {
            self.runs.push(run.to_string());
        }
        Ok(())
    }

    /// Let go of run `run` (it ended).
    pub fn release_run(&mut self, run: &str) -> Result<(), StoreError> {
        let k = run_key(self.target.schema(), run);
        self.client
            .execute("SELECT pg_advisory_unlock($1)", &[&k])?;
        self.runs.retain(|r| r != run);
        Ok(())
    }

    /// The server process of this session (`pg_terminate_backend` ends it, as a crash would).
    pub fn backend_pid(&mut self) -> Result<i32, StoreError> {
        Ok(self
            .client
            .query_one("SELECT pg_backend_pid()", &[])?
            .get(0))
    }

    /// Is the connection holding the locks still up?
    pub fn alive(&mut self) -> bool {
        !self.client.is_closed() && self.client.simple_query("SELECT 1").is_ok()
    }

    /// After a lost connection: reconnect and take the same locks again before any further
    /// call. A lock another session took meanwhile (the run was resumed elsewhere, or this
    /// process's reservations were settled as dead) means this process must stop.
    pub fn reconnect(&mut self) -> Result<(), LockError> {
        let mut client = self.target.connect()?;
        if !relock(&mut client, self.process_key)? {
            return Err(LockError::Taken("this process".into()));
        }
        for run in &self.runs {
            if !relock(&mut client, run_key(self.target.schema(), run))? {
                return Err(LockError::Taken(format!("run {run}")));
            }
        }
        self.client = client;
        Ok(())
    }

    /// The runs this session drives.
    pub fn runs(&self) -> &[String] {
        &self.runs
    }
}

/// Take lock `key` again after a lost connection. The server ends the old connection's backend
/// (and frees its locks) a moment after noticing it is gone, so a lock still held is asked
/// again for a few seconds before it counts as taken by another.
fn relock(client: &mut Client, key: i64) -> Result<bool, StoreError> {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])?
            .get(0);
        if got || std::time::Instant::now() >= until {
            return Ok(got);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn random_key() -> i64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_schema_and_name_and_are_stable() {
        assert_eq!(key("a", "run:r-1"), key("a", "run:r-1"));
        assert_ne!(key("a", "run:r-1"), key("b", "run:r-1"));
        assert_ne!(key("ab", "c"), key("a", "bc"));
        // FNV-1a of the empty input is its offset basis.
        assert_eq!(key("", "") as u64, 0xaf63_bd4c_8601_b7df);
    }
}
