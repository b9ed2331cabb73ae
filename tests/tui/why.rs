//! Issue 18, "see why", in the TUI: the model and role a running task is calling, titles and
//! dependencies (`d`), follow running (`f`), the routing section and failed calls of the task
//! detail, the binding budget level in the run header, reserved vs spent in the Budget pane,
//! recommendations and learned quality in Models, and threshold warnings in Events.

use crate::support::tui_fixtures as fixtures;
use crate::support::tui_testkit as testkit;
use orchestrator_tui::domain::status::{RunStatus, TaskStatus};
use orchestrator_tui::engine::EngineEvent;
use orchestrator_tui::tui::action::{Action, Msg, Pane};
use orchestrator_tui::tui::app::{State, update};
use testkit::*;

fn on(pane: Pane) -> State {
    let mut s = fixtures::state();
    update(&mut s, Msg::Action(Action::GoPane(pane)));
    s
}

fn selected(s: &State) -> String {
    s.selected_task().map(|t| t.id.clone()).unwrap_or_default()
}

#[test]
fn running_tasks_show_the_model_they_call_and_the_role() {
    let s = on(Pane::Tasks);
    let text = screen(&s, 120, 40);
    // t3 is in a critique by gpt-5 (its result's model is claude-sonnet-4-6), t4 generates.
    assert!(text.contains("crit gpt-5"), "{text}");
    assert!(text.contains("gen gemini-2.5-pro"), "{text}");
    // Titles, as wide as the terminal allows (the whole title is in the detail).
    assert!(text.contains("Write the CLI entry"), "titles: {text}");
    insta::assert_snapshot!("why_tasks_120x40", text);
}

#[test]
fn a_calling_event_changes_the_row_at_once() {
    let mut s = on(Pane::Tasks);
    update(
        &mut s,
        Msg::Engine(Box::new(EngineEvent::Calling {
            run_id: "r-7f3a9c".into(),
            task_id: "t3".into(),
            attempt: Some(2),
            role: "evaluate".into(),
            model: "claude-opus-4-1".into(),
        })),
    );
    assert!(screen(&s, 120, 40).contains("eval claude-opus-4-1"));
    // Done: the row shows the model of its result again.
    update(
        &mut s,
        Msg::Engine(Box::new(EngineEvent::TaskChanged {
            run_id: "r-7f3a9c".into(),
            task_id: "t3".into(),
            status: TaskStatus::Completed,
            model: Some("claude-sonnet-4-6".into()),
            iteration: 2,
            score: Some(0.9),
            reason: None,
        })),
    );
    let text = screen(&s, 120, 40);
    assert!(!text.contains("eval claude-opus-4-1"), "{text}");
}

#[test]
fn d_shows_dependencies_instead_of_reasons() {
    let mut s = on(Pane::Tasks);
    assert!(screen(&s, 120, 40).contains("Reason"));
    ch(&mut s, 'd');
    let text = screen(&s, 120, 40);
    assert!(
        text.contains("Depends on") && !text.contains("Reason"),
        "{text}"
    );
    // t2 depends on t1, t4 on t3.
    let t4 = text.lines().find(|l| l.contains(" t4 ")).expect("t4 row");
    assert!(
        t4.trim_end().ends_with("t3 │") || t4.contains(" t3"),
        "{t4}"
    );
    ch(&mut s, 'd');
    assert!(screen(&s, 120, 40).contains("Reason"));
}

#[test]
fn f_follows_the_running_task_until_the_selection_is_moved() {
    let mut s = on(Pane::Tasks);
    assert_eq!(selected(&s), "t1");
    ch(&mut s, 'f');
    assert_eq!(selected(&s), "t3", "the first running task");
    // t3 ends and t5 starts: the selection follows to the first running one (t4).
    for (task, status) in [("t3", TaskStatus::Completed), ("t5", TaskStatus::Running)] {
        update(
            &mut s,
            Msg::Engine(Box::new(EngineEvent::TaskChanged {
                run_id: "r-7f3a9c".into(),
                task_id: task.into(),
                status,
                model: None,
                iteration: 1,
                score: None,
                reason: None,
            })),
        );
    }
    assert_eq!(selected(&s), "t4");
    // Moving by hand stops following.
    update(&mut s, Msg::Action(Action::Up));
    assert_eq!(selected(&s), "t3");
    update(
        &mut s,
        Msg::Engine(Box::new(EngineEvent::TaskChanged {
            run_id: "r-7f3a9c".into(),
            task_id: "t4".into(),
            status: TaskStatus::Completed,
            model: None,
            iteration: 1,
            score: None,
            reason: None,
        })),
    );
    assert_eq!(selected(&s), "t3");
}

#[test]
fn the_task_detail_says_how_each_call_was_routed_and_which_calls_failed() {
    let mut s = on(Pane::Tasks);
    update(&mut s, Msg::Action(Action::Down));
    update(&mut s, Msg::Action(Action::Open));
    let mut snap = fixtures::snapshot();
    snap.history = None;
    snap.attempts = Some(fixtures::attempts());
    update(&mut s, Msg::Snapshot(Box::new(snap)));
    let text = screen(&s, 120, 60);
    for want in [
        "title: Write the CLI entry point",
        "depends on: t1",
        "routing generate: gpt-5  (balanced strategy)",
        "why: balanced strategy: best quality per √cost",
        "1. claude-sonnet-4-6",
        "q 0.91  $0.0190/call  → failed: rate limited (429)",
        "→ answered",
        "✕ gemini-2.5-pro",
        "breaker open",
        "policy no-cn: provider deepseek is blocked",
        "31 models",
        "✕ generate call to claude-sonnet-4-6 failed (rate_limited): 429 Too Many Requests",
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
    insta::assert_snapshot!("why_task_detail_120x60", text);
}

#[test]
fn the_run_header_names_the_budget_level_that_refused() {
    let mut s = on(Pane::Tasks);
    let mut snap = fixtures::snapshot();
    snap.history = None;
    if let Some(d) = snap.detail.as_mut() {
        d.status = RunStatus::BudgetExhausted;
        d.binding = Some("team:web".into());
    }
    update(&mut s, Msg::Snapshot(Box::new(snap)));
    let text = screen(&s, 120, 40);
    assert!(text.contains("refused by the team:web budget"), "{text}");
}

#[test]
fn the_budget_pane_tells_spent_from_reserved() {
    let s = on(Pane::Budget);
    let text = screen(&s, 120, 40);
    assert!(text.contains("Used: █ spent + ▒ reserved"), "{text}");
    assert!(screen(&s, 80, 24).contains("Used █+▒"));
    assert!(text.contains('▒'), "a reserved part is drawn: {text}");
}

#[test]
fn models_show_recommendations_and_learned_quality_with_samples() {
    let s = on(Pane::Models);
    let text = screen(&s, 120, 40);
    assert!(text.contains("Recommendations (1)"), "{text}");
    assert!(
        text.contains("route code_generation to deepseek-chat instead of claude-sonnet-4-6"),
        "{text}"
    );
    assert!(
        text.contains("Learned quality · claude-sonnet-4-6"),
        "{text}"
    );
    assert!(text.contains("0.84 (12 samples)"), "{text}");
    insta::assert_snapshot!("why_models_120x40", text);
}

#[test]
fn threshold_warnings_are_listed_in_events() {
    let mut s = on(Pane::Events);
    update(
        &mut s,
        Msg::Engine(Box::new(EngineEvent::Budget {
            run_id: Some("r-7f3a9c".into()),
            message: "run budget at 80% of its cap: $6.4000 spent of $8.00".into(),
        })),
    );
    let text = screen(&s, 120, 40);
    let line = text
        .lines()
        .find(|l| l.contains("run budget at 80% of its cap"))
        .unwrap_or_else(|| panic!("no warning line in\n{text}"));
    assert!(line.contains('$') && line.contains("r-7f3a9c"), "{line}");
}

#[test]
fn stored_history_does_not_repeat_what_was_listed_live() {
    let mut s = State::new(fixtures::NOW_MS, 8.0, true);
    update(
        &mut s,
        Msg::Engine(Box::new(EngineEvent::RunStarted {
            run_id: "r-1".into(),
            description: "Write a haiku".into(),
            resumed: false,
        })),
    );
    let stored = |text: &str| orchestrator_tui::tui::state::EventItem {
        seq: 0,
        time: "10:00:00".into(),
        kind: orchestrator_tui::tui::state::EventKind::Info,
        run_id: Some("r-1".into()),
        text: text.into(),
    };
    let snap = orchestrator_tui::tui::state::Snapshot {
        history: Some(vec![
            stored("run started: Write a haiku"),
            stored("run finished: success, $0.0100"),
        ]),
        ..Default::default()
    };
    update(&mut s, Msg::Snapshot(Box::new(snap)));
    let texts: Vec<&str> = s.events.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "run started: Write a haiku",
            "run finished: success, $0.0100"
        ]
    );
}
