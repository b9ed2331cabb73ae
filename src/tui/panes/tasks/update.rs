//! The Tasks pane's part of `update`: selection, the task detail view (open, scroll, close), the
//! open run's detail and the shown task's attempts from a snapshot.

use super::TaskView;
use crate::tui::action::{Action, Effect};
use crate::tui::acts;
use crate::tui::snapshot::Snapshot;
use crate::tui::state::State;

pub(super) fn step(s: &mut State, delta: isize) {
    if let Some(tv) = &mut s.panes.tasks.view {
        tv.scroll = (tv.scroll as isize + delta).clamp(0, u16::MAX as isize) as u16;
        return;
    }
    let v = s.tasks_view();
    s.panes.tasks.nav.step(delta, v.len());
    s.panes.tasks.nav.key = s.selected_task().map(|t| t.id.clone());
    // Moving by hand: stop following.
    if s.panes.tasks.follow {
        s.panes.tasks.follow = false;
        s.flash("follow running: off", false);
    }
}

/// Follow running: select the first running task of the view (if any), so it stays in view.
pub fn follow(s: &mut State) {
    if !s.panes.tasks.follow || s.panes.tasks.view.is_some() {
        return;
    }
    let v = s.tasks_view();
    let tasks = s.tasks();
    let Some(pos) = v
        .iter()
        .position(|i| tasks[*i].status == crate::domain::status::TaskStatus::Running)
    else {
        return;
    };
    let key = Some(tasks[v[pos]].id.clone());
    let nav = &mut s.panes.tasks.nav;
    if nav.selected != pos || nav.key != key {
        nav.selected = pos;
        nav.key = key;
        s.dirty = true;
    }
}

pub(super) fn action(s: &mut State, a: Action) -> Option<Vec<Effect>> {
    match a {
        Action::Open => {
            if s.panes.tasks.view.is_none()
                && let Some(id) = s.selected_task().map(|t| t.id.clone())
            {
                s.panes.tasks.view = Some(TaskView {
                    task_id: id,
                    scroll: 0,
                });
                s.panes.tasks.attempts = None;
                return Some(vec![Effect::Refresh]);
            }
            Some(vec![])
        }
        Action::ToggleDeps => {
            let t = &mut s.panes.tasks;
            t.show_deps = !t.show_deps;
            s.dirty = true;
            Some(vec![])
        }
        Action::Follow => {
            let on = !s.panes.tasks.follow;
            s.panes.tasks.follow = on;
            s.flash(
                if on {
                    "follow running: on (the running task stays selected; f or moving stops it)"
                } else {
                    "follow running: off"
                },
                false,
            );
            follow(s);
            Some(vec![])
        }
        Action::Cancel | Action::RaiseCap | Action::ShowOutputs | Action::EditArtifact => {
            let Some(run) = s.open_run.clone() else {
                s.flash("no run open", true);
                return Some(vec![]);
            };
            let task = match &s.panes.tasks.view {
                Some(v) => Some(v.task_id.clone()),
                None => s.selected_task().map(|t| t.id.clone()),
            };
            let item = s.runs.iter().find(|r| r.id == run).cloned();
            Some(match (a, item, task) {
                (Action::Cancel, _, _) => acts::cancel(s, &run),
                (Action::RaiseCap, Some(r), _) => acts::raise_cap_for_run(s, &r),
                (Action::ShowOutputs, _, _) => acts::outputs(s, &run),
                (Action::EditArtifact, _, Some(t)) => acts::edit_task(&run, &t),
                _ => vec![],
            })
        }
        Action::Back if s.panes.tasks.view.is_some() => {
            s.panes.tasks.view = None;
            s.panes.tasks.attempts = None;
            Some(vec![])
        }
        _ => None,
    }
}

pub(super) fn snapshot(s: &mut State, snap: &mut Snapshot) {
    // The open run is gone (deleted elsewhere): close it rather than wait for it.
    if snap.detail.is_none()
        && let Some(open) = &s.open_run
        && !s.runs.iter().any(|r| &r.id == open)
        && !s.active.contains(open)
    {
        s.close_run();
        s.dirty = true;
    }
    if snap.detail.as_ref().map(|d| &d.id) == s.open_run.as_ref() && snap.detail != s.detail {
        s.detail = snap.detail.take();
        let keys: Vec<String> = s
            .tasks_view()
            .iter()
            .map(|i| s.tasks()[*i].id.clone())
            .collect();
        s.panes.tasks.nav.reselect(&keys);
        s.dirty = true;
        follow(s);
    }
    let t = &mut s.panes.tasks;
    let want = t.view.as_ref().map(|v| v.task_id.as_str());
    if snap.attempts.as_ref().map(|a| a.task_id.as_str()) == want
        && want.is_some()
        && snap.attempts != t.attempts
    {
        t.attempts = snap.attempts.take();
        s.dirty = true;
    }
}

/// Elapsed times of running tasks tick with the clock.
pub(super) fn clock(s: &State) -> bool {
    s.detail.as_ref().is_some_and(|d| {
        d.tasks
            .iter()
            .any(|t| t.started_ms.is_some() && t.finished_ms.is_none())
    })
}
