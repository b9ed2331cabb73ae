//! The Analysis pane's widgets: a summary (totals, project types, tests/CI/docs, test ratio, the
//! model's view) beside a languages table, over the findings ranked best first with priority as
//! symbol + word + colour; the progress of a running analysis; the detail popup of a finding.

use super::popups::{FindingPopup, PromptPopup};
use super::{AnalysisState, Running, Stage};
use crate::analysis::{AnalysisReport, Priority};
use crate::tui::mouse::HitCell;
use crate::tui::state::{Overlay, State};
use crate::tui::theme::Theme;
use crate::tui::widgets::list::{empty, list_title, position, row, widths, window};
use crate::tui::widgets::{block, fit, one_line, priority, thousands};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Cell, Paragraph, Table, Widget, Wrap};

pub struct AnalysisPane<'a> {
    pub state: &'a AnalysisState,
    pub loaded: bool,
    pub theme: &'a Theme,
    /// Where the findings rows are drawn, for the mouse (`tui/mouse.rs`).
    pub hits: Option<&'a HitCell>,
}

/// `1.5 MB`, `820 KB`.
fn size(bytes: u64) -> String {
    if bytes >= 1_048_576 {
        format!("{:.1} MB", bytes as f64 / 1_048_576.0)
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

/// One line on what a running analysis is doing.
pub fn progress_line(r: &Running, t: &Theme) -> Line<'static> {
    let what = match r.stage {
        Stage::Starting => "starting…".to_string(),
        Stage::Walking { files, bytes } => {
            format!("reading: {} files, {}…", thousands(files), size(bytes))
        }
        Stage::Checking { files } => format!("checking {} files…", thousands(files)),
        Stage::Semantic { files } => {
            format!("{} files read; asking a model…", thousands(files))
        }
    };
    Line::from(vec![
        Span::styled("▶ analyzing ", t.running),
        Span::raw(format!("{}: ", r.path)),
        Span::styled(what, t.running),
    ])
}

fn yes_no(label: &str, v: bool, t: &Theme) -> Vec<Span<'static>> {
    let (sym, style) = if v { ("✓", t.ok) } else { ("✕", t.warn) };
    vec![
        Span::styled(format!("{sym} {label}"), style),
        Span::raw("  "),
    ]
}

/// `8 findings · 1 critical · 2 high…`, or `8 findings: ‼ 1 ▲ 2…` when that does not fit (the
/// table below has the words).
fn counts_line(r: &AnalysisReport, w: usize, t: &Theme) -> Line<'static> {
    let tiers: Vec<(Priority, usize)> = [
        Priority::Critical,
        Priority::High,
        Priority::Medium,
        Priority::Low,
    ]
    .into_iter()
    .map(|p| (p, r.findings_by_priority(p).count()))
    .filter(|(_, n)| *n > 0)
    .collect();
    let head = format!("{} findings", thousands(r.findings.len() as u64));
    let long: usize = head.chars().count()
        + tiers
            .iter()
            .map(|(p, n)| 4 + n.to_string().len() + p.as_str().len())
            .sum::<usize>();
    let mut spans = vec![Span::raw(head)];
    for (i, (p, n)) in tiers.into_iter().enumerate() {
        let style = priority(p, t).style;
        if long <= w {
            spans.push(Span::raw(" · "));
            spans.push(Span::styled(
                format!("{n} {}", p.as_str().to_lowercase()),
                style,
            ));
        } else {
            let sym = priority(p, t).content.chars().next().unwrap_or(' ');
            spans.push(Span::raw(if i == 0 { ": " } else { " " }));
            spans.push(Span::styled(format!("{sym} {n}"), style));
        }
    }
    Line::from(spans)
}

/// Cut a path from the left (`…/checks/security.rs:179`): its end says the most.
fn fit_end(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        return s.to_string();
    }
    let tail: String = s.chars().skip(n + 1 - w.max(1)).collect();
    format!("…{tail}")
}

/// A header cell aligned right (numeric columns).
fn right(s: &str) -> Cell<'static> {
    Cell::from(Line::from(s.to_string()).right_aligned())
}

fn summary_lines(
    st: &AnalysisState,
    r: &AnalysisReport,
    w: usize,
    t: &Theme,
) -> Vec<Line<'static>> {
    let mut l = vec![Line::from(fit(
        &format!(
            "{} files · {} code · {} comments · {} blanks",
            thousands(r.files),
            thousands(r.lines.code),
            thousands(r.lines.comments),
            thousands(r.lines.blanks)
        ),
        w,
    ))];
    let types = if r.project_types.is_empty() {
        "none detected".to_string()
    } else {
        r.project_types.join(", ")
    };
    l.push(Line::from(vec![
        Span::styled("Types ", t.muted),
        Span::raw(fit(&types, w.saturating_sub(6))),
    ]));
    let mut checks = yes_no("tests", r.has_tests, t);
    checks.extend(yes_no("CI", r.has_ci, t));
    checks.extend(yes_no("docs", r.has_docs, t));
    checks.push(Span::styled("test/source ", t.muted));
    checks.push(Span::raw(
        r.test_to_source_ratio
            .map_or("n/a".into(), |x| format!("{x:.2}")),
    ));
    l.push(Line::from(checks));
    l.push(counts_line(r, w, t));
    l.push(match (&r.semantic, &r.semantic_note) {
        (Some(sem), _) => Line::from(vec![
            Span::styled("Model ", t.muted),
            Span::raw(fit(&one_line(&sem.purpose), w.saturating_sub(6))),
        ]),
        (None, Some(note)) => Line::from(Span::styled(fit(note, w), t.muted)),
        (None, None) => Line::default(),
    });
    l.push(match &st.running {
        Some(run) => progress_line(run, t),
        None => Line::from(Span::styled(
            fit(
                &format!(
                    "analyzed {} in {} ms",
                    utc_time(&r.analyzed_at),
                    r.duration_ms
                ),
                w,
            ),
            t.muted,
        )),
    });
    l
}

/// In UTC: render never depends on the machine's time zone.
fn utc_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|x| {
            x.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        })
        .unwrap_or_else(|_| rfc3339.to_string())
}

fn languages(r: &AnalysisReport, area: Rect, buf: &mut Buffer, t: &Theme) {
    let blk = block(" Languages ", t, false);
    let inner = blk.inner(area);
    blk.render(area, buf);
    if r.languages.is_empty() {
        Paragraph::new(empty("no source files", t.muted)).render(inner, buf);
        return;
    }
    let wide = inner.width >= 44;
    let mut titles = vec![Cell::from("Language"), right("Files"), right("Code")];
    let mut cols = vec![
        Constraint::Length(14),
        Constraint::Length(5),
        Constraint::Length(7),
    ];
    if wide {
        titles.extend([right("Comments"), right("Blanks")]);
        cols.extend([Constraint::Length(8), Constraint::Length(7)]);
    }
    let room = inner.height.saturating_sub(1) as usize;
    let more = r.languages.len().saturating_sub(room);
    let shown = if more > 0 {
        room.saturating_sub(1)
    } else {
        room
    };
    let num = |n: u64| Cell::from(Line::from(thousands(n)).right_aligned());
    let mut rows: Vec<ratatui::widgets::Row> = r
        .languages
        .iter()
        .take(shown)
        .map(|l| {
            let mut cells = vec![Cell::from(l.name.clone()), num(l.files), num(l.code)];
            if wide {
                cells.extend([num(l.comments), num(l.blanks)]);
            }
            ratatui::widgets::Row::new(cells)
        })
        .collect();
    if more > 0 {
        let n = r.languages.len() - shown;
        rows.push(ratatui::widgets::Row::new(vec![Cell::from(Span::styled(
            format!("+{n} more"),
            t.muted,
        ))]));
    }
    Table::new(rows, cols)
        .header(ratatui::widgets::Row::new(titles).style(t.header))
        .column_spacing(1)
        .render(inner, buf);
}

fn findings(st: &AnalysisState, hits: Option<&HitCell>, area: Rect, buf: &mut Buffer, t: &Theme) {
    let view = st.view();
    let all = st.findings();
    let mut title = list_title("Findings", view.len(), all.len(), &st.nav, t);
    if let Some(p) = st.priority {
        if st.nav.filter.is_empty() {
            // `list_title` counts only the text filter.
            title.spans[1] = Span::styled(
                format!("{} ", position(&st.nav, view.len(), all.len())),
                t.muted,
            );
        }
        title.spans.push(Span::styled("priority: ", t.muted));
        title.spans.push(priority(p, t));
        title.spans.push(Span::raw(" "));
    }
    let blk = block(title, t, true);
    let inner = blk.inner(area);
    blk.render(area, buf);
    if view.is_empty() {
        let msg = if all.is_empty() {
            "No findings: nothing to improve was detected."
        } else {
            "No finding matches the filters (Esc clears them)."
        };
        Paragraph::new(empty(msg, t.muted)).render(inner, buf);
        return;
    }
    let wide = inner.width >= 110;
    let mut titles = vec![
        Cell::from(""),
        right("#"),
        Cell::from("Priority"),
        Cell::from("Category"),
        Cell::from("Title"),
        right("Effort"),
        right("Conf"),
    ];
    let mut cols = vec![
        Constraint::Length(3),
        Constraint::Length(10),
        Constraint::Length(15),
        Constraint::Fill(1),
        Constraint::Length(6),
        Constraint::Length(4),
    ];
    if wide {
        titles.push(Cell::from("Where"));
        cols.push(Constraint::Length(30));
    }
    // Everything but the title, with one space between the columns (and the marker column).
    let fixed: usize = 1 + 3 + 10 + 15 + 6 + 4 + if wide { 30 } else { 0 };
    let title_w = (inner.width as usize).saturating_sub(fixed + cols.len());
    let (first, n) = window(&st.nav, view.len(), inner.height.saturating_sub(1) as usize);
    // Rows below the header, for the mouse; not under the detail popup (it has the wheel).
    if let Some(h) = hits.filter(|_| st.detail.is_none()) {
        h.list(
            Rect::new(inner.x, inner.y + 1, inner.width, n as u16),
            first,
        );
    }
    let rows = view[first..first + n].iter().enumerate().map(|(k, &i)| {
        let f = &all[i];
        let title = if f.source == "llm" {
            vec![
                Span::raw(fit(&f.title, title_w.saturating_sub(8))),
                Span::styled(" · model", t.muted),
            ]
        } else {
            vec![Span::raw(fit(&f.title, title_w))]
        };
        let mut cells = vec![
            Cell::from(Line::from((i + 1).to_string()).right_aligned()),
            Cell::from(priority(f.priority, t)),
            Cell::from(Span::styled(f.category.as_str(), t.muted)),
            Cell::from(Line::from(title)),
            Cell::from(Line::from(format!("~{}h", f.effort_hours)).right_aligned()),
            Cell::from(Line::from(format!("{:.0}%", f.confidence * 100.0)).right_aligned()),
        ];
        if wide {
            let at = f.evidence.first().map_or(String::new(), |e| match e.line {
                Some(l) if !e.path.is_empty() => format!("{}:{l}", e.path),
                _ => e.path.clone(),
            });
            cells.push(Cell::from(Span::styled(fit_end(&at, 30), t.muted)));
        }
        row(cells, first + k == st.nav.selected, t)
    });
    Table::new(rows, widths(&cols))
        .header(ratatui::widgets::Row::new(titles).style(t.header))
        .column_spacing(1)
        .render(inner, buf);
}

/// No report yet: what the pane does, or the progress of the first analysis.
fn placeholder(p: &AnalysisPane, area: Rect, buf: &mut Buffer) {
    let t = p.theme;
    let lines = match &p.state.running {
        Some(run) => vec![
            progress_line(run, t),
            Line::default(),
            Line::from(Span::styled(
                "The static stage reads every file (gitignore-aware, in parallel), then a model \
                 is asked for its view; the findings appear here when both are done.",
                t.muted,
            )),
        ],
        None if !p.loaded => vec![Line::from(Span::styled("Loading…", t.muted))],
        None => vec![
            Line::from("No analysis yet."),
            Line::default(),
            Line::from(vec![
                Span::raw("Press "),
                Span::styled("a", t.accent),
                Span::raw(" (or "),
                Span::styled("Enter", t.accent),
                Span::raw(
                    ") to analyze a folder: languages and project types, tests, CI and docs, then improvements ranked by priority with their evidence.",
                ),
            ]),
            Line::default(),
            Line::from(Span::styled(
                "The static stage runs offline; the semantic stage asks a model through the \
                 engine (its note says when it was skipped). `orchestrator-tui analyze PATH` \
                 does the same from the command line.",
                t.muted,
            )),
        ],
    };
    Paragraph::new(Text::from(lines))
        .wrap(Wrap { trim: true })
        .block(block(" Analysis ", t, true))
        .render(area, buf);
}

impl Widget for AnalysisPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (st, t) = (self.state, self.theme);
        let Some(r) = &st.report else {
            placeholder(&self, area, buf);
            return;
        };
        let [top, list] = Layout::vertical([Constraint::Length(8), Constraint::Min(0)]).areas(area);
        let lang_w = if area.width >= 110 { 50 } else { 34 };
        let [left, right] =
            Layout::horizontal([Constraint::Min(0), Constraint::Length(lang_w)]).areas(top);
        let title = format!(" Analysis · {} ", r.path);
        let blk = block(fit(&title, left.width.saturating_sub(2) as usize), t, false);
        let inner = blk.inner(left);
        blk.render(left, buf);
        Paragraph::new(Text::from(summary_lines(st, r, inner.width as usize, t)))
            .render(inner, buf);
        languages(r, right, buf, t);
        findings(st, self.hits, list, buf, t);
    }
}

/// The detail popup of the selected finding, when open.
fn finding_detail(a: &AnalysisState, t: &Theme, area: Rect, buf: &mut Buffer) {
    let (Some(v), Some(f)) = (&a.detail, a.detail_finding()) else {
        return;
    };
    let rank = a.findings().iter().position(|x| x.id == f.id).unwrap_or(0) + 1;
    FindingPopup {
        finding: f,
        rank,
        scroll: v.scroll,
        theme: t,
    }
    .render(area, buf);
}

pub(super) fn render(s: &State, t: &Theme, area: Rect, buf: &mut Buffer) {
    AnalysisPane {
        state: &s.panes.analysis,
        loaded: s.loaded,
        theme: t,
        hits: Some(&s.hits),
    }
    .render(area, buf);
    finding_detail(&s.panes.analysis, t, area, buf);
    if let Overlay::Prompt(text) = &s.overlay {
        PromptPopup {
            field: text,
            theme: t,
        }
        .render(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cut_from_the_left_and_sizes_are_short() {
        assert_eq!(fit_end("src/a/b.rs:12", 20), "src/a/b.rs:12");
        assert_eq!(fit_end("tests/analyzer_checks.rs:179", 12), "…ecks.rs:179");
        assert_eq!(
            fit_end("tests/analyzer_checks.rs:179", 12).chars().count(),
            12
        );
        assert_eq!(size(3 << 20), "3.0 MB");
        assert_eq!(size(1000), "1 KB");
    }
}
