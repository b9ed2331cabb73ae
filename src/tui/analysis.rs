//! The Analysis pane's state and its part of the pure `update`: the shown report (the last stored
//! one at start, then each finished analysis), the findings list (text filter, priority filter,
//! selection by finding id), the detail popup, the path prompt and the progress of a running
//! analysis. No I/O: analyses and exports are `Effect`s run by `analysis_io.rs`.

use super::action::{Action, Effect};
use super::app::{Overlay, State};
use super::state::{EventKind, ListNav};
use crate::analysis::{AnalysisProgress, AnalysisReport, Finding, Priority};

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

/// A stored analysis arrived with a snapshot: show it unless it is already shown or ours runs.
pub(super) fn stored(s: &mut State, a: StoredAnalysis) {
    let st = &mut s.analysis;
    if st.running.is_some() || st.id == Some(a.id) {
        return;
    }
    st.show(Some(a.id), a.report);
    s.dirty = true;
}

/// The results of analysis effects.
pub(super) fn on_msg(s: &mut State, m: AnalysisMsg) -> Vec<Effect> {
    s.dirty = true;
    match m {
        AnalysisMsg::Progress(p) => {
            if let Some(r) = &mut s.analysis.running {
                r.stage = match p {
                    AnalysisProgress::Walking { files, bytes } => Stage::Walking { files, bytes },
                    AnalysisProgress::Checking { files } | AnalysisProgress::Done { files, .. } => {
                        Stage::Checking { files }
                    }
                };
            }
        }
        AnalysisMsg::Semantic => {
            if let Some(r) = &mut s.analysis.running {
                let files = match r.stage {
                    Stage::Walking { files, .. }
                    | Stage::Checking { files }
                    | Stage::Semantic { files } => files,
                    Stage::Starting => 0,
                };
                r.stage = Stage::Semantic { files };
            }
        }
        AnalysisMsg::Done {
            id,
            report,
            warning,
        } => {
            s.analysis.running = None;
            let text = format!(
                "analysis of {}: {} findings in {} files",
                report.path,
                report.findings.len(),
                report.files
            );
            s.analysis.show(id, *report);
            s.push_event(EventKind::Info, None, text.clone());
            match warning {
                Some(w) => {
                    s.push_event(EventKind::Warning, None, w.clone());
                    s.flash(w, true);
                }
                None => s.flash(text, false),
            }
        }
        AnalysisMsg::Failed(e) => {
            s.analysis.running = None;
            let text = format!("analysis failed: {e}");
            s.push_event(EventKind::Error, None, text.clone());
            s.flash(text, true);
        }
        AnalysisMsg::Exported(path) => s.flash(format!("exported to {path}"), false),
    }
    vec![]
}

/// Keys of the path prompt (a modal overlay).
pub(super) fn prompt_action(s: &mut State, a: Action) -> Vec<Effect> {
    let Overlay::Prompt(text) = &mut s.overlay else {
        return vec![];
    };
    match a {
        Action::Backspace => {
            text.pop();
        }
        Action::ClearInput => text.clear(),
        Action::Deny => s.overlay = Overlay::None,
        Action::Confirm => {
            let path = text.trim().to_string();
            if path.is_empty() {
                s.flash("type the folder to analyze", true);
                return vec![];
            }
            s.overlay = Overlay::None;
            return start(s, path);
        }
        _ => {}
    }
    vec![]
}

fn start(s: &mut State, path: String) -> Vec<Effect> {
    s.analysis.running = Some(Running {
        path: path.clone(),
        stage: Stage::Starting,
    });
    s.flash(format!("analyzing {path}…"), false);
    vec![Effect::Analyze(path)]
}

fn open_prompt(s: &mut State) {
    match &s.analysis.running {
        Some(r) => {
            let text = format!("an analysis of {} is running", r.path);
            s.flash(text, true);
        }
        None => s.overlay = Overlay::Prompt(s.analysis.cwd.clone()),
    }
}

/// Actions on the Analysis pane; `None` lets the generic handling (panes, quit, help...) run.
pub(super) fn action(s: &mut State, a: Action) -> Option<Vec<Effect>> {
    match a {
        Action::Analyze => open_prompt(s),
        Action::Open if s.analysis.detail.is_some() => {}
        Action::Open => {
            if s.analysis.report.is_none() {
                open_prompt(s);
            } else if let Some(f) = s.analysis.selected() {
                s.analysis.detail = Some(FindingView {
                    id: f.id.clone(),
                    scroll: 0,
                });
            }
        }
        Action::Back => {
            let st = &mut s.analysis;
            if st.detail.is_some() {
                st.detail = None;
            } else {
                st.nav.filter.clear();
                st.priority = None;
                st.reselect();
            }
        }
        Action::CyclePriority => {
            let st = &mut s.analysis;
            st.priority = next_priority(st.priority);
            st.detail = None;
            st.reselect();
        }
        Action::Export => match &s.analysis.report {
            Some(r) => {
                let fx = Effect::ExportAnalysis(Box::new(r.clone()));
                s.flash("exporting Markdown…", false);
                return Some(vec![fx]);
            }
            None => s.flash("nothing to export: analyze a folder first (a)", true),
        },
        _ => return None,
    }
    Some(vec![])
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
