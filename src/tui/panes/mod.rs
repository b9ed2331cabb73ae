//! The panes, each a component in its own folder: `mod.rs` holds its state and its registration
//! (`DEF`: title, keys, hooks), `update.rs` its part of the pure `update` (keys, snapshots,
//! messages), `view.rs` its render-only widget. A pane reads and writes the shared `State` (the
//! open run, the runs list, the event log, the status-bar message) but never another pane.
//!
//! This file is the one registration: the `Pane` enum (tab order), the panes' state (`Panes`)
//! and `DEFS`. The keymap (`keymap::default_rows`), the tab bar, the help popup, `update` and the
//! screen are all driven from `DEFS`.

pub mod analysis;
pub mod budget;
pub mod events;
pub mod models;
pub mod runs;
pub mod tasks;

use super::action::{Action, Effect, Msg};
use super::snapshot::{EventItem, Snapshot};
use super::state::State;
use super::theme::Theme;
use super::widgets::list::ListNav;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// The panes, in tab order (the same order as `DEFS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Pane {
    #[default]
    Runs,
    Tasks,
    Models,
    Budget,
    Analysis,
    Events,
}

/// Every pane's registration, in tab order. Snapshot hooks run in this order too (Runs before
/// Tasks: closing a deleted open run reads the fresh runs list).
pub const DEFS: &[Def] = &[
    runs::DEF,
    tasks::DEF,
    models::DEF,
    budget::DEF,
    analysis::DEF,
    events::DEF,
];

/// Each pane's own state.
#[derive(Debug, Clone, Default)]
pub struct Panes {
    pub runs: runs::RunsState,
    pub tasks: tasks::TasksState,
    pub models: models::ModelsState,
    pub budget: budget::BudgetState,
    pub analysis: analysis::AnalysisState,
    pub events: events::EventsState,
}

impl Panes {
    /// The open run changed or was closed: forget what was shown of the previous one.
    pub fn run_changed(&mut self) {
        self.tasks = tasks::TasksState::default();
    }

    /// An event was put on top of the shared event log.
    pub fn events_pushed(&mut self, log: &VecDeque<EventItem>) {
        self.events.pushed(log);
    }
}

/// A binding of a pane: keys, action, description, shown in the status bar (all are in help).
pub type Key = (&'static [&'static str], Action, &'static str, bool);

/// The filterable list of a pane.
pub struct NavFns {
    pub get: fn(&Panes) -> &ListNav,
    pub get_mut: fn(&mut Panes) -> &mut ListNav,
}

/// How a pane plugs into the UI.
pub struct Def {
    pub pane: Pane,
    pub title: &'static str,
    /// Bindings of the pane, most useful first (hints are cut from the end).
    pub keys: &'static [Key],
    /// The pane's detail view, if it has one: its help title and bindings.
    pub detail_keys: Option<(&'static str, &'static [Key])>,
    /// Is the detail view open (the keymap context is then the detail's)?
    pub in_detail: fn(&State) -> bool,
    /// The list the `/` filter edits; `None`: the pane has no filter.
    pub nav: Option<NavFns>,
    /// Move the selection (or scroll the open detail) by `delta`.
    pub step: fn(&mut State, isize),
    /// The pane's actions (and the keys of its modal prompt, if any); `None` lets the shared
    /// handling (panes, quit, help, navigation, filter) run.
    pub action: fn(&mut State, Action) -> Option<Vec<Effect>>,
    /// Take the pane's part of a fresh snapshot; parts equal to what is shown change nothing.
    pub snapshot: fn(&mut State, &mut Snapshot),
    /// A message for this pane is handled (`Ok`), any other is given back.
    pub on_msg: fn(&mut State, Msg) -> Result<Vec<Effect>, Msg>,
    /// Does the pane show anything that changes with the clock alone?
    pub clock: fn(&State) -> bool,
    /// Draw the pane (and its own popups) in the body area. Reads state only.
    pub render: fn(&State, &Theme, Rect, &mut Buffer),
}

/// Hook defaults for panes without the feature.
pub fn never(_: &State) -> bool {
    false
}

pub fn no_action(_: &mut State, _: Action) -> Option<Vec<Effect>> {
    None
}

pub fn no_snapshot(_: &mut State, _: &mut Snapshot) {}

pub fn no_msg(_: &mut State, m: Msg) -> Result<Vec<Effect>, Msg> {
    Err(m)
}

impl Pane {
    pub const ALL: [Pane; 6] = [
        Pane::Runs,
        Pane::Tasks,
        Pane::Models,
        Pane::Budget,
        Pane::Analysis,
        Pane::Events,
    ];

    /// The pane's registration.
    pub fn def(self) -> &'static Def {
        DEFS.iter().find(|d| d.pane == self).unwrap_or(&DEFS[0])
    }

    pub fn title(self) -> &'static str {
        self.def().title
    }

    pub fn index(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }

    pub fn next(self) -> Pane {
        Pane::ALL[(self.index() + 1) % Pane::ALL.len()]
    }

    pub fn prev(self) -> Pane {
        Pane::ALL[(self.index() + Pane::ALL.len() - 1) % Pane::ALL.len()]
    }

    /// Panes with a filterable list.
    pub fn has_filter(self) -> bool {
        self.def().nav.is_some()
    }

    /// The filterable list of this pane, if it has one.
    pub fn nav(self, p: &Panes) -> Option<&ListNav> {
        self.def().nav.as_ref().map(|n| (n.get)(p))
    }

    pub fn nav_mut(self, p: &mut Panes) -> Option<&mut ListNav> {
        self.def().nav.as_ref().map(|n| (n.get_mut)(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defs_follow_the_tab_order() {
        assert_eq!(DEFS.len(), Pane::ALL.len());
        for (d, p) in DEFS.iter().zip(Pane::ALL) {
            assert_eq!(d.pane, p);
            assert_eq!(p.def().title, d.title);
        }
    }

    /// Panes depend on shared state, never on each other (each folder names no other pane).
    #[test]
    fn panes_do_not_import_each_other() {
        macro_rules! files {
            ($($p:literal),*) => {
                [$(($p, [
                    include_str!(concat!($p, "/mod.rs")),
                    include_str!(concat!($p, "/update.rs")),
                    include_str!(concat!($p, "/view.rs")),
                ])),*]
            };
        }
        let panes = files!("runs", "tasks", "models", "budget", "analysis", "events");
        for (name, sources) in &panes {
            for (other, _) in panes.iter().filter(|(o, _)| o != name) {
                let mut refs = vec![
                    format!("panes::{other}"),
                    format!("super::{other}::"),
                    format!("super::{other};"),
                    format!("super::super::{other}"),
                ];
                if *other == "analysis" {
                    refs.push("tui::analysis".into());
                }
                for src in sources {
                    for r in &refs {
                        assert!(!src.contains(r.as_str()), "the {name} pane uses `{r}`");
                    }
                }
            }
        }
    }

    #[test]
    fn panes_cycle() {
        assert_eq!(Pane::Events.next(), Pane::Runs);
        assert_eq!(Pane::Runs.prev(), Pane::Events);
        assert_eq!(Pane::Models.index(), 2);
        assert!(!Pane::Budget.has_filter());
        assert!(Pane::Analysis.has_filter());
    }
}
