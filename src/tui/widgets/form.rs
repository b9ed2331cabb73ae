//! The new-run form popup: description, criteria, budget, team; `Enter` starts the run.

use super::{centered, fit};
use crate::tui::state::{FORM_LABELS, Form};
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Clear, Paragraph, Widget};

pub struct FormPopup<'a> {
    pub form: &'a Form,
    pub theme: &'a Theme,
}

const HELP: [&str; 4] = [
    "what to build, in plain words",
    "what the evaluator checks (optional)",
    "the run's budget cap",
    "team whose budget is charged (optional)",
];

impl Widget for FormPopup<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (f, t) = (self.form, self.theme);
        let r = centered(area, 76, 14);
        Clear.render(r, buf);
        let inner_w = r.width.saturating_sub(4) as usize;
        let label_w = 16;
        let field_w = inner_w.saturating_sub(label_w + 2);
        let mut lines: Vec<Line> = Vec::new();
        for (i, label) in FORM_LABELS.iter().enumerate() {
            let focus = i == f.focus;
            let value = &f.fields[i];
            // Show the end of long values, where the cursor is.
            let shown: String = if value.chars().count() + 1 > field_w {
                let skip = value.chars().count() + 1 - field_w;
                value.chars().skip(skip).collect()
            } else {
                value.clone()
            };
            let marker = if focus { "›" } else { " " };
            let mut spans = vec![
                Span::styled(
                    format!("{marker} {label:<w$}", w = label_w - 2),
                    if focus { t.accent } else { t.base },
                ),
                Span::styled(shown, if focus { t.selected } else { t.base }),
            ];
            if focus {
                spans.push(Span::styled("▏", t.accent));
            }
            lines.push(Line::from(spans));
            lines.push(Line::from(Span::styled(
                format!("{:w$}{}", "", fit(HELP[i], field_w), w = label_w),
                t.muted,
            )));
        }
        lines.push(Line::default());
        match &f.error {
            Some(e) => lines.push(Line::from(Span::styled(format!("✕ {e}"), t.error))),
            None => lines.push(Line::default()),
        }
        lines.push(Line::from(vec![
            Span::styled("Enter", t.accent),
            Span::raw(" start run   "),
            Span::styled("Tab/↓", t.accent),
            Span::raw(" next field   "),
            Span::styled("Esc", t.accent),
            Span::raw(" cancel"),
        ]));
        Paragraph::new(Text::from(lines))
            .style(t.popup)
            .block(super::block(" New run ", t, true).style(t.popup))
            .render(r, buf);
    }
}
