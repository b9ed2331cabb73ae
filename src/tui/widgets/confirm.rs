//! Yes/no popup (quit while a run is active, delete a run).

use super::centered;
use crate::tui::state::Confirm;
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};

pub struct ConfirmPopup<'a> {
    pub what: &'a Confirm,
    pub active: usize,
    /// The run's outputs folder, when known (delete keeps it).
    pub output_dir: Option<&'a str>,
    pub theme: &'a Theme,
    /// Where its buttons are recorded for the mouse (none in tests that draw it alone).
    pub hits: Option<&'a crate::tui::mouse::HitCell>,
}

impl ConfirmPopup<'_> {
    fn text(&self) -> (&'static str, Vec<String>) {
        match self.what {
            Confirm::Quit => (
                " Quit? ",
                vec![
                    format!(
                        "{} run{} still running in this window.",
                        self.active,
                        if self.active == 1 { " is" } else { "s are" }
                    ),
                    "Quitting cancels in-flight calls and saves the run as partial_success \
                     (cancelled by the user, as Ctrl-C does headless); resume it later with r or \
                     `orchestrator-tui resume`."
                        .into(),
                ],
            ),
            Confirm::Delete(id) => (
                " Delete run? ",
                vec![
                    format!("Delete run {id} with its tasks, attempts and calls?"),
                    match self.output_dir {
                        Some(d) => format!("Its outputs folder is kept: {d}"),
                        None => "Its outputs folder is kept on disk.".into(),
                    },
                    "Budget spend already charged stays counted. This cannot be undone.".into(),
                ],
            ),
            Confirm::Cancel(id) => (
                " Cancel run? ",
                vec![
                    format!("Cancel run {id}?"),
                    "Its calls in flight are settled and recorded; the run is saved \
                     partial_success (cancelled by the user) and can be resumed with r. A run \
                     driven by another process is asked through the store and stops within a \
                     second or two."
                        .into(),
                ],
            ),
            Confirm::RaiseCap(c) => (
                " Change the cap? ",
                vec![
                    format!(
                        "Set the {} cap from {} to {}?",
                        c.level.label(),
                        c.from.map_or("none".into(), super::usd),
                        super::usd(c.to)
                    ),
                    match &c.level {
                        super::form::CapLevel::Run(_) => {
                            "The run's budget; a run driven now sees it at its next call.".into()
                        }
                        _ => format!(
                            "Applied as `budget set-{}` does{}.",
                            if c.level == super::form::CapLevel::Org {
                                "org"
                            } else {
                                "team"
                            },
                            c.period
                                .as_deref()
                                .map_or(String::new(), |p| format!(", keeping its {p} period"))
                        ),
                    },
                ],
            ),
        }
    }
}

impl Widget for ConfirmPopup<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let (title, lines) = self.text();
        let r = centered(area, 64, 11);
        Clear.render(r, buf);
        let blk = super::block(title, t, true).style(t.popup);
        let inner = blk.inner(r);
        blk.render(r, buf);
        // The keys line is the popup's last inner row; `y` and `n/Esc` are its buttons.
        let keys_row = Rect::new(
            inner.x,
            inner.y + inner.height.saturating_sub(1),
            inner.width,
            1.min(inner.height),
        );
        let text_area = Rect::new(
            inner.x,
            inner.y,
            inner.width,
            inner.height.saturating_sub(2),
        );
        if let Some(hits) = self.hits {
            use crate::tui::action::Action;
            hits.button(Rect::new(keys_row.x, keys_row.y, 5, 1), Action::Confirm);
            hits.button(Rect::new(keys_row.x + 8, keys_row.y, 8, 1), Action::Deny);
        }
        let text: Vec<Line> = lines.into_iter().map(Line::from).collect();
        Paragraph::new(Text::from(text))
            .wrap(Wrap { trim: true })
            .style(t.popup)
            .render(text_area, buf);
        let mut keys = Line::from(vec![
            Span::styled("y", t.accent),
            Span::raw(" yes   "),
            Span::styled("n", t.accent),
            Span::raw("/"),
            Span::styled("Esc", t.accent),
            Span::raw(" no"),
        ]);
        if matches!(self.what, Confirm::Quit) {
            keys.spans.extend([
                Span::raw("    "),
                Span::styled("Ctrl-C", t.accent),
                Span::raw(" quit now"),
            ]);
        }
        Paragraph::new(keys).style(t.popup).render(keys_row, buf);
    }
}
