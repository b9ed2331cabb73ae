//! Runs pane: every stored run, newest first, with status (symbol + word), resumability, progress,
//! spend vs budget, and where it was started (host, OS user: a shared store holds several
//! machines' runs). `n` new run, `r` resume, `Enter` open in Tasks, `d` delete, `m` mine / all.
//! The runs list itself is shared (`State::runs`: the status bar and engine events read it); the
//! pane owns its selection, filter and the "mine" toggle.

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
    /// Only the runs started on this host by this OS user (`m`); all by default.
    pub mine: bool,
}

const KEYS: &[Key] = &[
    (&["enter"], Action::Open, "open in Tasks", true),
    (&["r"], Action::Resume, "resume", true),
    (&["c"], Action::Cancel, "cancel", true),
    (&["d"], Action::Delete, "delete", false),
    (&["/"], Action::Filter, "filter", true),
    (&["b"], Action::RaiseCap, "raise a budget cap", false),
    (&["o"], Action::ShowOutputs, "output directory", false),
    (&["m"], Action::ToggleMine, "mine / all", false),
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
    /// Indices of the runs that pass the filter (and, with "mine" on, were started here).
    pub fn runs_view(&self) -> Vec<usize> {
        let mine = self.panes.runs.mine;
        self.panes
            .runs
            .nav
            .view(&self.runs, |r| {
                format!(
                    "{} {} {} {} {} {}",
                    r.id,
                    r.status,
                    r.description,
                    r.team.as_deref().unwrap_or(""),
                    r.host.as_deref().unwrap_or(""),
                    r.user.as_deref().unwrap_or("")
                )
            })
            .into_iter()
            .filter(|i| !mine || self.runs[*i].is_by(&self.me))
            .collect()
    }

    pub fn selected_run(&self) -> Option<&RunItem> {
        let v = self.runs_view();
        v.get(self.panes.runs.nav.selected)
            .and_then(|i| self.runs.get(*i))
    }
}
