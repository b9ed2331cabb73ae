//! End-to-end tests in tmux of issue 18's "Act" keys on the real binary: `c` cancels a run that
//! another process drives (through the store), and a run refused by its team's cap gets the cap
//! raised with `b` (the amount pasted into the form) and is resumed with a new budget with `r`,
//! all without leaving the TUI.

use super::e2e::{Tmux, WAIT, assert_quit_cleanly, finished, have_tmux, tui_command};
use crate::support::binary::{BIN, Env, code, flat_plan};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `runs --json`'s row for `id`.
fn run_row(env: &Env, id: &str) -> serde_json::Value {
    let (v, _) = env.json(&["runs", "--json"]);
    v.as_array()
        .and_then(|rows| rows.iter().find(|r| r["id"] == id).cloned())
        .unwrap_or(serde_json::Value::Null)
}

#[test]
fn c_cancels_a_run_driven_by_another_process() {
    if !have_tmux() {
        return;
    }
    let env = Env::new("[simulated]\nlatency_ms_min = 300\nlatency_ms_max = 500\n");
    let plan = env.write("plan.json", &flat_plan(200));
    // A headless run in another process, slow enough to still be running when cancelled.
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(env.data())
        .arg("--config")
        .arg(&env.config)
        .args(["run", "--headless", "--concurrency", "1", "--plan"])
        .arg(&plan)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("headless run");
    let start = Instant::now();
    let run_id = loop {
        let (v, _) = env.json(&["runs", "--json"]);
        if v[0]["status"] == "running" {
            break v[0]["id"].as_str().unwrap_or_default().to_string();
        }
        assert!(start.elapsed() < WAIT, "the headless run did not start");
        std::thread::sleep(Duration::from_millis(100));
    };

    let t = Tmux::start("cancel", &tui_command(&env.data(), &env.config));
    t.wait("the other process's run in Runs", |s| {
        s.contains(&run_id) && s.contains("running")
    });
    t.keys(&["g", "c"]);
    t.wait_for("Cancel run");
    // Enter never confirms (the dialog stays); n says no.
    t.keys(&["Enter", "n"]);
    t.wait("the dialog to close", |s| !s.contains("Cancel run"));
    assert_eq!(run_row(&env, &run_id)["status"], "running");
    t.keys(&["c"]);
    t.wait_for("Cancel run");
    t.keys(&["y"]);
    t.wait_for("cancel sent to the process driving");
    // The other process saves it partial_success, resumable; the TUI shows it.
    t.wait("the run to show partial_success", |s| {
        s.lines()
            .any(|l| l.contains(&run_id) && l.contains("partial_success"))
    });
    let status = child.wait().expect("headless run ends");
    assert_eq!(status.code(), Some(3), "partial_success exit code");
    let row = run_row(&env, &run_id);
    assert_eq!(row["status"], "partial_success", "{row}");
    assert_eq!(row["resumable"], true, "{row}");
    let (v, _) = env.json(&["show", &run_id, "--json"]);
    assert_eq!(v["status"], "partial_success");
    t.keys(&["q"]);
    assert_quit_cleanly(&t);
}

#[test]
fn a_run_refused_by_its_team_cap_gets_the_cap_raised_and_resumes_with_a_new_budget() {
    if !have_tmux() {
        return;
    }
    let env = Env::new("[simulated]\nlatency_ms_min = 0\nlatency_ms_max = 20\n");
    let out = env.run(&["budget", "set-team", "web", "0.0001"]);
    assert!(out.status.success(), "{out:?}");
    let plan = env.write("plan.json", &flat_plan(2));
    // Refused by the team cap: every task parks, the run ends budget_exhausted (exit 5).
    let out = env.run(&[
        "run",
        "--headless",
        "--force",
        "--team",
        "web",
        "--budget",
        "1",
        "--plan",
        plan.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(code(&out), 5, "{out:?}");
    let (v, _) = env.json(&["runs", "--json"]);
    let run_id = v[0]["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(v[0]["status"], "budget_exhausted");

    let t = Tmux::start("raise", &tui_command(&env.data(), &env.config));
    t.wait("the refused run in Runs", |s| {
        s.contains(&run_id) && s.contains("budget_exhausted")
    });
    // `b`: the team's cap is the one that refuses; the amount is pasted into the field.
    t.keys(&["g", "b"]);
    let s = t.wait_for("Raise a budget cap");
    assert!(s.contains("‹team web›"), "{s}");
    t.keys(&["C-u"]);
    t.paste("12.5");
    t.wait_for("12.5");
    t.keys(&["Enter"]);
    t.wait_for("Set the team web cap from $0.0001 to $12.50?");
    t.keys(&["y"]);
    t.wait_for("team web cap set to $12.50");
    let (b, _) = env.json(&["budget", "--json"]);
    let web = b["teams"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == "web").cloned())
        .unwrap_or_default();
    assert_eq!(web["cap_usd"], 12.5, "{b}");

    // `r`: stopped by a cap, so a new budget is asked for (prefilled), then it resumes.
    t.keys(&["r"]);
    t.wait_for("Resume with a new budget");
    t.keys(&["C-u"]);
    t.text("3");
    t.keys(&["Enter"]);
    let s = t.wait("the resumed run to finish in Tasks", |s| {
        s.contains(&format!("╭ Run {run_id}")) && finished(s)
    });
    assert!(finished(&s), "{s}");
    let (v, _) = env.json(&["show", &run_id, "--json"]);
    assert_eq!(v["budget_usd"], 3.0, "{v}");
    t.keys(&["q"]);
    assert_quit_cleanly(&t);
}

/// `o` lists the run's files and `e` opens one in `$EDITOR`: the TUI gives the terminal to the
/// editor (every key typed goes to it, none is read by the TUI) and takes it back after.
#[test]
fn e_opens_a_file_in_the_editor_which_gets_the_keys_then_the_tui_comes_back() {
    if !have_tmux() {
        return;
    }
    let env = Env::new("[simulated]\nlatency_ms_min = 0\nlatency_ms_max = 20\n");
    let out = env.run(&[
        "run",
        "--headless",
        "Write a Python function that adds two numbers",
    ]);
    assert!(out.status.success() || code(&out) == 4, "{out:?}");
    let seen = env.dir.path().join("editor-saw.txt");
    // An "editor" that reads one line from the terminal and records it with the file's name.
    let editor = env.write(
        "editor.sh",
        &format!(
            "#!/bin/sh\necho \"EDITOR OPEN $1\"\nread line\necho \"$1 $line\" > '{}'\n",
            seen.display()
        ),
    );
    let st = Command::new("chmod")
        .arg("+x")
        .arg(&editor)
        .status()
        .expect("chmod");
    assert!(st.success());
    let cmd = format!(
        "env VISUAL= EDITOR='{}' {}",
        editor.display(),
        tui_command(&env.data(), &env.config)
    );
    let t = Tmux::start("editor", &cmd);
    t.wait_for("Runs (1/1)");
    t.keys(&["o"]);
    let s = t.wait_for("Outputs of r-");
    assert!(s.contains("Directory"), "{s}");
    t.keys(&["e"]);
    t.wait_for("EDITOR OPEN");
    assert_eq!(t.query("#{alternate_on}"), "0", "the TUI left the screen");
    // `q` and `1` would act on the TUI if it still read the terminal.
    t.text("q1 typed in the editor");
    t.keys(&["Enter"]);
    t.wait_for("edited ");
    let saw = std::fs::read_to_string(&seen).expect("the editor ran");
    assert!(saw.contains("q1 typed in the editor"), "{saw}");
    assert_eq!(t.query("#{alternate_on}"), "1", "the TUI is back");
    // Back on the file list; Esc closes it.
    let s = t.wait_for("Outputs of r-");
    assert!(s.contains("open in $EDITOR"), "{s}");
    t.keys(&["Escape"]);
    t.wait("the popup to close", |s| !s.contains("Outputs of r-"));
    t.keys(&["q"]);
    assert_quit_cleanly(&t);
}

/// Ctrl-Z gives the terminal back to the shell and stops the process; `fg` brings the TUI back,
/// redrawn and reading keys.
#[test]
fn ctrl_z_suspends_to_the_shell_and_fg_comes_back() {
    if !have_tmux() {
        return;
    }
    let env = Env::new("[simulated]\nlatency_ms_min = 0\nlatency_ms_max = 20\n");
    let t = Tmux::start("ctrlz", "env PS1='$ ' bash --norc --noprofile -i");
    t.wait_for("$");
    // The binary alone (job control stops the whole foreground job, so no `; echo ...`).
    let full = tui_command(&env.data(), &env.config);
    let cmd = full.split("; echo").next().unwrap_or(&full).to_string();
    t.text(&cmd);
    t.keys(&["Enter"]);
    t.wait_for("No runs yet");
    t.keys(&["C-z"]);
    t.wait_for("Stopped");
    assert_eq!(t.query("#{alternate_on}"), "0", "the shell has the screen");
    t.text("fg");
    t.keys(&["Enter"]);
    t.wait("the TUI to come back", |s| s.contains("No runs yet"));
    assert_eq!(t.query("#{alternate_on}"), "1");
    t.keys(&["3"]);
    t.wait_for("Models (");
    t.keys(&["q"]);
    t.wait("the shell after the TUI", |s| !s.contains("Models ("));
    t.text("echo EXIT=$?");
    t.keys(&["Enter"]);
    t.wait_for("EXIT=0");
    assert_eq!(t.query("#{alternate_on}"), "0");
}
