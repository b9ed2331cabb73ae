//! The `?` popup: every binding of the keymap, grouped by where it applies.

use super::centered;
use crate::tui::keymap::Keymap;
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Clear, Paragraph, Widget};

pub struct HelpPopup<'a> {
    pub keymap: &'a Keymap,
    pub scroll: u16,
    pub theme: &'a Theme,
    /// Where help was asked from: that pane's keys are listed first.
    pub ctx: Option<crate::tui::keymap::Ctx>,
}

impl HelpPopup<'_> {
    pub fn lines(&self) -> Vec<Line<'static>> {
        let t = self.theme;
        let mut lines = Vec::new();
        let sections = match self.ctx {
            Some(c) => self.keymap.sections_for(c),
            None => self.keymap.sections(),
        };
        for (i, (title, rows)) in sections.into_iter().enumerate() {
            if i > 0 {
                lines.push(Line::default());
            }
            lines.push(Line::from(Span::styled(title.to_string(), t.header)));
            for (keys, desc) in rows {
                lines.push(Line::from(vec![
                    Span::styled(format!("  {keys:<18}"), t.accent),
                    Span::raw(desc.to_string()),
                ]));
            }
        }
        lines
    }
}

impl Widget for HelpPopup<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let r = centered(area, 64, area.height.saturating_sub(4).max(3));
        Clear.render(r, buf);
        let lines = self.lines();
        let max_scroll = (lines.len() as u16).saturating_sub(r.height.saturating_sub(2));
        let title = Line::from(vec![
            Span::raw(" Help — "),
            Span::styled("j/k", t.accent),
            Span::raw(" scroll, "),
            Span::styled("Esc", t.accent),
            Span::raw(" close "),
        ]);
        Paragraph::new(Text::from(lines))
            .scroll((self.scroll.min(max_scroll), 0))
            .style(t.popup)
            .block(super::block(title, t, true).style(t.popup))
            .render(r, buf);
    }
}
