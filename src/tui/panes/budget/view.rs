//! The Budget pane's widgets: the levels table, the burn-down chart of the selected level with a
//! linear projection, and spend by run and by phase.

use crate::domain::Micros;
use crate::tui::snapshot::LevelItem;
use crate::tui::state::State;
use crate::tui::theme::Theme;
use crate::tui::widgets::list::{ListNav, empty, header, row, widths, window};
use crate::tui::widgets::{bar, block, duration, fit, format_budget, one_line, usd};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Cell, Chart, Dataset, GraphType, LegendPosition, Paragraph, Table, Widget,
};

pub struct BudgetPane<'a> {
    pub state: &'a State,
    pub theme: &'a Theme,
}

/// Where spend is heading at the recent rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub usd_per_hour: f64,
    /// Time from the last point until the cap is reached (None: no cap).
    pub cap_in_ms: Option<i64>,
}

/// Linear projection over the last (up to) 20 points of `series`; none from fewer than 3
/// points or less than a minute of history (a burst of calls says little about a rate).
pub fn project(series: &[(i64, Micros)], cap: Option<Micros>) -> Option<Projection> {
    if series.len() < 3 {
        return None;
    }
    let last = *series.last()?;
    let first = series[series.len().saturating_sub(20)];
    let (dt, ds) = (last.0 - first.0, last.1.0 - first.1.0);
    if dt < 60_000 || ds <= 0 {
        return None;
    }
    let per_ms = ds as f64 / dt as f64;
    let cap_in_ms = cap.map(|c| ((c.0 - last.1.0).max(0) as f64 / per_ms).round() as i64);
    Some(Projection {
        usd_per_hour: per_ms * 3_600_000.0 / 1e6,
        cap_in_ms,
    })
}

/// The Used bar: spent (`█`) then reserved (`▒`) of the cap, the rest `░` (marks, not colour,
/// tell them apart).
pub fn used_bar(spent: Micros, reserved: Micros, cap: Micros, w: usize) -> String {
    let cells =
        |m: i64| ((m as f64 / cap.0.max(1) as f64).clamp(0.0, 1.0) * w as f64).round() as usize;
    let s = cells(spent.0).min(w);
    let r = cells(spent.0 + reserved.0).min(w).saturating_sub(s);
    format!(
        "{}{}{}",
        "█".repeat(s),
        "▒".repeat(r),
        "░".repeat(w - s - r)
    )
}

fn levels_table(s: &State, area: Rect, buf: &mut Buffer, t: &Theme) {
    let blk = block(" Budgets ", t, true);
    let inner = blk.inner(area);
    blk.render(area, buf);
    if s.panes.budget.snap.levels.is_empty() {
        let msg = if s.loaded {
            "No budget levels."
        } else {
            "Loading…"
        };
        Paragraph::new(empty(msg, t.muted)).render(inner, buf);
        return;
    }
    let wide = inner.width >= 100;
    let (level_w, money_w) = if wide { (16, 10) } else { (12, 9) };
    let cols = [
        Constraint::Length(level_w),
        Constraint::Length(money_w),
        Constraint::Length(8),
        Constraint::Length(money_w),
        Constraint::Length(money_w),
        Constraint::Length(money_w),
        Constraint::Fill(1),
    ];
    let fixed = 1 + level_w + 4 * money_w + 8 + 7;
    let bar_w = (inner.width.saturating_sub(fixed) as usize)
        .saturating_sub(5)
        .clamp(3, 30);
    // The rows that fit, with the selected level among them (a team per row can outgrow it).
    let levels = &s.panes.budget.snap.levels;
    let nav = ListNav {
        selected: s.panes.budget.sel,
        ..ListNav::default()
    };
    let (first, n) = window(&nav, levels.len(), inner.height.saturating_sub(1) as usize);
    // Rows below the header, for the mouse (tui/mouse.rs).
    s.hits.list(
        Rect::new(inner.x, inner.y + 1, inner.width, n as u16),
        first,
    );
    let rows = levels[first..first + n].iter().enumerate().map(|(k, l)| {
        let i = first + k;
        let used = match l.cap {
            Some(c) if c.0 > 0 => {
                let f = (l.spent.0 + l.reserved.0) as f64 / c.0 as f64;
                let style = if f >= 1.0 {
                    t.error
                } else if f >= 0.8 {
                    t.warn
                } else {
                    t.ok
                };
                Span::styled(
                    format!(
                        "{} {:>3.0}%",
                        used_bar(l.spent, l.reserved, c, bar_w),
                        f * 100.0
                    ),
                    style,
                )
            }
            _ => Span::styled("no cap", t.muted),
        };
        let cells = vec![
            Cell::from(fit(&l.level, level_w as usize)),
            Cell::from(l.cap.map_or("none".into(), format_budget)),
            Cell::from(l.period.clone().unwrap_or_else(|| "-".into())),
            Cell::from(if l.estimated.0 > 0 {
                format!("{}*", usd(l.spent))
            } else {
                usd(l.spent)
            }),
            Cell::from(usd(l.reserved)),
            Cell::from(l.remaining().map_or("∞".into(), usd)),
            Cell::from(used),
        ];
        row(cells, i == s.panes.budget.sel, t)
    });
    Table::new(rows, widths(&cols))
        .header(header(
            &[
                "",
                "Level",
                "Cap",
                "Period",
                "Spent",
                "Reserved",
                "Remaining",
                if wide {
                    "Used: █ spent + ▒ reserved"
                } else {
                    "Used █+▒"
                },
            ],
            t,
        ))
        .column_spacing(1)
        .render(inner, buf);
}

/// The markers of the projection and cap lines (`Marker::Dot`, `Marker::Bar`), named in the title.
const PROJECTION_MARK: &str = "•";
const CAP_MARK: &str = "▄";

fn chart(l: &LevelItem, area: Rect, buf: &mut Buffer, t: &Theme) {
    let p = project(&l.series, l.cap);
    let mut title = vec![Span::styled(format!(" Burn-down · {} ", l.level), t.title)];
    if l.estimated.0 > 0 {
        // Calls cut short by a crash were charged the worst case held for them.
        title.push(Span::styled(
            format!("· {} estimated ", usd(l.estimated)),
            t.warn,
        ));
    }
    // Each line is named with its marker, so the chart reads without colour (NO_COLOR):
    // braille spent, `•` projection, `▄` cap.
    if let Some(p) = &p {
        title.push(Span::styled(
            format!("{PROJECTION_MARK} projection ${:.4}/h ", p.usd_per_hour),
            t.chart_projection,
        ));
    }
    if let Some(cap) = l.cap {
        let when = match p.as_ref().and_then(|p| p.cap_in_ms) {
            Some(0) => " reached".to_string(),
            Some(ms) => format!(" in ~{}", duration(ms)),
            None => String::new(),
        };
        title.push(Span::styled(
            format!("{CAP_MARK} cap {}{when} ", format_budget(cap)),
            t.chart_cap,
        ));
    }
    let blk = block(Line::from(title), t, false);
    if l.series.len() < 2 {
        let inner = blk.inner(area);
        blk.render(area, buf);
        Paragraph::new(empty(
            "Not enough spend recorded at this level for a chart yet.",
            t.muted,
        ))
        .render(inner, buf);
        return;
    }
    // Work in ms, then show seconds, minutes or hours depending on the span.
    let t0 = l.series[0].0;
    let last_ms = (l.series[l.series.len() - 1].0 - t0) as f64;
    let y_last = l.series[l.series.len() - 1].1.usd();
    let span = last_ms.max(1000.0);
    let mut end_ms = last_ms + span * 0.5;
    let mut proj_ms: Vec<(f64, f64)> = vec![];
    if let Some(p) = &p {
        let horizon = match p.cap_in_ms {
            Some(ms) => (ms as f64).min(span * 2.0),
            None => span * 0.5,
        };
        end_ms = last_ms + horizon.max(span * 0.1);
        let per_ms = p.usd_per_hour / 3_600_000.0;
        proj_ms = vec![
            (last_ms, y_last),
            (end_ms, y_last + per_ms * (end_ms - last_ms)),
        ];
    }
    let (unit, suffix) = if end_ms < 120_000.0 {
        (1000.0, "s")
    } else if end_ms < 3.0 * 3_600_000.0 {
        (60_000.0, "m")
    } else {
        (3_600_000.0, "h")
    };
    let spent: Vec<(f64, f64)> = l
        .series
        .iter()
        .map(|(at, m)| ((at - t0) as f64 / unit, m.usd()))
        .collect();
    let proj: Vec<(f64, f64)> = proj_ms.iter().map(|(x, y)| (x / unit, *y)).collect();
    let x_end = end_ms / unit;
    let prec = usize::from(suffix == "h");
    let cap_line: Vec<(f64, f64)> = l
        .cap
        .map_or(vec![], |c| vec![(0.0, c.usd()), (x_end, c.usd())]);
    let y_top = spent
        .iter()
        .chain(proj.iter())
        .chain(cap_line.iter())
        .map(|p| p.1)
        .fold(0.0f64, f64::max)
        .max(1e-6)
        * 1.1;
    let mut sets = vec![
        Dataset::default()
            .name("spent")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(t.chart_spent)
            .data(&spent),
    ];
    if !proj.is_empty() {
        sets.push(
            Dataset::default()
                .name("projection")
                .marker(Marker::Dot)
                .graph_type(GraphType::Line)
                .style(t.chart_projection)
                .data(&proj),
        );
    }
    if !cap_line.is_empty() {
        sets.push(
            Dataset::default()
                .name("cap")
                .marker(Marker::Bar)
                .graph_type(GraphType::Line)
                .style(t.chart_cap)
                .data(&cap_line),
        );
    }
    let x_labels = vec![
        Span::raw("0"),
        Span::raw(format!("{:.prec$}{suffix}", x_end / 2.0)),
        Span::raw(format!("{:.prec$}{suffix}", x_end)),
    ];
    let y_labels = vec![Span::raw("$0"), Span::raw(format!("${:.2}", y_top / 1.1))];
    Chart::new(sets)
        .block(blk)
        .legend_position(Some(LegendPosition::BottomRight))
        .hidden_legend_constraints((Constraint::Percentage(50), Constraint::Percentage(50)))
        .x_axis(
            Axis::default()
                .bounds([0.0, x_end])
                .labels(x_labels)
                .style(t.muted),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, y_top])
                .labels(y_labels)
                .style(t.muted),
        )
        .render(area, buf);
}

fn spend_lists(s: &State, area: Rect, buf: &mut Buffer, t: &Theme) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(area);
    let bar_w = 10;
    let max = s
        .panes
        .budget
        .snap
        .by_run
        .iter()
        .map(|r| r.2.0)
        .max()
        .unwrap_or(0)
        .max(1);
    let blk = block(" Spend by run ", t, false);
    let inner = blk.inner(left);
    blk.render(left, buf);
    let desc_w = (inner.width as usize).saturating_sub(8 + bar_w + 10 + 3);
    let mut lines: Vec<Line> = s
        .panes
        .budget
        .snap
        .by_run
        .iter()
        .map(|(id, d, m)| {
            Line::from(vec![
                Span::raw(format!("{id:<8} ")),
                Span::styled(bar(m.0 as f64 / max as f64, bar_w), t.chart_spent),
                Span::raw(format!(" {:>9} ", usd(*m))),
                Span::styled(fit(&one_line(d), desc_w), t.muted),
            ])
        })
        .collect();
    if lines.is_empty() {
        lines.push(empty("no spend yet", t.muted));
    }
    Paragraph::new(lines).render(inner, buf);
    let blk = block(" Spend by phase ", t, false);
    let inner = blk.inner(right);
    blk.render(right, buf);
    let max = s
        .panes
        .budget
        .snap
        .by_phase
        .iter()
        .map(|r| r.1.0)
        .max()
        .unwrap_or(0)
        .max(1);
    let mut lines: Vec<Line> = s
        .panes
        .budget
        .snap
        .by_phase
        .iter()
        .map(|(role, m)| {
            Line::from(vec![
                Span::raw(format!("{:<10}", fit(role, 10))),
                Span::styled(bar(m.0 as f64 / max as f64, bar_w), t.chart_spent),
                Span::raw(format!(" {:>9}", usd(*m))),
            ])
        })
        .collect();
    if lines.is_empty() {
        lines.push(empty("no spend yet", t.muted));
    }
    Paragraph::new(lines).render(inner, buf);
}

impl Widget for BudgetPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (s, t) = (self.state, self.theme);
        let levels_h = (s.panes.budget.snap.levels.len() as u16 + 3)
            .clamp(4, if area.height >= 30 { 9 } else { 6 });
        let lists_h = if area.height >= 30 { 9 } else { 6 };
        let [top, mid, bottom] = Layout::vertical([
            Constraint::Length(levels_h),
            Constraint::Min(4),
            Constraint::Length(lists_h),
        ])
        .areas(area);
        levels_table(s, top, buf, t);
        match s.panes.budget.snap.levels.get(s.panes.budget.sel) {
            Some(l) => chart(l, mid, buf, t),
            None => block(" Burn-down ", t, false).render(mid, buf),
        }
        spend_lists(s, bottom, buf, t);
    }
}

pub(super) fn render(s: &State, t: &Theme, area: Rect, buf: &mut Buffer) {
    BudgetPane { state: s, theme: t }.render(area, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_is_linear_over_recent_points() {
        let m = Micros::from_usd;
        // $1 per hour, $2 spent, cap $5: 3 hours to go.
        let s = vec![(0, m(1.0)), (1_800_000, m(1.5)), (3_600_000, m(2.0))];
        let p = project(&s, Some(m(5.0))).unwrap();
        assert!((p.usd_per_hour - 1.0).abs() < 1e-9);
        assert_eq!(p.cap_in_ms, Some(3 * 3_600_000));
        assert_eq!(project(&s, Some(m(1.5))).unwrap().cap_in_ms, Some(0));
        assert_eq!(project(&s, None).unwrap().cap_in_ms, None);
        assert!(project(&s[..2], None).is_none());
        assert!(project(&[(0, m(1.0)), (10, m(1.0)), (20, m(1.0))], None).is_none());
        // A burst within seconds: no projection.
        assert!(project(&[(0, m(1.0)), (10, m(2.0)), (20, m(3.0))], None).is_none());
    }
}
