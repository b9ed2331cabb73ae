//! Issue 18, "Act": the keys that act on runs, caps, breakers and outputs, in the pure `update`
//! with the screen drawn on a `TestBackend`: `c` cancel (y confirms, never Enter), `b` raise a
//! cap (form, then confirm), `r` after `budget_exhausted` (resume with a new budget), `x` reset,
//! `o` outputs popup and `e` editor, Ctrl-Z, shell-like form fields, and the mouse.

use crate::support::tui_fixtures as fixtures;
use crate::support::tui_testkit as testkit;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use orchestrator_tui::domain::Micros;
use orchestrator_tui::tui::action::{Effect, Msg, Outputs, Pane};
use orchestrator_tui::tui::app::{Confirm, Overlay, State, update};
use orchestrator_tui::tui::widgets::form::{CapChange, CapLevel, FormKind};
use testkit::*;

fn ctrl(s: &mut State, c: char) -> Vec<Effect> {
    update(
        s,
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)),
    )
}

fn alt(s: &mut State, c: char) -> Vec<Effect> {
    update(
        s,
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::ALT)),
    )
}

/// Select the run `id` in the Runs pane.
fn select_run(s: &mut State, id: &str) {
    ch(s, '1');
    key(s, KeyCode::Home);
    for _ in 0..s.runs.len() {
        if s.selected_run().map(|r| r.id.as_str()) == Some(id) {
            return;
        }
        key(s, KeyCode::Down);
    }
    panic!("run {id} not in the list");
}

fn field(s: &State) -> String {
    match &s.overlay {
        Overlay::Form(f) => f.fields[f.focus.min(f.fields.len() - 1)]
            .value()
            .to_string(),
        other => panic!("no form open: {other:?}"),
    }
}

#[test]
fn c_asks_then_cancels_the_selected_run_and_enter_never_confirms() {
    let mut s = fixtures::state();
    select_run(&mut s, "r-7f3a9c");
    assert!(ch(&mut s, 'c').is_empty());
    assert_eq!(
        s.overlay,
        Overlay::Confirm(Confirm::Cancel("r-7f3a9c".into()))
    );
    let text = screen(&s, 80, 24);
    assert!(text.contains("Cancel run r-7f3a9c?"), "{text}");
    assert!(text.contains("partial_success"), "{text}");
    // Enter does nothing to a confirmation; n and Esc say no.
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert_eq!(
        s.overlay,
        Overlay::Confirm(Confirm::Cancel("r-7f3a9c".into()))
    );
    assert!(ch(&mut s, 'n').is_empty());
    assert_eq!(s.overlay, Overlay::None);
    ch(&mut s, 'c');
    assert!(key(&mut s, KeyCode::Esc).is_empty());
    assert_eq!(s.overlay, Overlay::None);
    ch(&mut s, 'c');
    assert_eq!(ch(&mut s, 'y'), vec![Effect::CancelRun("r-7f3a9c".into())]);
    // The app keeps running: nothing quits.
    assert!(!s.stopping);
    // The runner's answer is shown and the data reloaded.
    let fx = update(
        &mut s,
        Msg::Done("cancel sent to the process driving run r-7f3a9c".into()),
    );
    assert_eq!(fx, vec![Effect::Refresh]);
    assert!(screen(&s, 120, 40).contains("cancel sent to the process driving"));
}

#[test]
fn c_on_a_stopped_run_says_there_is_nothing_to_cancel() {
    let mut s = fixtures::state();
    select_run(&mut s, "r-c0ffee");
    assert!(ch(&mut s, 'c').is_empty());
    assert_eq!(s.overlay, Overlay::None);
    assert!(screen(&s, 120, 40).contains("not running, nothing to cancel"));
    // The Tasks pane's `c` cancels the open run.
    ch(&mut s, '2');
    ch(&mut s, 'c');
    assert_eq!(
        s.overlay,
        Overlay::Confirm(Confirm::Cancel("r-7f3a9c".into()))
    );
}

#[test]
fn b_on_a_refused_run_raises_the_binding_cap_after_a_confirmation() {
    let mut s = fixtures::state();
    select_run(&mut s, "r-aa01b2");
    assert!(ch(&mut s, 'b').is_empty());
    let Overlay::Form(f) = &s.overlay else {
        panic!("{:?}", s.overlay)
    };
    let FormKind::RaiseCap { targets, choice } = &f.kind else {
        panic!("{:?}", f.kind)
    };
    // Run, its team and the org; the team (least room left) is chosen and its cap doubled.
    let levels: Vec<String> = targets.iter().map(|t| t.level.label()).collect();
    assert_eq!(levels, ["run r-aa01b2", "team web", "org"]);
    assert_eq!(targets[*choice].level, CapLevel::Team("web".into()));
    assert_eq!(field(&s), "6.00");
    let text = screen(&s, 80, 24);
    assert!(text.contains("Raise a budget cap"), "{text}");
    assert!(text.contains("‹team web›"), "{text}");
    // A clear error for a bad amount, and for one that cannot help.
    ctrl(&mut s, 'u');
    typed(&mut s, "lots");
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert!(screen(&s, 80, 24).contains("new cap: `lots` is not an amount in USD"));
    ctrl(&mut s, 'u');
    typed(&mut s, "2");
    key(&mut s, KeyCode::Enter);
    assert!(screen(&s, 120, 40).contains("spent at team web"));
    // The level row: ← goes to the run's own cap.
    key(&mut s, KeyCode::Up);
    key(&mut s, KeyCode::Left);
    assert_eq!(
        match &s.overlay {
            Overlay::Form(f) => f.fields[0].value().to_string(),
            _ => String::new(),
        },
        "16.00"
    );
    key(&mut s, KeyCode::Right);
    key(&mut s, KeyCode::Tab);
    ctrl(&mut s, 'u');
    typed(&mut s, "12.50");
    assert!(
        key(&mut s, KeyCode::Enter).is_empty(),
        "a form only opens the confirmation"
    );
    let change = CapChange {
        level: CapLevel::Team("web".into()),
        from: Some(Micros::from_usd(3.0)),
        to: Micros::from_usd(12.5),
        period: Some("weekly".into()),
    };
    assert_eq!(
        s.overlay,
        Overlay::Confirm(Confirm::RaiseCap(change.clone()))
    );
    let text = screen(&s, 80, 24);
    assert!(
        text.contains("Set the team web cap from $3.0000 to $12.50?"),
        "{text}"
    );
    assert!(text.contains("keeping its weekly period"), "{text}");
    assert!(
        key(&mut s, KeyCode::Enter).is_empty(),
        "Enter never confirms"
    );
    // Again, confirmed with y: applied by the runner through the engine.
    ch(&mut s, 'b');
    ctrl(&mut s, 'u');
    typed(&mut s, "12.50");
    key(&mut s, KeyCode::Enter);
    assert_eq!(ch(&mut s, 'y'), vec![Effect::SetCap(change)]);
}

#[test]
fn b_on_the_budget_pane_raises_the_selected_level() {
    let mut s = fixtures::state();
    ch(&mut s, '4');
    assert_eq!(s.pane, Pane::Budget);
    ch(&mut s, 'b');
    assert_eq!(field(&s), "40.00", "the org's $20 cap, doubled");
    typed(&mut s, "0");
    key(&mut s, KeyCode::Enter);
    let fx = ch(&mut s, 'y');
    assert_eq!(
        fx,
        vec![Effect::SetCap(CapChange {
            level: CapLevel::Org,
            from: Some(Micros::from_usd(20.0)),
            to: Micros::from_usd(40.0),
            period: Some("monthly".into()),
        })]
    );
}

#[test]
fn r_after_budget_exhausted_offers_a_new_budget_then_resumes() {
    let mut s = fixtures::state();
    select_run(&mut s, "r-aa01b2");
    assert!(ch(&mut s, 'r').is_empty(), "a form first, no resume yet");
    assert_eq!(field(&s), "16.00", "prefilled: twice its $8 budget");
    let text = screen(&s, 80, 24);
    assert!(text.contains("Resume with a new budget"), "{text}");
    assert!(text.contains("was $8.0000, spent $2.0000"), "{text}");
    ctrl(&mut s, 'u');
    typed(&mut s, "1");
    key(&mut s, KeyCode::Enter);
    assert!(screen(&s, 120, 40).contains("it would stop again"));
    ctrl(&mut s, 'u');
    typed(&mut s, "$10");
    let fx = key(&mut s, KeyCode::Enter);
    assert_eq!(
        fx,
        vec![Effect::ResumeWithBudget {
            run_id: "r-aa01b2".into(),
            budget: Micros::from_usd(10.0),
        }]
    );
    // Another resumable run resumes at once, as before.
    select_run(&mut s, "r-51be02");
    assert_eq!(ch(&mut s, 'r'), vec![Effect::ResumeRun("r-51be02".into())]);
}

#[test]
fn x_resets_the_selected_breaker_through_an_effect() {
    let mut s = fixtures::state();
    ch(&mut s, '3');
    let open = s
        .models_view()
        .iter()
        .position(|&i| s.panes.models.items[i].breaker != Default::default())
        .expect("a model with its breaker not closed");
    for _ in 0..open {
        key(&mut s, KeyCode::Down);
    }
    let model = s.selected_model().map(|m| m.id.clone()).expect("model");
    let fx = ch(&mut s, 'x');
    assert!(
        matches!(&fx[..], [Effect::ResetBreaker { model: m, .. }] if *m == model),
        "{fx:?}"
    );
}

#[test]
fn o_shows_the_output_directory_text_safe_and_e_opens_a_file() {
    let mut s = fixtures::state();
    select_run(&mut s, "r-7f3a9c");
    assert_eq!(
        ch(&mut s, 'o'),
        vec![Effect::ShowOutputs("r-7f3a9c".into())]
    );
    update(
        &mut s,
        Msg::Outputs(Outputs {
            run_id: "r-7f3a9c".into(),
            dir: "/data/outputs/r-7f3a9c\u{1b}[2J".into(),
            files: vec![
                ("t1/app.py".into(), Some("t1".into())),
                ("t2/test_app.py".into(), Some("t2".into())),
            ],
            selected: 0,
        }),
    );
    let text = screen(&s, 120, 40);
    assert!(text.contains("/data/outputs/r-7f3a9c"), "{text}");
    assert!(!text.contains('\u{1b}'), "escape sequences are stripped");
    assert!(text.contains("t2/test_app.py  (t2)"), "{text}");
    key(&mut s, KeyCode::Down);
    assert_eq!(
        ch(&mut s, 'e'),
        vec![Effect::EditArtifact {
            run_id: "r-7f3a9c".into(),
            path: Some("t2/test_app.py".into()),
            task: None,
        }]
    );
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.overlay, Overlay::None);
    // `e` in a task's detail opens the file written for that task.
    ch(&mut s, '2');
    key(&mut s, KeyCode::Enter);
    let task = s.panes.tasks.view.as_ref().map(|v| v.task_id.clone());
    assert!(task.is_some());
    assert_eq!(
        ch(&mut s, 'e'),
        vec![Effect::EditArtifact {
            run_id: "r-7f3a9c".into(),
            path: None,
            task,
        }]
    );
}

#[test]
fn ctrl_z_suspends_from_any_pane() {
    let mut s = fixtures::state();
    for pane in ['1', '2', '3', '4', '6'] {
        ch(&mut s, pane);
        assert_eq!(ctrl(&mut s, 'z'), vec![Effect::Suspend], "pane {pane}");
    }
}

#[test]
fn form_fields_edit_like_a_shell_line() {
    let mut s = fixtures::state();
    ch(&mut s, 'n');
    typed(&mut s, "build a todo app");
    alt(&mut s, 'b');
    alt(&mut s, 'b');
    typed(&mut s, "small ");
    assert_eq!(field(&s), "build a small todo app");
    key(&mut s, KeyCode::End);
    ctrl(&mut s, 'w');
    assert_eq!(field(&s), "build a small todo ");
    key(&mut s, KeyCode::Home);
    key(&mut s, KeyCode::Delete);
    typed(&mut s, "B");
    assert_eq!(field(&s), "Build a small todo ");
    // Alt-F goes to the next word's start.
    alt(&mut s, 'f');
    ctrl(&mut s, 'u');
    assert_eq!(field(&s), "a small todo ");
    // A paste goes in at the cursor, as one line.
    key(&mut s, KeyCode::Right);
    key(&mut s, KeyCode::Right);
    update(&mut s, Msg::Paste("really\n".into()));
    assert_eq!(field(&s), "a really small todo ");
    key(&mut s, KeyCode::Left);
    key(&mut s, KeyCode::Backspace);
    assert_eq!(field(&s), "a reall small todo ");
    // The cursor is drawn where it is, not at the end.
    let text = screen(&s, 80, 24);
    assert!(text.contains("a reall small todo"), "{text}");
}

fn click(s: &mut State, col: u16, row: u16) -> Vec<Effect> {
    // The hit test reads where the last frame put things.
    screen(s, 120, 40);
    update(
        s,
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: col,
            row,
            modifiers: KeyModifiers::NONE,
        }),
    )
}

fn wheel(s: &mut State, down: bool, col: u16, row: u16) -> Vec<Effect> {
    screen(s, 120, 40);
    let kind = if down {
        MouseEventKind::ScrollDown
    } else {
        MouseEventKind::ScrollUp
    };
    update(
        s,
        Msg::Mouse(MouseEvent {
            kind,
            column: col,
            row,
            modifiers: KeyModifiers::NONE,
        }),
    )
}

/// The screen row showing `needle` (first match).
fn row_of(s: &State, needle: &str) -> u16 {
    screen(s, 120, 40)
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not on screen")) as u16
}

#[test]
fn mouse_clicks_tabs_rows_and_buttons_and_the_wheel_scrolls_the_list() {
    let mut s = fixtures::state();
    // Tabs: " 1 Runs  2 Tasks  3 Models ..." from column 1.
    let text = screen(&s, 120, 40);
    let models_col = text
        .lines()
        .next()
        .and_then(|l| l.find("3 Models"))
        .expect("tab") as u16;
    click(&mut s, models_col, 0);
    assert_eq!(s.pane, Pane::Models);
    click(&mut s, 2, 0);
    assert_eq!(s.pane, Pane::Runs);
    // A row: selected; a second click on it opens it (as Enter does).
    let y = row_of(&s, "r-0d4e11");
    click(&mut s, 10, y);
    assert_eq!(s.selected_run().map(|r| r.id.as_str()), Some("r-0d4e11"));
    let fx = click(&mut s, 10, y);
    assert_eq!(fx, vec![Effect::Refresh]);
    assert_eq!(
        (s.pane, s.open_run.as_deref()),
        (Pane::Tasks, Some("r-0d4e11"))
    );
    // The wheel over the list moves its selection; over the tab bar it does nothing.
    ch(&mut s, '1');
    let before = s.panes.runs.nav.selected;
    let y = row_of(&s, "r-51be02");
    wheel(&mut s, true, 10, y);
    assert_eq!(s.panes.runs.nav.selected, before + 1);
    wheel(&mut s, false, 10, 0);
    assert_eq!(s.panes.runs.nav.selected, before + 1);
    wheel(&mut s, false, 10, y);
    assert_eq!(s.panes.runs.nav.selected, before);
    // Buttons: the cancel dialog's "y" and the form's "Esc cancel".
    select_run(&mut s, "r-7f3a9c");
    ch(&mut s, 'c');
    let y = row_of(&s, "y yes");
    let x = screen(&s, 120, 40)
        .lines()
        .nth(y as usize)
        .and_then(|l| l.find("y yes"))
        .expect("button") as u16;
    assert_eq!(
        click(&mut s, x, y),
        vec![Effect::CancelRun("r-7f3a9c".into())]
    );
    ch(&mut s, 'n');
    assert!(matches!(s.overlay, Overlay::Form(_)));
    let y = row_of(&s, "Esc cancel");
    let x = screen(&s, 120, 40)
        .lines()
        .nth(y as usize)
        .and_then(|l| l.find("Esc cancel").map(|b| l[..b].chars().count()))
        .expect("button") as u16;
    click(&mut s, x + 1, y);
    assert_eq!(s.overlay, Overlay::None, "the Esc button closed the form");
}

#[test]
fn help_and_footer_list_the_new_keys_for_the_pane() {
    let mut s = fixtures::state();
    ch(&mut s, '1');
    let foot = screen(&s, 120, 40);
    assert!(foot.contains("c cancel"), "{foot}");
    assert!(foot.contains("q/Ctrl-C quit"), "{foot}");
    ch(&mut s, '?');
    let help = screen(&s, 120, 60);
    // Contextual: the pane's own keys come first.
    let first = help
        .lines()
        .skip_while(|l| !l.contains("Help —"))
        .skip(1)
        .find(|l| l.contains("Runs") || l.contains("Everywhere"));
    assert!(first.is_some_and(|l| l.contains("Runs")), "{help}");
    for k in [
        "cancel run",
        "raise a budget cap",
        "output directory",
        "suspend (fg resumes)",
    ] {
        assert!(help.contains(k), "{k} missing from help:\n{help}");
    }
    key(&mut s, KeyCode::Esc);
    // At 80 columns the footer still has help and the pane's first keys.
    let narrow = screen(&s, 80, 24);
    let last = narrow.lines().nth(23).unwrap_or_default().to_string();
    assert!(last.contains("? help"), "{last}");
    ch(&mut s, '4');
    assert!(screen(&s, 120, 40).contains("b raise this cap"));
}

#[test]
fn the_analysis_path_prompt_edits_like_a_shell_line_too() {
    let mut s = fixtures::state();
    s.panes.analysis.cwd = "/home/dev/project".into();
    ch(&mut s, '5');
    ch(&mut s, 'a');
    let value = |s: &State| match &s.overlay {
        Overlay::Prompt(p) => p.value().to_string(),
        other => panic!("no prompt: {other:?}"),
    };
    assert_eq!(value(&s), "/home/dev/project");
    ctrl(&mut s, 'w');
    assert_eq!(value(&s), "/home/dev/");
    key(&mut s, KeyCode::Home);
    key(&mut s, KeyCode::Delete);
    typed(&mut s, "~");
    // Alt-F: to the start of the next word (`dev`); `/` is not a word.
    alt(&mut s, 'f');
    update(&mut s, Msg::Paste("x".into()));
    key(&mut s, KeyCode::End);
    typed(&mut s, "app");
    assert_eq!(value(&s), "~home/xdev/app");
    let fx = key(&mut s, KeyCode::Enter);
    assert_eq!(fx, vec![Effect::Analyze("~home/xdev/app".into())]);
}
