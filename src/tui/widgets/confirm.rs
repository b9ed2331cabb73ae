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
        }
    }
}

impl Widget for ConfirmPopup<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let (title, lines) = self.text();
        let r = centered(area, 64, 10);
        Clear.render(r, buf);
        let mut text: Vec<Line> = lines.into_iter().map(Line::from).collect();
        text.push(Line::default());
        let mut keys = Line::from(vec![
            Span::styled("y", t.accent),
            Span::raw(" yes    "),
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
        text.push(keys);
        Paragraph::new(Text::from(text))
            .wrap(Wrap { trim: true })
            .style(t.popup)
            .block(super::block(title, t, true).style(t.popup))
            .render(r, buf);
    }
}
