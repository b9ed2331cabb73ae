//! The engine's administrative commands (engine/admin.rs), which the TUI and the CLI share: a
//! breaker reset persists (another process sees it closed) and a live run is never deleted.

use crate::support::binary::Env;
use orchestrator_tui::cli::Cli;
use orchestrator_tui::engine::context::model_config_hash;
use orchestrator_tui::engine::{Deleted, EngineEvent, ResetBy, RunRequest};
use orchestrator_tui::routing::{Breaker, BreakerState};
use orchestrator_tui::setup::{App, open_app};
use orchestrator_tui::store;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::broadcast;

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

/// The breaker state `models --json` reports for `model`, from a separate process.
fn breaker_elsewhere(env: &Env, model: &str) -> String {
    let (v, out) = env.json(&["models", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let row = v["models"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["id"] == model))
        .cloned()
        .unwrap_or(Value::Null);
    row["breaker"].as_str().unwrap_or("missing").to_string()
}

/// Persist an open breaker for `model` as a process that tripped it would (same settings hash).
fn store_open_breaker(app: &App, model: &str) {
    let info = app
        .catalog
        .get(model)
        .expect("model in the catalog")
        .clone();
    let hash = model_config_hash(&app.cfg, &info, true);
    let open = Breaker {
        state: BreakerState::Open,
        consecutive_failures: 5,
        trips: 1,
        open_until_ms: u64::MAX / 2,
        ..Breaker::default()
    };
    let m = model.to_string();
    app.store
        .call_blocking(move |c| {
            store::atomic(c, |tx| store::models::save_breaker(tx, &m, &open, &hash))
        })
        .expect("save breaker");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breaker_reset_through_the_engine_is_what_another_process_shows() {
    let env = Env::new("[simulated]\nenabled = \"always\"\n");
    let app = open_app(&cli(&env)).expect("app");
    let model = app.catalog.models[0].id.clone();
    store_open_breaker(&app, &model);
    assert_eq!(breaker_elsewhere(&env, &model), "open");

    // The engine loads the open breaker; the TUI's reset goes through the same method.
    let engine = app.engine().expect("engine");
    let mut events = engine.subscribe();
    let was = engine
        .reset_breaker(&model, ResetBy::Tui)
        .await
        .expect("reset");
    assert_eq!(was, BreakerState::Open);
    assert_eq!(breaker_elsewhere(&env, &model), "closed");
    match events.try_recv() {
        Ok(EngineEvent::Breaker {
            model: m, reason, ..
        }) => {
            assert_eq!(m, model);
            assert_eq!(reason, "reset from the TUI");
        }
        other => panic!("expected a breaker event, got {other:?}"),
    }
    // Recorded as a transition, like `models reset` records one.
    let db = rusqlite::Connection::open(env.data().join("orchestrator.db")).expect("db");
    let n: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM breaker_events WHERE model = ?1 AND to_state = 'closed'",
            [&model],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(n, 1);
    // Closed already: nothing more to record.
    let was = engine
        .reset_breaker(&model, ResetBy::Tui)
        .await
        .expect("reset");
    assert_eq!(was, BreakerState::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_reset_and_the_engine_share_one_implementation() {
    let env = Env::new("[simulated]\nenabled = \"always\"\n");
    let app = open_app(&cli(&env)).expect("app");
    let model = app.catalog.models[1].id.clone();
    store_open_breaker(&app, &model);
    let out = env.run(&["models", "reset", "--all"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("reset 1 breaker(s)"),
        "{out:?}"
    );
    assert_eq!(breaker_elsewhere(&env, &model), "closed");
    let engine = app.engine().expect("engine");
    assert_eq!(
        engine
            .reset_all_breakers(ResetBy::Cli)
            .await
            .expect("reset all"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_run_is_not_deleted_and_a_finished_one_is() {
    // Slow enough that the run is still in flight when the deletion is asked for.
    let env =
        Env::new("[simulated]\nenabled = \"always\"\nlatency_ms_min = 300\nlatency_ms_max = 400\n");
    let app = open_app(&cli(&env)).expect("app");
    let engine = app.engine().expect("engine");
    let cfg = &engine.config().engine;
    let req = RunRequest {
        description: "Write a haiku about terminals".into(),
        criteria: String::new(),
        budget: orchestrator_tui::domain::Micros::from_usd(5.0),
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
    assert_eq!(engine.delete_run(&id).await.expect("delete"), Deleted::Live);
    // Still there for every other process.
    let out = env.run(&["show", &id, "--json"]);
    assert!(out.status.success(), "the run is still stored: {out:?}");

    engine.cancel(&id);
    tokio::time::timeout(Duration::from_secs(60), started.join)
        .await
        .expect("run stops")
        .expect("join");
    // The run's lock and its entry among the active runs are let go just after its join resolves.
    let mut deleted = engine.delete_run(&id).await.expect("delete");
    for _ in 0..100 {
        if deleted == Deleted::Deleted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        deleted = engine.delete_run(&id).await.expect("delete");
    }
    assert_eq!(deleted, Deleted::Deleted);
    let out = env.run(&["show", &id, "--json"]);
    assert!(!out.status.success(), "deleted run still shown: {out:?}");
}

/// The Models pane's `x` in the real UI loop: the reset reaches the store, so another process
/// (and every TUI) shows the breaker closed, not only this process's memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tuis_breaker_reset_persists_for_other_processes() {
    use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
    use orchestrator_tui::tui::{app::State, runner, terminal::NoSync, theme::Theme};
    use ratatui::{Terminal, backend::TestBackend};

    let env = Env::new("[simulated]\nenabled = \"always\"\n");
    let app = open_app(&cli(&env)).expect("app");
    let model = app.catalog.models[0].id.clone();
    store_open_breaker(&app, &model);
    let engine = app.engine().expect("engine");
    let mut watch = engine.subscribe();
    let (keys, input) = futures::channel::mpsc::unbounded::<std::io::Result<Event>>();
    let press = |c: char| {
        let ev = Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        keys.unbounded_send(Ok(ev)).expect("ui is listening");
    };
    let mut term = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
    let mut state = State::new(runner::now_ms(), 8.0, true);
    let theme = Theme::mono();
    let mut sync = NoSync;
    let ui = runner::run(
        &mut term,
        &mut state,
        &theme,
        engine.clone(),
        input,
        &mut sync,
        runner::Options::default(),
    );
    let script = async {
        press('3');
        // `x` on the first model once the Models pane has loaded its open breaker (before that
        // the pane has nothing to reset and only says so).
        let reset = async {
            loop {
                press('x');
                let got = tokio::time::timeout(Duration::from_millis(200), async {
                    loop {
                        match watch.recv().await {
                            Ok(EngineEvent::Breaker {
                                model: m,
                                to: BreakerState::Closed,
                                ..
                            }) => {
                                return m;
                            }
                            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                            Err(broadcast::error::RecvError::Closed) => panic!("engine closed"),
                        }
                    }
                })
                .await;
                if let Ok(m) = got {
                    return m;
                }
            }
        };
        let m = tokio::time::timeout(Duration::from_secs(60), reset)
            .await
            .expect("the TUI reset the breaker within 60 s");
        press('q');
        press('y');
        m
    };
    let (r, m) = tokio::time::timeout(Duration::from_secs(120), async { tokio::join!(ui, script) })
        .await
        .expect("the UI loop finished");
    r.expect("ui loop");
    assert_eq!(m, model);
    assert_eq!(breaker_elsewhere(&env, &model), "closed");
}
