//! Forms: their fields and validation (pure, edited by `update`) and their popup. Three kinds:
//! the new-run form (`n`), raising a cap (`b`: the run's, its team's or the org's; confirmed
//! before it is applied) and resuming with a new budget (`r` after `budget_exhausted`). Fields
//! edit like a shell line (`line_edit.rs`).

use super::line_edit::{Edit, LineEdit};
use super::{centered, fit, usd};
use crate::domain::Micros;
use crate::tui::action::NewRun;
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Clear, Paragraph, Widget};

/// The new-run form's labels (its fields, in order).
pub const FORM_LABELS: [&str; 4] = ["Description", "Criteria", "Budget (USD)", "Team"];

const NEW_RUN_HELP: [&str; 4] = [
    "what to build, in plain words",
    "what the evaluator checks (optional)",
    "the run's budget cap",
    "team whose budget is charged (optional)",
];

/// A budget level whose cap the `b` form changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapLevel {
    Run(String),
    Team(String),
    Org,
}

impl CapLevel {
    /// As shown: `run r-1a2b`, `team web`, `org`.
    pub fn label(&self) -> String {
        match self {
            CapLevel::Run(id) => format!("run {id}"),
            CapLevel::Team(t) => format!("team {t}"),
            CapLevel::Org => "org".into(),
        }
    }
}

/// One level the `b` form can raise, with what it has now.
#[derive(Debug, Clone, PartialEq)]
pub struct CapTarget {
    pub level: CapLevel,
    pub cap: Option<Micros>,
    pub spent: Micros,
    /// Kept as it is (the TUI changes the amount only).
    pub period: Option<String>,
}

/// A validated cap change, confirmed before it is applied.
#[derive(Debug, Clone, PartialEq)]
pub struct CapChange {
    pub level: CapLevel,
    pub from: Option<Micros>,
    pub to: Micros,
    pub period: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FormKind {
    NewRun,
    /// `targets[choice]` is raised; with several, the first row chooses.
    RaiseCap {
        targets: Vec<CapTarget>,
        choice: usize,
    },
    /// Resume `run_id` with the budget typed.
    Resume {
        run_id: String,
        budget: Micros,
        spent: Micros,
    },
}

/// What a form gives when it validates.
#[derive(Debug, Clone, PartialEq)]
pub enum Submit {
    NewRun(NewRun),
    RaiseCap(CapChange),
    Resume { run_id: String, budget: Micros },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub kind: FormKind,
    /// The text fields (`fields[i]` compares with a `&str`).
    pub fields: Vec<LineEdit>,
    /// With a level choice (raise cap, several levels), 0 is the choice and fields follow.
    pub focus: usize,
    pub error: Option<String>,
}

/// Twice `m`, rounded up to the cent: the amount a raise or a resume form suggests.
fn suggest(m: Micros) -> String {
    let cents = (m.0.max(1).saturating_mul(2) + 9_999) / 10_000;
    format!("{:.2}", cents as f64 / 100.0)
}

/// Parse an amount typed in USD (`12`, `$12.50`, `1,000`).
pub fn parse_usd(text: &str) -> Result<Micros, String> {
    let t = text.trim().trim_start_matches('$').replace(',', "");
    let usd: f64 = t
        .parse()
        .map_err(|_| format!("`{}` is not an amount in USD", text.trim()))?;
    if !usd.is_finite() || usd <= 0.0 {
        return Err("the amount must be positive".into());
    }
    if usd > 1e9 {
        return Err(format!(
            "${usd} is more than this tool accepts ($1,000,000,000)"
        ));
    }
    Ok(Micros::from_usd(usd))
}

impl Form {
    /// The new-run form, the budget prefilled with the default.
    pub fn new(default_budget_usd: f64) -> Form {
        Form {
            kind: FormKind::NewRun,
            fields: vec![
                LineEdit::default(),
                LineEdit::default(),
                LineEdit::new(format!("{default_budget_usd}")),
                LineEdit::default(),
            ],
            focus: 0,
            error: None,
        }
    }

    /// Raise one of `targets` (at least one); the amount is prefilled with twice the current cap
    /// (or spend) of the first.
    pub fn raise_cap(targets: Vec<CapTarget>) -> Form {
        let first = targets.first().map_or(String::new(), |t| {
            suggest(t.cap.unwrap_or(t.spent).max(t.spent))
        });
        let focus = usize::from(targets.len() > 1);
        Form {
            kind: FormKind::RaiseCap { targets, choice: 0 },
            fields: vec![LineEdit::new(first)],
            focus,
            error: None,
        }
    }

    /// Resume a run with a new budget, prefilled with twice its budget.
    pub fn resume(run_id: String, budget: Micros, spent: Micros) -> Form {
        Form {
            fields: vec![LineEdit::new(suggest(budget.max(spent)))],
            kind: FormKind::Resume {
                run_id,
                budget,
                spent,
            },
            focus: 0,
            error: None,
        }
    }

    /// Rows of the form (the level choice, if any, then the fields).
    pub fn rows(&self) -> usize {
        self.fields.len() + self.choice_rows()
    }

    fn choice_rows(&self) -> usize {
        match &self.kind {
            FormKind::RaiseCap { targets, .. } if targets.len() > 1 => 1,
            _ => 0,
        }
    }

    /// The focused text field (none while the level choice is focused).
    pub fn field_mut(&mut self) -> Option<&mut LineEdit> {
        let i = self.focus.checked_sub(self.choice_rows())?;
        self.fields.get_mut(i)
    }

    pub fn next(&mut self) {
        self.focus = (self.focus + 1) % self.rows().max(1);
    }

    pub fn prev(&mut self) {
        let n = self.rows().max(1);
        self.focus = (self.focus + n - 1) % n;
    }

    pub fn input(&mut self, c: char) {
        if let Some(f) = self.field_mut() {
            f.insert(c);
            self.error = None;
        } else if c == ' ' {
            self.cycle(1);
        }
    }

    /// Pasted text (already one line) at the cursor of the focused field.
    pub fn paste(&mut self, text: &str) {
        if let Some(f) = self.field_mut() {
            f.insert_str(text);
        }
        self.error = None;
    }

    /// An editing key; on the level choice ←/→ change the level instead.
    pub fn edit(&mut self, e: Edit) {
        match (self.field_mut(), e) {
            (Some(f), e) => {
                f.edit(e);
                self.error = None;
            }
            (None, Edit::Left | Edit::WordLeft) => self.cycle(-1),
            (None, Edit::Right | Edit::WordRight) => self.cycle(1),
            (None, _) => {}
        }
    }

    pub fn backspace(&mut self) {
        self.edit(Edit::Backspace);
    }

    /// Choose level `i` of a raise-cap form (its amount suggested again).
    pub fn choose(&mut self, i: usize) {
        if let FormKind::RaiseCap { choice, .. } = &mut self.kind {
            let from = *choice as isize;
            self.cycle(i as isize - from);
        }
    }

    /// Choose the next (or previous) level; the amount is suggested again for it.
    fn cycle(&mut self, by: isize) {
        if let FormKind::RaiseCap { targets, choice } = &mut self.kind {
            let n = targets.len() as isize;
            *choice = (*choice as isize + by).rem_euclid(n.max(1)) as usize;
            if let Some(t) = targets.get(*choice) {
                let s = suggest(t.cap.unwrap_or(t.spent).max(t.spent));
                if let Some(f) = self.fields.first_mut() {
                    f.set(s);
                }
            }
        }
        self.error = None;
    }

    /// Validate into what the form asks for, or say what is wrong.
    pub fn validate(&self) -> Result<Submit, String> {
        let text = |i: usize| self.fields.get(i).map_or("", |f| f.value());
        match &self.kind {
            FormKind::NewRun => {
                let description = text(0).trim().to_string();
                if description.is_empty() {
                    return Err("describe what to build".into());
                }
                let b = text(2).trim().trim_start_matches('$');
                let usd: f64 = b
                    .parse()
                    .map_err(|_| format!("budget `{b}` is not a number of USD"))?;
                if !usd.is_finite() || usd <= 0.0 {
                    return Err("the budget must be a positive amount".into());
                }
                let team = text(3).trim();
                if team.contains(char::is_whitespace) {
                    return Err(format!("team `{team}`: use a name without spaces"));
                }
                Ok(Submit::NewRun(NewRun {
                    description,
                    criteria: text(1).trim().to_string(),
                    budget: Micros::from_usd(usd),
                    team: (!team.is_empty()).then(|| team.to_string()),
                }))
            }
            FormKind::RaiseCap { targets, choice } => {
                let t = targets
                    .get(*choice)
                    .ok_or_else(|| "no budget level to change".to_string())?;
                let to = parse_usd(text(0)).map_err(|e| format!("new cap: {e}"))?;
                if to <= t.spent {
                    return Err(format!(
                        "new cap {} is not above the {} spent at {}",
                        usd(to),
                        usd(t.spent),
                        t.level.label()
                    ));
                }
                Ok(Submit::RaiseCap(CapChange {
                    level: t.level.clone(),
                    from: t.cap,
                    to,
                    period: t.period.clone(),
                }))
            }
            FormKind::Resume { run_id, spent, .. } => {
                let budget = parse_usd(text(0)).map_err(|e| format!("budget: {e}"))?;
                if budget <= *spent {
                    return Err(format!(
                        "budget {} is not above the {} spent: it would stop again",
                        usd(budget),
                        usd(*spent)
                    ));
                }
                Ok(Submit::Resume {
                    run_id: run_id.clone(),
                    budget,
                })
            }
        }
    }

    fn title(&self) -> &'static str {
        match self.kind {
            FormKind::NewRun => " New run ",
            FormKind::RaiseCap { .. } => " Raise a budget cap ",
            FormKind::Resume { .. } => " Resume with a new budget ",
        }
    }

    /// (label, help) of each text field.
    fn labels(&self) -> Vec<(&'static str, String)> {
        match &self.kind {
            FormKind::NewRun => FORM_LABELS
                .iter()
                .zip(NEW_RUN_HELP)
                .map(|(l, h)| (*l, h.to_string()))
                .collect(),
            FormKind::RaiseCap { targets, choice } => {
                let help = targets.get(*choice).map_or(String::new(), |t| {
                    format!(
                        "{}: cap {}, spent {}",
                        t.level.label(),
                        t.cap.map_or("none".into(), usd),
                        usd(t.spent)
                    )
                });
                vec![("New cap (USD)", help)]
            }
            FormKind::Resume { budget, spent, .. } => vec![(
                "Budget (USD)",
                format!("was {}, spent {}", usd(*budget), usd(*spent)),
            )],
        }
    }

    fn submit_label(&self) -> &'static str {
        match self.kind {
            FormKind::NewRun => " start run   ",
            FormKind::RaiseCap { .. } => " review   ",
            FormKind::Resume { .. } => " resume   ",
        }
    }
}

pub struct FormPopup<'a> {
    pub form: &'a Form,
    pub theme: &'a Theme,
}

impl FormPopup<'_> {
    /// Where the popup is drawn in `area` (the mouse finds its buttons with it).
    pub fn rect(form: &Form, area: Rect) -> Rect {
        centered(area, 76, 2 * form.rows() as u16 + 6)
    }

    /// The buttons line: its row in the popup `r` and each button's columns and action.
    pub fn buttons(form: &Form, r: Rect) -> (u16, Vec<(u16, u16, crate::tui::action::Action)>) {
        use crate::tui::action::Action;
        // Inside the border: two lines a row, a blank line and the error line, then the buttons.
        let y = r.y + 1 + 2 * form.rows() as u16 + 2;
        let x0 = r.x + 1;
        let a = "Enter".len() as u16 + form.submit_label().len() as u16;
        let b = "Tab/↓".chars().count() as u16 + " next field   ".len() as u16;
        let c = "Esc cancel".len() as u16;
        (
            y,
            vec![
                (x0, x0 + a, Action::Confirm),
                (x0 + a + b, x0 + a + b + c, Action::Deny),
            ],
        )
    }
}

impl Widget for FormPopup<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (f, t) = (self.form, self.theme);
        let r = FormPopup::rect(f, area);
        Clear.render(r, buf);
        let inner_w = r.width.saturating_sub(4) as usize;
        let label_w = 16;
        let field_w = inner_w.saturating_sub(label_w + 2);
        let mut lines: Vec<Line> = Vec::new();
        if let FormKind::RaiseCap { targets, choice } = &f.kind
            && targets.len() > 1
        {
            let focus = f.focus == 0;
            let marker = if focus { "›" } else { " " };
            let mut spans = vec![Span::styled(
                format!("{marker} {:<w$}", "Level", w = label_w - 2),
                if focus { t.accent } else { t.base },
            )];
            for (i, tg) in targets.iter().enumerate() {
                let text = format!(" {} ", tg.level.label());
                spans.push(if i == *choice {
                    Span::styled(format!("‹{}›", text.trim()), t.selected)
                } else {
                    Span::styled(text, t.muted)
                });
            }
            lines.push(Line::from(spans));
            lines.push(Line::from(Span::styled(
                format!(
                    "{:w$}{}",
                    "",
                    fit("←/→ choose the level", field_w),
                    w = label_w
                ),
                t.muted,
            )));
        }
        let skip = f.choice_rows();
        for (i, (label, help)) in f.labels().into_iter().enumerate() {
            let focus = i + skip == f.focus;
            let field = f.fields.get(i).cloned().unwrap_or_default();
            let (shown, cur) = field.window(field_w);
            let marker = if focus { "›" } else { " " };
            let mut spans = vec![Span::styled(
                format!("{marker} {label:<w$}", w = label_w - 2),
                if focus { t.accent } else { t.base },
            )];
            if focus {
                spans.extend(cursor_spans(&shown, cur, t));
            } else {
                spans.push(Span::styled(shown, t.base));
            }
            lines.push(Line::from(spans));
            lines.push(Line::from(Span::styled(
                format!("{:w$}{}", "", fit(&help, field_w), w = label_w),
                t.muted,
            )));
        }
        lines.push(Line::default());
        match &f.error {
            Some(e) => lines.push(Line::from(Span::styled(
                fit(&format!("✕ {e}"), inner_w),
                t.error,
            ))),
            None => lines.push(Line::default()),
        }
        lines.push(Line::from(vec![
            Span::styled("Enter", t.accent),
            Span::raw(f.submit_label()),
            Span::styled("Tab/↓", t.accent),
            Span::raw(" next field   "),
            Span::styled("Esc", t.accent),
            Span::raw(" cancel"),
        ]));
        Paragraph::new(Text::from(lines))
            .style(t.popup)
            .block(super::block(f.title(), t, true).style(t.popup))
            .render(r, buf);
    }
}

/// The focused field: the text before the cursor, the cursor cell reversed (a bar at the end
/// of the text), the rest.
pub fn cursor_spans(shown: &str, col: usize, t: &Theme) -> Vec<Span<'static>> {
    use unicode_width::UnicodeWidthChar;
    let (mut before, mut w) = (String::new(), 0);
    let mut chars = shown.chars().peekable();
    while let Some(c) = chars.peek() {
        if w >= col {
            break;
        }
        w += c.width().unwrap_or(0);
        before.push(*c);
        chars.next();
    }
    let mut out = vec![Span::styled(before, t.selected)];
    match chars.next() {
        Some(at) => {
            out.push(Span::styled(
                at.to_string(),
                t.selected.add_modifier(ratatui::style::Modifier::REVERSED),
            ));
            out.push(Span::styled(chars.collect::<String>(), t.selected));
        }
        None => out.push(Span::styled("▏", t.accent)),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_run(f: &Form) -> NewRun {
        match f.validate().unwrap() {
            Submit::NewRun(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn form_validates_every_field() {
        let mut f = Form::new(8.0);
        assert!(f.validate().unwrap_err().contains("describe"));
        for c in "todo app".chars() {
            f.input(c);
        }
        let ok = new_run(&f);
        assert_eq!(ok.budget, Micros::from_usd(8.0));
        assert_eq!(ok.team, None);
        f.fields[2].set("-1");
        assert!(f.validate().unwrap_err().contains("positive"));
        f.fields[2].set("lots");
        assert!(f.validate().unwrap_err().contains("not a number"));
        f.fields[2].set("$2.5");
        f.fields[3].set("a team");
        assert!(f.validate().unwrap_err().contains("without spaces"));
        f.fields[3].set("web");
        assert_eq!(new_run(&f).team.as_deref(), Some("web"));
    }

    fn target(level: CapLevel, cap: f64, spent: f64) -> CapTarget {
        CapTarget {
            level,
            cap: Some(Micros::from_usd(cap)),
            spent: Micros::from_usd(spent),
            period: Some("monthly".into()),
        }
    }

    #[test]
    fn raise_cap_suggests_double_and_refuses_what_cannot_help() {
        let mut f = Form::raise_cap(vec![
            target(CapLevel::Run("r-1".into()), 0.5, 0.5),
            target(CapLevel::Team("web".into()), 5.0, 1.0),
            target(CapLevel::Org, 100.0, 3.0),
        ]);
        assert_eq!(f.focus, 1, "the amount is focused, the level row above it");
        assert_eq!(f.fields[0], "1.00");
        f.prev();
        f.edit(Edit::Right);
        assert_eq!(f.fields[0], "10.00", "the team's cap, doubled");
        f.next();
        f.edit(Edit::KillToStart);
        f.paste("0.9");
        assert!(
            f.validate()
                .unwrap_err()
                .contains("not above the $1.0000 spent at team web")
        );
        f.edit(Edit::KillToStart);
        f.paste("abc");
        assert!(f.validate().unwrap_err().contains("not an amount"));
        f.edit(Edit::KillToStart);
        f.paste("$1,250");
        let Submit::RaiseCap(c) = f.validate().unwrap() else {
            panic!()
        };
        assert_eq!(c.level, CapLevel::Team("web".into()));
        assert_eq!(c.to, Micros::from_usd(1250.0));
        assert_eq!(c.from, Some(Micros::from_usd(5.0)));
        assert_eq!(c.period.as_deref(), Some("monthly"), "the period is kept");
    }

    #[test]
    fn resume_form_needs_more_than_spent() {
        let mut f = Form::resume("r-9".into(), Micros::from_usd(0.25), Micros::from_usd(0.25));
        assert_eq!(f.fields[0], "0.50");
        assert_eq!(
            f.validate().unwrap(),
            Submit::Resume {
                run_id: "r-9".into(),
                budget: Micros::from_usd(0.5)
            }
        );
        f.fields[0].set("0.2");
        assert!(f.validate().unwrap_err().contains("stop again"));
    }
}
