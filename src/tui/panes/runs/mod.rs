//! Runs pane: every stored run, newest first, with status (symbol + word), resumability, progress,
//! spend vs budget. `n` new run, `r` resume, `Enter` open in Tasks, `d` delete. The runs list
//! itself is shared (`State::runs`: the status bar and engine events read it); the pane owns its
//! selection and filter.

mod update;
mod view;

pub use view::RunsPane;

use super::{Def, Key, NavFns, Pane, Panes, never};
use crate::tui::action::Action;
use crate::tui::snapshot::RunItem;
use crate::tui::state::State;
use crate::tui::widgets::list::ListNav;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunsState {
    pub nav: ListNav,
}

const KEYS: &[Key] = &[
    (&["enter"], Action::Open, "open in Tasks", true),
    (&["r"], Action::Resume, "resume", true),
    (&["c"], Action::Cancel, "cancel", true),
    (&["d"], Action::Delete, "delete", false),
    (&["/"], Action::Filter, "filter", true),
    (&["b"], Action::RaiseCap, "raise a budget cap", false),
    (&["o"], Action::ShowOutputs, "output directory", false),
];

fn nav(p: &Panes) -> &ListNav {
    &p.runs.nav
}

fn nav_mut(p: &mut Panes) -> &mut ListNav {
    &mut p.runs.nav
}

pub const DEF: Def = Def {
    pane: Pane::Runs,
    title: "Runs",
    keys: KEYS,
    detail_keys: None,
    in_detail: never,
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

impl State {
    /// Indices of the runs that pass the filter.
    pub fn runs_view(&self) -> Vec<usize> {
        self.panes.runs.nav.view(&self.runs, |r| {
            format!(
                "{} {} {} {}",
                r.id,
                r.status,
                r.description,
                r.team.as_deref().unwrap_or("")
            )
        })
    }

    pub fn selected_run(&self) -> Option<&RunItem> {
        let v = self.runs_view();
        v.get(self.panes.runs.nav.selected)
            .and_then(|i| self.runs.get(*i))
    }
}
