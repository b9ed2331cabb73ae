//! App-flow tests in process: key events and engine events go into the pure `update`; snapshots
//! of the screen and the effects (commands to the engine) come out.

use crate::support::tui_fixtures as fixtures;
use crate::support::tui_testkit as testkit;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use orchestrator_tui::domain::Micros;
use orchestrator_tui::domain::status::{RunStatus, TaskStatus};
use orchestrator_tui::engine::EngineEvent;
use orchestrator_tui::routing::breaker::BreakerState;
use orchestrator_tui::tui::action::{Action, Effect, Msg, NewRun, Pane};
use orchestrator_tui::tui::app::{Overlay, State, update};
use orchestrator_tui::tui::state::{EventItem, EventKind, Snapshot};
use testkit::*;

fn engine(s: &mut State, ev: EngineEvent) -> Vec<Effect> {
    update(s, Msg::Engine(Box::new(ev)))
}

#[test]
fn opens_on_runs_with_the_newest_run_selected() {
    let mut s = State::new(fixtures::NOW_MS, 8.0, true);
    assert_eq!(s.pane, Pane::Runs);
    update(&mut s, Msg::Snapshot(Box::new(fixtures::snapshot())));
    assert_eq!(s.selected_run().map(|r| r.id.as_str()), Some("r-7f3a9c"));
    assert_eq!(s.open_run.as_deref(), Some("r-7f3a9c"));
}

#[test]
fn a_paste_is_text_for_the_focused_field_never_keys() {
    let mut s = fixtures::state();
    ch(&mut s, 'n');
    let pasted = "Build a todo app\nq with tests\r\nand docs\t\u{1b}[2J";
    assert!(update(&mut s, Msg::Paste(pasted.into())).is_empty());
    let Overlay::Form(f) = &s.overlay else {
        panic!("the form closed: {:?}", s.overlay)
    };
    assert_eq!(f.fields[0], "Build a todo app q with tests and docs [2J");
    assert!(screen(&s, 120, 40).contains("Build a todo app q with tests and docs"));
    // Enter submits the whole description, once.
    let fx = key(&mut s, KeyCode::Enter);
    assert!(
        matches!(&fx[..], [Effect::StartRun(NewRun { description, .. })]
            if description == "Build a todo app q with tests and docs [2J"),
        "{fx:?}"
    );
    // With no field open a paste is ignored: `q6` neither quits nor changes the pane.
    let pane = s.pane;
    assert!(update(&mut s, Msg::Paste("q6".into())).is_empty());
    assert_eq!(
        (s.pane, s.stopping, &s.overlay),
        (pane, false, &Overlay::None)
    );
    // The filter takes a paste as text too.
    ch(&mut s, '1');
    ch(&mut s, '/');
    update(&mut s, Msg::Paste("r-7f\n".into()));
    assert_eq!(s.overlay, Overlay::Filter);
    assert_eq!(s.panes.runs.nav.filter, "r-7f ");
}

#[test]
fn n_opens_the_form_from_any_pane_and_enter_starts_the_run() {
    let mut s = fixtures::state();
    ch(&mut s, '3');
    assert_eq!(s.pane, Pane::Models);
    assert!(ch(&mut s, 'n').is_empty());
    assert!(matches!(s.overlay, Overlay::Form(_)));
    // Enter with no description: the form says why and nothing starts.
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert!(screen(&s, 80, 24).contains("describe what to build"));
    typed(&mut s, "Build a todo app");
    key(&mut s, KeyCode::Tab);
    typed(&mut s, "has tests");
    key(&mut s, KeyCode::Tab);
    key(&mut s, KeyCode::Backspace);
    typed(&mut s, "2.5");
    key(&mut s, KeyCode::Tab);
    typed(&mut s, "web");
    insta::assert_snapshot!("flow_form_filled", screen(&s, 80, 24));
    let fx = key(&mut s, KeyCode::Enter);
    assert_eq!(
        fx,
        vec![Effect::StartRun(NewRun {
            description: "Build a todo app".into(),
            criteria: "has tests".into(),
            budget: Micros::from_usd(2.5),
            team: Some("web".into()),
        })]
    );
    assert_eq!(s.overlay, Overlay::None);
    // The engine answers: the new run becomes the open run in Tasks.
    let fx = update(
        &mut s,
        Msg::Started {
            run_id: "r-new001".into(),
            resumed: false,
        },
    );
    assert_eq!(fx, vec![Effect::Refresh]);
    assert_eq!(s.pane, Pane::Tasks);
    assert_eq!(s.open_run.as_deref(), Some("r-new001"));
    assert!(s.active.contains("r-new001"));
    assert!(screen(&s, 80, 24).contains("Loading run r-new001"));
}

#[test]
fn escape_closes_the_form_without_starting_anything() {
    let mut s = fixtures::state();
    ch(&mut s, 'n');
    typed(&mut s, "x");
    assert!(key(&mut s, KeyCode::Esc).is_empty());
    assert_eq!(s.overlay, Overlay::None);
}

#[test]
fn r_on_a_run_blocked_by_a_dependency_cycle_says_so_and_resumes_nothing() {
    let mut s = fixtures::state();
    let i = s
        .runs
        .iter()
        .position(|r| r.status == RunStatus::Interrupted)
        .expect("an interrupted fixture run");
    let id = s.runs[i].id.clone();
    let row = |s: &State| {
        screen(s, 160, 40)
            .lines()
            .find(|l| l.contains(&id))
            .map(str::to_string)
            .unwrap_or_default()
    };
    assert!(row(&s).contains("yes"), "{}", row(&s));
    s.runs[i].blocked = true;
    assert!(!row(&s).contains("yes"), "{}", row(&s));
    ch(&mut s, 'j');
    assert_eq!(s.selected_run().map(|r| r.id.clone()), Some(id));
    assert!(ch(&mut s, 'r').is_empty(), "nothing is resumed");
    let flash = s.flash.as_ref().expect("a message");
    assert!(
        flash.error && flash.text.contains("dependency cycle"),
        "{flash:?}"
    );
}

#[test]
fn r_resumes_the_selected_resumable_run_and_opens_it() {
    let mut s = fixtures::state();
    // The newest run is running here: not resumable.
    assert!(ch(&mut s, 'r').is_empty());
    assert!(s.flash.as_ref().is_some_and(|f| f.error));
    ch(&mut s, 'j');
    assert_eq!(
        s.selected_run().map(|r| r.status),
        Some(RunStatus::Interrupted)
    );
    assert_eq!(ch(&mut s, 'r'), vec![Effect::ResumeRun("r-51be02".into())]);
    // A finished run is terminal.
    ch(&mut s, 'j');
    assert!(ch(&mut s, 'r').is_empty());
    assert!(screen(&s, 120, 40).contains("not resumable"));
    update(
        &mut s,
        Msg::Started {
            run_id: "r-51be02".into(),
            resumed: true,
        },
    );
    assert_eq!(s.pane, Pane::Tasks);
    assert_eq!(s.open_run.as_deref(), Some("r-51be02"));
    insta::assert_snapshot!("flow_resumed", screen(&s, 80, 24));
}

#[test]
fn x_resets_an_open_breaker() {
    let mut s = fixtures::state();
    ch(&mut s, '3');
    // A closed breaker has nothing to reset.
    assert!(ch(&mut s, 'x').is_empty());
    for _ in 0..3 {
        ch(&mut s, 'j');
    }
    let m = s.selected_model().expect("model");
    assert_eq!(
        (m.id.as_str(), m.breaker),
        ("gemini-2.5-pro", BreakerState::Open)
    );
    assert_eq!(
        ch(&mut s, 'x'),
        vec![Effect::ResetBreaker {
            model: "gemini-2.5-pro".into(),
            from: "open".into()
        }]
    );
    update(&mut s, Msg::BreakerReset("gemini-2.5-pro".into()));
    let m = s.selected_model().expect("model");
    assert_eq!(m.breaker, BreakerState::Closed);
    insta::assert_snapshot!("flow_breaker_reset", screen(&s, 120, 40));
}

#[test]
fn nothing_is_redrawn_after_an_event_that_changes_nothing() {
    let mut s = fixtures::state();
    s.dirty = false;
    // The same data again.
    let mut same = fixtures::snapshot();
    same.history = None;
    update(&mut s, Msg::Snapshot(Box::new(same.clone())));
    assert!(!s.dirty, "an equal snapshot must not redraw");
    // A successful call: a reload is asked for, nothing visible changes.
    let fx = engine(
        &mut s,
        EngineEvent::Call {
            run_id: Some("r-7f3a9c".into()),
            task_id: Some("t3".into()),
            role: "generate".into(),
            model: "claude-sonnet-4-6".into(),
            provider: "anthropic".into(),
            outcome: orchestrator_tui::domain::CallOutcome::Ok,
            cost: Micros(100),
            latency_ms: 12,
            error: None,
        },
    );
    assert_eq!(fx, vec![Effect::Refresh]);
    assert!(!s.dirty);
    // A task event equal to what is shown.
    engine(
        &mut s,
        EngineEvent::TaskChanged {
            run_id: "r-7f3a9c".into(),
            task_id: "t3".into(),
            status: TaskStatus::Running,
            model: Some("claude-sonnet-4-6".into()),
            iteration: 2,
            score: Some(0.81),
            reason: None,
        },
    );
    assert!(!s.dirty);
    // The clock alone changes nothing on the Runs pane.
    update(&mut s, Msg::Tick(fixtures::NOW_MS + 1000));
    assert!(!s.dirty);
    // A key that does nothing here.
    update(&mut s, Msg::Action(Action::ResetBreaker));
    assert!(!s.dirty);
    // A released key is ignored.
    let mut rel = KeyEvent::new(KeyCode::Char('2'), KeyModifiers::NONE);
    rel.kind = KeyEventKind::Release;
    update(&mut s, Msg::Key(rel));
    assert!(!s.dirty);
    assert_eq!(s.pane, Pane::Runs);
    // But a real change does redraw.
    let mut changed = same;
    changed.runs[1].status = RunStatus::PartialSuccess;
    update(&mut s, Msg::Snapshot(Box::new(changed)));
    assert!(s.dirty);
}

#[test]
fn engine_events_update_the_task_table_and_events_pane() {
    let mut s = fixtures::state();
    ch(&mut s, '2');
    s.dirty = false;
    engine(
        &mut s,
        EngineEvent::TaskChanged {
            run_id: "r-7f3a9c".into(),
            task_id: "t5".into(),
            status: TaskStatus::Running,
            model: Some("gpt-5-mini".into()),
            iteration: 1,
            score: None,
            reason: None,
        },
    );
    assert!(s.dirty);
    engine(
        &mut s,
        EngineEvent::Breaker {
            run_id: Some("r-7f3a9c".into()),
            model: "gpt-5".into(),
            from: BreakerState::HalfOpen,
            to: BreakerState::Closed,
            reason: "probe succeeded".into(),
        },
    );
    engine(
        &mut s,
        EngineEvent::Budget {
            run_id: Some("r-7f3a9c".into()),
            message: "org budget: $0.0100 needed, $0.0050 left".into(),
        },
    );
    let tasks = screen(&s, 120, 40);
    assert!(tasks.contains("gpt-5-mini"), "{tasks}");
    // The model's row changes at once; the transition is listed once the store has it (the
    // Events pane lists stored transitions of every process, this one's included, once each).
    assert_eq!(
        s.panes
            .models
            .items
            .iter()
            .find(|m| m.id == "gpt-5")
            .map(|m| m.breaker),
        Some(BreakerState::Closed)
    );
    let stored = EventItem {
        seq: 0,
        time: "12:00:01".into(),
        kind: EventKind::Breaker,
        run_id: Some("r-7f3a9c".into()),
        text: "gpt-5: half_open → closed (probe succeeded)".into(),
    };
    let snap = Snapshot {
        runs: s.runs.clone(),
        detail: s.detail.clone(),
        models: s.panes.models.items.clone(),
        budget: s.panes.budget.snap.clone(),
        breaker_events: vec![stored],
        ..Snapshot::default()
    };
    update(&mut s, Msg::Snapshot(Box::new(snap)));
    ch(&mut s, '6');
    let events = screen(&s, 120, 40);
    assert!(events.contains("$ budget"), "{events}");
    let rows = events
        .lines()
        .filter(|l| l.contains("breaker") && l.contains("gpt-5: half_open → closed"))
        .count();
    assert_eq!(rows, 1, "listed once:\n{events}");
    engine(
        &mut s,
        EngineEvent::RunFinished {
            run_id: "r-7f3a9c".into(),
            status: RunStatus::Success,
            cost: Micros(421_300),
            reason: None,
        },
    );
    assert!(s.active.is_empty());
    assert_eq!(s.runs[0].status, RunStatus::Success);
}

#[test]
fn quit_asks_while_a_run_is_active_and_cancels_it_on_yes() {
    let mut s = fixtures::state();
    assert!(ch(&mut s, 'q').is_empty());
    assert!(matches!(s.overlay, Overlay::Confirm(_)));
    assert!(ch(&mut s, 'n').is_empty());
    assert_eq!(s.overlay, Overlay::None);
    // Ctrl-C is the same as q.
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(update(&mut s, Msg::Key(ctrl_c)).is_empty());
    assert_eq!(
        ch(&mut s, 'y'),
        vec![Effect::Quit {
            cancel_active: true
        }]
    );
    assert!(s.stopping);
    assert!(screen(&s, 80, 24).contains("Stopping 1 run"));
    // With nothing running, q quits at once.
    let mut s = fixtures::state();
    s.active.clear();
    assert_eq!(
        ch(&mut s, 'q'),
        vec![Effect::Quit {
            cancel_active: false
        }]
    );
}

#[test]
fn delete_asks_first_and_refuses_running_runs() {
    let mut s = fixtures::state();
    assert!(ch(&mut s, 'd').is_empty());
    assert!(s.flash.as_ref().is_some_and(|f| f.error), "running run");
    ch(&mut s, 'j');
    assert!(ch(&mut s, 'd').is_empty());
    assert!(screen(&s, 80, 24).contains("Delete run r-51be02"));
    assert_eq!(ch(&mut s, 'y'), vec![Effect::DeleteRun("r-51be02".into())]);
    update(&mut s, Msg::Deleted("r-51be02".into()));
    assert!(s.runs.iter().all(|r| r.id != "r-51be02"));
}

#[test]
fn filter_panes_and_navigation() {
    let mut s = fixtures::state();
    ch(&mut s, '/');
    typed(&mut s, "invoice");
    assert_eq!(s.runs_view().len(), 1);
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.overlay, Overlay::None);
    assert!(screen(&s, 120, 40).contains("(1/1 of 6) / invoice"));
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.runs_view().len(), 6);
    ch(&mut s, 'G');
    assert_eq!(s.selected_run().map(|r| r.id.as_str()), Some("r-9d8e7f"));
    ch(&mut s, 'g');
    assert_eq!(s.panes.runs.nav.selected, 0);
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.pane, Pane::Tasks);
    key(&mut s, KeyCode::BackTab);
    key(&mut s, KeyCode::BackTab);
    assert_eq!(s.pane, Pane::Events);
    ch(&mut s, '?');
    // Help is contextual: the Events pane's keys come first, then everything else.
    let help = screen(&s, 120, 40);
    assert!(
        help.contains("Events") && help.contains("Everywhere"),
        "{help}"
    );
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.overlay, Overlay::None);
    // Enter on Runs opens the selected run in Tasks; Enter on Tasks shows the detail.
    ch(&mut s, '1');
    ch(&mut s, 'j');
    assert_eq!(key(&mut s, KeyCode::Enter), vec![Effect::Refresh]);
    assert_eq!(
        (s.pane, s.open_run.as_deref()),
        (Pane::Tasks, Some("r-51be02"))
    );
}
