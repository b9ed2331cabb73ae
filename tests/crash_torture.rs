//! Crash torture (issue 10): a run is SIGKILLed at random moments, each time resumed with
//! `resume --last` (itself killed again), until a last resume runs to the end. Finished work is
//! never executed again, money adds up exactly, nothing stays reserved and the database is intact.
//!
//! Both backends (issue 19): the SQLite file of the data dir, and the org-wide PostgreSQL store
//! in a schema of its own (`ORCHESTRATOR_TEST_PG_URL`; that variant skips with a notice without
//! it). The checks read the store through `Db`, in SQL both read, so they are written once.
//!
//! The CI variant is bounded (30 tasks, 5 kills); the full one (100 tasks, 20 kills) is ignored:
//! `cargo test --release --test crash_torture -- --ignored --nocapture` (both backends; one with
//! a name filter: `... -- --ignored --nocapture full_postgres`).
//! Moments are random; the seed is printed and taken from `TORTURE_SEED` when set.

#[path = "support/mod.rs"]
mod support;

use crate::support::binary::*;
use crate::support::pg::PgSchema;
use rusqlite::Connection;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const CONFIG: &str = "[simulated]\nlatency_ms_min = 5\nlatency_ms_max = 40\n";

/// xorshift64*: a small, seedable RNG (std only).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn seed() -> u64 {
    std::env::var("TORTURE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        })
}

/// A DAG: every third task starts a chain of three (t(i+1) needs t(i), t(i+2) needs both).
fn plan(n: usize) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| {
            let deps: Vec<String> = match i % 3 {
                1 => vec![format!("\"t{}\"", i - 1)],
                2 => vec![format!("\"t{}\"", i - 2), format!("\"t{}\"", i - 1)],
                _ => vec![],
            };
            format!(
                r#"{{"id": "t{i}", "type": "summarization", "prompt": "Summarise part {i}", "dependencies": [{}]}}"#,
                deps.join(", ")
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// Where the run's rows are read: the SQLite file in the data dir, or the test's own schema on
/// the PostgreSQL server. Every check below is written once against these readings, in SQL both
/// backends read.
enum Db {
    Sqlite(std::path::PathBuf),
    Pg {
        // Boxed: a target and a client hold ~700 bytes of configuration.
        schema: Box<PgSchema>,
        client: RefCell<Option<Box<postgres::Client>>>,
    },
}

type Attempt = (i64, String, Option<String>, Option<f64>);

impl Db {
    /// The first column of the first row as an integer. A query the store refuses fails the
    /// test: a check of "none left" must not pass because its SQL does not run on a backend.
    fn one(&self, sql: &str) -> i64 {
        self.rows(sql, |r| r.int(0)).first().copied().unwrap_or(0)
    }

    /// Like `one`, but 0 while the binary has not created the store yet (polling at start).
    fn poll_one(&self, sql: &str) -> i64 {
        self.try_rows(sql, |r| r.int(0))
            .ok()
            .and_then(|v| v.first().copied())
            .unwrap_or(0)
    }

    /// Every row mapped by `f`; a failing query fails the test.
    fn rows<T>(&self, sql: &str, f: impl Fn(&dyn Cells) -> T) -> Vec<T> {
        self.try_rows(sql, f)
            .unwrap_or_else(|e| panic!("{e} in `{sql}`"))
    }

    fn try_rows<T>(&self, sql: &str, f: impl Fn(&dyn Cells) -> T) -> Result<Vec<T>, String> {
        match self {
            Db::Sqlite(path) => {
                if !path.exists() {
                    return Err("no database yet".into());
                }
                let c = Connection::open(path).map_err(|e| e.to_string())?;
                // The binary may be writing (and a killed one left its WAL to recover).
                c.busy_timeout(Duration::from_secs(10))
                    .map_err(|e| e.to_string())?;
                let mut st = c.prepare(sql).map_err(|e| e.to_string())?;
                let rows = st.query_map([], |r| Ok(f(r))).map_err(|e| e.to_string())?;
                rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
            }
            Db::Pg { schema, client } => {
                let mut slot = client.borrow_mut();
                if slot.is_none() {
                    *slot = Some(Box::new(
                        schema.target.connect().map_err(|e| e.to_string())?,
                    ));
                }
                let c = slot.as_mut().ok_or("no connection")?;
                match c.query(sql, &[]) {
                    Ok(rows) => Ok(rows.iter().map(|r| f(r)).collect()),
                    Err(e) => {
                        if e.is_closed() {
                            *slot = None;
                        }
                        Err(e.to_string())
                    }
                }
            }
        }
    }

    /// What is wrong with the database itself (empty: intact). SQLite checks its file and its
    /// foreign keys; PostgreSQL enforces foreign keys itself, so its catalog is asked that no
    /// constraint is left unvalidated and no index invalid. Orphans are counted on both.
    fn problems(&self) -> Vec<String> {
        let mut out = vec![];
        match self {
            Db::Sqlite(_) => {
                let ok = self.rows("PRAGMA integrity_check", |r| r.text(0));
                if ok != ["ok"] {
                    out.push(format!("integrity_check: {ok:?}"));
                }
                let fk = self.rows("PRAGMA foreign_key_check", |r| r.text(0));
                if !fk.is_empty() {
                    out.push(format!("foreign key violations in {fk:?}"));
                }
            }
            Db::Pg { .. } => {
                let checks = [
                    (
                        "unvalidated constraints",
                        "SELECT COUNT(*) FROM pg_constraint
                         WHERE connamespace = current_schema()::regnamespace AND NOT convalidated",
                    ),
                    (
                        "invalid indexes",
                        "SELECT COUNT(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                         WHERE c.relnamespace = current_schema()::regnamespace
                           AND NOT (i.indisvalid AND i.indisready AND i.indislive)",
                    ),
                    (
                        "foreign keys",
                        "SELECT COUNT(*) FROM pg_constraint
                         WHERE connamespace = current_schema()::regnamespace AND contype = 'f'",
                    ),
                ];
                for (what, sql) in checks {
                    let n = self.one(sql);
                    let bad = if what == "foreign keys" {
                        n == 0
                    } else {
                        n != 0
                    };
                    if bad {
                        out.push(format!("{what}: {n}"));
                    }
                }
            }
        }
        let orphans = [
            (
                "tasks without their run",
                "SELECT COUNT(*) FROM tasks t WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = t.run_id)",
            ),
            (
                "attempts without their task",
                "SELECT COUNT(*) FROM attempts a WHERE NOT EXISTS
                   (SELECT 1 FROM tasks t WHERE t.run_id = a.run_id AND t.id = a.task_id)",
            ),
            (
                "calls without their run",
                "SELECT COUNT(*) FROM calls c WHERE c.run_id IS NOT NULL AND NOT EXISTS
                   (SELECT 1 FROM runs r WHERE r.id = c.run_id)",
            ),
        ];
        for (what, sql) in orphans {
            let n = self.one(sql);
            if n != 0 {
                out.push(format!("{what}: {n}"));
            }
        }
        out
    }
}

/// A row of either client, read by column index.
trait Cells {
    fn int(&self, i: usize) -> i64;
    fn text(&self, i: usize) -> String;
    fn opt_text(&self, i: usize) -> Option<String>;
    fn opt_real(&self, i: usize) -> Option<f64>;
}

// A column of another type than the check expects fails the test (never read as 0).
impl Cells for rusqlite::Row<'_> {
    fn int(&self, i: usize) -> i64 {
        self.get(i).expect("an integer column")
    }
    fn text(&self, i: usize) -> String {
        self.get(i).expect("a text column")
    }
    fn opt_text(&self, i: usize) -> Option<String> {
        self.get(i).expect("a text column or NULL")
    }
    fn opt_real(&self, i: usize) -> Option<f64> {
        self.get(i).expect("a real column or NULL")
    }
}

impl Cells for postgres::Row {
    fn int(&self, i: usize) -> i64 {
        self.try_get(i).expect("an integer column")
    }
    fn text(&self, i: usize) -> String {
        self.try_get(i).expect("a text column")
    }
    fn opt_text(&self, i: usize) -> Option<String> {
        self.try_get(i).expect("a text column or NULL")
    }
    fn opt_real(&self, i: usize) -> Option<f64> {
        self.try_get(i).expect("a real column or NULL")
    }
}

fn spawn(env: &Env, args: &[&str]) -> Child {
    env.cmd()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn")
}

/// Completed (or degraded) tasks with their attempts, and the last call id so far.
fn snapshot(db: &Db) -> (BTreeMap<String, Vec<Attempt>>, i64) {
    let rows = db.rows(
        "SELECT a.task_id, a.n, a.created_at, a.model, a.score FROM attempts a
         JOIN tasks t ON t.run_id = a.run_id AND t.id = a.task_id
         WHERE t.status IN ('completed', 'degraded') ORDER BY a.task_id, a.n",
        |r| {
            (
                r.text(0),
                (r.int(1), r.text(2), r.opt_text(3), r.opt_real(4)),
            )
        },
    );
    let mut m: BTreeMap<String, Vec<Attempt>> = BTreeMap::new();
    for (t, a) in rows {
        m.entry(t).or_default().push(a);
    }
    (m, db.one("SELECT COALESCE(MAX(id), 0) FROM calls"))
}

fn wait_for(what: &str, ctx: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{ctx}: timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn terminal(db: &Db) -> bool {
    db.one("SELECT COUNT(*) FROM runs WHERE status IN ('success', 'completed_degraded')") > 0
}

/// The run's status as `runs` shows it (`interrupted` once its driver is gone).
fn shown_status(env: &Env) -> (String, serde_json::Value) {
    let (runs, _) = env.json(&["runs", "--json"]);
    let st = runs[0]["status"].as_str().unwrap_or("").to_string();
    (st, runs[0].clone())
}

#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Kills land within this many ms of a start. Opening the PostgreSQL store takes ~100 ms
    /// more than the SQLite file (connection, schema check; `budget --json`: 0.10-0.14 s
    /// against 0.01 s), so its window is that much longer to land as many kills mid-run.
    fn kill_window_ms(self) -> u64 {
        match self {
            Backend::Sqlite => 300,
            Backend::Postgres => 400,
        }
    }
}

/// A data dir and the store it uses; `None` when PostgreSQL is asked for without a server.
fn open(backend: Backend) -> Option<(Env, Db)> {
    match backend {
        Backend::Sqlite => {
            let env = Env::new(CONFIG);
            let db = Db::Sqlite(env.data().join("orchestrator.db"));
            Some((env, db))
        }
        Backend::Postgres => {
            let schema = PgSchema::new("torture")?;
            let env = Env::new(&format!("{CONFIG}{}", schema.store_config()));
            let db = Db::Pg {
                schema: Box::new(schema),
                client: RefCell::new(None),
            };
            Some((env, db))
        }
    }
}

fn torture(backend: Backend, tasks: usize, kills: usize) {
    let Some((env, db)) = open(backend) else {
        return;
    };
    let seed = seed();
    let ctx = format!("TORTURE_SEED={seed} ({backend:?}, {tasks} tasks, {kills} kills)");
    eprintln!("{ctx}");
    let mut rng = Rng(seed);
    let plan_file = env.write("plan.json", &plan(tasks));
    let plan_path = plan_file.to_str().unwrap().to_string();

    let mut snapshots: Vec<(BTreeMap<String, Vec<Attempt>>, i64)> = vec![];
    let mut killed = 0;
    let mut next = Some(spawn(&env, &["run", "--plan", &plan_path, "--json"]));
    wait_for("the run row", &ctx, || {
        db.poll_one("SELECT COUNT(*) FROM runs") == 1
    });
    let mut rounds = 0;
    while let Some(mut child) = next.take() {
        rounds += 1;
        assert!(
            rounds <= 3 * kills + 3,
            "{ctx}: resumes keep ending on their own"
        );
        // A random moment: most kills land mid-run, some right after start.
        let delay = Duration::from_millis(rng.range(0, backend.kill_window_ms()));
        let deadline = Instant::now() + delay;
        while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(2));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        let _ = child.wait();
        // On PostgreSQL the dead process's session ends on the server a moment after the
        // process: wait until `runs` no longer sees its driver, so nothing it sent is still
        // being committed while the snapshot is read.
        wait_for("the killed driver's session to end", &ctx, || {
            shown_status(&env).0 != "running"
        });
        snapshots.push(snapshot(&db));
        eprintln!(
            "{ctx}: kill {killed} after {delay:?}: {} tasks done, {} calls, {} reservations left",
            snapshots.last().map_or(0, |s| s.0.len()),
            db.one("SELECT COUNT(*) FROM calls"),
            db.one("SELECT COUNT(*) FROM reservations"),
        );
        if terminal(&db) {
            eprintln!("{ctx}: the run finished after {killed} kills");
            break;
        }
        let (st, row) = shown_status(&env);
        assert!(
            matches!(st.as_str(), "interrupted" | "partial_success"),
            "{ctx}: after a kill the run is `{st}`"
        );
        assert_eq!(row["resumable"], true, "{ctx}");
        if killed < kills {
            next = Some(spawn(&env, &["resume", "--last", "--json"]));
        }
    }
    if !terminal(&db) {
        // The last resume runs to the end.
        let (v, out) = env.json(&["resume", "--last", "--json"]);
        let status = v["status"].as_str().unwrap_or("");
        assert!(
            matches!(status, "success" | "completed_degraded"),
            "{ctx}: final resume ended `{status}`: {}",
            stderr(&out)
        );
    }
    eprintln!(
        "{ctx}: {killed} kills; {} calls cut short by a kill charged their worst case",
        db.one("SELECT COUNT(*) FROM calls WHERE outcome = 'estimated'")
    );
    // Another command opens the store after the last driver: what it settles is part of the
    // ledger checked below (nothing should be left to settle).
    let out = env.run(&["budget", "--json"]);
    assert_eq!(code(&out), 0, "{ctx}: {}", stderr(&out));

    // Outcome.
    let status = db.rows("SELECT status FROM runs", |r| r.text(0));
    assert!(
        matches!(
            status.as_slice(),
            [s] if s == "success" || s == "completed_degraded"
        ),
        "{ctx}: {status:?}"
    );
    assert_eq!(db.one("SELECT COUNT(*) FROM tasks"), tasks as i64, "{ctx}");
    assert_eq!(
        db.one("SELECT COUNT(*) FROM tasks WHERE status NOT IN ('completed', 'degraded')"),
        0,
        "{ctx}: tasks left undone"
    );

    // Finished work never executed again.
    let (last, _) = snapshot(&db);
    for (k, (snap, last_call)) in snapshots.iter().enumerate() {
        for (task, attempts) in snap {
            assert_eq!(
                last.get(task),
                Some(attempts),
                "{ctx}: task {task}, completed before kill {}, was executed again",
                k + 1
            );
            // Task ids are the plan's `t<N>`: safe to splice.
            let later = db.one(&format!(
                "SELECT COUNT(*) FROM calls WHERE task_id = '{task}' AND id > {last_call}"
            ));
            assert_eq!(
                later,
                0,
                "{ctx}: task {task} got calls after kill {}",
                k + 1
            );
        }
    }
    assert_eq!(
        db.one(
            "SELECT COUNT(*) FROM (SELECT task_id, n FROM attempts GROUP BY task_id, n
             HAVING COUNT(*) > 1) AS dup"
        ),
        0,
        "{ctx}: duplicated attempts"
    );

    // Money adds up to the micro-dollar; nothing is left reserved.
    let calls = db.one("SELECT CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) FROM calls");
    assert!(calls > 0, "{ctx}");
    assert_eq!(
        db.one("SELECT spent_micros FROM runs"),
        calls,
        "{ctx}: run spend"
    );
    assert_eq!(
        db.one("SELECT spent_micros FROM budget_levels WHERE level = 'org'"),
        calls,
        "{ctx}: org spend"
    );
    assert_eq!(db.one("SELECT COUNT(*) FROM reservations"), 0, "{ctx}");
    assert_eq!(
        db.one(
            "SELECT (SELECT CAST(COALESCE(SUM(reserved_micros), 0) AS BIGINT) FROM budget_levels)
                  + (SELECT CAST(COALESCE(SUM(reserved_micros), 0) AS BIGINT) FROM runs)"
        ),
        0,
        "{ctx}: reserved"
    );

    // The database is intact.
    assert_eq!(db.problems(), Vec::<String>::new(), "{ctx}: database");

    // show agrees with the store.
    let id = db.rows("SELECT id FROM runs", |r| r.text(0));
    let (v, _) = env.json(&["show", &id[0], "--json"]);
    assert!(
        (v["total_cost_usd"].as_f64().unwrap() - calls as f64 / 1e6).abs() < 1e-9,
        "{ctx}"
    );
    assert_eq!(
        v["calls"].as_i64(),
        Some(db.one("SELECT COUNT(*) FROM calls")),
        "{ctx}"
    );
}

#[test]
fn random_kills_then_resume_ci_sqlite() {
    torture(Backend::Sqlite, 30, 5);
}

/// The same on the org-wide store (issue 19); skipped without `ORCHESTRATOR_TEST_PG_URL`.
#[test]
fn random_kills_then_resume_ci_postgres() {
    torture(Backend::Postgres, 30, 5);
}

#[test]
#[ignore = "long: 100 tasks, 20 kills (run with --ignored)"]
fn random_kills_then_resume_full_sqlite() {
    torture(Backend::Sqlite, 100, 20);
}

#[test]
#[ignore = "long: 100 tasks, 20 kills (run with --ignored)"]
fn random_kills_then_resume_full_postgres() {
    torture(Backend::Postgres, 100, 20);
}
