//! The new-run form: its fields and validation (pure, edited by `update`) and its popup:
//! description, criteria, budget, team; `Enter` starts the run.

use super::{centered, fit};
use crate::domain::Micros;
use crate::tui::action::NewRun;
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Clear, Paragraph, Widget};

/// The new-run form: description, criteria, budget (USD), team.
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub fields: [String; 4],
    pub focus: usize,
    pub error: Option<String>,
}

pub const FORM_LABELS: [&str; 4] = ["Description", "Criteria", "Budget (USD)", "Team"];

impl Form {
    pub fn new(default_budget_usd: f64) -> Form {
        Form {
            fields: [
                String::new(),
                String::new(),
                format!("{default_budget_usd}"),
                String::new(),
            ],
            focus: 0,
            error: None,
        }
    }

    pub fn input(&mut self, c: char) {
        if let Some(f) = self.fields.get_mut(self.focus) {
            f.push(c);
        }
        self.error = None;
    }

    /// Pasted text (already one line) at the end of the focused field.
    pub fn paste(&mut self, text: &str) {
        if let Some(f) = self.fields.get_mut(self.focus) {
            f.push_str(text);
        }
        self.error = None;
    }

    pub fn backspace(&mut self) {
        if let Some(f) = self.fields.get_mut(self.focus) {
            f.pop();
        }
    }

    /// Validate into a request, or say what is wrong.
    pub fn validate(&self) -> Result<NewRun, String> {
        let description = self.fields[0].trim().to_string();
        if description.is_empty() {
            return Err("describe what to build".into());
        }
        let b = self.fields[2].trim().trim_start_matches('$');
        let usd: f64 = b
            .parse()
            .map_err(|_| format!("budget `{b}` is not a number of USD"))?;
        if !usd.is_finite() || usd <= 0.0 {
            return Err("the budget must be a positive amount".into());
        }
        let team = self.fields[3].trim();
        if team.contains(char::is_whitespace) {
            return Err(format!("team `{team}`: use a name without spaces"));
        }
        Ok(NewRun {
            description,
            criteria: self.fields[1].trim().to_string(),
            budget: Micros::from_usd(usd),
            team: (!team.is_empty()).then(|| team.to_string()),
        })
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_validates_every_field() {
        let mut f = Form::new(8.0);
        assert!(f.validate().unwrap_err().contains("describe"));
        for c in "todo app".chars() {
            f.input(c);
        }
        let ok = f.validate().unwrap();
        assert_eq!(ok.budget, Micros::from_usd(8.0));
        assert_eq!(ok.team, None);
        f.fields[2] = "-1".into();
        assert!(f.validate().unwrap_err().contains("positive"));
        f.fields[2] = "lots".into();
        assert!(f.validate().unwrap_err().contains("not a number"));
        f.fields[2] = "$2.5".into();
        f.fields[3] = "a team".into();
        assert!(f.validate().unwrap_err().contains("without spaces"));
        f.fields[3] = "web".into();
        assert_eq!(f.validate().unwrap().team.as_deref(), Some("web"));
    }
}
