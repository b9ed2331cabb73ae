//! The store thread on PostgreSQL (`ORCHESTRATOR_TEST_PG_URL`; skipped with a notice without
//! it): jobs grouped in one transaction and failing alone, reservations owned by the process
//! lock, and the faults of issue 19: a lost connection (writes kept and written on reconnect,
//! locks taken again first), locks taken by another meanwhile (stop), a server away past the
//! retry window (given up, counted), through a TCP proxy the test can cut.

use super::TestSchema;
use crate::args;
use crate::domain::Micros;
use crate::store::sql::Sql;
use crate::store::{BudgetStore, Store, StoreError};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

fn open(schema: &TestSchema) -> Store {
    let store = Store::open_pg(&schema.0).expect("open the PostgreSQL store");
    store
        .call_blocking(|c| c.execute_batch("CREATE TABLE t (v BIGINT UNIQUE)"))
        .unwrap();
    store
}

fn count(store: &Store) -> i64 {
    store
        .call_blocking(|c| c.query_row("SELECT COUNT(*) FROM t", args![], |r| r.get(0)))
        .unwrap()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(30), "{what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Another connection to the test's schema.
fn other(schema: &TestSchema) -> postgres::Client {
    schema.0.connect().unwrap()
}

/// Kill the store's connections on the server, as a lost network or a server restart does.
fn cut(store: &Store, schema: &TestSchema) {
    let data: i32 = store
        .call_blocking(|c| c.query_row("SELECT pg_backend_pid()", args![], |r| r.get(0)))
        .unwrap();
    let session: i32 = store
        .with_session_blocking(|s| s.map(|s| s.backend_pid()))
        .unwrap()
        .unwrap()
        .unwrap();
    let mut o = other(schema);
    for pid in [data, session] {
        o.execute("SELECT pg_terminate_backend($1)", &[&pid])
            .unwrap();
    }
}

#[test]
fn queued_jobs_share_a_transaction_and_fail_alone() {
    let Some(schema) = TestSchema::new("thread_group") else {
        return;
    };
    let store = open(&schema);
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
    type Job = Box<dyn FnOnce(&dyn Sql) -> Result<i64, StoreError> + Send>;
    let jobs: Vec<(u8, Job)> = vec![
        (
            1,
            Box::new(|c| Ok(c.execute("INSERT INTO t VALUES (1)", args![])? as i64)),
        ),
        // Writes a row, then fails: its row must be undone, the others kept.
        (
            2,
            Box::new(|c| {
                c.execute("INSERT INTO t VALUES (2)", args![])?;
                Ok(c.execute("INSERT INTO t VALUES (1)", args![])? as i64)
            }),
        ),
        (
            3,
            Box::new(|c| {
                c.execute("INSERT INTO t VALUES (3)", args![])?;
                c.query_row("SELECT COUNT(*) FROM t", args![], |r| r.get(0))
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
    let mut got: Vec<_> = (0..3).map(|_| rrx.recv().unwrap()).collect();
    got.sort_by_key(|g| g.0);
    assert_eq!(got[0].1, Ok(1));
    assert!(got[1].1.is_err(), "the failing job reports its own error");
    assert_eq!(got[2].1, Ok(2), "sees rows 1 and 3, not the undone 2");
    assert_eq!(count(&store), 2);
    // A plain job's error rolls its own transaction back.
    let e = store.call_blocking(|c| {
        c.execute("INSERT INTO t VALUES (9)", args![])?;
        c.execute("INSERT INTO t VALUES (9)", args![])
    });
    assert!(e.is_err());
    assert_eq!(count(&store), 2);
}

#[test]
fn reservations_are_owned_by_the_process_lock() {
    let Some(schema) = TestSchema::new("thread_owner") else {
        return;
    };
    let store = open(&schema);
    let key = store
        .with_session_blocking(|s| s.map(|s| s.process_key()))
        .unwrap()
        .unwrap();
    let id = store
        .call_blocking(move |c| {
            c.reserve(None, None, Micros(500), std::process::id(), "")
                .map(|r| match r {
                    crate::budget::ledger::Reserve::Reserved(id) => id,
                    crate::budget::ledger::Reserve::Denied(_) => -1,
                })
        })
        .unwrap();
    let mut o = other(&schema);
    let lock: Option<i64> = o
        .query_one("SELECT owner_lock FROM reservations WHERE id = $1", &[&id])
        .unwrap()
        .get(0);
    assert_eq!(lock, Some(key));
    // Alive: another opener leaves it alone.
    let conn = super::PgConn::open(&schema.0).unwrap();
    assert_eq!(conn.recover_dead().unwrap().settled, 0);
    // Gone (its locks dropped with the process): the next opener settles it.
    drop(store);
    let mut tries = 0;
    loop {
        let r = conn.recover_dead().unwrap();
        if r.settled == 1 {
            break;
        }
        // The store thread ends when its last handle goes; its connections close just after.
        tries += 1;
        assert!(
            tries < 200,
            "the dead process's reservation was never settled"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_lost_connection_keeps_writes_and_takes_the_locks_again() {
    let Some(schema) = TestSchema::new("thread_lost") else {
        return;
    };
    let store = open(&schema);
    let key = store
        .with_session_blocking(|s| s.map(|s| s.process_key()))
        .unwrap()
        .unwrap();
    cut(&store, &schema);
    let (tx, rx) = mpsc::channel();
    store
        .submit_retried(
            Some(Micros(1234)),
            |c| c.execute("INSERT INTO t VALUES (7)", args![]),
            move |r| {
                let _ = tx.send(r.map_err(|e| e.to_string()));
            },
        )
        .unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(30)).unwrap(), Ok(1));
    assert_eq!(count(&store), 1);
    assert!(store.writable());
    let mut o = other(&schema);
    assert!(
        super::liveness::held(&mut o, key).unwrap(),
        "the process lock is held again"
    );
}

#[test]
fn a_process_whose_lock_was_taken_meanwhile_stops() {
    let Some(schema) = TestSchema::new("thread_taken") else {
        return;
    };
    let store = open(&schema);
    let key = store
        .with_session_blocking(|s| s.map(|s| s.process_key()))
        .unwrap()
        .unwrap();
    cut(&store, &schema);
    let mut thief = other(&schema);
    wait_until("the cut session's lock is free", || {
        thief
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .unwrap()
            .get::<_, bool>(0)
    });
    let e = store
        .call_blocking(|c| c.execute("INSERT INTO t VALUES (1)", args![]))
        .unwrap_err();
    assert!(e.is_unavailable(), "{e}");
    assert!(!store.writable());
    let why = store.outage().unwrap().reason;
    assert!(why.contains("another process holds"), "{why}");
    // And it stays stopped.
    assert!(
        store
            .call_blocking(|c| c.execute_batch("SELECT 1"))
            .is_err()
    );
}

/// A TCP proxy to the test server that can be cut (every connection closed, new ones refused)
/// and restored: the server "away" and back.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(upstream: String) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (u2, c2) = (up.clone(), conns.clone());
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { continue };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                if !u2.load(Ordering::Acquire) {
                    continue;
                }
                let mut list = c2.lock().unwrap();
                for x in [&s, &server] {
                    if let Ok(c) = x.try_clone() {
                        list.push(c);
                    }
                }
                drop(list);
                for (mut a, mut b) in [
                    (s.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, s),
                ] {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        while let Ok(n) = a.read(&mut buf) {
                            if n == 0 || b.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = b.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, up, conns }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::Release);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::Release);
    }
}

/// The test server's URL through a proxy, and the schema for it.
fn proxied(tag: &str) -> Option<(TestSchema, Proxy, super::PgTarget)> {
    let schema = TestSchema::new(tag)?;
    let url = std::env::var("ORCHESTRATOR_TEST_PG_URL").ok()?;
    let cfg: postgres::Config = url.parse().ok()?;
    let host = match cfg.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".into(),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    let proxy = Proxy::start(format!("{host}:{port}"));
    let user = cfg.get_user().unwrap_or("postgres");
    let db = cfg.get_dbname().unwrap_or("postgres");
    let via = format!(
        "postgres://{user}@127.0.0.1:{}/{db}?connect_timeout=2",
        proxy.port
    );
    let target = super::PgTarget::parse(&via, schema.0.schema()).unwrap();
    Some((schema, proxy, target))
}

#[test]
fn a_write_made_while_the_server_is_away_lands_when_it_is_back() {
    let Some((schema, proxy, target)) = proxied("thread_away") else {
        return;
    };
    let store = Store::open_pg(&target).unwrap();
    store
        .call_blocking(|c| c.execute_batch("CREATE TABLE t (v BIGINT UNIQUE)"))
        .unwrap();
    proxy.cut();
    let (tx, rx) = mpsc::channel();
    store
        .submit_retried(
            Some(Micros(1234)),
            |c| c.execute("INSERT INTO t VALUES (7)", args![]),
            move |r| {
                let _ = tx.send(r.map_err(|e| e.to_string()));
            },
        )
        .unwrap();
    wait_until("the store notices the server is away", || !store.writable());
    let why = store.outage().unwrap().reason;
    assert!(why.contains(&format!("127.0.0.1:{}", proxy.port)), "{why}");
    std::thread::sleep(Duration::from_millis(300));
    proxy.restore();
    assert_eq!(rx.recv_timeout(Duration::from_secs(30)).unwrap(), Ok(1));
    assert!(store.writable());
    assert_eq!(store.outage().unwrap().unrecorded_calls, 0);
    assert_eq!(count(&store), 1);
    drop(schema);
}

#[test]
fn writes_are_given_up_and_counted_when_the_server_stays_away() {
    let Some((_schema, proxy, target)) = proxied("thread_gone") else {
        return;
    };
    let store = Store::open_pg(&target).unwrap();
    store.set_retry_window(Duration::from_millis(300));
    proxy.cut();
    let (tx, rx) = mpsc::channel();
    for cost in [1000, 2000] {
        let tx = tx.clone();
        store
            .submit_retried(
                Some(Micros(cost)),
                |c| c.execute_batch("SELECT 1"),
                move |r| {
                    let _ = tx.send(r.map_err(|e| e.to_string()));
                },
            )
            .unwrap();
    }
    for _ in 0..2 {
        let e = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap()
            .unwrap_err();
        assert!(e.contains(&format!("127.0.0.1:{}", proxy.port)), "{e}");
        assert!(!e.contains("password"), "{e}");
    }
    let o = store.outage().unwrap();
    assert!(o.ongoing);
    assert_eq!((o.unrecorded_calls, o.unrecorded), (2, Micros(3000)));
    // The server comes back: the next write goes through and ends the outage.
    proxy.restore();
    store
        .call_blocking(|c| c.execute_batch("SELECT 1"))
        .unwrap();
    assert!(store.writable());
}
