//! A run resumed on another machine than the one that started it (`ORCHESTRATOR_HOST` names the
//! machine; a shared store's runs move between machines) is shown where it is driven now, or
//! was last: the Runs pane's Host column, `runs` (text and `driver_host` in JSON) and `show`,
//! while `host` keeps naming the machine that started it.

use crate::support::binary::*;
use crate::support::tui_testkit::screen;
use orchestrator_tui::store::Store;
use orchestrator_tui::tui::action::Msg;
use orchestrator_tui::tui::app::{State, update};
use orchestrator_tui::tui::snapshot::Me;

fn on(env: &Env, host: &str, args: &[&str]) -> std::process::Output {
    env.cmd()
        .env("ORCHESTRATOR_HOST", host)
        .args(args)
        .output()
        .expect("run binary")
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stderr(out)))
}

#[test]
fn a_run_resumed_on_another_machine_is_shown_where_it_was_driven_last() {
    let env = Env::new("");
    let plan = env.write(
        "plan.json",
        r#"[{"id": "t1", "type": "summarization", "prompt": "Summarise the history of Rome"}]"#,
    );
    let p = plan.to_str().unwrap();
    // Started on alpha, where the budget stops it; resumed and finished on beta.
    let first = on(
        &env,
        "alpha",
        &[
            "run",
            "--plan",
            p,
            "--budget",
            "0.00001",
            "--force",
            "--headless",
            "--json",
        ],
    );
    let v = json(&first);
    assert_eq!(v["status"], "budget_exhausted", "{v}");
    assert_eq!(v["driver_host"], "alpha", "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let resumed = on(
        &env,
        "beta",
        &["resume", &id, "--budget", "1", "--headless", "--json"],
    );
    let v = json(&resumed);
    assert_eq!(v["status"], "success", "{v}\n{}", stderr(&resumed));
    assert_eq!(
        (&v["host"], &v["driver_host"]),
        (&"alpha".into(), &"beta".into())
    );

    // Any machine lists it driven on beta, started on alpha.
    let runs = json(&on(&env, "gamma", &["runs", "--json"]));
    assert_eq!(runs[0]["host"], "alpha", "{runs}");
    assert_eq!(runs[0]["driver_host"], "beta", "{runs}");
    let text = on(&env, "gamma", &["runs"]);
    let text = String::from_utf8_lossy(&text.stdout);
    let line = text.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(line.contains("@beta") && !line.contains("alpha"), "{text}");
    let shown = on(&env, "gamma", &["show", &id]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("driven on beta (started on alpha)"),
        "{shown}"
    );

    // The TUI's loader reads the same: the Host column says beta.
    let store = Store::open(&env.data()).unwrap();
    let mut reader = store.read_target().open().unwrap();
    let snap = reader
        .read(|c| orchestrator_tui::tui::data::load(c, &env.data(), &vec![], &Default::default()))
        .unwrap();
    let mut s = State::new(0, 8.0, true);
    s.me = Me {
        host: "gamma".into(),
        user: "nobody".into(),
    };
    update(&mut s, Msg::Snapshot(Box::new(snap)));
    let screen = screen(&s, 200, 30);
    let row = screen
        .lines()
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(row.contains("beta") && !row.contains("alpha"), "{screen}");
}
