//! Analysis popups: the detail of one finding (priority, category, effort, confidence,
//! description, impact and evidence as `path:line note`) and the path prompt of `a`.

use crate::analysis::{Evidence, Finding};
use crate::tui::theme::Theme;
use crate::tui::widgets::{block, centered, priority};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};

pub struct FindingPopup<'a> {
    pub finding: &'a Finding,
    /// 1-based rank in the whole list.
    pub rank: usize,
    pub scroll: u16,
    pub theme: &'a Theme,
}

/// `path:line`, `path` or nothing.
pub fn location(e: &Evidence) -> String {
    match (e.path.is_empty(), e.line) {
        (true, _) => String::new(),
        (false, Some(l)) => format!("{}:{l}", e.path),
        (false, None) => e.path.clone(),
    }
}

fn section(lines: &mut Vec<Line<'static>>, title: &str, text: &str, t: &Theme) {
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(title.to_string(), t.header)));
    if text.trim().is_empty() {
        lines.push(Line::from(Span::styled("not given", t.muted)));
    } else {
        lines.extend(text.lines().map(|x| Line::from(x.to_string())));
    }
}

impl FindingPopup<'_> {
    pub fn lines(&self) -> Vec<Line<'static>> {
        let (f, t) = (self.finding, self.theme);
        let source = if f.source == "llm" {
            "suggested by the model"
        } else {
            "static check"
        };
        let mut l = vec![
            Line::from(vec![
                priority(f.priority, t),
                Span::raw(format!(
                    "  #{} · {} · effort ~{}h · confidence {:.0}%",
                    self.rank,
                    f.category.as_str(),
                    f.effort_hours,
                    f.confidence * 100.0
                )),
            ]),
            Line::from(Span::styled(format!("{} · {source}", f.id), t.muted)),
        ];
        section(&mut l, "Description", &f.description, t);
        section(&mut l, "Impact", &f.impact, t);
        l.push(Line::default());
        l.push(Line::from(Span::styled(
            format!("Evidence ({})", f.evidence.len()),
            t.header,
        )));
        if f.evidence.is_empty() {
            l.push(Line::from(Span::styled("none recorded", t.muted)));
        }
        for e in &f.evidence {
            let loc = location(e);
            let mut spans = vec![Span::raw("  ")];
            if !loc.is_empty() {
                spans.push(Span::styled(loc, t.accent));
                spans.push(Span::raw("  "));
            }
            spans.push(Span::raw(e.note.clone()));
            l.push(Line::from(spans));
        }
        l
    }
}

impl Widget for FindingPopup<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let lines = self.lines();
        let w = area.width.saturating_sub(8).min(100);
        // As tall as the wrapped text (plus borders), within the area.
        let inner_w = w.saturating_sub(2).max(1) as usize;
        let rows: usize = lines
            .iter()
            .map(|l| l.width().div_ceil(inner_w).max(1))
            .sum();
        let h = (rows as u16 + 2).clamp(3, area.height.saturating_sub(2).max(3));
        let r = centered(area, w, h);
        Clear.render(r, buf);
        let title = Line::from(vec![
            Span::raw(format!(" {} — ", self.finding.title)),
            Span::styled("Esc", t.accent),
            Span::raw(" close "),
        ]);
        Paragraph::new(Text::from(lines))
            .wrap(Wrap { trim: false })
            .scroll((self.scroll.min((rows as u16).saturating_sub(h - 2)), 0))
            .style(t.popup)
            .block(block(title, t, true).style(t.popup))
            .render(r, buf);
    }
}

/// The path prompt: one line prefilled with the current directory.
pub struct PromptPopup<'a> {
    pub field: &'a crate::tui::widgets::line_edit::LineEdit,
    pub theme: &'a Theme,
}

impl Widget for PromptPopup<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let r = centered(area, 76, 8);
        Clear.render(r, buf);
        let field_w = r.width.saturating_sub(8) as usize;
        // The part of a long path around the cursor.
        let (shown, cur) = self.field.window(field_w);
        let mut field = vec![Span::styled("› ", t.accent)];
        field.extend(crate::tui::widgets::form::cursor_spans(&shown, cur, t));
        let lines = vec![
            Line::from(Span::styled("Folder to analyze", t.muted)),
            Line::from(field),
            Line::default(),
            Line::from(Span::styled(
                "Static stage offline, then a model through the engine.",
                t.muted,
            )),
            Line::from(vec![
                Span::styled("Enter", t.accent),
                Span::raw(" analyze   "),
                Span::styled("Ctrl-U", t.accent),
                Span::raw(" clear   "),
                Span::styled("Esc", t.accent),
                Span::raw(" cancel"),
            ]),
        ];
        Paragraph::new(Text::from(lines))
            .style(t.popup)
            .block(block(" Analyze a folder ", t, true).style(t.popup))
            .render(r, buf);
    }
}
