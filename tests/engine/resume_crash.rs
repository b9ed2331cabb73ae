//! Crash-safe resume: SIGKILL while tasks run and during decomposition, SIGINT, and refusals.

use crate::support::binary::*;
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SLOW: &str = "[simulated]\nlatency_ms_min = 150\nlatency_ms_max = 400\n";

fn spawn(env: &Env, args: &[&str]) -> Child {
    env.cmd()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

fn db(env: &Env) -> Option<rusqlite::Connection> {
    let p = env.data().join("orchestrator.db");
    p.exists()
        .then(|| rusqlite::Connection::open(p).ok())
        .flatten()
}

/// Poll (bounded) until `f` holds.
fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count(env: &Env, sql: &str) -> i64 {
    db(env)
        .and_then(|c| c.query_row(sql, [], |r| r.get(0)).ok())
        .unwrap_or(0)
}

/// (task id -> list of (n, created_at)) of completed tasks' attempts.
fn completed_attempts(env: &Env) -> BTreeMap<String, Vec<(i64, String)>> {
    let c = db(env).unwrap();
    let mut st = c
        .prepare(
            "SELECT a.task_id, a.n, a.created_at FROM attempts a JOIN tasks t
             ON t.run_id = a.run_id AND t.id = a.task_id
             WHERE t.status IN ('completed', 'degraded') ORDER BY a.task_id, a.n",
        )
        .unwrap();
    let mut m: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for r in st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
    {
        let (t, n, at) = r.unwrap();
        m.entry(t).or_default().push((n, at));
    }
    m
}

fn chain_plan(n: usize) -> String {
    // Pairs of dependent tasks so the DAG matters.
    let items: Vec<String> = (0..n)
        .map(|i| {
            let deps = if i % 2 == 1 { format!("[\"t{}\"]", i - 1) } else { "[]".into() };
            format!(r#"{{"id": "t{i}", "type": "summarization", "prompt": "Summarise part {i}", "dependencies": {deps}}}"#)
        })
        .collect();
    format!("[{}]", items.join(","))
}

fn assert_interrupted(env: &Env) -> String {
    let (runs, _) = env.json(&["runs", "--json"]);
    let r = &runs.as_array().unwrap()[0];
    assert_eq!(r["status"], "interrupted", "{runs}");
    assert_eq!(r["resumable"], true);
    r["id"].as_str().unwrap().to_string()
}

#[test]
fn sigkill_while_tasks_run_then_resume_keeps_finished_work() {
    let env = Env::new(SLOW);
    let plan = env.write("plan.json", &chain_plan(14));
    let mut child = spawn(&env, &["run", "--plan", plan.to_str().unwrap(), "--json"]);
    wait_for("3 completed tasks", || {
        count(
            &env,
            "SELECT COUNT(*) FROM tasks WHERE status = 'completed'",
        ) >= 3
    });
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    let id = assert_interrupted(&env);
    let before = completed_attempts(&env);
    assert!(before.len() >= 3);
    let calls_before: i64 = count(&env, "SELECT COUNT(*) FROM calls");

    let (v, out) = env.json(&["resume", &id, "--json"]);
    let status = v["status"].as_str().unwrap();
    assert!(
        matches!(status, "success" | "completed_degraded"),
        "{status}: {}",
        stderr(&out)
    );
    let after = completed_attempts(&env);
    for (task, attempts) in &before {
        assert_eq!(
            after.get(task),
            Some(attempts),
            "task {task} was executed again"
        );
    }
    // Calls of tasks completed before the kill were not repeated.
    let c = db(&env).unwrap();
    for task in before.keys() {
        let late: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM calls WHERE task_id = ?1 AND id > ?2",
                rusqlite::params![task, calls_before],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(late, 0, "task {task} got new calls");
    }
    // No duplicated rows.
    assert_eq!(count(&env, "SELECT COUNT(*) FROM tasks"), 14);
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM (SELECT task_id, n FROM attempts GROUP BY task_id, n HAVING COUNT(*) > 1)"
        ),
        0
    );
    assert_eq!(count(&env, "SELECT COUNT(*) FROM reservations"), 0);
    // Spend equals the sum of recorded calls.
    assert_eq!(
        count(&env, "SELECT spent_micros FROM runs"),
        count(&env, "SELECT COALESCE(SUM(cost_micros), 0) FROM calls")
    );
}

#[test]
fn sigkill_during_decomposition_resumes_from_decomposition() {
    let env = Env::new("[simulated]\nlatency_ms_min = 3000\nlatency_ms_max = 4000\n");
    let mut child = spawn(&env, &["run", "Build a todo app in Rust", "--json"]);
    wait_for("the run row", || {
        count(&env, "SELECT COUNT(*) FROM runs") == 1
    });
    child.kill().unwrap();
    let _ = child.wait();
    let id = assert_interrupted(&env);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM tasks"), 0);
    // Resume with fast providers (the current config is used on resume).
    let fast = env.write(
        "fast.toml",
        "[simulated]\nlatency_ms_min = 0\nlatency_ms_max = 2\n",
    );
    let (v, out) = env.json(&["--config", fast.to_str().unwrap(), "resume", &id, "--json"]);
    let status = v["status"].as_str().unwrap();
    assert!(
        matches!(status, "success" | "completed_degraded"),
        "{status}: {}",
        stderr(&out)
    );
    assert!(v["tasks"].as_array().unwrap().len() >= 5);
}

#[test]
fn sigint_cancels_cleanly_exit_130_partial_success() {
    let env = Env::new(SLOW);
    let plan = env.write("plan.json", &chain_plan(12));
    let child = spawn(&env, &["run", "--plan", plan.to_str().unwrap(), "--json"]);
    wait_for("a completed task", || {
        count(
            &env,
            "SELECT COUNT(*) FROM tasks WHERE status = 'completed'",
        ) >= 1
    });
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 130, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(v["status"], "partial_success");
    assert_eq!(v["resumable"], true);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM reservations"), 0);
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM tasks WHERE status = 'running'"),
        0
    );
    // It resumes to the end.
    let (v, _) = env.json(&["resume", "--last", "--json"]);
    assert!(matches!(
        v["status"].as_str().unwrap(),
        "success" | "completed_degraded"
    ));
}

#[test]
fn resume_refusals_exit_2_and_change_nothing() {
    let env = Env::new("");
    let plan = env.write("plan.json", &flat_plan(2));
    let (v, _) = env.json(&["run", "--plan", plan.to_str().unwrap(), "--json"]);
    let done = v["id"].as_str().unwrap().to_string();
    assert!(matches!(
        v["status"].as_str().unwrap(),
        "success" | "completed_degraded"
    ));
    let before = table_counts(&env.data());
    for (args, needle) in [
        (vec!["resume", done.as_str()], "terminal"),
        (vec!["resume", "r-000000"], "r-000000"),
        (vec!["resume"], "--last"),
    ] {
        let out = env.run(&args);
        assert_eq!(code(&out), 2, "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert_eq!(table_counts(&env.data()), before);
    }
}

#[test]
fn resume_of_a_run_held_by_a_live_process_is_refused() {
    let env = Env::new(SLOW);
    let plan = env.write("plan.json", &chain_plan(10));
    let mut child = spawn(&env, &["run", "--plan", plan.to_str().unwrap(), "--json"]);
    wait_for("tasks committed", || {
        count(&env, "SELECT COUNT(*) FROM tasks") == 10
    });
    let (runs, _) = env.json(&["runs", "--json"]);
    let r = &runs.as_array().unwrap()[0];
    assert_eq!(r["status"], "running");
    assert_eq!(r["resumable"], false);
    let id = r["id"].as_str().unwrap().to_string();
    let out = env.run(&["resume", &id]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("another live process"),
        "{}",
        stderr(&out)
    );
    child.kill().unwrap();
    let _ = child.wait();
}
