//! Render snapshots of every pane (TestBackend) with fixture data at 120x40 and 80x24, the popups,
//! a tiny terminal that must not panic, and the NO_COLOR (mono) theme.

use crate::support::tui_fixtures as fixtures;
use crate::support::tui_testkit as testkit;
use orchestrator_tui::tui::action::{Action, Msg, Pane};
use orchestrator_tui::tui::app::{State, update};
use orchestrator_tui::tui::theme::Theme;
use testkit::*;

fn on(pane: Pane) -> State {
    let mut s = fixtures::state();
    update(&mut s, Msg::Action(Action::GoPane(pane)));
    s
}

macro_rules! pane_snapshots {
    ($($name:ident => $pane:expr),* $(,)?) => {$(
        #[test]
        fn $name() {
            let s = on($pane);
            insta::assert_snapshot!(concat!(stringify!($name), "_120x40"), screen(&s, 120, 40));
            insta::assert_snapshot!(concat!(stringify!($name), "_80x24"), screen(&s, 80, 24));
        }
    )*};
}

pane_snapshots! {
    runs => Pane::Runs,
    tasks => Pane::Tasks,
    models => Pane::Models,
    budget => Pane::Budget,
    analysis => Pane::Analysis,
    events => Pane::Events,
}

#[test]
fn task_detail() {
    let mut s = on(Pane::Tasks);
    update(&mut s, Msg::Action(Action::Down));
    update(&mut s, Msg::Action(Action::Open));
    let mut snap = fixtures::snapshot();
    snap.history = None;
    snap.attempts = Some(fixtures::attempts());
    update(&mut s, Msg::Snapshot(Box::new(snap)));
    insta::assert_snapshot!("task_detail_120x40", screen(&s, 120, 40));
}

#[test]
fn popups() {
    let mut s = on(Pane::Runs);
    update(&mut s, Msg::Action(Action::Help));
    insta::assert_snapshot!("help_120x40", screen(&s, 120, 40));
    let mut s = on(Pane::Models);
    update(&mut s, Msg::Action(Action::NewRun));
    for c in "Build a todo app".chars() {
        update(
            &mut s,
            Msg::Key(crossterm::event::KeyEvent::from(
                crossterm::event::KeyCode::Char(c),
            )),
        );
    }
    insta::assert_snapshot!("form_80x24", screen(&s, 80, 24));
    let mut s = on(Pane::Runs);
    update(&mut s, Msg::Action(Action::Quit));
    insta::assert_snapshot!("confirm_quit_80x24", screen(&s, 80, 24));
}

#[test]
fn empty_store() {
    let mut s = State::new(fixtures::NOW_MS, 8.0, true);
    update(&mut s, Msg::Snapshot(Box::default()));
    insta::assert_snapshot!("empty_runs_80x24", screen(&s, 80, 24));
}

#[test]
fn tiny_terminal_does_not_panic() {
    for pane in Pane::ALL {
        let s = on(pane);
        for (w, h) in [(30, 8), (79, 24), (80, 23)] {
            let out = screen(&s, w, h);
            assert!(out.contains("too small"), "{w}x{h}: {out}");
        }
        for (w, h) in [(1, 1), (0, 0), (2, 30), (200, 1)] {
            screen(&s, w, h);
        }
    }
    insta::assert_snapshot!("tiny_30x8", screen(&on(Pane::Runs), 30, 8));
}

#[test]
fn no_color_theme_is_monochrome() {
    let theme = Theme::resolve("default", true).expect("mono");
    assert_eq!(theme.name, "mono");
    for pane in Pane::ALL {
        let buf = buffer(&on(pane), &theme, 120, 40);
        for c in buf.content() {
            assert_eq!(c.fg, ratatui::style::Color::Reset, "{pane:?} has a colour");
            assert_eq!(c.bg, ratatui::style::Color::Reset, "{pane:?} has a colour");
        }
    }
    let buf = buffer(&on(Pane::Models), &theme, 120, 40);
    insta::assert_snapshot!("models_mono_120x40", text(&buf));
    insta::assert_debug_snapshot!(
        "models_mono_styles_80x24",
        buffer(&on(Pane::Models), &theme, 80, 24)
    );
}
