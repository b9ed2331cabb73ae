//! An open TUI shows what other processes store: breaker changes written by another connection
//! (as another engine writes them) and by a second `orchestrator-tui models reset` process reach
//! the Models and Events panes through the TUI's data loader, without being asked (it watches
//! `PRAGMA data_version`). Before, the TUI process's own in-memory breakers overrode the stored
//! state and breaker transitions of other processes never reached the Events pane.

use crate::support::binary::{Env, code, stderr};
use crate::support::tui_testkit as testkit;
use orchestrator_tui::routing::{Breaker, BreakerState};
use orchestrator_tui::store::{self, BreakerEventRow};
use orchestrator_tui::tui::action::{Action, Msg, Pane};
use orchestrator_tui::tui::app::{State, update};
use orchestrator_tui::tui::data::SnapshotReq;
use orchestrator_tui::tui::loader::Loader;
use orchestrator_tui::tui::state::Snapshot;
use std::time::Duration;
use testkit::screen;
use tokio::sync::mpsc::UnboundedReceiver;

/// The next snapshot the loader sends (bounded wait; a failure message fails the test).
async fn next_snapshot(rx: &mut UnboundedReceiver<Msg>) -> Snapshot {
    let got = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match rx.recv().await {
                Some(Msg::Snapshot(s)) => return *s,
                Some(Msg::Failed(e)) => panic!("loader failed: {e}"),
                Some(_) => {}
                None => panic!("loader stopped"),
            }
        }
    })
    .await;
    got.unwrap_or_else(|_| panic!("no snapshot within 30 s"))
}

/// Feed snapshots into `state` until one satisfies `ok` (commits of unrelated rows by the other
/// process may bring snapshots before the one awaited).
async fn until(
    rx: &mut UnboundedReceiver<Msg>,
    state: &mut State,
    what: &str,
    ok: impl Fn(&Snapshot) -> bool,
) {
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let snap = next_snapshot(rx).await;
            let done = ok(&snap);
            update(state, Msg::Snapshot(Box::new(snap)));
            if done {
                return;
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no snapshot with {what} within 30 s"));
}

/// The Models pane's line for `model`.
fn model_line(s: &mut State, model: &str) -> String {
    update(s, Msg::Action(Action::GoPane(Pane::Models)));
    let text = screen(s, 140, 60);
    text.lines()
        .find(|l| l.contains(model))
        .unwrap_or_else(|| panic!("{model} is not on the Models pane:\n{text}"))
        .to_string()
}

fn events_pane(s: &mut State) -> String {
    update(s, Msg::Action(Action::GoPane(Pane::Events)));
    screen(s, 140, 60)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_changes_by_other_processes_reach_an_open_tui() {
    let env = Env::new("");
    let (v, out) = env.json(&["models", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let model = v["models"][0]["id"].as_str().expect("a model").to_string();
    let provider = v["models"][0]["provider"]
        .as_str()
        .expect("a provider")
        .to_string();
    let db = env.data().join("orchestrator.db");

    // The TUI's loader, on its own connection.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let loader =
        Loader::spawn(db.clone(), env.data(), vec![(model.clone(), provider)], tx).expect("loader");
    let mut state = State::new(0, 8.0, true);
    loader.request(SnapshotReq {
        history: true,
        ..Default::default()
    });
    update(
        &mut state,
        Msg::Snapshot(Box::new(next_snapshot(&mut rx).await)),
    );
    assert!(model_line(&mut state, &model).contains("closed"));

    // Another process disables the model (its own connection, the rows its engine writes).
    {
        let mut c = rusqlite::Connection::open(&db).expect("second connection");
        let c = c.transaction().expect("transaction");
        let disabled = Breaker {
            state: BreakerState::Disabled,
            consecutive_failures: 1,
            ..Breaker::default()
        };
        store::models::save_breaker(&c, &model, &disabled, "h").expect("breaker row");
        let row = BreakerEventRow {
            at: store::now_rfc3339(),
            model: model.clone(),
            from: "closed".into(),
            to: "disabled".into(),
            reason: "401 from another process".into(),
        };
        store::runs::insert_breaker_event(&c, None, &row).expect("breaker event");
        c.commit().expect("commit");
    }
    // No request: the loader notices the other connection's commit by itself.
    until(&mut rx, &mut state, "the model disabled", |s| {
        s.models[0].breaker == BreakerState::Disabled
    })
    .await;
    assert!(
        model_line(&mut state, &model).contains("disabled"),
        "{}",
        model_line(&mut state, &model)
    );
    let events = events_pane(&mut state);
    assert!(
        events.contains("closed → disabled (401 from another process)"),
        "{events}"
    );

    // A second process closes it again with `models reset`.
    let out = env.run(&["models", "reset", &model]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    until(&mut rx, &mut state, "the model closed", |s| {
        s.models[0].breaker == BreakerState::Closed
    })
    .await;
    assert!(model_line(&mut state, &model).contains("closed"));
    assert!(events_pane(&mut state).contains("disabled → closed (reset by user)"));
}
