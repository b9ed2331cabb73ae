//! What the store thread holds on PostgreSQL: the connection its jobs run on (with its prepared
//! statements), and the process's `liveness::Session` (the advisory locks that say it is alive
//! and which runs it drives). After a lost connection both come back before any further job
//! runs, and the locks are taken again first: if another process holds one meanwhile (the run
//! was resumed elsewhere), this process must stop.

use super::liveness::{LockError, Session};
use super::{PgTarget, schema};
use crate::store::StoreError;
use crate::store::sql::StatementCache;
use postgres::Client;
use std::cell::Cell;
use std::time::{Duration, Instant};

thread_local! {
    /// The process lock that owns reservations made on this thread (the store thread's
    /// session): `BudgetStore for dyn Sql` stamps it on every reservation it inserts.
    static OWNER_LOCK: Cell<Option<i64>> = const { Cell::new(None) };
}

/// The owner lock of reservations made on the current thread.
pub fn owner_lock() -> Option<i64> {
    OWNER_LOCK.with(Cell::get)
}

pub fn set_owner_lock(key: Option<i64>) {
    OWNER_LOCK.with(|c| c.set(key));
}

/// How often the session's connection is checked while jobs go through (a lost session means
/// lost locks: others may take this process's runs and settle its reservations).
const SESSION_CHECK: Duration = Duration::from_secs(1);

/// Why the store cannot go on.
#[derive(Debug)]
pub enum Lost {
    /// The server cannot be reached now: try again later (the message says why).
    Away(String),
    /// Another process took one of this process's locks while it was away: stop for good.
    Taken(String),
}

/// The end of "database <server> ...": why it cannot be reached, without repeating its name.
fn away(e: &StoreError) -> String {
    match e {
        StoreError::Open { message, .. } => format!("is unreachable: {message}"),
        StoreError::Unavailable { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

pub struct PgThread {
    target: PgTarget,
    client: Option<Client>,
    cache: StatementCache,
    session: Session,
    checked: Instant,
    /// Set when the connection was lost: the next commit after a reconnect ends the outage.
    pub reconnected: bool,
}

impl PgThread {
    /// Connect, migrate and take this process's lock.
    pub fn open(target: &PgTarget) -> Result<PgThread, StoreError> {
        let mut client = target.connect()?;
        schema::migrate(&mut client, target)?;
        let session = Session::open(target)?;
        Ok(PgThread {
            target: target.clone(),
            client: Some(client),
            cache: StatementCache::default(),
            session,
            checked: Instant::now(),
            reconnected: false,
        })
    }

    pub fn target(&self) -> &PgTarget {
        &self.target
    }

    pub fn process_key(&self) -> i64 {
        self.session.process_key()
    }

    pub fn session(&mut self) -> &mut Session {
        &mut self.session
    }

    /// The connection for the next job and its statements, reconnecting (session first) if it
    /// was lost.
    pub fn client(&mut self) -> Result<(&mut Client, &StatementCache), Lost> {
        let closed = self.client.as_ref().is_none_or(Client::is_closed);
        if closed || self.checked.elapsed() >= SESSION_CHECK {
            self.checked = Instant::now();
            if !self.session.alive() {
                self.reconnected = true;
                self.session.reconnect().map_err(|e| match e {
                    LockError::Taken(what) => Lost::Taken(format!(
                        "another process holds the lock of {what} since the connection to {} \
                         was lost: this process stops",
                        self.target.describe()
                    )),
                    LockError::Store(e) => Lost::Away(away(&e)),
                })?;
                tracing::info!(
                    "reconnected to {}; locks taken again",
                    self.target.describe()
                );
            }
        }
        if closed {
            self.reconnected = true;
            // Statements belong to the connection that prepared them.
            self.cache = StatementCache::default();
            self.client = None;
            let c = self.target.connect().map_err(|e| Lost::Away(away(&e)))?;
            self.client = Some(c);
        }
        match self.client.as_mut() {
            Some(c) => Ok((c, &self.cache)),
            None => Err(Lost::Away("not connected".into())),
        }
    }

    /// The connection failed mid-job: drop it so the next job reconnects.
    pub fn lost(&mut self) {
        self.client = None;
        self.checked = Instant::now() - SESSION_CHECK;
    }
}
