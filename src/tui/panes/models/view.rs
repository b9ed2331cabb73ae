//! The Models pane's widgets: the models table, routing recommendations and, below, the selected
//! model's learned quality by task type (with sample counts) and latency sparkline.

use crate::domain::Micros;
use crate::tui::snapshot::ModelRow;
use crate::tui::state::State;
use crate::tui::theme::Theme;
use crate::tui::widgets::list::{empty, header, list_title, row, widths, window};
use crate::tui::widgets::{bar, block, breaker, fit, one_line, sparkline, thousands, usd};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Sparkline, Table, Widget};

pub struct ModelsPane<'a> {
    pub state: &'a State,
    pub theme: &'a Theme,
}

fn ms(v: Option<u64>) -> String {
    v.map_or("-".into(), |x| x.to_string())
}

fn selected_detail(m: &ModelRow, area: Rect, buf: &mut Buffer, t: &Theme) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);
    let saved = if m.cache_saving == Micros::ZERO {
        String::new()
    } else {
        format!("· cache saved {} ", usd(m.cache_saving))
    };
    let blk = block(format!(" Learned quality · {} {saved}", m.id), t, false);
    let inner = blk.inner(left);
    blk.render(left, buf);
    let mut lines: Vec<Line> = Vec::new();
    if m.quality.is_empty() {
        lines.push(empty("no evaluated attempts yet", t.muted));
    }
    let bar_w = (inner.width as usize).saturating_sub(18 + 17).clamp(4, 20);
    for (ty, avg, n) in &m.quality {
        lines.push(Line::from(vec![
            Span::raw(format!("{:<18}", fit(ty, 17))),
            Span::styled(bar(*avg, bar_w), t.chart_spent),
            Span::raw(format!(" {avg:.2} ")),
            Span::styled(
                if inner.width >= 48 {
                    format!(
                        "({} sample{})",
                        thousands(*n),
                        if *n == 1 { "" } else { "s" }
                    )
                } else {
                    format!("({})", thousands(*n))
                },
                t.muted,
            ),
        ]));
    }
    Paragraph::new(lines).render(inner, buf);
    let title = format!(
        " Latency of the last {} calls (p50 {} ms, p95 {} ms) ",
        m.recent_ms.len(),
        ms(m.p50_ms),
        ms(m.p95_ms)
    );
    let blk = block(title, t, false);
    let inner = blk.inner(right);
    blk.render(right, buf);
    if m.recent_ms.is_empty() {
        Paragraph::new(empty("no successful calls yet", t.muted)).render(inner, buf);
        return;
    }
    let tail = &m.recent_ms[m.recent_ms.len().saturating_sub(inner.width as usize)..];
    Sparkline::default()
        .data(tail)
        .style(t.chart_spent)
        .render(inner, buf);
}

impl Widget for ModelsPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (s, t) = (&self.state.panes.models, self.theme);
        let detail_h = if area.height >= 30 { 9 } else { 7 };
        let recs = &s.recommendations;
        let recs_h = if recs.is_empty() || area.height < 20 {
            0
        } else {
            recs.len().min(3) as u16 + 2
        };
        let [list, rec_area, bottom] = Layout::vertical([
            Constraint::Min(5),
            Constraint::Length(recs_h),
            Constraint::Length(detail_h),
        ])
        .areas(area);
        if recs_h > 0 {
            let blk = block(format!(" Recommendations ({}) ", recs.len()), t, false);
            let inner = blk.inner(rec_area);
            blk.render(rec_area, buf);
            let lines: Vec<Line> = recs
                .iter()
                .take(inner.height as usize)
                .map(|r| Line::from(vec![Span::styled("→ ", t.accent), Span::raw(one_line(r))]))
                .collect();
            Paragraph::new(lines).render(inner, buf);
        }
        let view = s.view();
        let blk = block(
            list_title("Models", view.len(), s.items.len(), &s.nav, t),
            t,
            true,
        );
        let inner = blk.inner(list);
        blk.render(list, buf);
        if view.is_empty() {
            let msg = if s.items.is_empty() {
                "Loading…"
            } else {
                "No model matches the filter."
            };
            Paragraph::new(empty(msg, t.muted)).render(inner, buf);
        } else {
            let wide = inner.width >= 110;
            let model_w = if wide { 24 } else { 18 };
            let spark_w = if wide { 16 } else { 8 };
            let mut cols = vec![Constraint::Length(model_w)];
            let mut titles = vec!["", "Model"];
            if wide {
                cols.push(Constraint::Length(10));
                titles.push("Provider");
            }
            cols.extend([
                Constraint::Length(11),
                Constraint::Length(5),
                Constraint::Length(6),
                Constraint::Length(7),
                Constraint::Length(11),
                Constraint::Length(spark_w),
            ]);
            titles.extend([
                "Breaker",
                "Fails",
                "Calls",
                "Success",
                "p50/p95 ms",
                "Latency",
            ]);
            if wide {
                cols.extend([Constraint::Length(9), Constraint::Length(7)]);
                titles.extend(["Cost", "Quality"]);
            }
            let (first, n) = window(&s.nav, view.len(), inner.height.saturating_sub(1) as usize);
            // Rows below the header, for the mouse (tui/mouse.rs).
            self.state.hits.list(
                ratatui::layout::Rect::new(inner.x, inner.y + 1, inner.width, n as u16),
                first,
            );
            let rows = view[first..first + n].iter().enumerate().map(|(k, &i)| {
                let m = &s.items[i];
                let fails = Span::styled(
                    m.failures.to_string(),
                    if m.failures > 0 { t.warn } else { t.base },
                );
                let rate = m
                    .success_rate()
                    .map_or("-".into(), |r| format!("{:.1}%", r * 100.0));
                let mut cells = vec![Cell::from(fit(&m.id, model_w as usize))];
                if wide {
                    cells.push(Cell::from(Span::styled(m.provider.clone(), t.muted)));
                }
                cells.extend([
                    Cell::from(breaker(m.breaker, t)),
                    Cell::from(fails),
                    Cell::from(thousands(m.calls)),
                    Cell::from(rate),
                    Cell::from(format!("{}/{}", ms(m.p50_ms), ms(m.p95_ms))),
                    Cell::from(Span::styled(
                        sparkline(&m.recent_ms, spark_w as usize),
                        t.chart_spent,
                    )),
                ]);
                if wide {
                    let q = if m.quality.is_empty() {
                        "-".to_string()
                    } else {
                        let (sum, n) = m
                            .quality
                            .iter()
                            .fold((0.0, 0u64), |(s, c), (_, a, n)| (s + a * *n as f64, c + n));
                        format!("{:.2}", sum / n.max(1) as f64)
                    };
                    cells.extend([Cell::from(usd(m.cost)), Cell::from(q)]);
                }
                row(cells, first + k == s.nav.selected, t)
            });
            Table::new(rows, widths(&cols))
                .header(header(&titles, t))
                .column_spacing(1)
                .render(inner, buf);
        }
        match s.selected() {
            Some(m) => selected_detail(m, bottom, buf, t),
            None => block(" Model ", t, false).render(bottom, buf),
        }
    }
}

pub(super) fn render(s: &State, t: &Theme, area: Rect, buf: &mut Buffer) {
    ModelsPane { state: s, theme: t }.render(area, buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::BreakerState;

    fn screen(saving: Micros) -> String {
        let mut s = State::new(0, 8.0, false);
        s.panes.models.items = vec![ModelRow {
            id: "claude-sonnet-4-6".into(),
            provider: "anthropic".into(),
            breaker: BreakerState::Closed,
            failures: 0,
            calls: 3,
            ok: 3,
            cost: Micros(3000),
            p50_ms: None,
            p95_ms: None,
            recent_ms: vec![],
            quality: vec![],
            cache_saving: saving,
        }];
        let theme = Theme::builtin("default").unwrap();
        let area = Rect::new(0, 0, 120, 20);
        let mut buf = Buffer::empty(area);
        render(&s, &theme, area, &mut buf);
        (0..area.height)
            .map(|y| {
                (0..area.width)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_selected_model_shows_what_caching_saved() {
        let text = screen(Micros(12_345));
        assert!(
            text.contains("claude-sonnet-4-6 · cache saved $0.0123"),
            "{text}"
        );
        assert!(!screen(Micros::ZERO).contains("cache saved"));
    }
}
