//! End-to-end tests of the real binary's TUI in tmux (120x40): keys in with `send-keys`, the
//! screen out with `capture-pane -p`, polled until the expected text appears (bounded, never a
//! fixed sleep). Skipped with a note when tmux is not installed.

use crate::support::binary::{BIN, Env, flat_plan};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const WAIT: Duration = Duration::from_secs(60);

pub(crate) fn have_tmux() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("note: tmux is not installed; skipping the TUI end-to-end test");
    }
    ok
}

/// One tmux server (own socket, no user config) with one 120x40 session running `cmd`.
pub(crate) struct Tmux {
    socket: String,
}

impl Tmux {
    pub(crate) fn start(name: &str, cmd: &str) -> Tmux {
        let t = Tmux {
            socket: format!("orch-tui-{name}-{}", std::process::id()),
        };
        let st = t
            .tmux()
            .args(["new-session", "-d", "-s", "t", "-x", "120", "-y", "40", cmd])
            .status()
            .expect("tmux new-session");
        assert!(st.success(), "tmux new-session failed");
        t
    }

    fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c.stdin(Stdio::null());
        c
    }

    pub(crate) fn keys(&self, keys: &[&str]) {
        let st = self
            .tmux()
            .args(["send-keys", "-t", "t"])
            .args(keys)
            .status()
            .expect("send-keys");
        assert!(st.success());
    }

    pub(crate) fn text(&self, text: &str) {
        let st = self
            .tmux()
            .args(["send-keys", "-t", "t", "-l", text])
            .status()
            .expect("send-keys -l");
        assert!(st.success());
    }

    /// Paste `text` as a terminal does: bracketed (`paste-buffer -p`) when the application asked
    /// for bracketed paste, raw otherwise; newlines arrive as Enter (CR).
    pub(crate) fn paste(&self, text: &str) {
        let st = self
            .tmux()
            .args(["set-buffer", "-b", "clip", "--", text])
            .status()
            .expect("set-buffer");
        assert!(st.success());
        let st = self
            .tmux()
            .args(["paste-buffer", "-p", "-d", "-b", "clip", "-t", "t"])
            .status()
            .expect("paste-buffer");
        assert!(st.success());
    }

    pub(crate) fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", "t"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    pub(crate) fn query(&self, format: &str) -> String {
        let out = self
            .tmux()
            .args(["display-message", "-p", "-t", "t", format])
            .output()
            .expect("display-message");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Poll the screen until `ok` holds (bounded).
    pub(crate) fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            if start.elapsed() > WAIT {
                panic!("waited {WAIT:?} for {what}; the screen shows:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn wait_for(&self, text: &str) -> String {
        self.wait(&format!("`{text}`"), |s| s.contains(text))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
    }
}

/// The binary under a clean environment; afterwards the exit status and the terminal modes are
/// printed so the test can check that the terminal was restored.
pub(crate) fn tui_command(data: &Path, config: &Path) -> String {
    command_with(data, config, "")
}

/// [`tui_command`] with arguments after the global flags (e.g. `run '...'`).
fn command_with(data: &Path, config: &Path, args: &str) -> String {
    let unset: String = [
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "MOONSHOT_API_KEY",
        "KIMI_API_KEY",
        "DEEPSEEK_API_KEY",
        "ORCHESTRATOR_CONFIG",
        "ORCHESTRATOR_DATA_DIR",
        "NO_COLOR",
    ]
    .iter()
    .map(|k| format!("-u {k} "))
    .collect();
    format!(
        "env {unset} '{BIN}' --data-dir '{}' --config '{}' {args}; echo \"EXIT=$?\"; \
         stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; \
         echo MODES; sleep 600",
        data.display(),
        config.display()
    )
}

/// After `q`: exit status 0, canonical mode and echo back on, alternate screen left.
pub(crate) fn assert_quit_cleanly(t: &Tmux) {
    let s = t.wait_for("MODES");
    assert!(s.contains("EXIT=0"), "exit status:\n{s}");
    assert!(
        s.contains("icanon echo MODES"),
        "terminal not restored:\n{s}"
    );
    assert!(
        !s.contains("Runs   2 Tasks"),
        "the TUI is still on screen:\n{s}"
    );
    assert_eq!(t.query("#{alternate_on}"), "0");
}

pub(crate) fn finished(s: &str) -> bool {
    s.contains("✓ success") || s.contains("≈ completed_degraded")
}

#[test]
fn new_run_from_the_tui_completes_then_q_quits() {
    if !have_tmux() {
        return;
    }
    let env = Env::new("[simulated]\nlatency_ms_min = 0\nlatency_ms_max = 20\n");
    let t = Tmux::start("new", &tui_command(&env.data(), &env.config));
    t.wait_for("No runs yet");
    t.keys(&["n"]);
    t.wait_for("New run");
    t.text("Build a todo app in Python");
    t.keys(&["Enter"]);
    let s = t.wait("the run to finish in Tasks", |s| {
        // The run can finish between two snapshots: its status (events) may show before its
        // tasks (the next snapshot), so wait for both.
        s.contains("╭ Run r-")
            && s.contains("Tasks (")
            && finished(s)
            && s.contains("tasks done · 100%")
    });
    assert!(s.contains("tasks done · 100%"), "{s}");
    t.keys(&["3"]);
    t.wait("the Models pane", |s| {
        s.contains("Models (") && s.contains("● closed")
    });
    t.keys(&["4"]);
    t.wait("the Budget pane", |s| {
        s.contains("Budgets") && s.contains("Burn-down")
    });
    t.keys(&["q"]);
    assert_quit_cleanly(&t);
    let (v, _) = env.json(&["runs", "--json"]);
    let status = v[0]["status"].as_str().unwrap_or_default().to_string();
    assert!(
        status == "success" || status == "completed_degraded",
        "{status}"
    );
}

#[test]
fn a_pasted_description_with_newlines_stays_text_in_the_form() {
    if !have_tmux() {
        return;
    }
    let env = Env::new("[simulated]\nlatency_ms_min = 0\nlatency_ms_max = 20\n");
    let t = Tmux::start("paste", &tui_command(&env.data(), &env.config));
    t.wait_for("No runs yet");
    t.keys(&["n"]);
    t.wait_for("New run");
    // Before: the newline submitted "Build a todo app" and `q` asked to quit.
    t.paste("Build a todo app\nq with tests\n");
    t.wait_for("Build a todo app q with tests");
    let (v, _) = env.json(&["runs", "--json"]);
    assert_eq!(v, serde_json::json!([]), "a paste started a run");
    t.keys(&["Escape"]);
    t.wait("the form to close", |s| !s.contains("New run"));
    // A paste with no field open is ignored, not read as keys (`q` would quit).
    t.paste("q");
    t.wait_for("paste ignored");
    t.keys(&["q"]);
    assert_quit_cleanly(&t);
}

#[test]
fn run_on_a_terminal_watches_the_run_in_the_tui_and_prints_the_result_after_q() {
    if !have_tmux() {
        return;
    }
    let env = Env::new("[simulated]\nlatency_ms_min = 0\nlatency_ms_max = 20\n");
    let cmd = command_with(
        &env.data(),
        &env.config,
        "run 'Build a todo app in Python' --budget 2",
    );
    let t = Tmux::start("runcmd", &cmd);
    // The TUI opens on this run's Tasks pane, without pressing anything.
    let s = t.wait("the run to finish in Tasks", |s| {
        // The run can finish between two snapshots: its status (events) may show before its
        // tasks (the next snapshot), so wait for both.
        s.contains("╭ Run r-")
            && s.contains("Tasks (")
            && finished(s)
            && s.contains("tasks done · 100%")
    });
    assert!(s.contains("tasks done · 100%"), "{s}");
    t.keys(&["q"]);
    let s = t.wait_for("MODES");
    // After the TUI: the terminal is restored and the result is printed as headless prints it.
    assert!(
        s.contains("EXIT=0") || s.contains("EXIT=4"),
        "exit status:\n{s}"
    );
    assert!(
        s.contains("icanon echo MODES"),
        "terminal not restored:\n{s}"
    );
    assert!(
        s.lines().any(|l| l.starts_with("run r-")
            && (l.contains("success") || l.contains("completed_degraded"))),
        "no result printed after the TUI closed:\n{s}"
    );
    assert_eq!(t.query("#{alternate_on}"), "0");
}

#[test]
fn interrupted_run_is_resumed_with_r_and_completes() {
    if !have_tmux() {
        return;
    }
    let env = Env::new("[simulated]\nlatency_ms_min = 0\nlatency_ms_max = 20\n");
    let slow = env.write(
        "slow.toml",
        "[simulated]\nlatency_ms_min = 400\nlatency_ms_max = 800\n",
    );
    let plan = env.write("plan.json", &flat_plan(6));
    // A headless run of the plan, killed with SIGKILL once some of it is done.
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(env.data())
        .arg("--config")
        .arg(&slow)
        .args(["run", "--headless", "--concurrency", "1", "--plan"])
        .arg(&plan)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("headless run");
    let start = Instant::now();
    let run_id = loop {
        let (v, _) = env.json(&["runs", "--json"]);
        if v[0]["tasks_done"].as_u64().unwrap_or(0) >= 1 {
            break v[0]["id"].as_str().unwrap_or_default().to_string();
        }
        assert!(start.elapsed() < WAIT, "the headless run made no progress");
        std::thread::sleep(Duration::from_millis(100));
    };
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let (v, _) = env.json(&["runs", "--json"]);
    assert_eq!(v[0]["status"], "interrupted", "{v}");

    let t = Tmux::start("resume", &tui_command(&env.data(), &env.config));
    t.wait("the interrupted run in Runs", |s| {
        s.contains(&run_id) && s.contains("‖ interrupted")
    });
    // The newest run is selected; make the selection explicit anyway.
    t.keys(&["g"]);
    t.keys(&["r"]);
    let s = t.wait("the resumed run to finish in Tasks", |s| {
        s.contains(&format!("╭ Run {run_id}")) && finished(s)
    });
    assert!(s.contains("6/6 tasks done"), "{s}");
    t.keys(&["q"]);
    assert_quit_cleanly(&t);
    let (v, _) = env.json(&["show", &run_id, "--json"]);
    let status = v["status"].as_str().unwrap_or_default().to_string();
    assert!(
        status == "success" || status == "completed_degraded",
        "{status}"
    );
}

#[test]
fn analysis_from_the_tui_shows_ranked_findings_exports_and_is_there_at_the_next_start() {
    if !have_tmux() {
        return;
    }
    let env = Env::new("[simulated]\nlatency_ms_min = 0\nlatency_ms_max = 20\n");
    let repo = env.dir.path().join("repo");
    std::fs::create_dir_all(repo.join("src")).expect("mkdir");
    std::fs::write(
        repo.join("Cargo.toml"),
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .expect("write");
    std::fs::write(
        repo.join("src/main.rs"),
        "fn main() {\n    // TODO: more\n}\n",
    )
    .expect("write");
    let repo_s = repo.display().to_string();

    let t = Tmux::start("analysis", &tui_command(&env.data(), &env.config));
    t.wait_for("No runs yet");
    t.keys(&["5"]);
    t.wait_for("No analysis yet.");
    t.keys(&["a"]);
    t.wait_for("Analyze a folder");
    t.keys(&["C-u"]);
    t.text(&repo_s);
    t.keys(&["Enter"]);
    let s = t.wait("the finished analysis", |s| {
        s.contains("Findings (") && s.contains("Model ")
    });
    assert!(s.contains("rust"), "{s}");
    assert!(
        s.contains("LOW") || s.contains("MEDIUM") || s.contains("HIGH"),
        "{s}"
    );
    t.keys(&["Enter"]);
    t.wait_for("Evidence (");
    t.keys(&["Escape"]);
    t.keys(&["e"]);
    let s = t.wait_for("exported to ");
    let exported: Vec<_> = std::fs::read_dir(env.data())
        .expect("data dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("analysis-") && n.ends_with(".md"))
        .collect();
    assert_eq!(exported.len(), 1, "{exported:?}\n{s}");
    let md = std::fs::read_to_string(env.data().join(&exported[0])).expect("export");
    assert!(md.starts_with("# Analysis of `"), "{md}");
    t.keys(&["q"]);
    assert_quit_cleanly(&t);
    drop(t);

    // The next start shows the stored analysis.
    let t = Tmux::start("analysis2", &tui_command(&env.data(), &env.config));
    t.wait_for("No runs yet");
    t.keys(&["5"]);
    t.wait("the stored analysis", |s| {
        s.contains("╭ Analysis · ") && s.contains("repo") && s.contains("Findings (")
    });
    t.keys(&["q"]);
    assert_quit_cleanly(&t);
}

#[test]
fn quitting_a_running_run_is_a_ctrl_c_enter_does_not_confirm_and_a_second_ctrl_c_quits() {
    if !have_tmux() {
        return;
    }
    let env = Env::new("[simulated]\nlatency_ms_min = 400\nlatency_ms_max = 800\n");
    let plan = env.write("plan.json", &flat_plan(6));
    let cmd = command_with(
        &env.data(),
        &env.config,
        &format!("run --concurrency 1 --plan '{}'", plan.display()),
    );
    let t = Tmux::start("quitrun", &cmd);
    t.wait("a task running", |s| {
        s.contains("╭ Run r-") && s.contains("tasks done") && s.contains(" running")
    });
    t.keys(&["q"]);
    t.wait_for("Quit?");
    // Enter never confirms: the dialog stays.
    t.keys(&["Enter"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(t.screen().contains("Quit?"), "{}", t.screen());
    // The second Ctrl-C quits at once, as headless promises; the exit is a Ctrl-C's.
    t.keys(&["C-c"]);
    let s = t.wait_for("MODES");
    assert!(s.contains("EXIT=130"), "exit status:\n{s}");
    assert!(
        s.contains("icanon echo MODES"),
        "terminal not restored:\n{s}"
    );
    let (v, _) = env.json(&["runs", "--json"]);
    let id = v[0]["id"].as_str().unwrap_or_default().to_string();
    let (v, _) = env.json(&["show", &id, "--json"]);
    assert_eq!(v["status"], "partial_success", "{v}");
    assert!(v.to_string().contains("cancelled by the user"), "{v}");
}
