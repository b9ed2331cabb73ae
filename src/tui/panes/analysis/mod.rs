//! Analysis pane: the shown analysis (the last stored one at start, then each finished one) as a
//! summary beside a languages table, over the findings ranked best first (text filter, priority
//! filter, selection by finding id), the detail popup of a finding, the path prompt and the
//! progress of a running analysis. `a` analyzes a folder, `/` filters, `p` cycles the priority
//! filter, `Enter` opens the detail, `e` exports. No I/O here: analyses and exports are `Effect`s
//! run by `tui/analysis_io.rs`.

mod popups;
mod update;
mod view;

pub use popups::{FindingPopup, PromptPopup, location};

pub use view::{AnalysisPane, progress_line};

use super::{Def, Key, NavFns, Pane, Panes, never};
use crate::analysis::{AnalysisProgress, AnalysisReport, Finding, Priority};
use crate::tui::action::Action;
use crate::tui::state::State;
use crate::tui::widgets::list::ListNav;

const KEYS: &[Key] = &[
    (&["a"], Action::Analyze, "analyze", true),
    (&["enter"], Action::Open, "detail", true),
    (&["p"], Action::CyclePriority, "priority", true),
    (&["/"], Action::Filter, "filter", true),
    (&["e"], Action::Export, "export", true),
];

const DETAIL_KEYS: &[Key] = &[
    (&["esc"], Action::Back, "close", true),
    (&["j", "down"], Action::Down, "scroll", true),
    (&["k", "up"], Action::Up, "scroll up", false),
];

fn nav(p: &Panes) -> &ListNav {
    &p.analysis.nav
}

fn nav_mut(p: &mut Panes) -> &mut ListNav {
    &mut p.analysis.nav
}

fn in_detail(s: &State) -> bool {
    s.panes.analysis.detail.is_some()
}

pub const DEF: Def = Def {
    pane: Pane::Analysis,
    title: "Analysis",
    keys: KEYS,
    detail_keys: Some(("Finding detail", DETAIL_KEYS)),
    in_detail,
    nav: Some(NavFns {
        get: nav,
        get_mut: nav_mut,
    }),
    step: update::step,
    action: update::action,
    snapshot: update::snapshot,
    on_msg: update::on_msg,
    clock: never,
    render: view::render,
};

/// A stored analysis, as the snapshot loader reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnalysis {
    pub id: i64,
    pub report: AnalysisReport,
}

/// What a running analysis is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Starting,
    Walking {
        files: u64,
        bytes: u64,
    },
    Checking {
        files: u64,
    },
    /// The static stage is done; the model is asked.
    Semantic {
        files: u64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Running {
    pub path: String,
    pub stage: Stage,
}

/// Results of the analysis effects, back from `analysis_io.rs`.
#[derive(Debug, Clone, PartialEq)]
pub enum AnalysisMsg {
    Progress(AnalysisProgress),
    /// The static stage finished; the semantic stage started.
    Semantic,
    Done {
        /// The stored analysis id (`None` when saving failed: `warning` says why).
        id: Option<i64>,
        report: Box<AnalysisReport>,
        warning: Option<String>,
    },
    Failed(String),
    /// The Markdown export was written to this path.
    Exported(String),
}

/// The detail popup of one finding.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingView {
    pub id: String,
    pub scroll: u16,
}

/// The priority filter cycle: all → CRITICAL → HIGH → MEDIUM → LOW → all.
pub fn next_priority(p: Option<Priority>) -> Option<Priority> {
    match p {
        None => Some(Priority::Critical),
        Some(Priority::Critical) => Some(Priority::High),
        Some(Priority::High) => Some(Priority::Medium),
        Some(Priority::Medium) => Some(Priority::Low),
        Some(Priority::Low) => None,
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AnalysisState {
    pub report: Option<AnalysisReport>,
    /// Stored id of the shown report.
    pub id: Option<i64>,
    pub nav: ListNav,
    pub priority: Option<Priority>,
    pub detail: Option<FindingView>,
    pub running: Option<Running>,
    /// Prefill of the path prompt (the current directory).
    pub cwd: String,
}

/// The text the `/` filter matches: id, title, category, priority, source and evidence paths.
fn haystack(f: &Finding) -> String {
    let mut s = format!(
        "{} {} {} {} {}",
        f.id,
        f.title,
        f.category.as_str(),
        f.priority.as_str(),
        f.source
    );
    for e in &f.evidence {
        s.push(' ');
        s.push_str(&e.path);
    }
    s
}

impl AnalysisState {
    pub fn findings(&self) -> &[Finding] {
        self.report.as_ref().map_or(&[], |r| r.findings.as_slice())
    }

    /// Indices of the findings that pass the priority and text filters, in rank order.
    pub fn view(&self) -> Vec<usize> {
        let all = self.findings();
        self.nav
            .view(all, haystack)
            .into_iter()
            .filter(|i| self.priority.is_none_or(|p| all[*i].priority == p))
            .collect()
    }

    pub fn selected(&self) -> Option<&Finding> {
        let v = self.view();
        v.get(self.nav.selected)
            .and_then(|i| self.findings().get(*i))
    }

    /// The finding shown in the detail popup.
    pub fn detail_finding(&self) -> Option<&Finding> {
        let id = &self.detail.as_ref()?.id;
        self.findings().iter().find(|f| &f.id == id)
    }

    /// Keep the selection on the same finding after the view changed.
    fn reselect(&mut self) {
        let keys: Vec<String> = self
            .view()
            .iter()
            .map(|i| self.findings()[*i].id.clone())
            .collect();
        self.nav.reselect(&keys);
    }

    /// Show a new report: selection back to the top, filters kept.
    fn show(&mut self, id: Option<i64>, report: AnalysisReport) {
        self.report = Some(report);
        self.id = id;
        self.detail = None;
        self.nav.selected = 0;
        self.nav.key = None;
    }

    pub fn step(&mut self, delta: isize) {
        if let Some(d) = &mut self.detail {
            d.scroll = (d.scroll as isize + delta).clamp(0, u16::MAX as isize) as u16;
            return;
        }
        let n = self.view().len();
        self.nav.step(delta, n);
        self.nav.key = self.selected().map(|f| f.id.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_filter_cycles_through_every_tier_and_back() {
        let mut p = None;
        let mut seen = vec![];
        for _ in 0..5 {
            p = next_priority(p);
            seen.push(p);
        }
        assert_eq!(
            seen,
            vec![
                Some(Priority::Critical),
                Some(Priority::High),
                Some(Priority::Medium),
                Some(Priority::Low),
                None
            ]
        );
    }
}
