//! Ctrl-Z suspends from inside popups and forms too (issue 18 "Act"), not only from the panes:
//! the popup, the half-typed text and the cursor are there again after `fg`, and its keys work
//! on. In process for every modal screen; in tmux for the new-run form on the real binary.

use super::e2e::{Tmux, have_tmux, tui_command};
use crate::support::binary::Env;
use crate::support::tui_fixtures as fixtures;
use crate::support::tui_testkit as testkit;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use orchestrator_tui::tui::action::{Action, Effect, Msg, Outputs, Pane};
use orchestrator_tui::tui::app::{Overlay, State, update};
use testkit::*;

fn ctrl_z(s: &mut State) -> Vec<Effect> {
    update(
        s,
        Msg::Key(KeyEvent::new(KeyCode::Char('z'), KeyModifiers::CONTROL)),
    )
}

/// Ctrl-Z on this screen suspends and leaves the screen as it was.
fn suspends_and_keeps(s: &mut State, what: &str) {
    let (overlay, text) = (s.overlay.clone(), screen(s, 120, 40));
    assert_eq!(ctrl_z(s), vec![Effect::Suspend], "{what}");
    assert_eq!(s.overlay, overlay, "{what}: the popup changed");
    assert_eq!(screen(s, 120, 40), text, "{what}: the screen changed");
}

#[test]
fn ctrl_z_suspends_from_every_popup_and_form_and_leaves_it_open() {
    let mut s = fixtures::state();
    // The new-run form with text and the cursor inside it.
    ch(&mut s, 'n');
    typed(&mut s, "Build a todo app");
    key(&mut s, KeyCode::Left);
    suspends_and_keeps(&mut s, "form");
    typed(&mut s, "!");
    let Overlay::Form(f) = &s.overlay else {
        panic!("the form closed")
    };
    assert_eq!(
        f.fields[0], "Build a todo ap!p",
        "typing goes on at the cursor"
    );
    key(&mut s, KeyCode::Esc);
    // Confirmations: quit with a run active, delete.
    update(&mut s, Msg::Action(Action::Quit));
    assert!(matches!(s.overlay, Overlay::Confirm(_)));
    suspends_and_keeps(&mut s, "quit confirmation");
    ch(&mut s, 'n');
    assert_eq!(s.overlay, Overlay::None, "n still answers the dialog");
    update(&mut s, Msg::Action(Action::Down));
    ch(&mut s, 'd');
    assert!(matches!(s.overlay, Overlay::Confirm(_)));
    suspends_and_keeps(&mut s, "delete confirmation");
    key(&mut s, KeyCode::Esc);
    // Help, scrolled.
    ch(&mut s, '?');
    ch(&mut s, 'j');
    suspends_and_keeps(&mut s, "help");
    key(&mut s, KeyCode::Esc);
    // The filter, half typed.
    ch(&mut s, '/');
    typed(&mut s, "hai");
    suspends_and_keeps(&mut s, "filter");
    typed(&mut s, "ku");
    assert_eq!(s.panes.runs.nav.filter.value(), "haiku");
    key(&mut s, KeyCode::Esc);
    // The outputs popup.
    update(
        &mut s,
        Msg::Outputs(Outputs {
            run_id: "r-7f3a9c".into(),
            dir: "/tmp/out".into(),
            files: vec![("main.py".into(), Some("t1".into()))],
            selected: 0,
        }),
    );
    assert!(matches!(s.overlay, Overlay::Outputs(_)));
    suspends_and_keeps(&mut s, "outputs");
    key(&mut s, KeyCode::Esc);
    // The Analysis pane's path prompt.
    update(&mut s, Msg::Action(Action::GoPane(Pane::Analysis)));
    ch(&mut s, 'a');
    assert!(matches!(s.overlay, Overlay::Prompt(_)));
    suspends_and_keeps(&mut s, "analysis prompt");
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.overlay, Overlay::None);
}

#[test]
fn help_says_ctrl_z_works_in_popups() {
    let mut s = fixtures::state();
    ch(&mut s, '?');
    for _ in 0..40 {
        ch(&mut s, 'j');
    }
    let mut seen = false;
    for _ in 0..80 {
        seen |= screen(&s, 120, 40).contains("suspend (fg resumes), in popups too");
        ch(&mut s, 'k');
    }
    assert!(seen, "the help names Ctrl-Z in popups");
}

/// The real binary: Ctrl-Z in the new-run form gives the shell the terminal; `fg` brings the
/// form back with its text, and Esc and `q` work on.
#[test]
fn ctrl_z_in_the_form_suspends_and_fg_brings_the_form_back() {
    if !have_tmux() {
        return;
    }
    let env = Env::new("[simulated]\nlatency_ms_min = 0\nlatency_ms_max = 20\n");
    let t = Tmux::start("ctrlzform", "env PS1='$ ' bash --norc --noprofile -i");
    t.wait_for("$");
    // The binary alone (job control stops the whole foreground job, so no `; echo ...`).
    let full = tui_command(&env.data(), &env.config);
    let cmd = full.split("; echo").next().unwrap_or(&full).to_string();
    t.text(&cmd);
    t.keys(&["Enter"]);
    t.wait_for("No runs yet");
    t.keys(&["n"]);
    t.wait_for("New run");
    t.text("Write a limerick");
    t.wait_for("Write a limerick");
    t.keys(&["C-z"]);
    t.wait_for("Stopped");
    assert_eq!(t.query("#{alternate_on}"), "0", "the shell has the screen");
    t.text("fg");
    t.keys(&["Enter"]);
    t.wait("the form to come back", |s| {
        s.contains("New run") && s.contains("Write a limerick")
    });
    assert_eq!(t.query("#{alternate_on}"), "1");
    t.text(" now");
    t.wait_for("Write a limerick now");
    t.keys(&["Escape"]);
    t.wait("the form to close", |s| !s.contains("New run"));
    t.keys(&["q"]);
    t.wait("the shell after the TUI", |s| {
        s.contains("$") && !s.contains("No runs yet")
    });
    t.text("echo EXIT=$?");
    t.keys(&["Enter"]);
    t.wait_for("EXIT=0");
    assert_eq!(t.query("#{alternate_on}"), "0");
}
