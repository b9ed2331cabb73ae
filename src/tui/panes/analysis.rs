//! Analysis pane: until the codebase analyzer lands, a placeholder that says so plainly.

use crate::tui::theme::Theme;
use crate::tui::widgets::block;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Paragraph, Widget, Wrap};

pub struct AnalysisPane<'a> {
    pub theme: &'a Theme,
}

impl Widget for AnalysisPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let lines = vec![
            Line::from(Span::styled(
                "Codebase analysis is not available in this build yet.",
                t.warn,
            )),
            Line::default(),
            Line::from("This pane will analyze a path: languages and project types, then"),
            Line::from("improvements sorted by priority, with / filter, p to cycle the priority"),
            Line::from("filter, Enter for evidence and e to export Markdown."),
            Line::default(),
            Line::from(Span::styled(
                "It arrives with the analyzer issue; `orchestrator-tui analyze` says the same.",
                t.muted,
            )),
        ];
        Paragraph::new(Text::from(lines))
            .wrap(Wrap { trim: true })
            .block(block(" Analysis ", t, true))
            .render(area, buf);
    }
}
