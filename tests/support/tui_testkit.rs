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

/// An approximate RGB for a terminal colour: xterm's default palette for the 16 named ones
/// (terminals differ; this is an estimate), exact for `#rrggbb`, `None` for the default colour.
pub fn rgb(c: ratatui::style::Color) -> Option<(u8, u8, u8)> {
    use ratatui::style::Color::*;
    Some(match c {
        Reset => return None,
        Black => (0, 0, 0),
        Red => (205, 0, 0),
        Green => (0, 205, 0),
        Yellow => (205, 205, 0),
        Blue => (0, 0, 238),
        Magenta => (205, 0, 205),
        Cyan => (0, 205, 205),
        Gray => (229, 229, 229),
        DarkGray => (127, 127, 127),
        LightRed => (255, 0, 0),
        LightGreen => (0, 255, 0),
        LightYellow => (255, 255, 0),
        LightBlue => (92, 92, 255),
        LightMagenta => (255, 0, 255),
        LightCyan => (0, 255, 255),
        White => (255, 255, 255),
        Rgb(r, g, b) => (r, g, b),
        Indexed(_) => return None,
    })
}

/// WCAG contrast ratio of two colours (1 to 21).
pub fn contrast(a: (u8, u8, u8), b: (u8, u8, u8)) -> f64 {
    let lum = |(r, g, b): (u8, u8, u8)| {
        let ch = |v: u8| {
            let c = v as f64 / 255.0;
            if c <= 0.03928 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b)
    };
    let (x, y) = (lum(a), lum(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

/// Every style drawn on the screen with a sample of its text and, for coloured text, its
/// contrast against the cell background (`bg`: the terminal's when the cell sets none), as
/// `(listing, lowest contrast of text in a named colour, lowest of text in a #rrggbb colour)`.
pub fn style_report(buf: &Buffer, bg: (u8, u8, u8)) -> (String, f64, f64) {
    use std::collections::BTreeMap;
    let mut seen: BTreeMap<String, (String, Option<f64>)> = BTreeMap::new();
    let (mut named, mut hex) = (21.0f64, 21.0f64);
    for c in buf.content() {
        let sym = c.symbol();
        let key = format!("fg={:?} bg={:?} {:?}", c.fg, c.bg, c.modifier);
        let ratio = rgb(c.fg).map(|f| contrast(f, rgb(c.bg).unwrap_or(bg)));
        let e = seen.entry(key).or_insert_with(|| (String::new(), ratio));
        let letter = sym
            .chars()
            .any(|ch| ch.is_alphanumeric() || ch == '?' || ch == '$');
        if letter && let Some(r) = ratio {
            if matches!(c.fg, ratatui::style::Color::Rgb(..)) {
                hex = hex.min(r);
            } else {
                named = named.min(r);
            }
        }
        if e.0.chars().count() < 40 && !(sym == " " && e.0.ends_with(' ')) {
            e.0.push_str(sym);
        }
    }
    let mut out = String::new();
    for (k, (sample, ratio)) in seen {
        let r = ratio.map_or("-".into(), |r| format!("{r:.1}"));
        out.push_str(&format!("{k} contrast {r}: {:?}\n", sample.trim()));
    }
    (out, named, hex)
}
