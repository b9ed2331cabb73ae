//! Helpers for tests and benches of the TUI: render a state to text on a `TestBackend`, and feed
//! keys to the pure `update`. Not used by the application itself.
#![allow(dead_code)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use orchestrator_tui::tui::action::{Effect, Msg};
use orchestrator_tui::tui::app::{State, update};
use orchestrator_tui::tui::theme::Theme;
use orchestrator_tui::tui::view::Screen;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

/// Draw `s` with `theme` on a `w` x `h` test terminal.
pub fn buffer(s: &State, theme: &Theme, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    term.draw(|f| f.render_widget(Screen { state: s, theme }, f.area()))
        .expect("draw");
    term.backend().buffer().clone()
}

/// The screen as text, one line per row, trailing spaces trimmed.
pub fn text(buf: &Buffer) -> String {
    let a = buf.area;
    let mut out = String::new();
    for y in 0..a.height {
        let mut line = String::new();
        for x in 0..a.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `s` drawn with the default theme, as text.
pub fn screen(s: &State, w: u16, h: u16) -> String {
    text(&buffer(
        s,
        &Theme::builtin("default").expect("default theme"),
        w,
        h,
    ))
}

/// One key press (no modifiers) through `update`.
pub fn key(s: &mut State, code: KeyCode) -> Vec<Effect> {
    update(s, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

/// One character key through `update`.
pub fn ch(s: &mut State, c: char) -> Vec<Effect> {
    key(s, KeyCode::Char(c))
}

/// Type `text` into a focused input: every key must be absorbed without an effect.
pub fn typed(s: &mut State, text: &str) {
    for c in text.chars() {
        assert!(ch(s, c).is_empty(), "typing {c:?} had an effect");
    }
}
