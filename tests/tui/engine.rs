//! The real UI loop in process: a real engine (simulated providers, fresh data dir), a
//! `TestBackend`, and scripted key events. The script waits on engine events, never on time.

use crate::support::tui_testkit as testkit;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use futures::channel::mpsc::{UnboundedSender, unbounded};
use orchestrator_tui::cli::Cli;
use orchestrator_tui::commands::open_app;
use orchestrator_tui::domain::status::RunStatus;
use orchestrator_tui::engine::EngineEvent;
use orchestrator_tui::tui::action::Pane;
use orchestrator_tui::tui::app::State;
use orchestrator_tui::tui::runner::{Options, now_ms, run};
use orchestrator_tui::tui::terminal::NoSync;
use orchestrator_tui::tui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::Duration;
use tokio::sync::broadcast;

type Keys = UnboundedSender<std::io::Result<Event>>;

fn press(keys: &Keys, code: KeyCode) {
    let ev = Event::Key(KeyEvent::new(code, KeyModifiers::NONE));
    keys.unbounded_send(Ok(ev)).expect("ui is listening");
}

fn type_text(keys: &Keys, text: &str) {
    for c in text.chars() {
        press(keys, KeyCode::Char(c));
    }
}

/// Wait (bounded) for an engine event matching `f`.
async fn wait_for(
    rx: &mut broadcast::Receiver<EngineEvent>,
    what: &str,
    f: impl Fn(&EngineEvent) -> bool,
) -> EngineEvent {
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match rx.recv().await {
                Ok(ev) if f(&ev) => return ev,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("engine closed"),
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no {what} within 60 s"))
}

fn setup(latency: (u64, u64)) -> (tempfile::TempDir, Cli) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[simulated]\nenabled = \"always\"\nlatency_ms_min = {}\nlatency_ms_max = {}\n[retry]\nbackoff_base_ms = 1\nbackoff_cap_ms = 2\n",
            latency.0, latency.1
        ),
    )
    .expect("config");
    let data = dir.path().join("data");
    let cli = <Cli as clap::Parser>::parse_from([
        "orchestrator-tui",
        "--data-dir",
        data.to_str().expect("utf-8 path"),
        "--config",
        cfg.to_str().expect("utf-8 path"),
    ]);
    (dir, cli)
}

/// A hung UI fails the test instead of blocking the suite.
async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(120), f)
        .await
        .unwrap_or_else(|_| panic!("the UI loop did not finish within 120 s"))
}

fn text(term: &Terminal<TestBackend>) -> String {
    testkit::text(term.backend().buffer())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n_starts_a_real_run_that_opens_in_tasks_and_q_quits() {
    let (_dir, cli) = setup((0, 5));
    let app = open_app(&cli).expect("app");
    let engine = app.engine().expect("engine");
    let mut watch = engine.subscribe();
    let (keys, input) = unbounded();
    let mut term = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
    let mut state = State::new(now_ms(), 8.0, true);
    let theme = Theme::builtin("default").expect("theme");
    let mut sync = NoSync;
    let ui = run(
        &mut term,
        &mut state,
        &theme,
        engine.clone(),
        input,
        &mut sync,
        Options::default(),
    );
    let script = async {
        press(&keys, KeyCode::Char('n'));
        type_text(&keys, "Write a haiku about terminals");
        press(&keys, KeyCode::Enter);
        let ev = wait_for(&mut watch, "finished run", |e| {
            matches!(e, EngineEvent::RunFinished { .. })
        })
        .await;
        // The UI may not have seen the run finish yet (it asks to confirm then): `y` answers
        // that question and is ignored otherwise (the UI has quit).
        press(&keys, KeyCode::Char('q'));
        press(&keys, KeyCode::Char('y'));
        ev
    };
    let (r, ev) = bounded(async { tokio::join!(ui, script) }).await;
    r.expect("ui loop");
    let EngineEvent::RunFinished { run_id, status, .. } = ev else {
        unreachable!()
    };
    assert!(
        matches!(status, RunStatus::Success | RunStatus::CompletedDegraded),
        "{status}"
    );
    assert_eq!(state.pane, Pane::Tasks);
    assert_eq!(state.open_run.as_deref(), Some(run_id.as_str()));
    let screen = text(&term);
    assert!(screen.contains(&format!("Run {run_id}")), "{screen}");
    assert!(screen.contains(status.as_str()), "{screen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quitting_while_a_run_is_active_stores_it_partial_success() {
    let (_dir, cli) = setup((300, 600));
    let app = open_app(&cli).expect("app");
    let engine = app.engine().expect("engine");
    let mut watch = engine.subscribe();
    let (keys, input) = unbounded();
    let mut term = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    let mut state = State::new(now_ms(), 8.0, true);
    let theme = Theme::mono();
    let mut sync = NoSync;
    let ui = run(
        &mut term,
        &mut state,
        &theme,
        engine.clone(),
        input,
        &mut sync,
        Options::default(),
    );
    let script = async {
        press(&keys, KeyCode::Char('n'));
        type_text(&keys, "Summarise a long report");
        press(&keys, KeyCode::Enter);
        let ev = wait_for(&mut watch, "run start", |e| {
            matches!(e, EngineEvent::RunStarted { .. })
        })
        .await;
        // Past the plan: a cancel during decomposition has its own reason (as headless).
        wait_for(&mut watch, "plan", |e| {
            matches!(e, EngineEvent::Planned { .. })
        })
        .await;
        press(&keys, KeyCode::Char('q'));
        press(&keys, KeyCode::Char('y'));
        ev
    };
    let (r, ev) = bounded(async { tokio::join!(ui, script) }).await;
    r.expect("ui loop");
    let EngineEvent::RunStarted { run_id, .. } = ev else {
        unreachable!()
    };
    // `run` returned only after the cancelled run was stored.
    assert!(engine.active_runs().is_empty());
    let id = run_id.clone();
    let row = app
        .store
        .call(move |c| orchestrator_tui::store::runs::get_run(c, &id))
        .await
        .expect("run row");
    assert_eq!(row.status, RunStatus::PartialSuccess, "{run_id}");
    assert!(row.status.is_resumable());
    // The same as a headless Ctrl-C: its reason, and the launcher exits 130 for it.
    assert_eq!(row.status_reason.as_deref(), Some("cancelled by the user"));
    assert!(state.quit_cancelled);
}
