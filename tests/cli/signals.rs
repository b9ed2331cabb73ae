//! Signals and closed pipes (issue 14 §4), on the real binary. SIGTERM and SIGHUP cancel a run
//! like Ctrl-C: in-flight calls are settled and recorded, the run is stored `partial_success` with
//! the signal in its reason, and the exit code is 143 / 129. A reader that goes away
//! (`run ... 2>&1 | head -3`) never kills a run. The TUI path is checked in tmux.
//!
//! The headless tests talk to the loopback provider server (OpenAI format), which answers every
//! call after a delay, so calls are in flight when the signal arrives; the server counts what it
//! received, the database what was recorded.

use crate::support::binary::{BIN, Env, code, flat_plan, stderr};
use crate::support::loopback::{MockProvider, MockUsage, Reply};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KEY_VARS: &[&str] = crate::support::binary::CLEARED_ENV;

/// A data dir and a config whose only provider is the loopback server.
struct Loopback {
    dir: tempfile::TempDir,
    server: MockProvider,
}

impl Loopback {
    async fn new(delay: Duration) -> Loopback {
        let server = MockProvider::start().await;
        let answer = Reply::text(r#"{"score": 0.95, "reason": "ok"}"#)
            .usage(MockUsage {
                input: 50,
                cached: 0,
                output: 20,
                reasoning: 0,
            })
            .first_byte_delay(delay);
        server.set_default(answer);
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "[providers.openai]\nbase_url = \"{}\"\n[retry]\nbackoff_base_ms = 1\nbackoff_cap_ms = 5\n\
             [routing]\nexplore_rate = 0.0\n",
            server.openai_base_url()
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        Loopback { dir, server }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        for k in KEY_VARS {
            c.env_remove(k);
        }
        c.env("OPENAI_API_KEY", "sk-signal-test")
            .arg("--data-dir")
            .arg(self.data())
            .arg("--config")
            .arg(self.dir.path().join("config.toml"))
            .args(args);
        c
    }

    fn plan(&self, n: usize) -> String {
        let p = self.dir.path().join("plan.json");
        std::fs::write(&p, flat_plan(n)).unwrap();
        p.display().to_string()
    }

    fn scalar(&self, sql: &str) -> i64 {
        let p = self.data().join("orchestrator.db");
        if !p.exists() {
            return 0;
        }
        rusqlite::Connection::open(p)
            .ok()
            .and_then(|c| c.query_row(sql, [], |r| r.get(0)).ok())
            .unwrap_or(0)
    }
}

/// Poll (bounded) until `f` holds.
fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn send(child: &Child, sig: libc::c_int) {
    // SAFETY: kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    assert_eq!(rc, 0, "kill failed");
}

/// Start a 12-task run against the slow server, send `sig` while calls are in flight, and check
/// the run was cancelled and stored like Ctrl-C does, with every call recorded.
async fn signal_cancels_and_stores(sig: libc::c_int, exit: i32, reason: &str) {
    let lb = Loopback::new(Duration::from_millis(150)).await;
    let plan = lb.plan(12);
    // The test body runs on its own thread; the server answers from the runtime's workers.
    let child = lb
        .cmd(&["run", "--plan", &plan, "--json", "--concurrency", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Some calls recorded, and more received by the server than recorded: calls in flight.
    wait_for("a recorded call and one in flight", || {
        let recorded = lb.scalar("SELECT COUNT(*) FROM calls");
        recorded >= 2 && lb.server.served() as i64 > recorded
    });
    send(&child, sig);
    let out = child.wait_with_output().expect("wait");
    let err = stderr(&out);
    assert_eq!(code(&out), exit, "stderr: {err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}); stderr: {err}"));
    assert_eq!(v["status"], "partial_success", "{v}");
    assert_eq!(v["status_reason"], reason, "{v}");
    assert_eq!(v["resumable"], true);
    // Every request that reached the server is recorded (a call cancelled before it was sent
    // is recorded too, hence >=), and nothing but cancelled calls went unanswered.
    let received = lb.server.served() as i64;
    let recorded = lb.scalar("SELECT COUNT(*) FROM calls");
    let answered = lb.scalar("SELECT COUNT(*) FROM calls WHERE outcome <> 'cancelled'");
    assert!(
        recorded >= received && answered <= received,
        "server received {received}, recorded {recorded} ({answered} answered)"
    );
    // The money adds up: the run's cost is its calls', and the org ledger holds exactly that.
    let calls_cost = lb.scalar("SELECT COALESCE(SUM(cost_micros), 0) FROM calls");
    let total = (v["total_cost_usd"].as_f64().unwrap() * 1e6).round() as i64;
    assert_eq!(total, calls_cost);
    assert_eq!(
        lb.scalar("SELECT spent_micros FROM budget_levels WHERE level = 'org'"),
        calls_cost
    );
    assert_eq!(lb.scalar("SELECT COUNT(*) FROM reservations"), 0);
    assert_eq!(
        lb.scalar("SELECT COUNT(*) FROM tasks WHERE status = 'running'"),
        0
    );
    assert!(
        err.contains(&format!(
            "{}: cancelling",
            if exit == 143 { "SIGTERM" } else { "SIGHUP" }
        )),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_cancels_like_ctrl_c_exit_143_every_call_recorded() {
    signal_cancels_and_stores(libc::SIGTERM, 143, "cancelled (SIGTERM)").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_cancels_like_ctrl_c_exit_129_every_call_recorded() {
    signal_cancels_and_stores(libc::SIGHUP, 129, "cancelled (SIGHUP)").await;
}

/// `run ... 2>&1 | head -3`: the reader leaves after three lines; the run goes on to its end and
/// is stored, and the exit code is the run's, not death by SIGPIPE.
#[test]
fn a_closed_pipe_never_kills_the_run() {
    let env = Env::new("[simulated]\nlatency_ms_min = 5\nlatency_ms_max = 30\n");
    let plan = env.write("plan.json", &flat_plan(8));
    let mut c = Command::new("bash");
    for k in KEY_VARS {
        c.env_remove(k);
    }
    let script = r#""$@" 2>&1 | head -3; exit "${PIPESTATUS[0]}""#;
    let out = c
        .args(["-c", script, "bash", BIN, "--data-dir"])
        .arg(env.data())
        .arg("--config")
        .arg(&env.config)
        .args(["run", "--plan", plan.to_str().unwrap(), "--headless"])
        .output()
        .expect("run bash");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(shown.lines().count(), 3, "{shown}");
    let (runs, _) = env.json(&["runs", "--json"]);
    let status = runs[0]["status"].as_str().unwrap().to_string();
    assert!(
        status == "success" || status == "completed_degraded",
        "the run was left `{status}` (exit {}): {}",
        code(&out),
        stderr(&out)
    );
    let expected = if status == "success" { 0 } else { 4 };
    assert_eq!(code(&out), expected, "{}", stderr(&out));
    assert_eq!(runs[0]["tasks_done"], 8);
}

/// The same with the reader reading nothing at all and `--json`: stdout closed before the one
/// JSON document is written, stderr closed before the first progress line.
#[test]
fn closed_stdout_and_stderr_from_the_start() {
    let env = Env::new("");
    let plan = env.write("plan.json", &flat_plan(3));
    let mut child = env
        .cmd()
        .args(["run", "--plan", plan.to_str().unwrap(), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    drop(child.stderr.take());
    let st = child.wait().expect("wait");
    let (runs, _) = env.json(&["runs", "--json"]);
    let status = runs[0]["status"].as_str().unwrap().to_string();
    assert!(
        status == "success" || status == "completed_degraded",
        "{status}"
    );
    assert_eq!(
        st.code(),
        Some(if status == "success" { 0 } else { 4 }),
        "{st:?}"
    );
}

// ---- the TUI path (tmux) ----------------------------------------------------------------------

fn have_tmux() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("note: tmux is not installed; skipping the TUI signal test");
    }
    ok
}

struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(name: &str, cmd: &str) -> Tmux {
        let t = Tmux {
            socket: format!("orch-sig-{name}-{}", std::process::id()),
        };
        let st = t
            .tmux()
            .args(["new-session", "-d", "-s", "t", "-x", "120", "-y", "40", cmd])
            .status()
            .expect("tmux new-session");
        assert!(st.success());
        t
    }

    fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c.stdin(Stdio::null());
        c
    }

    fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", "t"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    fn pane_pid(&self) -> u32 {
        let out = self
            .tmux()
            .args(["display-message", "-p", "-t", "t", "#{pane_pid}"])
            .output()
            .expect("display-message");
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
    }
}

/// The pane's shell runs the binary as its child (`env` execs it).
fn child_of(pid: u32) -> Option<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `run` on a terminal hands the run to the TUI; SIGTERM there stores the run like Ctrl-C in
/// headless mode, restores the terminal and exits 143.
#[test]
fn sigterm_in_the_tui_stores_the_run_and_restores_the_terminal() {
    if !have_tmux() {
        return;
    }
    let env = Env::new("[simulated]\nlatency_ms_min = 150\nlatency_ms_max = 400\n");
    let plan = env.write("plan.json", &flat_plan(12));
    let unset: String = KEY_VARS.iter().map(|k| format!("-u {k} ")).collect();
    let cmd = format!(
        "env {unset} '{BIN}' --data-dir '{}' --config '{}' run --plan '{}'; echo \"EXIT=$?\"; \
         stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; \
         echo MODES; sleep 600",
        env.data().display(),
        env.config.display(),
        plan.display()
    );
    let t = Tmux::start("term", &cmd);
    let db = || {
        let p = env.data().join("orchestrator.db");
        p.exists()
            .then(|| rusqlite::Connection::open(&p).ok())
            .flatten()
    };
    let count = |sql: &str| {
        db().and_then(|c| c.query_row(sql, [], |r| r.get::<_, i64>(0)).ok())
            .unwrap_or(0)
    };
    wait_for("a completed task", || {
        count("SELECT COUNT(*) FROM tasks WHERE status = 'completed'") >= 1
    });
    let pid = child_of(t.pane_pid()).expect("the binary's pid");
    // SAFETY: kill(2) on the process this test started in tmux.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) }, 0);
    let mut s = String::new();
    wait_for("the exit status on the screen", || {
        s = t.screen();
        s.contains("MODES")
    });
    assert!(s.contains("EXIT=143"), "exit status:\n{s}");
    assert!(
        s.contains("icanon echo MODES"),
        "terminal not restored:\n{s}"
    );
    let (runs, _) = env.json(&["runs", "--json"]);
    assert_eq!(runs[0]["status"], "partial_success", "{runs}");
    let (show, _) = env.json(&["show", runs[0]["id"].as_str().unwrap(), "--json"]);
    assert_eq!(show["status_reason"], "cancelled (SIGTERM)");
    assert_eq!(count("SELECT COUNT(*) FROM reservations"), 0);
}

/// Closing the terminal (tmux kills the pane: the pty hangs up and SIGHUP goes to the process)
/// stores the run `partial_success` "cancelled (SIGHUP)", not `interrupted`.
#[test]
fn closing_the_terminal_under_the_tui_stores_the_run() {
    if !have_tmux() {
        return;
    }
    let env = Env::new("[simulated]\nlatency_ms_min = 150\nlatency_ms_max = 400\n");
    let plan = env.write("plan.json", &flat_plan(12));
    let unset: String = KEY_VARS.iter().map(|k| format!("-u {k} ")).collect();
    let cmd = format!(
        "env {unset} '{BIN}' --data-dir '{}' --config '{}' run --plan '{}'",
        env.data().display(),
        env.config.display(),
        plan.display()
    );
    let t = Tmux::start("hup", &cmd);
    let count = |sql: &str| {
        let p = env.data().join("orchestrator.db");
        p.exists()
            .then(|| rusqlite::Connection::open(&p).ok())
            .flatten()
            .and_then(|c| c.query_row(sql, [], |r| r.get::<_, i64>(0)).ok())
            .unwrap_or(0)
    };
    wait_for("a completed task", || {
        count("SELECT COUNT(*) FROM tasks WHERE status = 'completed'") >= 1
    });
    let pid = child_of(t.pane_pid()).unwrap_or_else(|| t.pane_pid());
    let st = t
        .tmux()
        .args(["kill-pane", "-t", "t"])
        .status()
        .expect("kill-pane");
    assert!(st.success());
    // The process is gone once its /proc entry is (or turned into a zombie of tmux's).
    wait_for("the TUI process to exit", || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
            s.rsplit(')').next().is_some_and(|r| r.starts_with(" Z"))
        })
    });
    wait_for("the run to be stored", || {
        count("SELECT COUNT(*) FROM runs WHERE status = 'running'") == 0
    });
    let (runs, _) = env.json(&["runs", "--json"]);
    assert_eq!(runs[0]["status"], "partial_success", "{runs}");
    let (show, _) = env.json(&["show", runs[0]["id"].as_str().unwrap(), "--json"]);
    assert_eq!(show["status_reason"], "cancelled (SIGHUP)");
    assert_eq!(count("SELECT COUNT(*) FROM reservations"), 0);
}
