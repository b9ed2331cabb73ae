//! Cancelling a run driven by another process (issue 18, "Act": `c` in the TUI, `cancel RUN`):
//! the request goes through the store and the driving engine takes it within about a second,
//! settling its calls and saving the run `partial_success`, resumable, as its own user would.

use crate::support::binary::{Env, code, flat_plan};
use orchestrator_tui::cli::Cli;
use orchestrator_tui::domain::Micros;
use orchestrator_tui::domain::status::RunStatus;
use orchestrator_tui::engine::cancel::USER_CANCEL;
use orchestrator_tui::engine::decompose::parse_plan;
use orchestrator_tui::engine::{Cancel, RunRequest, Started};
use orchestrator_tui::setup::{App, open_app};
use orchestrator_tui::store;
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

/// Slow simulated calls: a run of 40 one-call tasks, two at a time, lasts far longer than the
/// test's cancel takes.
const SLOW: &str =
    "[simulated]\nenabled = \"always\"\nlatency_ms_min = 400\nlatency_ms_max = 500\n";

async fn start(app: &App) -> (orchestrator_tui::engine::EngineHandle, Started) {
    let engine = app.engine().expect("engine");
    let cfg = &engine.config().engine;
    let req = RunRequest {
        description: "Summarise twelve items".into(),
        criteria: String::new(),
        budget: Micros::from_usd(5.0),
        time_limit_secs: cfg.default_time_secs,
        team: None,
        concurrency: 2,
        strategy: cfg.strategy,
        output_dir: None,
        plan: Some(parse_plan(&flat_plan(40), &app.cfg).expect("plan").tasks),
        force: true,
    };
    let started = engine.start_observed(req).await.expect("start");
    (engine, started)
}

/// Wait (bounded) until the run has a call in flight or recorded: it is really being driven.
async fn until_driving(app: &App, id: &str) {
    for _ in 0..200 {
        let rid = id.to_string();
        let n: i64 = app
            .store
            .call(move |c| {
                c.query_row(
                    "SELECT (SELECT COUNT(*) FROM calls WHERE run_id = ?1)
                          + (SELECT COUNT(*) FROM inflight_calls WHERE run_id = ?1)",
                    orchestrator_tui::args![rid],
                    |r| r.get(0),
                )
            })
            .await
            .expect("count calls");
        if n > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("run {id} made no call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_request_from_another_store_handle_stops_the_driving_engine() {
    let env = Env::new(SLOW);
    let app = open_app(&cli(&env)).expect("app");
    let (_engine, started) = start(&app).await;
    let id = started.run_id.clone();
    until_driving(&app, &id).await;

    // Another "process": its own Store handle (its own writer thread and connection).
    let other = store::Store::open(&env.data()).expect("second store");
    let rid = id.clone();
    other
        .call_blocking(move |c| {
            store::atomic(c, |tx| store::cancel::request(tx, &rid, USER_CANCEL))
        })
        .expect("request");

    // The driver looks about once a second; the bound only keeps a broken build from hanging.
    let status = tokio::time::timeout(Duration::from_secs(20), started.join)
        .await
        .expect("the run stopped after the request")
        .expect("join");
    assert_eq!(status, RunStatus::PartialSuccess);
    assert!(status.is_resumable());
    let rid = id.clone();
    let row = other
        .call_blocking(move |c| store::runs::get_run(c, &rid))
        .expect("run");
    assert_eq!(row.status, RunStatus::PartialSuccess);
    assert_eq!(row.status_reason.as_deref(), Some(USER_CANCEL));
    // The request was taken (acted on once), and not every task ran.
    let rid = id.clone();
    assert!(
        !other
            .call_blocking(move |c| store::cancel::pending(c, &rid))
            .expect("pending")
    );
    let (v, out) = env.json(&["show", &id, "--json"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(v["status"], "partial_success");
    assert_eq!(v["resumable"], true);
    let done = v["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter(|t| t["status"] == "completed")
        .count();
    assert!(
        done < 40,
        "the run was stopped, not finished: {done} tasks done"
    );
}

/// `orchestrator-tui cancel RUN` is another process: it records the request, waits for the
/// driver here to save the run, and says so in JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cancel_command_stops_a_run_driven_by_another_process() {
    let env = Env::new(SLOW);
    let app = open_app(&cli(&env)).expect("app");
    let (engine, started) = start(&app).await;
    let id = started.run_id.clone();
    until_driving(&app, &id).await;

    let env_dir = env.data();
    let id2 = id.clone();
    let cfg = env.config.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_orchestrator-tui"))
            .args(["--data-dir"])
            .arg(&env_dir)
            .arg("--config")
            .arg(&cfg)
            .args(["cancel", &id2, "--json", "--timeout", "30"])
            .output()
            .expect("run the binary")
    })
    .await
    .expect("join");
    assert_eq!(code(&out), 0, "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["requested"], true);
    assert_eq!(v["stopped"], true);
    assert_eq!(v["status"], "partial_success");
    assert_eq!(v["resumable"], true);
    let status = tokio::time::timeout(Duration::from_secs(20), started.join)
        .await
        .expect("stopped")
        .expect("join");
    assert_eq!(status, RunStatus::PartialSuccess);

    // Stopped now: nothing to cancel, said as such (exit 0, `requested: false`).
    let mut again = Cancel::Here;
    for _ in 0..100 {
        again = engine.cancel_run(&id, USER_CANCEL).await.expect("cancel");
        if again != Cancel::Here {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(again, Cancel::NotRunning(RunStatus::PartialSuccess));
    let (v, out) = env.json(&["cancel", &id, "--json"]);
    assert_eq!(code(&out), 0, "{out:?}");
    assert_eq!(v["requested"], false);
    // An unknown run is bad input (exit 2, message on stderr only).
    let out = env.run(&["cancel", "r-nope00", "--json"]);
    assert_eq!(code(&out), 2, "{out:?}");
    assert!(out.stdout.is_empty());
}

/// A request left over from an earlier drive does not cancel the run once it is resumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_starts_without_an_old_request() {
    let env = Env::new(SLOW);
    let app = open_app(&cli(&env)).expect("app");
    let (engine, started) = start(&app).await;
    let id = started.run_id.clone();
    until_driving(&app, &id).await;
    engine.cancel(&id);
    tokio::time::timeout(Duration::from_secs(20), started.join)
        .await
        .expect("stopped")
        .expect("join");
    let rid = id.clone();
    app.store
        .call(move |c| store::atomic(c, |tx| store::cancel::request(tx, &rid, "stale")))
        .await
        .expect("stale request");
    // The run's lock is let go just after its join resolves.
    let mut resumed = None;
    for _ in 0..100 {
        let req = orchestrator_tui::engine::ResumeRequest {
            run_id: id.clone(),
            ..Default::default()
        };
        if let Ok(s) = engine.resume_observed(req).await {
            resumed = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let resumed = resumed.expect("resumed");
    let rid = id.clone();
    assert!(
        !app.store
            .call(move |c| store::cancel::pending(c, &rid))
            .await
            .expect("pending"),
        "resume clears the old request"
    );
    // Let it run past two looks of the lease keeper: still running, then cancel it here.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        engine.active_runs().contains(&id),
        "an old request stopped the resumed run"
    );
    engine.cancel(&id);
    let st = tokio::time::timeout(Duration::from_secs(20), resumed.join)
        .await
        .expect("stopped")
        .expect("join");
    assert_eq!(st, RunStatus::PartialSuccess);
}
