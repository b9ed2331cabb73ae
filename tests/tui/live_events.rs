//! Other processes' events reach an open TUI's Events pane as they are stored (issue 18 "see
//! why", issue 19 "live updates"): the loader reads `run_events` past the last id it sent, and
//! the pane lists those this process's engine has not already announced live, so each line is
//! listed once. Driven through the loader's refresh function (`load_cached`), no sleeps.

use crate::support::binary::Env;
use orchestrator_tui::cli::Cli;
use orchestrator_tui::domain::{CallOutcome, Micros};
use orchestrator_tui::engine::{EngineEvent, RunRequest};
use orchestrator_tui::setup::open_app;
use orchestrator_tui::store;
use orchestrator_tui::tui::action::Msg;
use orchestrator_tui::tui::app::{State, update};
use orchestrator_tui::tui::data::{Cache, SnapshotReq, load_cached};
use orchestrator_tui::tui::state::EventKind;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

const NOW_MS: i64 = 1_773_489_600_000;

/// One refresh of the loader: a snapshot of what the store holds now, into the state.
fn refresh(c: &rusqlite::Connection, data: &Path, cache: &mut Cache, s: &mut State, first: bool) {
    let req = SnapshotReq {
        history: first,
        ..Default::default()
    };
    let snap = load_cached(c, data, &vec![], &req, cache).expect("load");
    update(s, Msg::Snapshot(Box::new(snap)));
}

/// The Events pane's lines of `run` (kind, text), counted.
fn listed(s: &State, run: Option<&str>) -> BTreeMap<(String, String), usize> {
    let mut m = BTreeMap::new();
    for e in s.events.iter().filter(|e| e.run_id.as_deref() == run) {
        *m.entry((e.kind.label().to_string(), e.text.clone()))
            .or_default() += 1;
    }
    m
}

fn live(s: &mut State, ev: EngineEvent) {
    update(s, Msg::Engine(Box::new(ev)));
}

fn failed_call(run: &str) -> EngineEvent {
    EngineEvent::Call {
        run_id: Some(run.into()),
        task_id: Some("t1".into()),
        role: "generate".into(),
        model: "m1".into(),
        provider: "p".into(),
        outcome: CallOutcome::Transient,
        cost: Micros::ZERO,
        latency_ms: 3,
        error: Some("500".into()),
    }
}

#[test]
fn another_connections_events_are_listed_after_a_refresh_and_ours_once() {
    let d = tempfile::tempdir().expect("tempdir");
    let path = d.path().join("orchestrator.db");
    let mut other = store::open_connection(&path).expect("writer");
    store::migrations::migrate(&mut other).expect("migrate");
    store::events::insert(&other, Some("r-old"), "info", "run started: before").expect("event");
    let c = store::open_connection(&path).expect("reader");
    let mut cache = Cache::default();
    let mut s = State::new(NOW_MS, 8.0, true);
    refresh(&c, d.path(), &mut cache, &mut s, true);
    assert_eq!(listed(&s, Some("r-old")).len(), 1, "the history");

    // This process's engine announces two lines (live first, stored behind)...
    live(
        &mut s,
        EngineEvent::Warning {
            run_id: Some("r-mine".into()),
            message: "plan: dropped an empty task".into(),
        },
    );
    // ... while another process stores its own: a run's, and two identical failures.
    let fail = "generate call to m1 failed (transient): 500";
    store::events::insert(
        &other,
        Some("r-mine"),
        "warning",
        "plan: dropped an empty task",
    )
    .expect("ours, stored behind");
    store::events::insert(&other, Some("r-other"), "budget", "run budget at 80%").expect("e");
    store::events::insert(&other, Some("r-other"), "error", fail).expect("e");
    store::events::insert(&other, Some("r-other"), "error", fail).expect("e");
    store::events::insert(&other, None, "policy", "policy warning for m1: x").expect("e");
    assert!(
        !s.events
            .iter()
            .any(|e| e.run_id.as_deref() == Some("r-other"))
    );
    refresh(&c, d.path(), &mut cache, &mut s, false);
    let theirs = listed(&s, Some("r-other"));
    assert_eq!(
        theirs,
        BTreeMap::from([
            (("budget".into(), "run budget at 80%".into()), 1),
            (("error".into(), fail.into()), 2),
        ])
    );
    assert_eq!(listed(&s, None).len(), 1, "events without a run too");
    assert_eq!(
        listed(&s, Some("r-mine")).into_values().sum::<usize>(),
        1,
        "ours: listed live, not again from the store"
    );
    // A settled call is stored before the engine announces it: listed once either way.
    store::events::insert(&other, Some("r-mine"), "error", fail).expect("e");
    refresh(&c, d.path(), &mut cache, &mut s, false);
    live(&mut s, failed_call("r-mine"));
    assert_eq!(
        listed(&s, Some("r-mine"))[&("error".into(), fail.into())],
        1
    );
    // Nothing new stored: a refresh lists nothing again.
    let before = s.events.len();
    refresh(&c, d.path(), &mut cache, &mut s, false);
    assert_eq!(s.events.len(), before);
    // The newest is on top of the pane.
    store::events::insert(&other, Some("r-other"), "info", "run finished: success").expect("e");
    refresh(&c, d.path(), &mut cache, &mut s, false);
    assert_eq!(s.events[0].text, "run finished: success");
}

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

/// A real run in this process, with failing calls (stored before they are announced) and the
/// rest (announced before they are stored), refreshed after every engine event: every stored
/// line of the run is listed exactly as many times as it is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_driven_here_lists_each_stored_line_once() {
    let env = Env::new(
        "[simulated]\nenabled = \"always\"\nlatency_ms_min = 0\nlatency_ms_max = 5\n\
         transient_failure_rate = 0.3\n",
    );
    let app = open_app(&cli(&env)).expect("app");
    let engine = app.engine().expect("engine");
    let mut events = engine.subscribe();
    let c = store::open_connection(app.store.path()).expect("read conn");
    let mut cache = Cache::default();
    let mut s = State::new(NOW_MS, 8.0, true);
    refresh(&c, &env.data(), &mut cache, &mut s, true);
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
    let mut join = started.join;
    let drained = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            tokio::select! {
                ev = events.recv() => {
                    if let Ok(ev) = ev {
                        live(&mut s, ev);
                    }
                    // A refresh between any two events: stored rows meet live lines in
                    // every order.
                    refresh(&c, &env.data(), &mut cache, &mut s, false);
                }
                _ = &mut join => break,
            }
        }
    })
    .await;
    drained.expect("the run ends");
    // FIFO store queue: once this answers, every event written behind is committed.
    app.store.call(|_| Ok(())).await.expect("flush");
    while let Ok(ev) = events.try_recv() {
        live(&mut s, ev);
    }
    refresh(&c, &env.data(), &mut cache, &mut s, false);

    let mut stored: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (_, kind, run, text) in store::events::newest(&c, 10_000).expect("rows") {
        if run.as_deref() == Some(id.as_str()) {
            *stored.entry((kind.to_string(), text)).or_default() += 1;
        }
    }
    let mut shown = listed(&s, Some(&id));
    shown.retain(|(k, _), _| k != EventKind::Breaker.label());
    assert!(
        stored.keys().any(|(k, _)| k == "error"),
        "no failed call: the test proves less than it says ({stored:?})"
    );
    assert_eq!(shown, stored);
}

/// The loader thread itself: it notices another connection's commit (`PRAGMA data_version`)
/// without being asked and sends the new event with its next snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loader_sends_another_processs_event_without_being_asked() {
    use orchestrator_tui::tui::loader::Loader;
    let d = tempfile::tempdir().expect("tempdir");
    let path = d.path().join("orchestrator.db");
    let mut other = store::open_connection(&path).expect("writer");
    store::migrations::migrate(&mut other).expect("migrate");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let loader = Loader::spawn(path.clone(), d.path().to_path_buf(), vec![], tx).expect("loader");
    loader.request(SnapshotReq {
        history: true,
        ..Default::default()
    });
    let mut s = State::new(NOW_MS, 8.0, true);
    let next = async |rx: &mut tokio::sync::mpsc::UnboundedReceiver<Msg>| loop {
        match rx.recv().await {
            Some(Msg::Snapshot(snap)) => return snap,
            Some(Msg::Failed(e)) => panic!("loader failed: {e}"),
            Some(_) => {}
            None => panic!("loader stopped"),
        }
    };
    let first = tokio::time::timeout(Duration::from_secs(30), next(&mut rx))
        .await
        .expect("a first snapshot");
    update(&mut s, Msg::Snapshot(first));
    store::events::insert(
        &other,
        Some("r-far"),
        "warning",
        "lease pressed on build-02",
    )
    .expect("event");
    let got = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let snap = next(&mut rx).await;
            let has = !snap.stored_events.is_empty();
            update(&mut s, Msg::Snapshot(snap));
            if has {
                return;
            }
        }
    })
    .await;
    got.expect("the event within 30 s");
    assert_eq!(
        listed(&s, Some("r-far")),
        BTreeMap::from([(("warning".into(), "lease pressed on build-02".into()), 1)])
    );
}
