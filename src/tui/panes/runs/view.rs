//! The Runs pane's table: id, status, resumability, progress, spend vs budget, description; on
//! wider terminals team and creation time, then host and user (dropped first when narrowing).

use crate::tui::state::State;
use crate::tui::theme::Theme;
use crate::tui::widgets::list::{empty, header, list_title, row, widths, window};
use crate::tui::widgets::{block, fit, format_budget, one_line, run_status_span, thousands, usd};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Table, Widget};

/// Inner widths from which team and creation time (`WIDE`), then host and user (`WIDER`) show.
const WIDE: u16 = 110;
const WIDER: u16 = 140;
const HOST_W: u16 = 14;
const USER_W: u16 = 10;

pub struct RunsPane<'a> {
    pub state: &'a State,
    pub theme: &'a Theme,
}

impl Widget for RunsPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (s, t) = (self.state, self.theme);
        let view = s.runs_view();
        let name = if s.panes.runs.mine {
            "Runs · mine"
        } else {
            "Runs"
        };
        let blk = block(
            list_title(name, view.len(), s.runs.len(), &s.panes.runs.nav, t),
            t,
            true,
        );
        let inner = blk.inner(area);
        blk.render(area, buf);
        if view.is_empty() {
            let msg = if !s.loaded {
                "Loading…"
            } else if s.runs.is_empty() {
                "No runs yet. Press n to start one."
            } else if s.panes.runs.mine && s.panes.runs.nav.filter.is_empty() {
                "None of the runs was started here by you (m shows every run)."
            } else {
                "No run matches the filter (Esc clears it)."
            };
            Paragraph::new(empty(msg, t.muted)).render(inner, buf);
            return;
        }
        let wide = inner.width >= WIDE;
        // Host and user go first when the terminal narrows (the description needs the room).
        let wider = inner.width >= WIDER;
        let tasks = |r: &crate::tui::snapshot::RunItem| {
            format!("{}/{}", thousands(r.tasks_done), thousands(r.tasks_total))
        };
        // As wide as the widest count (`1,034/1,200`), at least the header.
        let tasks_w = view
            .iter()
            .map(|&i| tasks(&s.runs[i]).len())
            .max()
            .unwrap_or(0)
            .clamp(5, 15) as u16;
        let mut cols = vec![
            Constraint::Length(8),
            Constraint::Length(20),
            Constraint::Length(9),
            Constraint::Length(tasks_w),
            Constraint::Length(16),
        ];
        let mut titles = vec!["", "Run", "Status", "Resume", "Tasks", "Spent/Budget"];
        if wide {
            cols.push(Constraint::Length(10));
            titles.push("Team");
        }
        if wider {
            cols.extend([Constraint::Length(HOST_W), Constraint::Length(USER_W)]);
            titles.extend(["Host", "User"]);
        }
        if wide {
            cols.push(Constraint::Length(11));
            titles.push("Created");
        }
        cols.push(Constraint::Fill(1));
        titles.push("Description");
        let desc_w = inner.width.saturating_sub(
            cols.iter()
                .map(|c| match c {
                    Constraint::Length(n) => *n + 1,
                    _ => 0,
                })
                .sum::<u16>()
                + 2,
        ) as usize;
        let (first, n) = window(
            &s.panes.runs.nav,
            view.len(),
            inner.height.saturating_sub(1) as usize,
        );
        // Rows below the header, for the mouse (tui/mouse.rs).
        s.hits.list(
            ratatui::layout::Rect::new(inner.x, inner.y + 1, inner.width, n as u16),
            first,
        );
        let rows = view[first..first + n].iter().enumerate().map(|(k, &i)| {
            let r = &s.runs[i];
            let open = s.open_run.as_deref() == Some(r.id.as_str());
            let resume = if s.active.contains(&r.id) {
                Span::styled("▶ here", t.running)
            } else if r.status.is_resumable() && !r.blocked {
                Span::styled("↻ yes", t.accent)
            } else {
                Span::styled("- no", t.muted)
            };
            let mut cells = vec![
                Cell::from(Span::styled(
                    r.id.clone(),
                    if open { t.title } else { t.base },
                )),
                Cell::from(run_status_span(r.status, t)),
                Cell::from(resume),
                Cell::from(tasks(r)),
                Cell::from(format!("{}/{}", usd(r.spent), format_budget(r.budget))),
            ];
            if wide {
                cells.push(Cell::from(fit(r.team.as_deref().unwrap_or("-"), 10)));
            }
            if wider {
                // This process's own host and user stand out from other machines'.
                let cell = |v: &Option<String>, mine: &str, w: u16| {
                    let style = if v.as_deref() == Some(mine) {
                        t.base
                    } else {
                        t.muted
                    };
                    Cell::from(Span::styled(
                        fit(v.as_deref().unwrap_or("-"), w as usize),
                        style,
                    ))
                };
                cells.push(cell(&r.host, &s.me.host, HOST_W));
                cells.push(cell(&r.user, &s.me.user, USER_W));
            }
            if wide {
                cells.push(Cell::from(Span::styled(r.created.clone(), t.muted)));
            }
            cells.push(Cell::from(fit(&one_line(&r.description), desc_w)));
            row(cells, first + k == s.panes.runs.nav.selected, t)
        });
        Table::new(rows, widths(&cols))
            .header(header(&titles, t))
            .column_spacing(1)
            .render(inner, buf);
    }
}

pub(super) fn render(s: &State, t: &Theme, area: Rect, buf: &mut Buffer) {
    RunsPane { state: s, theme: t }.render(area, buf);
}
