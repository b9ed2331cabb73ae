//! Tasks pane: the open run's live task table (status, title, the model a running task is
//! calling and for what role, iteration k/n, score vs threshold, cost, elapsed, reason or
//! dependencies with `d`) under an overall gauge; `f` follows the running task; `Enter` shows a
//! task's attempts with their routing, failed calls, critique and output. The open run and its detail are shared (`State::open_run`, `State::detail`: the
//! Runs pane opens a run, the status bar shows it); the pane owns its list, the task detail view
//! and the attempts loaded for it.

mod update;
mod view;

pub use update::follow;
pub use view::{TasksPane, detail_lines, elapsed};

use super::{Def, Key, NavFns, Pane, Panes};
use crate::tui::action::Action;
use crate::tui::snapshot::{TaskAttempts, TaskItem};
use crate::tui::state::State;
use crate::tui::widgets::list::ListNav;

/// The task detail view.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskView {
    pub task_id: String,
    pub scroll: u16,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TasksState {
    pub nav: ListNav,
    /// The task shown in the detail view, when one is.
    pub view: Option<TaskView>,
    /// Its attempts, once loaded.
    pub attempts: Option<TaskAttempts>,
    /// The last column lists dependencies instead of reasons (`d`).
    pub show_deps: bool,
    /// Follow running: the selection moves to the first running task as the run goes (`f`;
    /// moving the selection by hand turns it off).
    pub follow: bool,
}

const KEYS: &[Key] = &[
    (&["enter"], Action::Open, "detail", true),
    (&["/"], Action::Filter, "filter", true),
    (&["f"], Action::Follow, "follow", true),
    (&["d"], Action::ToggleDeps, "dependencies", false),
    (&["c"], Action::Cancel, "cancel run", false),
    (
        &["e"],
        Action::EditArtifact,
        "open task's file in $EDITOR",
        false,
    ),
    (&["o"], Action::ShowOutputs, "output directory", false),
    (&["b"], Action::RaiseCap, "raise a budget cap", false),
];

const DETAIL_KEYS: &[Key] = &[
    (&["esc"], Action::Back, "close", true),
    (&["j", "down"], Action::Down, "scroll", true),
    (&["k", "up"], Action::Up, "scroll up", false),
    (&["e"], Action::EditArtifact, "open in $EDITOR", true),
    (&["o"], Action::ShowOutputs, "output directory", false),
];

fn nav(p: &Panes) -> &ListNav {
    &p.tasks.nav
}

fn nav_mut(p: &mut Panes) -> &mut ListNav {
    &mut p.tasks.nav
}

fn in_detail(s: &State) -> bool {
    s.panes.tasks.view.is_some()
}

pub const DEF: Def = Def {
    pane: Pane::Tasks,
    title: "Tasks",
    keys: KEYS,
    detail_keys: Some(("Task detail", DETAIL_KEYS)),
    in_detail,
    nav: Some(NavFns {
        get: nav,
        get_mut: nav_mut,
    }),
    step: update::step,
    action: update::action,
    snapshot: update::snapshot,
    on_msg: super::no_msg,
    clock: update::clock,
    render: view::render,
};

impl State {
    /// The open run's tasks (none while it loads).
    pub fn tasks(&self) -> &[TaskItem] {
        self.detail.as_ref().map_or(&[], |d| d.tasks.as_slice())
    }

    pub fn tasks_view(&self) -> Vec<usize> {
        self.panes.tasks.nav.view(self.tasks(), |t| {
            // Every column shown, the Reason too ("why did it fail" is what one searches for).
            format!(
                "{} {} {} {} {} {}",
                t.id,
                t.task_type,
                t.status,
                t.model.as_deref().unwrap_or(""),
                t.status_reason.as_deref().unwrap_or(""),
                t.title
            )
        })
    }

    pub fn selected_task(&self) -> Option<&TaskItem> {
        let v = self.tasks_view();
        v.get(self.panes.tasks.nav.selected)
            .and_then(|i| self.tasks().get(*i))
    }
}
