//! One render-only widget per pane. Each borrows the state and the theme; none reads the clock
//! (elapsed times use `State::now_ms`).

pub mod analysis;
pub mod budget;
pub mod events;
pub mod models;
pub mod runs;
pub mod tasks;

use super::state::ListNav;
use super::theme::Theme;
use ratatui::layout::Constraint;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row};

/// The rows of a list that fit in `height`, with the selection visible: (first index, count).
pub fn window(nav: &ListNav, len: usize, height: usize) -> (usize, usize) {
    let off = nav.offset(height).min(len.saturating_sub(height.min(len)));
    (off, height.min(len - off.min(len)))
}

/// Header row from titles.
pub fn header<'a>(titles: &[&'a str], t: &Theme) -> Row<'a> {
    Row::new(titles.iter().map(|h| Cell::from(*h))).style(t.header)
}

/// A table row with the selection marker and style.
pub fn row<'a>(cells: Vec<Cell<'a>>, selected: bool, t: &Theme) -> Row<'a> {
    let marker = if selected { "›" } else { " " };
    let mut all = vec![Cell::from(Span::styled(marker, t.accent))];
    all.extend(cells);
    let r = Row::new(all);
    if selected { r.style(t.selected) } else { r }
}

/// Column widths including the marker column.
pub fn widths(cols: &[Constraint]) -> Vec<Constraint> {
    let mut v = vec![Constraint::Length(1)];
    v.extend_from_slice(cols);
    v
}

/// ` Title (n) · filter: x ` for list blocks.
pub fn list_title(
    name: &str,
    shown: usize,
    total: usize,
    nav: &ListNav,
    t: &Theme,
) -> Line<'static> {
    let mut spans = vec![Span::styled(format!(" {name} "), t.title)];
    if nav.filter.is_empty() {
        spans.push(Span::styled(format!("({total}) "), t.muted));
    } else {
        spans.push(Span::styled(format!("({shown} of {total}) "), t.muted));
        spans.push(Span::styled(format!("/ {} ", nav.filter), t.accent));
    }
    Line::from(spans)
}

/// A dim one-line message inside an empty list.
pub fn empty(text: &str, style: Style) -> Line<'static> {
    Line::from(Span::styled(text.to_string(), style))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_keeps_selection_visible() {
        let mut n = ListNav::default();
        assert_eq!(window(&n, 100, 10), (0, 10));
        n.selected = 25;
        assert_eq!(window(&n, 100, 10), (16, 10));
        n.selected = 99;
        assert_eq!(window(&n, 100, 10), (90, 10));
        assert_eq!(window(&n, 3, 10), (0, 3));
        assert_eq!(window(&n, 0, 10), (0, 0));
        assert_eq!(window(&n, 5, 0), (0, 0));
    }
}
