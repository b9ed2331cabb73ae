//! The Tasks pane's widgets: the open run's summary (with the budget level that refused it) and
//! gauge, the task table, and the detail of one task (title, dependencies, the call it makes,
//! prompt, attempts with their routing, failed calls and critique, output).

use crate::domain::status::TaskStatus;
use crate::store::routing::RoutingRecord;
use crate::store::views::FailedCallView;
use crate::tui::snapshot::{RunDetail, TaskItem};
use crate::tui::state::State;
use crate::tui::theme::Theme;
use crate::tui::widgets::list::{empty, header, list_title, row, widths, window};
use crate::tui::widgets::{
    block, duration, expand_tabs, fit, format_budget, one_line, run_status_span, score_vs,
    task_status_span, thousands, usd,
};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Cell, Gauge, Paragraph, Table, Widget, Wrap};

pub struct TasksPane<'a> {
    pub state: &'a State,
    pub theme: &'a Theme,
}

/// Elapsed time of a task against `clock_ms` (`RunDetail::clock_ms`: now while the run runs,
/// its end after, so a task left pending or cancelled stops counting with the run).
pub fn elapsed(t: &TaskItem, clock_ms: i64) -> String {
    match t.started_ms {
        Some(s) => duration(t.finished_ms.unwrap_or(clock_ms) - s),
        None => "-".into(),
    }
}

fn summary(d: &RunDetail, area: Rect, buf: &mut Buffer, t: &Theme) {
    let [info, gauge] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let mut spans = vec![
        run_status_span(d.status, t),
        Span::raw(format!("  {} of {}", usd(d.spent), format_budget(d.budget))),
    ];
    if let Some(team) = &d.team {
        spans.push(Span::styled(format!("  team {team}"), t.muted));
    }
    if let Some(level) = &d.binding {
        spans.push(Span::styled(
            format!("  $ refused by the {level} budget"),
            t.warn,
        ));
    }
    spans.push(Span::raw("  "));
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    spans.push(Span::raw(fit(
        &one_line(&d.description),
        (info.width as usize).saturating_sub(used),
    )));
    Line::from(spans).render(info, buf);
    let total = d.tasks.len();
    let done = d.tasks.iter().filter(|t| t.status.is_done()).count();
    let failed = d
        .tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Failed)
        .count();
    let running = d
        .tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Running)
        .count();
    let ratio = if total == 0 {
        0.0
    } else {
        done as f64 / total as f64
    };
    let mut label = format!(
        "{}/{} tasks done · {:.0}%",
        thousands(done as u64),
        thousands(total as u64),
        ratio * 100.0
    );
    if running > 0 {
        label.push_str(&format!(" · {running} running"));
    }
    if failed > 0 {
        label.push_str(&format!(" · {failed} failed"));
    }
    Gauge::default()
        .ratio(ratio)
        .label(label)
        .gauge_style(t.gauge)
        .use_unicode(true)
        .render(gauge, buf);
}

fn table(s: &State, d: &RunDetail, area: Rect, buf: &mut Buffer, t: &Theme) {
    let view = s.tasks_view();
    let blk = block(
        list_title("Tasks", view.len(), d.tasks.len(), &s.panes.tasks.nav, t),
        t,
        true,
    );
    let inner = blk.inner(area);
    blk.render(area, buf);
    if view.is_empty() {
        let msg = if d.tasks.is_empty() {
            "No tasks yet: the run is being planned."
        } else {
            "No task matches the filter (Esc clears it)."
        };
        Paragraph::new(empty(msg, t.muted)).render(inner, buf);
        return;
    }
    let wide = inner.width >= 100;
    let (id_w, model_w) = if wide { (10, 22) } else { (8, 16) };
    let mut cols = vec![Constraint::Length(12), Constraint::Length(id_w)];
    let mut titles = vec!["", "Status", "Task"];
    if wide {
        cols.push(Constraint::Fill(3));
        titles.push("Title");
    }
    cols.extend([
        Constraint::Length(model_w),
        Constraint::Length(5),
        Constraint::Length(11),
        Constraint::Length(9),
        Constraint::Length(7),
    ]);
    titles.extend(["Model (role)", "Iter", "Score/Thr", "Cost", "Elapsed"]);
    let deps = s.panes.tasks.show_deps;
    if wide {
        cols.push(Constraint::Fill(2));
        titles.push(if deps { "Depends on" } else { "Reason" });
    }
    let (first, n) = window(
        &s.panes.tasks.nav,
        view.len(),
        inner.height.saturating_sub(1) as usize,
    );
    // Rows below the header, for the mouse (tui/mouse.rs).
    s.hits.list(
        ratatui::layout::Rect::new(inner.x, inner.y + 1, inner.width, n as u16),
        first,
    );
    let rows = view[first..first + n].iter().enumerate().map(|(k, &i)| {
        let x = &d.tasks[i];
        let mut cells = vec![
            Cell::from(task_status_span(x.status, t)),
            Cell::from(fit(&x.id, id_w as usize)),
        ];
        if wide {
            cells.push(Cell::from(x.title.clone()));
        }
        cells.extend([
            Cell::from(model_cell(x, model_w as usize, t)),
            Cell::from(format!("{}/{}", x.iteration, x.max_iterations)),
            Cell::from(score_vs(x.score, x.threshold, t)),
            Cell::from(usd(x.cost)),
            Cell::from(elapsed(x, d.clock_ms(s.now_ms))),
        ]);
        if wide {
            let last = if deps {
                if x.dependencies.is_empty() {
                    "-".to_string()
                } else {
                    x.dependencies.join(", ")
                }
            } else {
                x.status_reason.as_deref().map(one_line).unwrap_or_default()
            };
            cells.push(Cell::from(Span::styled(last, t.muted)));
        }
        row(cells, first + k == s.panes.tasks.nav.selected, t)
    });
    Table::new(rows, widths(&cols))
        .header(header(&titles, t))
        .column_spacing(1)
        .render(inner, buf);
}

/// Short name of a call role for the task table.
fn role_short(role: &str) -> &str {
    match role {
        "generate" => "gen",
        "critique" => "crit",
        "revise" => "rev",
        "evaluate" => "eval",
        "decompose" => "plan",
        other => other,
    }
}

/// The Model cell: while a task runs, the model it is calling and the role of the call
/// (`gen claude-sonnet-4-6`); else the model that produced its result.
fn model_cell(x: &TaskItem, w: usize, t: &Theme) -> Line<'static> {
    match (&x.call, x.status) {
        (Some(c), TaskStatus::Running) => {
            let role = role_short(&c.role).to_string();
            let left = w.saturating_sub(role.chars().count() + 1);
            Line::from(vec![
                Span::styled(role, t.accent),
                Span::raw(" "),
                Span::raw(fit(&c.model, left)),
            ])
        }
        _ => Line::from(fit(x.model.as_deref().unwrap_or("-"), w)),
    }
}

/// One routing record: the role's pick, why, the ranked candidates and the ones filtered out.
fn routing_lines(r: &RoutingRecord, t: &Theme) -> Vec<Line<'static>> {
    let mut l = vec![Line::from(vec![
        Span::styled(format!("   routing {}: ", r.role), t.muted),
        Span::raw(
            r.chosen
                .clone()
                .unwrap_or_else(|| "no model answered".into()),
        ),
        Span::styled(format!("  ({} strategy)", r.strategy), t.muted),
    ])];
    l.push(Line::from(Span::styled(
        format!("     why: {}", one_line(&r.reason)),
        t.muted,
    )));
    // The first ranks and every model the call tried; the rest of the ranking is counted.
    const SHOWN_RANKS: u32 = 5;
    let hidden = r
        .candidates
        .iter()
        .filter(|c| c.rank.is_some_and(|k| k > SHOWN_RANKS) && c.outcome.is_none())
        .count();
    for c in &r.candidates {
        if c.rank.is_some_and(|k| k > SHOWN_RANKS) && c.outcome.is_none() {
            continue;
        }
        let what = match (&c.outcome, &c.filtered) {
            (Some(o), _) => format!("  → {}", one_line(o)),
            _ => String::new(),
        };
        let line = match (c.rank, &c.filtered) {
            (Some(rank), _) => format!(
                "     {rank:>2}. {:<24} q {:.2}  ${:.4}/call{what}",
                fit(&c.model, 24),
                c.quality.unwrap_or_default(),
                crate::domain::Micros(c.cost_micros.unwrap_or_default()).usd()
            ),
            (None, Some(f)) => format!("      ✕ {:<24} {}{what}", fit(&c.model, 24), one_line(f)),
            (None, None) => format!("      · {:<24}{what}", fit(&c.model, 24)),
        };
        let style = if c.filtered.is_some() {
            t.muted
        } else if c.outcome.as_deref() == Some("answered") {
            t.ok
        } else if c.outcome.is_some() {
            t.warn
        } else {
            t.base
        };
        l.push(Line::from(Span::styled(line, style)));
        if c.rank == Some(SHOWN_RANKS) && hidden > 0 {
            l.push(Line::from(Span::styled(
                format!("      … {hidden} more ranked below"),
                t.muted,
            )));
        }
    }
    l
}

/// The detail of one task: header, prompt, every attempt with critique, and the output.
pub fn detail_lines(s: &State, task: &TaskItem, t: &Theme) -> Vec<Line<'static>> {
    let mut l: Vec<Line> = vec![Line::from(vec![
        task_status_span(task.status, t),
        Span::raw(format!("  {}  {}  ", task.id, task.task_type)),
        Span::raw(format!("model {}  ", task.model.as_deref().unwrap_or("-"))),
        Span::raw(format!(
            "iteration {}/{}  score ",
            task.iteration, task.max_iterations
        )),
        score_vs(task.score, task.threshold, t),
        Span::raw(format!(
            "  cost {}  elapsed {}",
            usd(task.cost),
            elapsed(
                task,
                s.detail.as_ref().map_or(s.now_ms, |d| d.clock_ms(s.now_ms))
            )
        )),
    ])];
    if let Some(r) = &task.status_reason {
        l.push(Line::from(Span::styled(
            format!("reason: {}", one_line(r)),
            t.warn,
        )));
    }
    l.push(Line::from(vec![
        Span::styled("title: ", t.muted),
        Span::raw(task.title.clone()),
    ]));
    l.push(Line::from(vec![
        Span::styled("depends on: ", t.muted),
        Span::raw(if task.dependencies.is_empty() {
            "nothing".to_string()
        } else {
            task.dependencies.join(", ")
        }),
    ]));
    if let (Some(c), TaskStatus::Running) = (&task.call, task.status) {
        let verb = if c.in_flight {
            "calling"
        } else {
            "last called"
        };
        l.push(Line::from(vec![
            Span::styled(format!("{verb}: "), t.muted),
            Span::styled(c.model.clone(), t.accent),
            Span::raw(format!(" to {}", c.role)),
        ]));
    }
    let Some(a) = s
        .panes
        .tasks
        .attempts
        .as_ref()
        .filter(|a| a.task_id == task.id)
    else {
        l.push(Line::from(Span::styled("Loading attempts…", t.muted)));
        return l;
    };
    l.push(Line::default());
    l.push(Line::from(Span::styled("Prompt", t.header)));
    l.extend(a.prompt.lines().map(|x| Line::from(expand_tabs(x))));
    l.push(Line::default());
    l.push(Line::from(Span::styled(
        format!("Attempts ({})", a.attempts.len()),
        t.header,
    )));
    if a.attempts.is_empty() {
        l.push(Line::from(Span::styled("none yet", t.muted)));
    }
    for at in &a.attempts {
        let mut head = vec![
            Span::styled(format!("#{} ", at.n), t.accent),
            Span::raw(format!("{}  score ", at.model.as_deref().unwrap_or("-"))),
            score_vs(at.score, task.threshold, t),
            Span::raw(format!("  {}", usd(at.cost))),
        ];
        if let Some(r) = &at.reviewer {
            head.push(Span::styled(format!("  reviewed by {r}"), t.muted));
        }
        l.push(Line::from(head));
        if at.self_evaluated {
            l.push(Line::from(Span::styled(
                "   self-evaluated: scored by the model that wrote it (no other model available)",
                t.warn,
            )));
        }
        if let Some(n) = &at.score_note {
            l.push(Line::from(Span::styled(
                format!("   {}", one_line(n)),
                t.warn,
            )));
        }
        if !at.validators.is_empty() {
            l.push(Line::from(Span::styled(
                format!("   validators: {}", at.validators),
                t.muted,
            )));
        }
        if let Some(f) = &at.failure_reason {
            l.push(Line::from(Span::styled(
                format!("   ✕ {}", one_line(f)),
                t.error,
            )));
        }
        for r in a.routing.iter().filter(|r| r.attempt == at.n) {
            l.extend(routing_lines(r, t));
        }
        for f in a.failed_calls.iter().filter(|f| f.attempt == Some(at.n)) {
            l.push(failed_line(f, t));
        }
        if let Some(c) = &at.critique {
            l.push(Line::from(Span::styled("   critique:", t.muted)));
            l.extend(
                c.lines()
                    .map(|x| Line::from(format!("     {}", expand_tabs(x)))),
            );
        }
    }
    // Calls and routing of an attempt not recorded yet (the one running), or of no attempt.
    let recorded = |n: Option<u32>| n.is_some_and(|n| a.attempts.iter().any(|x| x.n == n));
    let pending_routing: Vec<&RoutingRecord> = a
        .routing
        .iter()
        .filter(|r| !recorded(Some(r.attempt)))
        .collect();
    let pending_fails: Vec<&FailedCallView> = a
        .failed_calls
        .iter()
        .filter(|f| !recorded(f.attempt))
        .collect();
    if !pending_routing.is_empty() || !pending_fails.is_empty() {
        l.push(Line::from(Span::styled(
            "In progress (attempt not recorded yet)",
            t.accent,
        )));
        for r in pending_routing {
            l.extend(routing_lines(r, t));
        }
        for f in pending_fails {
            l.push(failed_line(f, t));
        }
    }
    l.push(Line::default());
    l.push(Line::from(Span::styled("Output", t.header)));
    match &a.output {
        Some(o) => l.extend(o.lines().map(|x| Line::from(expand_tabs(x)))),
        None => l.push(Line::from(Span::styled("no output yet", t.muted))),
    }
    l
}

/// A failed call of the task: role, model, outcome, error.
fn failed_line(f: &FailedCallView, t: &Theme) -> Line<'static> {
    let retry = if f.retry > 0 {
        format!(" (retry {})", f.retry)
    } else {
        String::new()
    };
    let err = f
        .error
        .as_deref()
        .map(|e| format!(": {}", one_line(e)))
        .unwrap_or_default();
    Line::from(Span::styled(
        format!(
            "   ✕ {} call to {} failed ({}){retry}{err}",
            f.role, f.model, f.outcome
        ),
        t.error,
    ))
}

impl Widget for TasksPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (s, t) = (self.state, self.theme);
        let Some(d) = s.detail.as_ref() else {
            let blk = block(" Tasks ", t, true);
            let inner = blk.inner(area);
            blk.render(area, buf);
            let msg = match &s.open_run {
                Some(id) => format!("Loading run {id}…"),
                None => {
                    "No run open: pick one in Runs (1) and press Enter, or press n for a new run."
                        .into()
                }
            };
            Paragraph::new(empty(&msg, t.muted))
                .wrap(Wrap { trim: true })
                .render(inner, buf);
            return;
        };
        let [top, body] = Layout::vertical([Constraint::Length(4), Constraint::Min(0)]).areas(area);
        let blk = block(format!(" Run {} ", d.id), t, false);
        let inner = blk.inner(top);
        blk.render(top, buf);
        summary(d, inner, buf, t);
        let task = s
            .panes
            .tasks
            .view
            .as_ref()
            .and_then(|v| d.tasks.iter().find(|x| x.id == v.task_id).map(|x| (v, x)));
        match task {
            Some((v, task)) => {
                let blk = block(format!(" Task {} — Esc to close ", task.id), t, true);
                let lines = detail_lines(s, task, t);
                Paragraph::new(Text::from(lines))
                    .wrap(Wrap { trim: false })
                    .scroll((v.scroll, 0))
                    .block(blk)
                    .render(body, buf);
            }
            None => table(s, d, body, buf, t),
        }
    }
}

pub(super) fn render(s: &State, t: &Theme, area: Rect, buf: &mut Buffer) {
    TasksPane { state: s, theme: t }.render(area, buf);
}
