//! The `o` popup: a run's output directory (its full path, so it can be copied) and the files
//! written in it; `e`/Enter opens the selected file in the editor. Paths are shown text-safe
//! (escape sequences and control characters of a model-chosen file name are stripped).

use super::list::{position, window};
use super::{block, centered, fit};
use crate::text_safe::clean_line;
use crate::tui::action::Outputs;
use crate::tui::theme::Theme;
use crate::tui::widgets::list::ListNav;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Clear, Paragraph, Widget};

pub struct OutputsPopup<'a> {
    pub outputs: &'a Outputs,
    pub theme: &'a Theme,
}

impl Widget for OutputsPopup<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (o, t) = (self.outputs, self.theme);
        let r = centered(area, 100, 20);
        Clear.render(r, buf);
        let w = r.width.saturating_sub(4) as usize;
        let nav = ListNav {
            selected: o.selected,
            ..Default::default()
        };
        let title = format!(
            " Outputs of {} {} ",
            clean_line(&o.run_id),
            position(&nav, o.files.len(), o.files.len())
        );
        let mut lines = vec![
            Line::from(Span::styled("Directory", t.muted)),
            Line::from(Span::styled(fit(&clean_line(&o.dir), w), t.title)),
            Line::default(),
        ];
        let rows = r.height.saturating_sub(7) as usize;
        if o.files.is_empty() {
            lines.push(Line::from(Span::styled("No file written yet.", t.muted)));
        }
        let (first, n) = window(&nav, o.files.len(), rows);
        for (i, (path, task)) in o.files.iter().enumerate().skip(first).take(n) {
            let sel = i == o.selected;
            let task = task
                .as_deref()
                .map_or(String::new(), |t| format!("  ({t})"));
            let text = fit(&format!("{}{task}", clean_line(path)), w.saturating_sub(2));
            lines.push(Line::from(vec![
                Span::styled(if sel { "› " } else { "  " }, t.accent),
                Span::styled(text, if sel { t.selected } else { t.base }),
            ]));
        }
        while lines.len() < rows + 3 {
            lines.push(Line::default());
        }
        lines.push(Line::from(vec![
            Span::styled("e", t.accent),
            Span::raw("/"),
            Span::styled("Enter", t.accent),
            Span::raw(" open in $EDITOR   "),
            Span::styled("j/k", t.accent),
            Span::raw(" choose   "),
            Span::styled("Esc", t.accent),
            Span::raw(" close"),
        ]));
        Paragraph::new(Text::from(lines))
            .style(t.popup)
            .block(block(title, t, true).style(t.popup))
            .render(r, buf);
    }
}
