//! The Analysis pane's part of `update`: a stored analysis from a snapshot, the results of the
//! analysis effects, the path prompt (a modal overlay) and the pane's keys.

use super::{FindingView, Running, Stage, next_priority};
use crate::analysis::AnalysisProgress;
use crate::tui::action::{Action, Effect, Msg};
use crate::tui::snapshot::{EventKind, Snapshot};
use crate::tui::state::{Overlay, State};

pub(super) fn step(s: &mut State, delta: isize) {
    s.panes.analysis.step(delta);
}

pub(super) fn snapshot(s: &mut State, snap: &mut Snapshot) {
    if let Some(a) = snap.analysis.take() {
        stored(s, a);
    }
}

/// A stored analysis arrived with a snapshot: show it unless it is already shown or ours runs.
fn stored(s: &mut State, a: super::StoredAnalysis) {
    let st = &mut s.panes.analysis;
    if st.running.is_some() || st.id == Some(a.id) {
        return;
    }
    st.show(Some(a.id), a.report);
    s.dirty = true;
}

/// The results of analysis effects.
pub(super) fn on_msg(s: &mut State, m: Msg) -> Result<Vec<Effect>, Msg> {
    let Msg::Analysis(m) = m else {
        return Err(m);
    };
    s.dirty = true;
    match m {
        super::AnalysisMsg::Progress(p) => {
            if let Some(r) = &mut s.panes.analysis.running {
                r.stage = match p {
                    AnalysisProgress::Walking { files, bytes } => Stage::Walking { files, bytes },
                    AnalysisProgress::Checking { files } | AnalysisProgress::Done { files, .. } => {
                        Stage::Checking { files }
                    }
                };
            }
        }
        super::AnalysisMsg::Semantic => {
            if let Some(r) = &mut s.panes.analysis.running {
                let files = match r.stage {
                    Stage::Walking { files, .. }
                    | Stage::Checking { files }
                    | Stage::Semantic { files } => files,
                    Stage::Starting => 0,
                };
                r.stage = Stage::Semantic { files };
            }
        }
        super::AnalysisMsg::Done {
            id,
            report,
            warning,
        } => {
            s.panes.analysis.running = None;
            let text = format!(
                "analysis of {}: {} findings in {} files",
                report.path,
                report.findings.len(),
                report.files
            );
            s.panes.analysis.show(id, *report);
            s.push_event(EventKind::Info, None, text.clone());
            match warning {
                Some(w) => {
                    s.push_event(EventKind::Warning, None, w.clone());
                    s.flash(w, true);
                }
                None => s.flash(text, false),
            }
        }
        super::AnalysisMsg::Failed(e) => {
            s.panes.analysis.running = None;
            let text = format!("analysis failed: {e}");
            s.push_event(EventKind::Error, None, text.clone());
            s.flash(text, true);
        }
        super::AnalysisMsg::Exported(path) => s.flash(format!("exported to {path}"), false),
    }
    Ok(vec![])
}

/// Keys of the path prompt (a modal overlay).
fn prompt_action(s: &mut State, a: Action) -> Vec<Effect> {
    let Overlay::Prompt(text) = &mut s.overlay else {
        return vec![];
    };
    if let Some(e) = crate::tui::input::line_edit(a) {
        text.edit(e);
        return vec![];
    }
    match a {
        Action::Deny => s.overlay = Overlay::None,
        Action::Confirm => {
            let path = text.value().trim().to_string();
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
    s.panes.analysis.running = Some(Running {
        path: path.clone(),
        stage: Stage::Starting,
    });
    s.flash(format!("analyzing {path}…"), false);
    vec![Effect::Analyze(path)]
}

fn open_prompt(s: &mut State) {
    match &s.panes.analysis.running {
        Some(r) => {
            let text = format!("an analysis of {} is running", r.path);
            s.flash(text, true);
        }
        None => s.overlay = Overlay::Prompt(s.panes.analysis.cwd.as_str().into()),
    }
}

/// Actions on the Analysis pane (and the keys of its path prompt); `None` lets the shared
/// handling (panes, quit, help...) run.
pub(super) fn action(s: &mut State, a: Action) -> Option<Vec<Effect>> {
    if let Overlay::Prompt(_) = s.overlay {
        return Some(prompt_action(s, a));
    }
    match a {
        Action::Analyze => open_prompt(s),
        Action::Open if s.panes.analysis.detail.is_some() => {}
        Action::Open => {
            if s.panes.analysis.report.is_none() {
                open_prompt(s);
            } else if let Some(f) = s.panes.analysis.selected() {
                s.panes.analysis.detail = Some(FindingView {
                    id: f.id.clone(),
                    scroll: 0,
                });
            }
        }
        Action::Back => {
            let st = &mut s.panes.analysis;
            if st.detail.is_some() {
                st.detail = None;
            } else {
                st.nav.filter.clear();
                st.priority = None;
                st.reselect();
            }
        }
        Action::CyclePriority => {
            let st = &mut s.panes.analysis;
            st.priority = next_priority(st.priority);
            st.detail = None;
            st.reselect();
        }
        Action::Export => match &s.panes.analysis.report {
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
