//! Issue 18's "Fix" list: elapsed stops with the run, tabs keep code indented, a failing score
//! never reads as its threshold, thousands separators, list positions, the filter reaching the
//! Reason column, confirm dialogs, quit semantics, theme legibility.

use crate::support::tui_fixtures as fixtures;
use crate::support::tui_testkit as testkit;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use orchestrator_tui::domain::Micros;
use orchestrator_tui::domain::status::{RunStatus, TaskStatus};
use orchestrator_tui::tui::action::{Action, Effect, Msg, Pane};
use orchestrator_tui::tui::app::{Confirm, Overlay, State, update};
use testkit::*;

fn on(pane: Pane) -> State {
    let mut s = fixtures::state();
    update(&mut s, Msg::Action(Action::GoPane(pane)));
    s
}

/// The row of task `id` in the task table.
fn task_row(screen: &str, id: &str) -> String {
    screen
        .lines()
        .find(|l| l.contains(&format!(" {id} ")))
        .unwrap_or_else(|| panic!("no row {id} in\n{screen}"))
        .to_string()
}

#[test]
fn elapsed_stops_when_the_run_stops() {
    let mut s = on(Pane::Tasks);
    // t4 started 12 s ago and is still running: it counts with the clock.
    assert!(task_row(&screen(&s, 120, 40), "t4").contains(" 12s"));
    update(&mut s, Msg::Tick(fixtures::NOW_MS + 5_000));
    assert!(task_row(&screen(&s, 120, 40), "t4").contains(" 17s"));
    // The run was cancelled 9 s after t4 started: t4 was left unfinished and stays at 9 s.
    let mut snap = fixtures::snapshot();
    snap.history = None;
    let d = snap.detail.as_mut().expect("detail");
    d.status = RunStatus::PartialSuccess;
    d.ended_ms = Some(fixtures::NOW_MS - 3_000);
    d.tasks[3].status = TaskStatus::Skipped;
    update(&mut s, Msg::Snapshot(Box::new(snap)));
    for later in [0, 21_000, 3_600_000] {
        update(&mut s, Msg::Tick(fixtures::NOW_MS + later));
        let row = task_row(&screen(&s, 120, 40), "t4");
        assert!(row.contains(" 9s"), "{later}: {row}");
    }
    // Tasks that finished keep their own time; tasks never started show `-`.
    let sc = screen(&s, 120, 40);
    assert!(task_row(&sc, "t1").contains(" 1m00s"), "{sc}");
    assert!(task_row(&sc, "t5").contains("$0.0000   -  "), "{sc}");
}

fn open_detail(s: &mut State, attempts: orchestrator_tui::tui::state::TaskAttempts) {
    update(s, Msg::Action(Action::Down));
    update(s, Msg::Action(Action::Open));
    let mut snap = fixtures::snapshot();
    snap.history = None;
    snap.attempts = Some(attempts);
    update(s, Msg::Snapshot(Box::new(snap)));
}

#[test]
fn task_detail_keeps_tab_indented_code_and_shows_failing_digits() {
    let mut s = on(Pane::Tasks);
    let mut a = fixtures::attempts();
    a.output = Some("func main() {\n\tif ok {\n\t\treturn\n\t}\n}".into());
    a.attempts[1].score = Some(0.849);
    open_detail(&mut s, a);
    let sc = screen(&s, 120, 40);
    assert!(sc.contains("│func main() {"), "{sc}");
    assert!(sc.contains("│    if ok {"), "{sc}");
    assert!(sc.contains("│        return"), "{sc}");
    assert!(sc.contains("0.849/0.85 ✕"), "{sc}");
    assert!(!sc.contains("0.85/0.85 ✕"), "{sc}");
    insta::assert_snapshot!("fix_task_detail_tabs_120x40", sc);
}

#[test]
fn large_numbers_get_thousands_separators() {
    let mut snap = fixtures::snapshot();
    snap.runs[0].tasks_total = 1_200;
    snap.runs[0].tasks_done = 1_034;
    snap.runs[0].spent = Micros::from_usd(12_345.5);
    snap.models[0].calls = 12_345;
    let mut s = State::new(fixtures::NOW_MS, 8.0, true);
    update(&mut s, Msg::Snapshot(Box::new(snap)));
    let runs = screen(&s, 120, 40);
    assert!(runs.contains("1,034/1,200"), "{runs}");
    assert!(runs.contains("$12,345.50"), "{runs}");
    ch(&mut s, '3');
    let models = screen(&s, 120, 40);
    assert!(models.contains("12,345"), "{models}");
}

#[test]
fn lists_show_the_position_and_the_filter_reaches_the_reason() {
    let mut s = on(Pane::Tasks);
    assert!(screen(&s, 120, 40).contains(" Tasks (1/6) "));
    key(&mut s, KeyCode::Down);
    key(&mut s, KeyCode::Down);
    assert!(screen(&s, 120, 40).contains(" Tasks (3/6) "));
    // t6 failed with "no model met the threshold…": only its Reason says "threshold".
    ch(&mut s, '/');
    typed(&mut s, "threshold");
    assert_eq!(s.tasks_view().len(), 1);
    assert_eq!(s.selected_task().map(|t| t.id.as_str()), Some("t6"));
    assert!(screen(&s, 120, 40).contains(" Tasks (1/1 of 6) "));
}

#[test]
fn enter_never_confirms_and_the_delete_dialog_names_the_kept_outputs() {
    let mut s = fixtures::state();
    // Quit while a run is active: Enter does nothing, n and Esc cancel, y confirms.
    ch(&mut s, 'q');
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert!(matches!(s.overlay, Overlay::Confirm(Confirm::Quit)));
    assert!(!s.stopping);
    let sc = screen(&s, 80, 24);
    assert!(sc.contains("y yes") && !sc.contains("Enter yes"), "{sc}");
    assert!(ch(&mut s, 'n').is_empty());
    assert_eq!(s.overlay, Overlay::None);
    ch(&mut s, 'q');
    assert!(key(&mut s, KeyCode::Esc).is_empty());
    assert_eq!(s.overlay, Overlay::None);
    // Delete: the open run's outputs folder is named as kept; Enter does not delete.
    update(&mut s, Msg::Engine(Box::new(finished("r-7f3a9c"))));
    assert!(ch(&mut s, 'd').is_empty());
    let sc = screen(&s, 80, 24);
    assert!(
        sc.contains("Its outputs folder is kept: /home/dev/todo-app/out"),
        "{sc}"
    );
    insta::assert_snapshot!("fix_confirm_delete_80x24", sc);
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert_eq!(ch(&mut s, 'y'), vec![Effect::DeleteRun("r-7f3a9c".into())]);
    // Another run (not loaded): still says the folder is kept.
    ch(&mut s, 'j');
    ch(&mut s, 'd');
    assert!(screen(&s, 80, 24).contains("Its outputs folder is kept on disk."));
}

fn finished(id: &str) -> orchestrator_tui::engine::EngineEvent {
    orchestrator_tui::engine::EngineEvent::RunFinished {
        run_id: id.into(),
        status: RunStatus::PartialSuccess,
        cost: Micros(421_300),
        reason: None,
    }
}

#[test]
fn ctrl_c_in_the_quit_dialog_quits_at_once_as_cancelled_by_the_user() {
    let ctrl_c = || KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    let mut s = fixtures::state();
    assert!(update(&mut s, Msg::Key(ctrl_c())).is_empty());
    assert!(matches!(s.overlay, Overlay::Confirm(Confirm::Quit)));
    assert_eq!(
        update(&mut s, Msg::Key(ctrl_c())),
        vec![Effect::Quit {
            cancel_active: true
        }]
    );
    assert!(s.stopping && s.quit_cancelled);
    // `q` then `y` is the same quit: runs cancelled, reported like a headless Ctrl-C.
    let mut s = fixtures::state();
    ch(&mut s, 'q');
    assert_eq!(
        ch(&mut s, 'y'),
        vec![Effect::Quit {
            cancel_active: true
        }]
    );
    assert!(s.quit_cancelled);
    // Nothing running: q quits plainly (exit 0), nothing was cancelled.
    let mut s = fixtures::state();
    s.active.clear();
    ch(&mut s, 'q');
    assert!(!s.quit_cancelled);
    // Ctrl-C over the delete dialog closes it and asks to quit.
    let mut s = fixtures::state();
    ch(&mut s, 'j');
    ch(&mut s, 'd');
    update(&mut s, Msg::Key(ctrl_c()));
    assert!(matches!(s.overlay, Overlay::Confirm(Confirm::Quit)));
}

/// The background each built-in theme is made for.
fn theme_bg(name: &str) -> (u8, u8, u8) {
    if name == "light" {
        (255, 255, 255)
    } else {
        (0, 0, 0)
    }
}

#[test]
fn every_theme_is_legible_on_its_background() {
    for (name, _) in orchestrator_tui::tui::theme::BUILTIN {
        let theme = orchestrator_tui::tui::theme::Theme::builtin(name).expect("theme");
        let mut listing = String::new();
        for pane in [Pane::Runs, Pane::Tasks, Pane::Budget, Pane::Events] {
            let buf = buffer(&on(pane), &theme, 100, 30);
            let (report, named, hex) = style_report(&buf, theme_bg(name));
            // Colours chosen as #rrggbb meet WCAG AA for text (4.5); named colours depend on
            // the terminal's palette, so they only have to clear 3 with xterm's.
            assert!(hex >= 4.5, "{name} {pane:?}: text at {hex:.1}\n{report}");
            assert!(
                named >= 3.0,
                "{name} {pane:?}: text at {named:.1}\n{report}"
            );
            if pane == Pane::Tasks {
                listing = report;
            }
        }
        insta::assert_snapshot!(format!("fix_theme_{name}_tasks_styles"), listing);
    }
}

#[test]
fn no_color_burn_down_names_its_lines_by_marker() {
    let theme = orchestrator_tui::tui::theme::Theme::resolve("default", true).expect("mono");
    let sc = text(&buffer(&on(Pane::Budget), &theme, 120, 40));
    assert!(sc.contains("• projection $"), "{sc}");
    assert!(sc.contains("▄ cap $20.00"), "{sc}");
    // Both lines are drawn, each with its own marker.
    let body: String = sc
        .lines()
        .skip_while(|l| !l.contains("Burn-down"))
        .skip(1)
        .collect();
    assert!(body.contains('•') && body.contains('▄'), "{sc}");
    insta::assert_snapshot!("fix_budget_mono_120x40", sc);
}
