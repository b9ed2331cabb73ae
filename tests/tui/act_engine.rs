//! The "Act" keys in the real UI loop with a real engine (TestBackend, scripted keys): `c`, `y`
//! cancels the run this TUI drives without quitting (saved partial_success, resumable), and `b`
//! on the Budget pane sets the org cap through the engine, as `budget set-org` does.

use crate::support::binary::{Env, flat_plan};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use orchestrator_tui::cli::Cli;
use orchestrator_tui::domain::Micros;
use orchestrator_tui::domain::status::RunStatus;
use orchestrator_tui::engine::decompose::parse_plan;
use orchestrator_tui::engine::{EngineEvent, RunRequest};
use orchestrator_tui::setup::open_app;
use orchestrator_tui::tui::{app::State, runner, terminal::NoSync, theme::Theme};
use ratatui::{Terminal, backend::TestBackend};
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

/// The next `RunFinished` of `id` (bounded).
async fn finished(rx: &mut broadcast::Receiver<EngineEvent>, id: &str) -> RunStatus {
    let got = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match rx.recv().await {
                Ok(EngineEvent::RunFinished { run_id, status, .. }) if run_id == id => {
                    return status;
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("engine closed"),
            }
        }
    })
    .await;
    got.expect("the run finished within 60 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_then_y_cancels_the_run_this_tui_drives_and_the_tui_stays_open() {
    let env =
        Env::new("[simulated]\nenabled = \"always\"\nlatency_ms_min = 300\nlatency_ms_max = 400\n");
    let app = open_app(&cli(&env)).expect("app");
    let engine = app.engine().expect("engine");
    let cfg = &engine.config().engine;
    let req = RunRequest {
        description: "Summarise forty items".into(),
        criteria: String::new(),
        budget: Micros::from_usd(5.0),
        time_limit_secs: cfg.default_time_secs,
        team: None,
        concurrency: 1,
        strategy: cfg.strategy,
        output_dir: None,
        plan: Some(parse_plan(&flat_plan(40), &app.cfg).expect("plan").tasks),
        force: true,
    };
    let started = engine.start_observed(req).await.expect("start");
    let id = started.run_id.clone();
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
    let ui = runner::run_adopting(
        &mut term,
        &mut state,
        &theme,
        engine.clone(),
        input,
        &mut sync,
        runner::Options::default(),
        Some(started),
    );
    let script = async {
        // The adopted run is open in Tasks: `c` asks, `y` cancels it.
        press('c');
        press('y');
        let status = finished(&mut watch, &id).await;
        // Still open: a key is still handled after the run stopped (Budget pane, then quit;
        // `y` answers the quit dialog if the UI has not seen the run finish yet).
        press('4');
        press('q');
        press('y');
        status
    };
    let (r, status) =
        tokio::time::timeout(Duration::from_secs(120), async { tokio::join!(ui, script) })
            .await
            .expect("the UI loop finished");
    r.expect("ui loop");
    assert_eq!(status, RunStatus::PartialSuccess);
    assert_eq!(state.pane, orchestrator_tui::tui::action::Pane::Budget);
    let (v, _) = env.json(&["show", &id, "--json"]);
    assert_eq!(v["status"], "partial_success");
    assert_eq!(v["resumable"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_on_the_budget_pane_sets_the_org_cap_through_the_engine() {
    let env = Env::new("[simulated]\nenabled = \"always\"\n");
    let out = env.run(&["budget", "set-org", "20", "--period", "monthly"]);
    assert!(out.status.success(), "{out:?}");
    let app = open_app(&cli(&env)).expect("app");
    let engine = app.engine().expect("engine");
    let (keys, input) = futures::channel::mpsc::unbounded::<std::io::Result<Event>>();
    let send = |code: KeyCode, mods: KeyModifiers| {
        let ev = Event::Key(KeyEvent::new(code, mods));
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
    let env_ref = &env;
    let script = async {
        // Until the Budget pane has loaded the org level, `b` only says there is none yet.
        let set = async {
            loop {
                send(KeyCode::Char('4'), KeyModifiers::NONE);
                send(KeyCode::Char('b'), KeyModifiers::NONE);
                send(KeyCode::Char('u'), KeyModifiers::CONTROL);
                for c in "55".chars() {
                    send(KeyCode::Char(c), KeyModifiers::NONE);
                }
                send(KeyCode::Enter, KeyModifiers::NONE);
                send(KeyCode::Char('y'), KeyModifiers::NONE);
                tokio::time::sleep(Duration::from_millis(300)).await;
                let (b, _) = env_ref.json(&["budget", "--json"]);
                if b["org"]["cap_usd"] == 55.0 {
                    return b;
                }
                send(KeyCode::Esc, KeyModifiers::NONE);
            }
        };
        let b = tokio::time::timeout(Duration::from_secs(60), set)
            .await
            .expect("the cap was set within 60 s");
        send(KeyCode::Char('q'), KeyModifiers::NONE);
        b
    };
    let (r, b) = tokio::time::timeout(Duration::from_secs(120), async { tokio::join!(ui, script) })
        .await
        .expect("the UI loop finished");
    r.expect("ui loop");
    assert_eq!(b["org"]["cap_usd"], 55.0);
    assert_eq!(b["org"]["period"], "monthly", "the period is kept");
}
