//! The Events pane's widgets: the event list and the selected event in full.

use crate::tui::snapshot::EventKind;
use crate::tui::state::State;
use crate::tui::theme::Theme;
use crate::tui::widgets::list::{empty, header, list_title, row, widths, window};
use crate::tui::widgets::{block, fit, one_line};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Table, Widget, Wrap};

pub struct EventsPane<'a> {
    pub state: &'a State,
    pub theme: &'a Theme,
}

/// The selected event in full (the list cuts long texts).
fn selected(s: &State, view: &[usize], area: Rect, buf: &mut Buffer, t: &Theme) {
    let Some(e) = view
        .get(s.panes.events.nav.selected)
        .and_then(|i| s.events.get(*i))
    else {
        block(" Event ", t, false).render(area, buf);
        return;
    };
    let title = format!(
        " {} {} · {} · {} ",
        e.kind.symbol(),
        e.kind.label(),
        e.time,
        e.run_id.as_deref().unwrap_or("no run")
    );
    Paragraph::new(e.text.clone())
        .wrap(Wrap { trim: true })
        .block(block(title, t, false))
        .render(area, buf);
}

impl Widget for EventsPane<'_> {
    fn render(self, full: Rect, buf: &mut Buffer) {
        let (s, t) = (self.state, self.theme);
        let [area, bottom] =
            Layout::vertical([Constraint::Min(4), Constraint::Length(4)]).areas(full);
        selected(s, &s.events_view(), bottom, buf, t);
        let view = s.events_view();
        let blk = block(
            list_title("Events", view.len(), s.events.len(), &s.panes.events.nav, t),
            t,
            true,
        );
        let inner = blk.inner(area);
        blk.render(area, buf);
        if view.is_empty() {
            let msg = if s.events.is_empty() {
                "Nothing yet: breaker transitions, policy decisions, budget warnings and errors appear here."
            } else {
                "No event matches the filter (Esc clears it)."
            };
            Paragraph::new(empty(msg, t.muted)).render(inner, buf);
            return;
        }
        let cols = [
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Length(8),
            Constraint::Fill(1),
        ];
        let text_w = (inner.width as usize).saturating_sub(1 + 8 + 9 + 8 + 5);
        let (first, n) = window(
            &s.panes.events.nav,
            view.len(),
            inner.height.saturating_sub(1) as usize,
        );
        // Rows below the header, for the mouse (tui/mouse.rs).
        s.hits.list(
            ratatui::layout::Rect::new(inner.x, inner.y + 1, inner.width, n as u16),
            first,
        );
        let rows = view[first..first + n].iter().enumerate().map(|(k, &i)| {
            let e = &s.events[i];
            let style = match e.kind {
                EventKind::Error => t.error,
                EventKind::Budget | EventKind::Warning => t.warn,
                EventKind::Breaker | EventKind::Policy => t.accent,
                EventKind::Info => t.info,
            };
            let cells = vec![
                Cell::from(Span::styled(e.time.clone(), t.muted)),
                Cell::from(Span::styled(
                    format!("{} {}", e.kind.symbol(), e.kind.label()),
                    style,
                )),
                Cell::from(e.run_id.clone().unwrap_or_else(|| "-".into())),
                Cell::from(fit(&one_line(&e.text), text_w)),
            ];
            row(cells, first + k == s.panes.events.nav.selected, t)
        });
        Table::new(rows, widths(&cols))
            .header(header(&["", "Time", "Kind", "Run", "Event"], t))
            .column_spacing(1)
            .render(inner, buf);
    }
}

pub(super) fn render(s: &State, t: &Theme, area: Rect, buf: &mut Buffer) {
    EventsPane { state: s, theme: t }.render(area, buf);
}
