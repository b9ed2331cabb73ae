//! Live updates: every change to the tables a TUI shows or an engine routes by sends a
//! notification on the schema's own channel ([`channel`]; a trigger per table, `schema.rs`),
//! with the table as payload: listeners hear nothing of the other schemas of the database. A `Listener` on its own connection hears changes made by any machine.
//! [`watch`] shares one listener per store and process (the TUI's loader and the engine both
//! subscribe) on a thread that blocks on it, reconnects with backoff when it is lost, and
//! tells every subscriber what it heard.

use super::{PgTarget, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// What changed: a table of the listener's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Runs,
    Breakers,
    Budget,
    Other(String),
}

/// The channel a schema's changes are notified on: one per schema (several orgs or test suites
/// share a database), named by a hash since a schema name may take all 63 characters a channel
/// name has.
pub fn channel(schema: &str) -> String {
    format!(
        "orchestrator_{:016x}",
        super::liveness::key(schema, "notify") as u64
    )
}

pub struct Listener {
    client: postgres::Client,
}

impl Listener {
    pub fn open(target: &PgTarget) -> Result<Listener, StoreError> {
        let mut client = target.connect()?;
        client.batch_execute(&format!(
            "SET application_name = 'orchestrator-tui listener {}'; LISTEN {}",
            target.schema(),
            channel(target.schema())
        ))?;
        Ok(Listener { client })
    }

    /// Whether the connection still answers (a silent network loss shows no error otherwise).
    pub fn ping(&mut self) -> Result<(), StoreError> {
        self.client.simple_query("SELECT 1")?;
        Ok(())
    }

    /// The changes in this schema heard within `wait` (empty when none), each once.
    pub fn changes(&mut self, wait: Duration) -> Result<Vec<Change>, StoreError> {
        use postgres::fallible_iterator::FallibleIterator;
        let mut notes = Vec::new();
        let mut n = self.client.notifications();
        let first = n.timeout_iter(wait).next()?;
        if let Some(first) = first {
            notes.push(first);
            // Then whatever else is already queued, without waiting again.
            let mut rest = n.iter();
            while let Some(more) = rest.next()? {
                notes.push(more);
            }
        }
        let mut out = Vec::new();
        for note in notes {
            let c = match note.payload() {
                "runs" => Change::Runs,
                "breakers" | "key_disables" => Change::Breakers,
                "budget_levels" => Change::Budget,
                other => Change::Other(other.to_string()),
            };
            if !out.contains(&c) {
                out.push(c);
            }
        }
        Ok(out)
    }
}

/// What a subscriber of [`watch`] is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Tables changed (by any process, this one included).
    Changes(Vec<Change>),
    /// Listening (again): changes made while not listening were missed, so reload everything.
    Listening,
    /// The listener's connection is lost (or cannot be opened): poll until `Listening`.
    Lost,
    /// Nothing for a while: a chance to say the subscriber is gone (return `false`).
    Quiet,
}

/// A subscriber: `false` unsubscribes it.
pub type Subscriber = Box<dyn FnMut(&Heard) -> bool + Send>;

/// How long the listener blocks before asking subscribers whether they are still there.
const QUIET: Duration = Duration::from_secs(5);
/// Silence after which the connection is checked with a query.
const PING_AFTER: Duration = Duration::from_secs(30);
/// After a batch of changes, at most one more batch this soon: a busy store (another machine
/// settling hundreds of calls a second) costs subscribers a few reloads a second, not hundreds.
const MIN_GAP: Duration = Duration::from_millis(200);
/// Reconnect backoff: doubled after each failure, from the first to the last.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(250), Duration::from_secs(30));

struct Hub {
    subs: Mutex<Vec<Subscriber>>,
    listening: AtomicBool,
}

type Hubs = Mutex<HashMap<String, Arc<Hub>>>;

fn hubs() -> &'static Hubs {
    static HUBS: OnceLock<Hubs> = OnceLock::new();
    HUBS.get_or_init(Default::default)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Subscribe to the changes of `target`'s schema. One listener connection and thread serve
/// every subscriber of a store in this process; the thread ends with its last subscriber.
/// The subscriber is told at once whether the listener is connected (`Listening`) or not yet
/// (`Lost`), then whatever is heard.
pub fn watch(target: &PgTarget, mut sub: Subscriber) -> std::io::Result<()> {
    let key = target.describe().to_string();
    let mut all = lock(hubs());
    if let Some(hub) = all.get(&key) {
        let now = if hub.listening.load(Ordering::SeqCst) {
            Heard::Listening
        } else {
            Heard::Lost
        };
        if sub(&now) {
            lock(&hub.subs).push(sub);
        }
        return Ok(());
    }
    if !sub(&Heard::Lost) {
        return Ok(());
    }
    let hub = Arc::new(Hub {
        subs: Mutex::new(vec![sub]),
        listening: AtomicBool::new(false),
    });
    let (t, h, k) = (target.clone(), hub.clone(), key.clone());
    std::thread::Builder::new()
        .name("pg-listen".into())
        .spawn(move || listen(&t, &h, &k))?;
    all.insert(key, hub);
    Ok(())
}

/// Tell every subscriber; `false` once none is left (the hub is then removed).
fn dispatch(hub: &Hub, key: &str, heard: &Heard) -> bool {
    {
        let mut subs = lock(&hub.subs);
        subs.retain_mut(|s| s(heard));
        if !subs.is_empty() {
            return true;
        }
    }
    // Same lock order as `watch` (hubs, then subscribers): nobody joins between the check and
    // the removal.
    let mut all = lock(hubs());
    if lock(&hub.subs).is_empty() {
        all.remove(key);
        return false;
    }
    true
}

/// The listener thread: block on notifications, reconnect with backoff, never spin.
fn listen(target: &PgTarget, hub: &Hub, key: &str) {
    let mut backoff = BACKOFF.0;
    let mut reported = false;
    loop {
        match Listener::open(target) {
            Ok(mut l) => {
                backoff = BACKOFF.0;
                reported = false;
                hub.listening.store(true, Ordering::SeqCst);
                if !dispatch(hub, key, &Heard::Listening) {
                    return;
                }
                let mut heard_at = Instant::now();
                let lost = loop {
                    match l.changes(QUIET) {
                        Ok(c) if c.is_empty() => {
                            if heard_at.elapsed() >= PING_AFTER {
                                if let Err(e) = l.ping() {
                                    break e;
                                }
                                heard_at = Instant::now();
                            }
                            if !dispatch(hub, key, &Heard::Quiet) {
                                return;
                            }
                        }
                        Ok(c) => {
                            heard_at = Instant::now();
                            if !dispatch(hub, key, &Heard::Changes(c)) {
                                return;
                            }
                            std::thread::sleep(MIN_GAP);
                        }
                        Err(e) => break e,
                    }
                };
                tracing::warn!("store notifications lost ({lost}); polling until reconnected");
                hub.listening.store(false, Ordering::SeqCst);
                if !dispatch(hub, key, &Heard::Lost) {
                    return;
                }
            }
            Err(e) => {
                if !reported {
                    tracing::warn!("cannot listen for store notifications: {e}");
                    reported = true;
                }
            }
        }
        // Wait out the backoff in slices, letting go when nobody listens any more.
        let until = Instant::now() + backoff;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(QUIET));
            if !dispatch(hub, key, &Heard::Quiet) {
                return;
            }
        }
        backoff = (backoff * 2).min(BACKOFF.1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{Receiver, channel};

    /// The next thing heard other than `Quiet` (bounded: the bound only ends a failing test).
    fn next(rx: &Receiver<Heard>) -> Heard {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Heard::Quiet) => {}
                Ok(h) => return h,
                Err(e) => panic!("nothing heard: {e}"),
            }
        }
    }

    #[test]
    fn subscribers_hear_every_notified_table_and_the_listener_comes_back_after_a_loss() {
        let Some(schema) = super::super::TestSchema::new("notify") else {
            return;
        };
        // Migrated, with its triggers.
        let store = crate::store::Store::open_pg(&schema.0).unwrap();
        let (tx, rx) = channel();
        watch(&schema.0, Box::new(move |h| tx.send(h.clone()).is_ok())).unwrap();
        assert_eq!(next(&rx), Heard::Lost, "not connected yet");
        assert_eq!(next(&rx), Heard::Listening);

        // A statement on any notified table, even one changing no row, is heard.
        let mut other = schema.0.connect().unwrap();
        let tables = ["runs", "breakers", "budget_levels"]
            .iter()
            .chain(crate::store::pg::schema::NOTIFIED);
        for table in tables {
            other
                .batch_execute(&format!("DELETE FROM {table} WHERE false"))
                .unwrap();
            let want = match *table {
                "runs" => Change::Runs,
                "breakers" => Change::Breakers,
                "budget_levels" => Change::Budget,
                t => Change::Other(t.to_string()),
            };
            assert_eq!(next(&rx), Heard::Changes(vec![want]), "{table}");
        }

        // Another schema's changes are not heard.
        let elsewhere = super::super::TestSchema::new("notify_other").unwrap();
        let other_store = crate::store::Store::open_pg(&elsewhere.0).unwrap();
        let mut there = elsewhere.0.connect().unwrap();
        there.batch_execute("DELETE FROM runs WHERE false").unwrap();
        other
            .batch_execute("DELETE FROM breakers WHERE false")
            .unwrap();
        assert_eq!(next(&rx), Heard::Changes(vec![Change::Breakers]));

        // The server drops the listener's connection: subscribers hear it, then it is back.
        other
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE application_name = left($1, 63) AND datname = current_database()",
                &[&format!("orchestrator-tui listener {}", schema.0.schema())],
            )
            .unwrap();
        assert_eq!(next(&rx), Heard::Lost);
        assert_eq!(next(&rx), Heard::Listening);
        other.batch_execute("DELETE FROM runs WHERE false").unwrap();
        assert_eq!(next(&rx), Heard::Changes(vec![Change::Runs]));
        drop((rx, other, store, there, other_store));
    }
}
