//! Versioned schema migrations, applied in order inside one transaction each (`user_version`).

use rusqlite::Connection;

/// Append new migrations; never edit a released one.
pub const MIGRATIONS: &[&str] = &[
    // 1: runs, tasks, attempts, calls, artifacts, breaker history.
    r#"
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    norm_description TEXT NOT NULL,
    criteria TEXT NOT NULL DEFAULT '',
    team TEXT,
    strategy TEXT NOT NULL,
    budget_micros INTEGER NOT NULL,
    time_limit_secs INTEGER NOT NULL,
    concurrency INTEGER NOT NULL,
    output_dir TEXT NOT NULL,
    plan_json TEXT,                       -- the --plan file's tasks, kept for resume
    status TEXT NOT NULL,
    status_reason TEXT,
    tasks_committed INTEGER NOT NULL DEFAULT 0,
    exec_ms INTEGER NOT NULL DEFAULT 0,    -- execution time used so far (not downtime)
    spent_micros INTEGER NOT NULL DEFAULT 0,
    simulated INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX runs_norm ON runs(norm_description);

CREATE TABLE tasks (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    prompt TEXT NOT NULL,
    dependencies TEXT NOT NULL,           -- JSON array of task ids
    threshold REAL NOT NULL,
    max_iterations INTEGER NOT NULL,
    max_output_tokens INTEGER NOT NULL,
    validators TEXT NOT NULL,             -- JSON array of validator specs
    status TEXT NOT NULL,
    status_reason TEXT,
    model TEXT,
    reviewer TEXT,
    score REAL,
    iterations INTEGER NOT NULL DEFAULT 0,
    output TEXT,
    started_at TEXT,
    finished_at TEXT,
    PRIMARY KEY (run_id, id)
);

CREATE TABLE attempts (
    run_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    model TEXT,
    reviewer TEXT,
    evaluator TEXT,
    score REAL,
    validators TEXT NOT NULL DEFAULT '[]',
    failure_reason TEXT,
    critique TEXT,
    output TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (run_id, task_id, n),
    FOREIGN KEY (run_id, task_id) REFERENCES tasks(run_id, id) ON DELETE CASCADE
);

CREATE TABLE calls (
    id INTEGER PRIMARY KEY,
    run_id TEXT REFERENCES runs(id) ON DELETE CASCADE,
    task_id TEXT,
    attempt INTEGER,
    role TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    simulated INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    cost_micros INTEGER NOT NULL DEFAULT 0,
    latency_ms INTEGER NOT NULL,
    ttft_ms INTEGER,
    outcome TEXT NOT NULL,                -- ok | rate_limited | transient | permanent | request | content | cancelled
    error TEXT,
    retry INTEGER NOT NULL DEFAULT 0,
    breaker_after TEXT,
    at TEXT NOT NULL
);
CREATE INDEX calls_run ON calls(run_id);
CREATE INDEX calls_model ON calls(model, at);

CREATE TABLE artifacts (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    task_id TEXT,
    path TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (run_id, path)
);

CREATE TABLE breaker_events (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    run_id TEXT,
    model TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX breaker_events_run ON breaker_events(run_id);

CREATE TABLE run_events (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    run_id TEXT,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
"#,
    // 2: budgets: caps per level, reservations, spend history for burn-down.
    r#"
ALTER TABLE runs ADD COLUMN reserved_micros INTEGER NOT NULL DEFAULT 0;
CREATE TABLE budget_levels (
    level TEXT PRIMARY KEY,               -- 'org' or 'team:<name>'
    cap_micros INTEGER,                   -- NULL: no cap
    period TEXT,                          -- NULL | daily | weekly | monthly
    period_key TEXT,                      -- start of the current period
    spent_micros INTEGER NOT NULL DEFAULT 0,
    reserved_micros INTEGER NOT NULL DEFAULT 0
);
INSERT INTO budget_levels (level) VALUES ('org');
CREATE TABLE reservations (
    id INTEGER PRIMARY KEY,
    run_id TEXT,
    team TEXT,
    pid INTEGER NOT NULL,
    amount_micros INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX reservations_run ON reservations(run_id);
CREATE TABLE spend_series (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    level TEXT NOT NULL,                  -- 'org', 'team:<name>', 'run:<id>'
    spent_micros INTEGER NOT NULL
);
CREATE INDEX spend_series_level ON spend_series(level, id);
"#,
    // 3: per-attempt cost lookups.
    "CREATE INDEX calls_task ON calls(run_id, task_id, attempt);",
    // 4: paths from model output refused by the artifact writer (findings of the task).
    r#"
CREATE TABLE artifact_refusals (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    task_id TEXT NOT NULL,
    path TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
"#,
    // 5: analyses and their findings.
    super::analyses::MIGRATION_SQL,
    // 6: persisted breakers, learned model profiles, policy audit trail.
    r#"
CREATE TABLE breakers (
    model TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    consecutive_failures INTEGER NOT NULL,
    trips INTEGER NOT NULL,
    open_until_ms INTEGER NOT NULL,
    not_before_ms INTEGER NOT NULL,
    config_hash TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE model_profiles (
    model TEXT NOT NULL,
    task_type TEXT NOT NULL,
    samples INTEGER NOT NULL,
    quality REAL NOT NULL,
    calls INTEGER NOT NULL,
    successes INTEGER NOT NULL,
    latency_ema_ms REAL NOT NULL,
    cost_total_micros INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (model, task_type)
);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    run_id TEXT,
    task_id TEXT,
    model TEXT NOT NULL,
    policies TEXT NOT NULL,
    mode TEXT,
    violations TEXT NOT NULL,
    allowed INTEGER NOT NULL
);
CREATE INDEX audit_run ON audit(run_id);
"#,
    // 7: crash recovery (issue 14): reservation ids never reused (AUTOINCREMENT, so a late settle
    // can never hit another holder's lease) and stamped with their owner's identity; the owner of
    // a driven run; each call in flight with the worst case it holds; spend charged as an
    // estimate (the held worst case of calls cut short by a crash, recorded as `calls` rows with
    // outcome `estimated`).
    r#"
CREATE TABLE reservations_v7 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT,
    team TEXT,
    pid INTEGER NOT NULL,
    amount_micros INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    owner_host TEXT,                      -- NULL: not known (rows of older versions)
    owner_start TEXT                      -- '<boot id>/<start ticks>' of process `pid`
);
INSERT INTO reservations_v7 (id, run_id, team, pid, amount_micros, created_at)
    SELECT id, run_id, team, pid, amount_micros, created_at FROM reservations;
DROP TABLE reservations;
ALTER TABLE reservations_v7 RENAME TO reservations;
CREATE INDEX reservations_run ON reservations(run_id);
CREATE TABLE inflight_calls (
    reservation_id INTEGER NOT NULL,      -- the lease the call took its worst case from
    n INTEGER NOT NULL,                   -- unique per process (a lease belongs to one)
    run_id TEXT,
    task_id TEXT,
    attempt INTEGER,
    role TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    simulated INTEGER NOT NULL,
    worst_micros INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    PRIMARY KEY (reservation_id, n)
) WITHOUT ROWID;
ALTER TABLE runs ADD COLUMN owner_host TEXT;
ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
ALTER TABLE runs ADD COLUMN owner_start TEXT;
ALTER TABLE budget_levels ADD COLUMN estimated_micros INTEGER NOT NULL DEFAULT 0;
"#,
    // 8: where a task parked by the budget continues (its exact call), and owners waiting for
    // headroom at a shared budget level (store/waiters.rs).
    r#"
ALTER TABLE tasks ADD COLUMN resume_state TEXT;
CREATE TABLE budget_waiters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    level TEXT NOT NULL,
    amount_micros INTEGER NOT NULL,
    until_ms INTEGER NOT NULL,
    UNIQUE (owner, level)
);
"#,
    // 9: real models (issue 16): a run whose plan fell back to one task, how each attempt was
    // judged (evaluated by its own generator; a score the model gave outside 0..1), and the
    // structured-output mode each provider's model was found to accept.
    r#"
ALTER TABLE runs ADD COLUMN plan_fallback INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN self_evaluated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN score_note TEXT;
CREATE TABLE structured_modes (
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    mode TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (provider, model)
);
"#,
    // 10: the server a structured-output mode was learned from: another base URL for the same
    // provider name starts from the richest mode again ('' matches no server).
    r#"
ALTER TABLE structured_modes ADD COLUMN base_url TEXT NOT NULL DEFAULT '';
"#,
    // 11: prompt caching (issue 17 §4): input tokens a call wrote to the provider's cache, and
    // what caching saved on it (input at the full rate minus its cache reads and writes as
    // priced, micro-USD; negative while writes are not yet repaid).
    r#"
ALTER TABLE calls ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN cache_saving_micros INTEGER NOT NULL DEFAULT 0;
"#,
    // 12: the TUI says why (issue 18): every event observers list, with its kind and run
    // (store/events.rs, the newest kept per run); the routing decision of each call of a task
    // attempt (store/routing.rs, candidates bounded); budget threshold warnings already given,
    // once per level and period (store/alerts.rs).
    r#"
ALTER TABLE run_events ADD COLUMN kind TEXT NOT NULL DEFAULT 'info';
CREATE INDEX run_events_run ON run_events(run_id, id);
CREATE TABLE routing (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    task_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    role TEXT NOT NULL,
    strategy TEXT NOT NULL,
    chosen TEXT,                          -- the model that answered (NULL: none did)
    reason TEXT NOT NULL,                 -- why the first pick won
    candidates TEXT NOT NULL,             -- JSON list, at most routing::MAX_CANDIDATES entries
    at TEXT NOT NULL
);
CREATE INDEX routing_task ON routing(run_id, task_id, attempt);
CREATE TABLE budget_alerts (
    level TEXT NOT NULL,                  -- 'org', 'team:<name>' or 'run:<id>'
    period TEXT NOT NULL,                 -- '<period key>|<cap micros>' (a new cap warns again)
    pct INTEGER NOT NULL,                 -- 80 or 95
    at TEXT NOT NULL,
    PRIMARY KEY (level, period, pct)
) WITHOUT ROWID;
"#,
    // 13: who started each run and where (issue 19: a store shared by machines lists everyone's
    // runs); NULL on runs of older versions.
    r#"
ALTER TABLE runs ADD COLUMN host TEXT;
ALTER TABLE runs ADD COLUMN os_user TEXT;
"#,
    // 14: cancel requests for a run driven by another process (the TUI's `c`, `cancel RUN`); the
    // driving engine looks for its run's row about once a second and takes it.
    r#"
CREATE TABLE cancel_requests (
    run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    by_host TEXT NOT NULL,
    by_pid INTEGER NOT NULL
);
"#,
    // 15: where each output file was written (issue 19: files stay on the machine that wrote
    // them; a run resumed on another machine writes its new outputs there); NULL on files of
    // older versions (the run's own host and output directory).
    r#"
ALTER TABLE artifacts ADD COLUMN host TEXT;
ALTER TABLE artifacts ADD COLUMN dir TEXT;
"#,
    // 16: nothing on SQLite; on PostgreSQL a call's settle as one server-side function
    // (`store/pg/schema.rs` PG_EXTRA 16: one round trip instead of seven).
    r#"
-- PostgreSQL only (settle_lease_part)
"#,
    // 17: the machine that drove each run last, set when a run is resumed (a shared store's run
    // may be resumed on another machine than the one that started it, `host`); NULL: `host`.
    r#"
ALTER TABLE runs ADD COLUMN driven_host TEXT;
"#,
];

pub fn migrate(conn: &mut Connection) -> rusqlite::Result<u32> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have migrated while we waited for the write lock.
        let now: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if now as usize > i {
            tx.commit()?;
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as u32)?;
        tx.commit()?;
    }
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_keep_their_rows_and_ids_across_migration_7() {
        let mut c = Connection::open_in_memory().unwrap();
        // A database as version 6 left it, holding two reservations (ids 3 and 9).
        for (i, sql) in MIGRATIONS.iter().take(6).enumerate() {
            c.execute_batch(sql).unwrap();
            c.pragma_update(None, "user_version", (i + 1) as u32)
                .unwrap();
        }
        c.execute_batch(
            "INSERT INTO reservations (id, run_id, team, pid, amount_micros, created_at)
             VALUES (3, NULL, 'web', 11, 500, 'a'), (9, 'r-1', NULL, 12, 700, 'b');",
        )
        .unwrap();
        assert_eq!(migrate(&mut c).unwrap() as usize, MIGRATIONS.len());
        let rows: Vec<(i64, i64, Option<String>)> = c
            .prepare("SELECT id, amount_micros, owner_host FROM reservations ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, vec![(3, 500, None), (9, 700, None)]);
        // The highest id is never given out again, even once its row is gone.
        c.execute("DELETE FROM reservations WHERE id = 9", [])
            .unwrap();
        c.execute(
            "INSERT INTO reservations (pid, amount_micros, created_at) VALUES (1, 0, 'c')",
            [],
        )
        .unwrap();
        assert_eq!(c.last_insert_rowid(), 10);
    }

    #[test]
    fn a_newer_schema_is_left_untouched() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        let newer = MIGRATIONS.len() as u32 + 1;
        c.pragma_update(None, "user_version", newer).unwrap();
        assert_eq!(migrate(&mut c).unwrap(), newer);
    }
}
