//! The `/` filter edits like a shell line (issue 18), as the forms and the path prompt do: cursor
//! left/right, Home/End (Ctrl-A/E), Alt-B/F (Ctrl-←/→), Delete, Ctrl-U, Ctrl-W, and text goes in
//! at the cursor. The list follows the text as it changes; the status bar shows the cursor.

use crate::support::tui_fixtures as fixtures;
use crate::support::tui_testkit as testkit;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use orchestrator_tui::tui::action::{Action, Msg, Pane};
use orchestrator_tui::tui::app::{Overlay, State, update};
use orchestrator_tui::tui::theme::Theme;
use ratatui::style::Modifier;
use testkit::*;

fn with(s: &mut State, code: KeyCode, mods: KeyModifiers) {
    assert!(
        update(s, Msg::Key(KeyEvent::new(code, mods))).is_empty(),
        "{code:?} {mods:?} had an effect"
    );
}

fn ctrl(s: &mut State, c: char) {
    with(s, KeyCode::Char(c), KeyModifiers::CONTROL);
}

fn alt(s: &mut State, c: char) {
    with(s, KeyCode::Char(c), KeyModifiers::ALT);
}

/// (filter text, cursor) of the Runs pane.
fn filter(s: &State) -> (String, usize) {
    let f = &s.panes.runs.nav.filter;
    (f.value().to_string(), f.cursor())
}

fn shown(s: &State) -> Vec<String> {
    s.runs_view()
        .iter()
        .map(|i| s.runs[*i].id.clone())
        .collect()
}

#[test]
fn the_filter_line_moves_inserts_and_deletes_like_a_shell() {
    let mut s = fixtures::state();
    ch(&mut s, '/');
    assert_eq!(s.overlay, Overlay::Filter);
    typed(&mut s, "todo app");
    assert_eq!(filter(&s), ("todo app".into(), 8));
    assert_eq!(shown(&s), ["r-7f3a9c"]);
    // Left x3, then text goes in at the cursor (and the list follows it).
    for _ in 0..3 {
        key(&mut s, KeyCode::Left);
    }
    ch(&mut s, 'x');
    assert_eq!(filter(&s), ("todo xapp".into(), 6));
    assert!(shown(&s).is_empty());
    key(&mut s, KeyCode::Backspace);
    assert_eq!(filter(&s), ("todo app".into(), 5));
    assert_eq!(shown(&s), ["r-7f3a9c"]);
    key(&mut s, KeyCode::Right);
    assert_eq!(filter(&s).1, 6);
    // Home/End and their Ctrl forms.
    key(&mut s, KeyCode::Home);
    assert_eq!(filter(&s).1, 0);
    ctrl(&mut s, 'e');
    assert_eq!(filter(&s).1, 8);
    ctrl(&mut s, 'a');
    assert_eq!(filter(&s).1, 0);
    key(&mut s, KeyCode::End);
    assert_eq!(filter(&s).1, 8);
    // Words: Alt-B back to "app", again to "todo"; Alt-F forward past "todo".
    alt(&mut s, 'b');
    assert_eq!(filter(&s).1, 5);
    alt(&mut s, 'b');
    assert_eq!(filter(&s).1, 0);
    alt(&mut s, 'f');
    let after_word = filter(&s).1;
    assert!((4..=5).contains(&after_word), "{after_word}");
    with(&mut s, KeyCode::Left, KeyModifiers::CONTROL);
    assert_eq!(filter(&s).1, 0);
    with(&mut s, KeyCode::Right, KeyModifiers::CONTROL);
    assert_eq!(filter(&s).1, after_word);
    // Delete takes the character under the cursor.
    key(&mut s, KeyCode::Home);
    key(&mut s, KeyCode::Delete);
    assert_eq!(filter(&s), ("odo app".into(), 0));
    // Ctrl-W: the word before the cursor; Ctrl-U: everything before it.
    key(&mut s, KeyCode::End);
    ctrl(&mut s, 'w');
    assert_eq!(filter(&s), ("odo ".into(), 4));
    typed(&mut s, "a");
    key(&mut s, KeyCode::Left);
    ctrl(&mut s, 'u');
    assert_eq!(filter(&s), ("a".into(), 0));
    // Enter keeps the filter; `/` opens it again with the cursor where it was.
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.overlay, Overlay::None);
    assert_eq!(filter(&s).0, "a");
    ch(&mut s, '/');
    key(&mut s, KeyCode::End);
    typed(&mut s, "udit");
    assert_eq!(filter(&s).0, "audit");
    // Esc clears it.
    key(&mut s, KeyCode::Esc);
    assert_eq!(
        (s.overlay.clone(), filter(&s)),
        (Overlay::None, (String::new(), 0))
    );
    assert_eq!(shown(&s).len(), 6);
}

#[test]
fn the_status_bar_shows_the_cursor_and_the_filter_keys_stay_in_view() {
    let mut s = fixtures::state();
    ch(&mut s, '/');
    typed(&mut s, "haiku");
    key(&mut s, KeyCode::Home);
    let theme = Theme::builtin("default").expect("theme");
    let buf = buffer(&s, &theme, 80, 24);
    let bottom = text(&buf).lines().last().unwrap_or_default().to_string();
    assert!(bottom.starts_with(" / haiku"), "{bottom}");
    assert!(bottom.contains("Enter keep filter"), "{bottom}");
    // The cursor cell (on `h`, column 3) is drawn reversed; the others are not.
    assert_eq!(buf[(3, 23)].symbol(), "h");
    assert!(buf[(3, 23)].modifier.contains(Modifier::REVERSED));
    assert!(!buf[(4, 23)].modifier.contains(Modifier::REVERSED));
    // At the end of the text the cursor is a bar after it.
    key(&mut s, KeyCode::End);
    let bottom = screen(&s, 80, 24)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    assert!(bottom.starts_with(" / haiku▏"), "{bottom}");
    // A filter longer than the room shows the part around the cursor.
    typed(&mut s, &" about circuit breakers".repeat(4));
    let bottom = screen(&s, 80, 24)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    assert!(bottom.contains("breakers▏"), "{bottom}");
    assert!(bottom.contains("Enter keep filter"), "{bottom}");
}

#[test]
fn every_filtered_pane_edits_its_filter_the_same_way() {
    for pane in [Pane::Tasks, Pane::Models, Pane::Analysis, Pane::Events] {
        let mut s = fixtures::state();
        update(&mut s, Msg::Action(Action::GoPane(pane)));
        ch(&mut s, '/');
        typed(&mut s, "one two");
        ctrl(&mut s, 'w');
        alt(&mut s, 'b');
        typed(&mut s, ">");
        let nav = s.pane.nav(&s.panes).expect("a filtered list");
        assert_eq!(nav.filter.value(), ">one ", "{pane:?}");
    }
}
