//! The store thread: plain jobs one by one; transactional jobs already queued are drained into
//! one transaction (a savepoint each), so under load a commit is paid once per group. The same
//! jobs run on SQLite (the connection, `BEGIN IMMEDIATE`) and on PostgreSQL (a transaction on
//! the thread's connection; plain jobs get one of their own). While the database cannot commit
//! (a full disk, a lost server) the jobs that may run again are retried with backoff, the queue
//! paused behind them, until the retry window of `health.rs` ends.

use super::health::{self, Ran};
use super::pg::thread::{Lost, PgThread};
use super::sql::PgSql;
use super::{Job, MAX_GROUP, Shared, StoreError, TxJob, is_busy};
use rusqlite::Connection;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Under load, a write sent behind (nobody awaits it) that arrives within this long of the
/// previous commit waits out the rest of it before its group is drained: the jobs sent meanwhile
/// join the group, so several calls share one commit (and one WAL write of the pages they all
/// touch), and while the thread waits here a sender of such a write has no one to wake (a futex
/// wake-up per job otherwise, paid on the call's runtime thread). An idle store commits at once,
/// and a job someone awaits (a read, `transact`) ends the wait as soon as it is queued.
const GATHER: Duration = Duration::from_millis(1);

/// How much longer a write sent behind waits for others to join its group: none while a job
/// someone awaits is queued, none once [`GATHER`] has passed since the last commit (or there was
/// none), else the rest of it.
fn hold_back(awaited_queued: usize, since_commit: Option<Duration>) -> Option<Duration> {
    match since_commit {
        Some(since) if awaited_queued == 0 => GATHER.checked_sub(since).filter(|d| !d.is_zero()),
        _ => None,
    }
}

/// Wait as [`hold_back`] says, woken early when a job someone awaits is queued.
fn gather(committed: Option<Instant>, sh: &Shared) {
    while let Some(left) = hold_back(
        sh.awaited.load(Ordering::SeqCst),
        committed.map(|t| t.elapsed()),
    ) {
        // Unparked by `Store::send` for an awaited job; a stale unpark only loops once more.
        std::thread::park_timeout(left);
    }
}

/// The store thread took `job` off the queue.
fn took(job: Job, sh: &Shared) -> Job {
    if job.awaited() {
        sh.awaited.fetch_sub(1, Ordering::SeqCst);
    }
    job
}

/// The connection the store thread owns.
pub(super) enum Conn {
    Sqlite(Connection),
    Pg(Box<PgThread>),
}

/// How one try at committing a group ended.
enum Try {
    /// Committed, or failed for a reason retrying cannot fix.
    Done(Result<(), String>),
    /// The database cannot commit (disk full, read-only, I/O error, server away): everything
    /// was rolled back.
    Unavailable(String),
    /// A job hit a deadlock or serialization failure alone: the group may run again at once.
    Conflict,
    /// This process lost its locks to another: nothing may run any more.
    Fatal(String),
}

pub(super) fn serve(conn: &mut Conn, rx: &mpsc::Receiver<Job>, sh: &Shared) {
    if let Conn::Pg(pg) = conn {
        super::pg::thread::set_owner_lock(Some(pg.process_key()));
    }
    let mut next: Option<Job> = None;
    let mut committed: Option<Instant> = None;
    loop {
        let job = match next.take() {
            Some(j) => j,
            None => match rx.recv() {
                Ok(j) => took(j, sh),
                Err(_) => return,
            },
        };
        match job {
            Job::Plain(j) => match conn {
                // Alone with the connection: it manages its own transactions.
                Conn::Sqlite(c) => run_plain_sqlite(c, j),
                Conn::Pg(_) => run_group(conn, vec![j], sh),
            },
            Job::Session(f) => match conn {
                Conn::Pg(pg) => f(Some(pg.session())),
                Conn::Sqlite(_) => f(None),
            },
            Job::Tx(f, awaited) => {
                if !awaited {
                    gather(committed, sh);
                }
                let mut group = vec![f];
                while group.len() < MAX_GROUP {
                    match rx.try_recv().map(|j| took(j, sh)) {
                        Ok(Job::Tx(g, _)) => group.push(g),
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                sh.groups.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                run_group(conn, group, sh);
                committed = Some(Instant::now());
            }
        }
    }
}

fn run_plain_sqlite(c: &Connection, mut j: TxJob) {
    // Its writes commit as it makes them; what it returns is delivered as is.
    let _ = j.run(c);
    j.deliver(Ok(()));
}

/// Commit a group; while the database cannot commit, retry the jobs that may run again (pausing
/// the queue behind them, so FIFO order holds) until the outage's retry window ends.
fn run_group(conn: &mut Conn, mut group: Vec<TxJob>, sh: &Shared) {
    let mut pause = Duration::from_millis(50);
    let mut failed_before = false;
    let mut conflicts = 0;
    loop {
        if sh.stopped() {
            let why = sh.health.outage().map(|o| o.reason).unwrap_or_default();
            for j in group {
                j.deliver(Err(StoreError::Unavailable {
                    path: sh.label.clone(),
                    message: why.clone(),
                }));
            }
            return;
        }
        let tried = match conn {
            Conn::Sqlite(c) => try_group(c, &mut group),
            Conn::Pg(pg) => try_group_pg(pg, &mut group),
        };
        match tried {
            Try::Done(commit) => {
                // Only writes that failed and then went through end an outage: on a full disk
                // a small write can still fit in the WAL while anything larger fails.
                let back = match conn {
                    Conn::Pg(pg) => std::mem::take(&mut pg.reconnected),
                    Conn::Sqlite(_) => false,
                };
                if (failed_before || back) && commit.is_ok() {
                    sh.health.recovered();
                }
                let commit = commit.map_err(StoreError::Invalid);
                for j in group {
                    j.deliver(commit_copy(&commit));
                }
                return;
            }
            Try::Conflict if conflicts < 8 => {
                conflicts += 1;
                std::thread::sleep(Duration::from_millis(2 * conflicts));
            }
            Try::Conflict => {
                let e =
                    || StoreError::Postgres("deadlock: the transaction was retried 8 times".into());
                for j in group {
                    j.deliver(Err(e()));
                }
                return;
            }
            Try::Fatal(message) => {
                sh.health.fail(&message);
                sh.stop();
            }
            Try::Unavailable(message) => {
                failed_before = true;
                sh.health.fail(&sh.describe(&message));
                let err = || StoreError::Unavailable {
                    path: sh.label.clone(),
                    message: message.clone(),
                };
                let retry = sh.health.may_retry();
                let mut keep = Vec::with_capacity(group.len());
                for j in group {
                    if retry && j.can_run_again() {
                        keep.push(j);
                    } else {
                        if let Some(cost) = j.answered() {
                            sh.health.lost(cost);
                        }
                        j.deliver(Err(err()));
                    }
                }
                if keep.is_empty() {
                    return;
                }
                group = keep;
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }
}

fn commit_copy(c: &Result<(), StoreError>) -> Result<(), StoreError> {
    match c {
        Ok(()) => Ok(()),
        Err(e) => Err(StoreError::Invalid(e.to_string())),
    }
}

fn try_group(conn: &Connection, group: &mut [TxJob]) -> Try {
    let unavailable = |conn: &Connection, e: &rusqlite::Error| {
        let _ = conn.execute_batch("ROLLBACK");
        health::unavailable(e).map(|k| Try::Unavailable(k.message(e)))
    };
    if let Err(e) = begin_immediate(conn) {
        return health::unavailable(&e).map_or_else(
            || Try::Done(Err(format!("cannot start a write transaction: {e}"))),
            |k| Try::Unavailable(k.message(&e)),
        );
    }
    let alone = group.len() == 1;
    let mut all_ok = true;
    for j in group.iter_mut() {
        // A savepoint per job so one job's error undoes only its own writes.
        let sp = alone || step(conn, "SAVEPOINT job").is_ok();
        all_ok &= sp;
        let ok = match j.run(conn) {
            Ran::Ok => true,
            Ran::Failed | Ran::Conflict => false,
            Ran::Unavailable(message) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Try::Unavailable(message);
            }
        };
        if !alone && sp {
            let end = if ok {
                step(conn, "RELEASE job")
            } else {
                step(conn, "ROLLBACK TO job").and_then(|()| step(conn, "RELEASE job"))
            };
            if let Err(e) = end {
                if let Some(t) = unavailable(conn, &e) {
                    return t;
                }
                all_ok = false;
            }
        }
        all_ok &= ok || !alone;
    }
    let commit = if all_ok {
        match step(conn, "COMMIT") {
            Ok(()) => Ok(()),
            Err(e) => {
                if let Some(t) = unavailable(conn, &e) {
                    return t;
                }
                Err(e.to_string())
            }
        }
    } else {
        Err("the transaction was rolled back".to_string())
    };
    if commit.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    Try::Done(commit)
}

/// A PostgreSQL error met outside a job: the server gone, else a failure of this try.
fn pg_error(pg: &mut PgThread, e: postgres::Error) -> Try {
    match health::classify(&StoreError::from(e)) {
        Ran::Unavailable(m) => {
            pg.lost();
            Try::Unavailable(m)
        }
        Ran::Conflict => Try::Conflict,
        _ => Try::Done(Err("the transaction failed".into())),
    }
}

/// The group in one transaction on the thread's connection, a savepoint per job when there is
/// more than one. A job's deadlock undoes its savepoint and runs it again.
fn try_group_pg(pg: &mut PgThread, group: &mut [TxJob]) -> Try {
    let ran = match pg.client() {
        Ok((client, cache)) => run_pg_jobs(client, cache, group),
        Err(Lost::Away(m)) => return Try::Unavailable(m),
        Err(Lost::Taken(m)) => return Try::Fatal(m),
    };
    match ran {
        Ok(Try::Unavailable(m)) => {
            pg.lost();
            Try::Unavailable(m)
        }
        Ok(t) => t,
        Err(e) => pg_error(pg, e),
    }
}

fn run_pg_jobs(
    client: &mut postgres::Client,
    cache: &super::sql::StatementCache,
    group: &mut [TxJob],
) -> Result<Try, postgres::Error> {
    let mut tx = client.transaction()?;
    let alone = group.len() == 1;
    let mut all_ok = true;
    let mut savepoint = false;
    for j in group.iter_mut() {
        if alone {
            match j.run(&PgSql::new(&mut tx, cache)) {
                Ran::Ok => {}
                Ran::Failed => all_ok = false,
                Ran::Conflict if j.can_run_again() => return Ok(Try::Conflict),
                Ran::Conflict => all_ok = false,
                Ran::Unavailable(m) => return Ok(Try::Unavailable(m)),
            }
            continue;
        }
        // One round trip per job: the previous job's savepoint released and this one's taken
        // in one batch (a savepoint is a round trip on a server, unlike SQLite's).
        tx.batch_execute(if savepoint {
            "RELEASE SAVEPOINT job; SAVEPOINT job"
        } else {
            "SAVEPOINT job"
        })?;
        savepoint = true;
        let mut tries = 0;
        loop {
            match j.run(&PgSql::new(&mut tx, cache)) {
                Ran::Ok => break,
                Ran::Conflict if tries < 8 && j.can_run_again() => {
                    tx.batch_execute("ROLLBACK TO SAVEPOINT job")?;
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(2 * tries));
                }
                Ran::Failed | Ran::Conflict => {
                    tx.batch_execute("ROLLBACK TO SAVEPOINT job")?;
                    break;
                }
                Ran::Unavailable(m) => return Ok(Try::Unavailable(m)),
            }
        }
    }
    if !all_ok {
        tx.rollback()?;
        return Ok(Try::Done(Err("the transaction was rolled back".into())));
    }
    match tx.commit() {
        Ok(()) => Ok(Try::Done(Ok(()))),
        Err(e) => Err(e),
    }
}

/// Run a transaction-control statement through the statement cache: a group of jobs runs
/// several (begin, a savepoint and its release per job, commit), parsed once instead of each time.
fn step(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.raw_execute().map(|_| ())
}

/// `BEGIN IMMEDIATE`, retrying while another process holds the write lock beyond the timeout.
fn begin_immediate(conn: &Connection) -> rusqlite::Result<()> {
    let mut tries = 0;
    loop {
        match step(conn, "BEGIN IMMEDIATE") {
            Err(e) if is_busy(&e) && tries < 20 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(5 * tries));
            }
            r => return r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_behind_waits_for_company_only_under_load_and_never_ahead_of_an_awaited_job() {
        let ms = Duration::from_millis;
        let us = Duration::from_micros;
        // Idle: the first job, or one long after the last commit, commits at once.
        assert_eq!(hold_back(0, None), None);
        assert_eq!(hold_back(0, Some(ms(5))), None);
        assert_eq!(hold_back(0, Some(GATHER)), None);
        // Under load: the rest of the gathering time.
        assert_eq!(hold_back(0, Some(us(300))), Some(GATHER - us(300)));
        assert_eq!(hold_back(0, Some(Duration::ZERO)), Some(GATHER));
        // Someone waits for a job in the queue: no holding back at all.
        assert_eq!(hold_back(1, Some(us(300))), None);
        assert_eq!(hold_back(3, Some(Duration::ZERO)), None);
    }
}
