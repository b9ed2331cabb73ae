//! Issue 18, "see why": budget threshold warnings are engine events given before the cap is hit
//! (once per level and period, in headless output too), every event the Events pane lists is
//! stored with its run and read back by the TUI after a restart, and each task attempt's calls
//! have a stored routing record (`show --json`: `routing`).

use crate::support::binary::{Env, stderr};
use orchestrator_tui::cli::Cli;
use orchestrator_tui::domain::Micros;
use orchestrator_tui::engine::{EngineEvent, RunRequest};
use orchestrator_tui::setup::open_app;
use orchestrator_tui::tui::data::{SnapshotReq, load};
use orchestrator_tui::tui::state::EventKind;
use std::time::Duration;

fn cli(env: &Env) -> Cli {
    let data = env.data();
    <Cli as clap::Parser>::parse_from([
        "orchestrator-tui",
        "--data-dir",
        data.to_str().expect("utf-8 path"),
        "--config",
        env.config.to_str().expect("utf-8 path"),
    ])
}

fn db(env: &Env) -> rusqlite::Connection {
    rusqlite::Connection::open(env.data().join("orchestrator.db")).expect("db")
}

/// Headless runs warn when the org cap's 80% is reached, before any refusal, and only once in
/// the period; the warning is stored as a `budget` event of the run.
#[test]
fn the_80_percent_warning_comes_once_before_the_cap_is_hit() {
    let env = Env::new("[simulated]\nenabled = \"always\"\n");
    let out = env.run(&["budget", "set-org", "10", "--period", "monthly"]);
    assert!(out.status.success(), "{out:?}");
    // $7.999999 of $10 spent: the first charged call reaches 80%, far from the cap.
    db(&env)
        .execute(
            "UPDATE budget_levels SET spent_micros = 7999999 WHERE level = 'org'",
            [],
        )
        .expect("spend");
    let (v, out) = env.json(&[
        "run",
        "Write a haiku about terminals",
        "--budget",
        "1",
        "--json",
    ]);
    assert!(out.status.success(), "{out:?}");
    let err = stderr(&out);
    let warn = "warning: org budget at 80% of its cap";
    assert_eq!(err.matches(warn).count(), 1, "{err}");
    assert!(!err.contains("at 95%"), "{err}");
    // Before the run's end.
    let at = err.find(warn).expect("warned");
    assert!(at < err.find("finished:").expect("finished line"), "{err}");
    let id = v["id"].as_str().expect("id").to_string();
    let stored: Vec<(String, Option<String>)> = db(&env)
        .prepare("SELECT kind, run_id FROM run_events WHERE message LIKE 'org budget at 80%%'")
        .expect("sql")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("read");
    assert_eq!(stored, vec![("budget".to_string(), Some(id))]);
    // The same period: no second warning for the same threshold.
    let out = env.run(&["run", "Write another haiku", "--budget", "1"]);
    assert!(out.status.success(), "{out:?}");
    assert!(!stderr(&out).contains(warn), "{}", stderr(&out));
}

/// Events of a run are in the store with its id, and the TUI's first load (its Events pane's
/// history) lists them after the process that ran it is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_survive_a_restart_and_the_tui_loads_them() {
    let env = Env::new("[simulated]\nenabled = \"always\"\n");
    let id = {
        let app = open_app(&cli(&env)).expect("app");
        let engine = app.engine().expect("engine");
        let mut events = engine.subscribe();
        let cfg = &engine.config().engine;
        let req = RunRequest {
            description: "Write a haiku about terminals".into(),
            criteria: String::new(),
            budget: Micros::from_usd(5.0),
            time_limit_secs: cfg.default_time_secs,
            team: None,
            concurrency: 2,
            strategy: cfg.strategy,
            output_dir: None,
            plan: None,
            force: false,
        };
        let started = engine.start_observed(req).await.expect("start");
        let id = started.run_id.clone();
        tokio::time::timeout(Duration::from_secs(60), started.join)
            .await
            .expect("run ends")
            .expect("join");
        // A running task said which model it called, and for what.
        let mut calling = false;
        while let Ok(ev) = events.try_recv() {
            if let EngineEvent::Calling { run_id, role, .. } = &ev {
                calling |= run_id == &id && role == "generate";
            }
        }
        assert!(calling, "no Calling event for the run's generation");
        // FIFO store queue: once this answers, every event written behind is committed.
        app.store.call(|_| Ok(())).await.expect("flush");
        id
    };
    // A new process: only the store is left.
    let app = open_app(&cli(&env)).expect("app again");
    let catalog: Vec<(String, String)> = vec![];
    let c = orchestrator_tui::store::open_connection(app.store.path()).expect("read conn");
    let req = SnapshotReq {
        history: true,
        ..Default::default()
    };
    let snap = load(&c, &env.data(), &catalog, &req).expect("load");
    let history = snap.history.expect("history asked for");
    let of_run: Vec<(EventKind, &str)> = history
        .iter()
        .filter(|e| e.run_id.as_deref() == Some(id.as_str()))
        .map(|e| (e.kind, e.text.as_str()))
        .collect();
    assert!(
        of_run
            .iter()
            .any(|(k, t)| *k == EventKind::Info && t.starts_with("run started: Write a haiku")),
        "{of_run:?}"
    );
    assert!(
        of_run.iter().any(|(_, t)| t.starts_with("planned ")),
        "{of_run:?}"
    );
    assert!(
        of_run.iter().any(|(_, t)| t.starts_with("run finished: ")),
        "{of_run:?}"
    );
}

/// `show --json`: each attempt has the routing of its calls, the generation's with a ranked,
/// chosen model and the reason it won; the TUI's task detail loads the same records.
#[test]
fn attempts_carry_their_routing() {
    let env = Env::new("[simulated]\nenabled = \"always\"\n");
    let (v, out) = env.json(&[
        "run",
        "Write a haiku about terminals",
        "--budget",
        "2",
        "--json",
    ]);
    assert!(out.status.success(), "{out:?}");
    let id = v["id"].as_str().expect("id").to_string();
    let (v, out) = env.json(&["show", &id, "--json"]);
    assert!(out.status.success(), "{out:?}");
    let task = &v["tasks"][0];
    let routing = task["attempts"][0]["routing"]
        .as_array()
        .expect("routing array");
    let generate = routing
        .iter()
        .find(|r| r["role"] == "generate")
        .unwrap_or_else(|| panic!("no generate routing: {routing:?}"));
    let chosen = generate["chosen"].as_str().expect("a model answered");
    assert!(!generate["reason"].as_str().unwrap_or("").is_empty());
    let cands = generate["candidates"].as_array().expect("candidates");
    let first = cands.iter().find(|c| c["rank"] == 1).expect("a first rank");
    assert!(first["expected_quality"].as_f64().is_some(), "{first}");
    assert!(first["typical_cost_usd"].as_f64().is_some(), "{first}");
    let answered = cands
        .iter()
        .find(|c| c["model"] == chosen)
        .expect("chosen listed");
    assert_eq!(answered["outcome"], "answered");
    // The rest of the catalog is accounted for as filtered (counted or listed).
    assert!(cands.iter().any(|c| c["filtered"].is_string()), "{cands:?}");
    // The TUI reads the same records for the task detail.
    let c = orchestrator_tui::store::open_connection(&env.data().join("orchestrator.db"))
        .expect("conn");
    let tid = task["id"].as_str().expect("task id").to_string();
    let req = SnapshotReq {
        task: Some((id.clone(), tid)),
        ..Default::default()
    };
    let snap = load(&c, &env.data(), &vec![], &req).expect("load");
    let a = snap.attempts.expect("task detail");
    assert!(
        a.routing
            .iter()
            .any(|r| r.role == "generate" && r.attempt == 1)
    );
}

/// A run the budget stopped says which level refused (its reason, the TUI's run header).
#[test]
fn a_budget_exhausted_run_names_the_binding_level() {
    let env = Env::new("[simulated]\nenabled = \"always\"\nseed = 7\n");
    let plan = env.write("plan.json", &crate::support::binary::flat_plan(12));
    // A run budget far below twelve tasks' worth; --force skips the pre-flight refusal.
    let (v, out) = env.json(&[
        "run",
        "--plan",
        plan.to_str().expect("utf-8"),
        "--budget",
        "0.01",
        "--force",
        "--json",
    ]);
    assert_eq!(v["status"], "budget_exhausted", "{}", stderr(&out));
    assert_eq!(
        v["status_reason"], "budget exhausted at the run level",
        "{v}"
    );
    let id = v["id"].as_str().expect("id").to_string();
    let c = orchestrator_tui::store::open_connection(&env.data().join("orchestrator.db"))
        .expect("conn");
    let req = SnapshotReq {
        open_run: Some(id),
        ..Default::default()
    };
    let snap = load(&c, &env.data(), &vec![], &req).expect("load");
    assert_eq!(snap.detail.and_then(|d| d.binding).as_deref(), Some("run"));
}
