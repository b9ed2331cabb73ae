//! The whole screen: tab bar, the current pane (drawn by its registration in `panes::DEFS`), the
//! status bar and any popup. Below the minimum size it says so instead of drawing a broken layout.

use super::panes::Pane;
use super::state::{Confirm, Overlay, State};
use super::theme::Theme;
use super::widgets::{
    centered, confirm::ConfirmPopup, form::FormPopup, help::HelpPopup, status_bar::StatusBar,
};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

pub struct Screen<'a> {
    pub state: &'a State,
    pub theme: &'a Theme,
}

fn tabs(s: &State, t: &Theme, area: Rect, buf: &mut Buffer) {
    let mut spans = vec![Span::raw(" ")];
    for p in Pane::ALL {
        let label = format!(" {} {} ", p.index() + 1, p.title());
        spans.push(Span::styled(
            label,
            if p == s.pane { t.tab_active } else { t.tab },
        ));
        spans.push(Span::raw(" "));
    }
    let mut right = Vec::new();
    if !s.active.is_empty() {
        right.push(Span::styled(
            format!("▶ {} running ", s.active.len()),
            t.running,
        ));
    }
    if s.simulated {
        right.push(Span::styled("[sim] ", t.warn));
    }
    right.push(Span::styled("? help ", t.muted));
    let lw: usize = spans.iter().map(|x| x.content.chars().count()).sum();
    let rw: usize = right.iter().map(|x| x.content.chars().count()).sum();
    if lw + rw < area.width as usize {
        spans.push(Span::raw(" ".repeat(area.width as usize - lw - rw)));
        spans.extend(right);
    }
    Line::from(spans).render(area, buf);
}

fn too_small(t: &Theme, area: Rect, buf: &mut Buffer) {
    let text = Text::from(vec![
        Line::from(Span::styled("Terminal too small", t.error)),
        Line::from(format!(
            "{}x{} here; orchestrator-tui needs at least {MIN_WIDTH}x{MIN_HEIGHT}.",
            area.width, area.height
        )),
        Line::from("Enlarge the window, or press q to quit."),
    ]);
    Paragraph::new(text)
        .wrap(Wrap { trim: true })
        .style(t.base)
        .render(area, buf);
}

fn stopping(s: &State, t: &Theme, area: Rect, buf: &mut Buffer) {
    let r = centered(area, 60, 6);
    Clear.render(r, buf);
    let n = s.active.len();
    Paragraph::new(Text::from(vec![
        Line::from(format!("Stopping {n} run{}…", if n == 1 { "" } else { "s" })),
        Line::from(Span::styled(
            "In-flight calls are cancelled and recorded; the run is saved partial_success (resumable).",
            t.muted,
        )),
    ]))
    .wrap(Wrap { trim: true })
    .style(t.popup)
    .block(super::widgets::block(" Quitting ", t, true).style(t.popup))
    .render(r, buf);
}

impl Widget for Screen<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (s, t) = (self.state, self.theme);
        s.hits.clear();
        buf.set_style(area, t.base);
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            too_small(t, area, buf);
            return;
        }
        let [top, body, bottom] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(0),
            Constraint::Length(1),
        ])
        .areas(area);
        tabs(s, t, top, buf);
        (s.pane.def().render)(s, t, body, buf);
        StatusBar { state: s, theme: t }.render(bottom, buf);
        match &s.overlay {
            Overlay::Help { scroll } => HelpPopup {
                keymap: &s.keymap,
                scroll: *scroll,
                theme: t,
                ctx: Some(if (s.pane.def().in_detail)(s) {
                    super::keymap::Ctx::Detail(s.pane)
                } else {
                    super::keymap::Ctx::Pane(s.pane)
                }),
            }
            .render(body, buf),
            Overlay::Form(f) => {
                let (y, buttons) = FormPopup::buttons(f, FormPopup::rect(f, body));
                for (x0, x1, a) in buttons {
                    s.hits.button(Rect::new(x0, y, x1 - x0, 1), a);
                }
                FormPopup { form: f, theme: t }.render(body, buf)
            }
            Overlay::Outputs(o) => super::widgets::outputs::OutputsPopup {
                outputs: o,
                theme: t,
            }
            .render(body, buf),
            Overlay::Confirm(c) => ConfirmPopup {
                what: c,
                active: s.active.len(),
                output_dir: s.detail.as_ref().and_then(|d| match c {
                    Confirm::Delete(id) if *id == d.id => Some(d.output_dir.as_str()),
                    _ => None,
                }),
                theme: t,
                hits: Some(&s.hits),
            }
            .render(body, buf),
            // The path prompt is the Analysis pane's: drawn with it.
            Overlay::Prompt(_) | Overlay::Filter | Overlay::None => {}
        }
        if s.stopping && !s.active.is_empty() {
            stopping(s, t, body, buf);
        }
    }
}
