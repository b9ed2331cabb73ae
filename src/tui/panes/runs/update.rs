//! The Runs pane's part of `update`: selection, open, resume, delete (confirmed in a popup), the
//! fresh runs list of a snapshot, and a deleted run.

use crate::domain::status::RunStatus;
use crate::tui::action::{Action, Effect, Msg};
use crate::tui::acts;
use crate::tui::snapshot::Snapshot;
use crate::tui::state::{Confirm, Overlay, State};

pub(super) fn step(s: &mut State, delta: isize) {
    let v = s.runs_view();
    s.panes.runs.nav.step(delta, v.len());
    s.panes.runs.nav.key = s.selected_run().map(|r| r.id.clone());
}

pub(super) fn action(s: &mut State, a: Action) -> Option<Vec<Effect>> {
    match a {
        Action::Open => {
            if let Some(id) = s.selected_run().map(|r| r.id.clone()) {
                s.open(&id);
                return Some(vec![Effect::Refresh]);
            }
        }
        Action::Resume => return Some(resume(s)),
        Action::ToggleMine => toggle_mine(s),
        Action::Cancel | Action::RaiseCap | Action::ShowOutputs => {
            let Some(r) = s.selected_run().cloned() else {
                return Some(vec![]);
            };
            return Some(match a {
                Action::Cancel => acts::cancel(s, &r.id),
                Action::RaiseCap => acts::raise_cap_for_run(s, &r),
                _ => acts::outputs(s, &r.id),
            });
        }
        Action::Delete => {
            if let Some(r) = s.selected_run() {
                let id = r.id.clone();
                if s.active.contains(&id) || r.status == RunStatus::Running {
                    s.flash(format!("run {id} is running: it cannot be deleted"), true);
                } else {
                    s.overlay = Overlay::Confirm(Confirm::Delete(id));
                }
            }
        }
        _ => return None,
    }
    Some(vec![])
}

/// `m`: mine / all. The selection stays on the same run when it is still listed.
fn toggle_mine(s: &mut State) {
    let before = s.selected_run().map(|r| r.id.clone());
    let st = &mut s.panes.runs;
    st.mine = !st.mine;
    st.nav.key = before.or(st.nav.key.take());
    let keys: Vec<String> = s
        .runs_view()
        .iter()
        .map(|i| s.runs[*i].id.clone())
        .collect();
    s.panes.runs.nav.reselect(&keys);
    let text = if s.panes.runs.mine {
        format!("showing your runs: {}@{}", s.me.user, s.me.host)
    } else {
        "showing every run".to_string()
    };
    s.flash(text, false);
}

fn resume(s: &mut State) -> Vec<Effect> {
    let Some(r) = s.selected_run() else {
        return vec![];
    };
    let (id, status, blocked) = (r.id.clone(), r.status, r.blocked);
    if s.active.contains(&id) {
        s.flash(format!("run {id} is already running here"), true);
        return vec![];
    }
    if blocked {
        s.flash(
            format!("run {id} is not resumable: every unfinished task is on a dependency cycle"),
            true,
        );
        return vec![];
    }
    if !status.is_resumable() {
        let why = if status.is_terminal() {
            "it finished; start a new run with n"
        } else {
            "another process is driving it"
        };
        s.flash(format!("run {id} is {status}: not resumable ({why})"), true);
        return vec![];
    }
    // Stopped by a cap: resuming as it is would stop again, so a new budget is asked for.
    if status == RunStatus::BudgetExhausted
        && let Some(r) = s.selected_run().cloned()
    {
        return acts::resume_with_budget(s, &r);
    }
    s.flash(format!("resuming run {id}…"), false);
    vec![Effect::ResumeRun(id)]
}

/// The runs list is replaced only when it changed; the selection stays on the same run.
pub(super) fn snapshot(s: &mut State, snap: &mut Snapshot) {
    if snap.runs != s.runs {
        s.runs = std::mem::take(&mut snap.runs);
        let keys: Vec<String> = s
            .runs_view()
            .iter()
            .map(|i| s.runs[*i].id.clone())
            .collect();
        s.panes.runs.nav.reselect(&keys);
        s.dirty = true;
    }
}

pub(super) fn on_msg(s: &mut State, m: Msg) -> Result<Vec<Effect>, Msg> {
    let Msg::Deleted(id) = m else {
        return Err(m);
    };
    s.runs.retain(|r| r.id != id);
    if s.open_run.as_deref() == Some(id.as_str()) {
        s.close_run();
    }
    let keys: Vec<String> = s.runs.iter().map(|r| r.id.clone()).collect();
    let nav = &mut s.panes.runs.nav;
    nav.key = None;
    nav.reselect(&keys);
    s.flash(format!("deleted run {id}"), false);
    Ok(vec![Effect::Refresh])
}
