//! Liveness and crash recovery under the real binary (issue 14 §3): a deleted lock file does not
//! let a second process drive a live run; `resume` never settles what a live process holds; a
//! call in flight when its process is killed is charged the worst case it held.

use crate::support::binary::*;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (SIGKILL) and reaped when dropped, so a failing test leaves none.
struct Running(Option<Child>);

impl Running {
    fn spawn(mut c: std::process::Command) -> Running {
        Running(Some(
            c.stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn"),
        ))
    }
    fn kill(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    fn wait(&mut self) -> Option<i32> {
        self.0.take().and_then(|mut c| c.wait().ok()?.code())
    }
    fn alive(&mut self) -> bool {
        self.0
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

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

fn one(env: &Env, sql: &str) -> i64 {
    let p = env.data().join("orchestrator.db");
    rusqlite::Connection::open(p)
        .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
        .unwrap_or(0)
}

fn run_id(env: &Env) -> String {
    let (runs, _) = env.json(&["runs", "--json"]);
    runs[0]["id"].as_str().expect("a run").to_string()
}

#[test]
fn a_deleted_lock_file_does_not_let_a_second_process_drive_a_live_run() {
    let env = Env::new("[simulated]\nlatency_ms_min = 150\nlatency_ms_max = 400\n");
    let plan = env.write("plan.json", &flat_plan(12));
    let mut first = Running::spawn({
        let mut c = env.cmd();
        c.args(["run", "--plan", plan.to_str().unwrap(), "--json"]);
        c
    });
    wait_for("tasks committed", || {
        one(&env, "SELECT COUNT(*) FROM tasks") == 12
    });
    let id = run_id(&env);
    std::fs::remove_file(env.data().join("locks").join(format!("{id}.lock"))).unwrap();
    // Still shown as driven, and not resumable.
    let (runs, _) = env.json(&["runs", "--json"]);
    assert_eq!(runs[0]["status"], "running", "{runs}");
    assert_eq!(runs[0]["resumable"], false);
    let out = env.run(&["resume", &id, "--json"]);
    assert_eq!(code(&out), 2, "a second driver: {}", stderr(&out));
    assert!(
        stderr(&out).contains("another live process"),
        "{}",
        stderr(&out)
    );
    assert!(first.alive());
    // Once the driver is gone the run is resumable again.
    first.kill();
    let (v, out) = env.json(&["resume", &id, "--json"]);
    assert!(
        matches!(v["status"].as_str(), Some("success" | "completed_degraded")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn resume_leaves_the_reservation_of_a_live_analyze_alone() {
    let env = Env::new("[simulated]\nlatency_ms_min = 150\nlatency_ms_max = 400\n");
    // A run killed mid-way: interrupted, with a lease left by its dead process.
    let plan = env.write("plan.json", &flat_plan(8));
    let mut killed = Running::spawn({
        let mut c = env.cmd();
        c.args(["run", "--plan", plan.to_str().unwrap(), "--json"]);
        c
    });
    wait_for("a completed task", || {
        one(
            &env,
            "SELECT COUNT(*) FROM tasks WHERE status = 'completed'",
        ) >= 1
    });
    killed.kill();
    let id = run_id(&env);
    // An analysis in another process, its model call slow: it holds a reservation without a run.
    let repo = env.dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("README.md"), "# tool\nA small tool.\n").unwrap();
    std::fs::write(repo.join("main.py"), "print('hi')\n").unwrap();
    let slow = env.write(
        "slow.toml",
        "[simulated]\nlatency_ms_min = 6000\nlatency_ms_max = 7000\n",
    );
    let mut analyze = Running::spawn({
        let mut c = env.cmd();
        c.args(["--config", slow.to_str().unwrap(), "analyze"])
            .arg(&repo)
            .arg("--json");
        c
    });
    wait_for("the analysis to hold a reservation", || {
        one(
            &env,
            "SELECT COUNT(*) FROM reservations WHERE run_id IS NULL",
        ) == 1
    });
    let held = one(
        &env,
        "SELECT amount_micros FROM reservations WHERE run_id IS NULL",
    );
    let (v, out) = env.json(&["resume", &id, "--json"]);
    assert!(
        matches!(v["status"].as_str(), Some("success" | "completed_degraded")),
        "{}",
        stderr(&out)
    );
    assert!(analyze.alive(), "the analysis should still be waiting");
    assert_eq!(
        one(
            &env,
            "SELECT amount_micros FROM reservations WHERE run_id IS NULL"
        ),
        held,
        "resume settled a live process's reservation"
    );
    assert_eq!(analyze.wait(), Some(0));
    // The analysis's call was charged when it settled; nothing is left reserved.
    assert_eq!(one(&env, "SELECT COUNT(*) FROM reservations"), 0);
    assert_eq!(
        one(
            &env,
            "SELECT spent_micros FROM budget_levels WHERE level = 'org'"
        ),
        one(&env, "SELECT SUM(cost_micros) FROM calls")
    );
}

#[test]
fn calls_in_flight_at_a_crash_are_charged_their_worst_case() {
    // Calls take seconds: the kill lands while the first ones are in flight.
    let env = Env::new("[simulated]\nlatency_ms_min = 4000\nlatency_ms_max = 5000\n");
    let plan = env.write("plan.json", &flat_plan(6));
    let mut child = Running::spawn({
        let mut c = env.cmd();
        c.args([
            "run",
            "--plan",
            plan.to_str().unwrap(),
            "--team",
            "web",
            "--json",
        ]);
        c
    });
    wait_for("three tasks running", || {
        one(&env, "SELECT COUNT(*) FROM tasks WHERE status = 'running'") >= 3
    });
    // Let the calls reach the provider (their bookkeeping is written behind).
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        one(&env, "SELECT COUNT(*) FROM calls"),
        0,
        "no call ended yet"
    );
    child.kill();
    let id = run_id(&env);

    // Any start recovers: the calls may have been billed, so their worst case is spent.
    let (b, out) = env.json(&["budget", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let spent = b["org"]["spent_usd"].as_f64().unwrap();
    assert!(spent > 0.0, "calls in flight charged nothing: {b}");
    assert_eq!(b["org"]["estimated_usd"].as_f64(), Some(spent), "{b}");
    assert_eq!(b["org"]["reserved_usd"].as_f64(), Some(0.0), "{b}");
    let web = &b["teams"][0];
    assert_eq!(
        (web["name"].as_str(), web["spent_usd"].as_f64()),
        (Some("web"), Some(spent))
    );
    let (v, _) = env.json(&["show", &id, "--json"]);
    assert_eq!(v["estimated_cost_usd"].as_f64(), Some(spent), "{v}");
    assert_eq!(v["total_cost_usd"].as_f64(), Some(spent), "{v}");
    assert_eq!(v["status"], "interrupted");
    assert!(
        String::from_utf8_lossy(&env.run(&["show", &id]).stdout).contains("estimated"),
        "show names the estimate"
    );
    assert!(
        String::from_utf8_lossy(&env.run(&["budget"]).stdout).contains("estimated"),
        "budget names the estimate"
    );
    assert_eq!(
        one(
            &env,
            "SELECT COUNT(*) FROM calls WHERE outcome = 'estimated'"
        ),
        3
    );
    assert_eq!(one(&env, "SELECT COUNT(*) FROM reservations"), 0);
    assert_eq!(one(&env, "SELECT reserved_micros FROM runs"), 0);
    // Resumed, the run's money still adds up to its call records.
    let fast = env.write(
        "fast.toml",
        "[simulated]\nlatency_ms_min = 0\nlatency_ms_max = 2\n",
    );
    let (v, out) = env.json(&["--config", fast.to_str().unwrap(), "resume", &id, "--json"]);
    assert!(
        matches!(v["status"].as_str(), Some("success" | "completed_degraded")),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        one(&env, "SELECT spent_micros FROM runs"),
        one(&env, "SELECT SUM(cost_micros) FROM calls")
    );
    assert_eq!(
        one(
            &env,
            "SELECT spent_micros FROM budget_levels WHERE level = 'org'"
        ),
        one(&env, "SELECT SUM(cost_micros) FROM calls")
    );
}
