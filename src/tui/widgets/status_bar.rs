//! The bottom line: the open run (id, state, spend vs budget), a transient message, and key hints
//! generated from the keymap for the current context (the same data as the `?` popup).

use super::format_budget;
use super::{fit, run_status_span, usd};
use crate::tui::panes::Pane;
use crate::tui::state::{Overlay, State};
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub struct StatusBar<'a> {
    pub state: &'a State,
    pub theme: &'a Theme,
}

/// Columns the filter leaves for its hints (`Enter keep filter  Esc clear filter`).
const FILTER_HINTS: usize = 40;

fn width(spans: &[Span]) -> usize {
    spans.iter().map(|s| s.content.chars().count()).sum()
}

impl StatusBar<'_> {
    /// `width`: the whole bar's, so the filter leaves room for its key hints.
    fn left(&self, width: usize) -> Vec<Span<'static>> {
        let (s, t) = (self.state, self.theme);
        if s.overlay == Overlay::Filter {
            // The part of the filter around its cursor (edited like a shell line).
            let mut out = vec![Span::styled(" / ", t.accent)];
            if let Some(n) = s.pane.nav(&s.panes) {
                let (shown, col) = n.filter.window(width.saturating_sub(FILTER_HINTS).max(8));
                out.extend(super::form::cursor_spans(&shown, col, t));
            }
            return out;
        }
        let mut out = vec![Span::raw(" ")];
        if let Some(d) = &s.detail {
            out.push(Span::styled(d.id.clone(), t.title));
            out.push(Span::raw(" "));
            out.push(run_status_span(d.status, t));
            out.push(Span::raw(format!(
                " {}/{}",
                usd(d.spent),
                format_budget(d.budget)
            )));
        } else if let Some(r) = s
            .open_run
            .as_ref()
            .and_then(|id| s.runs.iter().find(|r| &r.id == id))
        {
            out.push(Span::styled(r.id.clone(), t.title));
            out.push(Span::raw(" "));
            out.push(run_status_span(r.status, t));
            out.push(Span::raw(format!(
                " {}/{}",
                usd(r.spent),
                format_budget(r.budget)
            )));
        } else {
            out.push(Span::styled("no run open", t.muted));
        }
        // The Runs pane lists only this user's runs on this host (`m`).
        if s.pane == Pane::Runs && s.panes.runs.mine {
            out.push(Span::styled(" · mine", t.accent));
        }
        if let Some(f) = &s.flash {
            let (sym, style) = if f.error {
                ("✕", t.error)
            } else {
                ("›", t.info)
            };
            out.push(Span::raw("  "));
            out.push(Span::styled(format!("{sym} {}", f.text), style));
        }
        out
    }
}

impl Widget for StatusBar<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        buf.set_style(area, t.status_bar);
        let total = area.width as usize;
        let mut left = self.left(total);
        // Hints take what the left part leaves, dropping the last ones first.
        let mut hints: Vec<Span> = Vec::new();
        let room = total.saturating_sub(width(&left) + 2);
        let mut used = 0;
        for (k, d) in self.state.keymap.hints(self.state.ctx()) {
            let piece = k.chars().count() + d.chars().count() + 3;
            if used + piece > room {
                break;
            }
            used += piece;
            hints.push(Span::styled(k.to_string(), t.accent));
            hints.push(Span::raw(format!(" {d}  ")));
        }
        let lw = width(&left);
        if lw > total {
            let text: String = left.iter().map(|s| s.content.as_ref()).collect();
            left = vec![Span::raw(fit(&text, total))];
        }
        let pad = total.saturating_sub(width(&left) + used);
        let mut spans = left;
        spans.push(Span::raw(" ".repeat(pad)));
        spans.extend(hints);
        Line::from(spans).style(t.status_bar).render(area, buf);
    }
}
