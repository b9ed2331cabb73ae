//! Lists: selection and filter of one list (`ListNav`, pure) and the table helpers every list
//! pane renders with (window, header, selected row, title with the filter).

use crate::tui::theme::Theme;
use crate::tui::widgets::line_edit::LineEdit;
use crate::tui::widgets::thousands;
use ratatui::layout::Constraint;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row};

/// Selection and filter of one list. `selected` indexes the filtered view; `key` keeps the
/// selection on the same item when the list is reloaded. The filter is edited like a shell line
/// (`/`, then the form's editing keys).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListNav {
    pub selected: usize,
    pub key: Option<String>,
    pub filter: LineEdit,
}

pub const PAGE: usize = 10;

impl ListNav {
    /// Indices of the items that pass the filter (case-insensitive substring of `text`).
    pub fn view<T>(&self, items: &[T], text: impl Fn(&T) -> String) -> Vec<usize> {
        if self.filter.is_empty() {
            return (0..items.len()).collect();
        }
        let f = self.filter.value().to_lowercase();
        items
            .iter()
            .enumerate()
            .filter(|(_, t)| text(t).to_lowercase().contains(&f))
            .map(|(i, _)| i)
            .collect()
    }

    /// Move by `delta` (clamped) within a view of `len` items.
    pub fn step(&mut self, delta: isize, len: usize) {
        if len == 0 {
            self.selected = 0;
            return;
        }
        let cur = self.selected.min(len - 1) as isize;
        self.selected = (cur + delta).clamp(0, len as isize - 1) as usize;
    }

    /// After a reload, find the selected key again (else clamp the index).
    pub fn reselect(&mut self, keys: &[String]) {
        if let Some(k) = &self.key
            && let Some(i) = keys.iter().position(|x| x == k)
        {
            self.selected = i;
            return;
        }
        self.selected = self.selected.min(keys.len().saturating_sub(1));
    }

    /// First visible row so that the selection is on screen in `height` rows.
    pub fn offset(&self, height: usize) -> usize {
        if height == 0 || self.selected < height {
            0
        } else {
            self.selected + 1 - height
        }
    }
}

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

/// ` Title (3/120) ` for list blocks: the selected position of the total, and with a filter
/// ` Title (2/5 of 120) / x `. Counts get thousands separators.
pub fn list_title(
    name: &str,
    shown: usize,
    total: usize,
    nav: &ListNav,
    t: &Theme,
) -> Line<'static> {
    let mut spans = vec![Span::styled(format!(" {name} "), t.title)];
    spans.push(Span::styled(
        format!("{} ", position(nav, shown, total)),
        t.muted,
    ));
    if !nav.filter.is_empty() {
        spans.push(Span::styled(format!("/ {} ", nav.filter.value()), t.accent));
    }
    Line::from(spans)
}

/// `(3/120)`, or `(2/5 of 120)` when a filter shows 5 of 120; `(0/0)` when empty.
pub fn position(nav: &ListNav, shown: usize, total: usize) -> String {
    let pos = if shown == 0 {
        0
    } else {
        nav.selected.min(shown - 1) + 1
    };
    let n = |x: usize| thousands(x as u64);
    if shown == total {
        format!("({}/{})", n(pos), n(total))
    } else {
        format!("({}/{} of {})", n(pos), n(shown), n(total))
    }
}

/// A dim one-line message inside an empty list.
pub fn empty(text: &str, style: Style) -> Line<'static> {
    Line::from(Span::styled(text.to_string(), style))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nav_filters_steps_and_reselects() {
        let items = vec!["alpha", "beta", "gamma", "delta"];
        let mut n = ListNav {
            filter: "TA".into(),
            ..Default::default()
        };
        assert_eq!(n.view(&items, |s| s.to_string()), vec![1, 3]);
        n.step(5, 2);
        assert_eq!(n.selected, 1);
        n.step(-9, 2);
        assert_eq!(n.selected, 0);
        n.key = Some("c".into());
        n.reselect(&["a".into(), "b".into(), "c".into()]);
        assert_eq!(n.selected, 2);
        assert_eq!(n.offset(2), 1);
        assert_eq!(n.offset(3), 0);
    }

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

    #[test]
    fn position_counts_from_one_with_separators() {
        let mut n = ListNav::default();
        assert_eq!(position(&n, 0, 0), "(0/0)");
        n.selected = 11;
        assert_eq!(position(&n, 1200, 1200), "(12/1,200)");
        assert_eq!(position(&n, 5, 1200), "(5/5 of 1,200)");
    }
}
