//! Events pane: breaker transitions, policy decisions, budget warnings and errors (plus run
//! lifecycle), newest first, each with a symbol and a word. The event log itself is shared
//! (`State::events`: every pane and the engine events push to it); the pane owns its selection
//! and filter and takes the stored history and breaker transitions from snapshots.

mod update;
mod view;

pub use view::EventsPane;

use super::{Def, Key, NavFns, Pane, Panes, never, no_action, no_msg};
use crate::tui::action::Action;
use crate::tui::snapshot::EventItem;
use crate::tui::state::State;
use crate::tui::widgets::list::ListNav;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventsState {
    pub nav: ListNav,
}

const KEYS: &[Key] = &[(&["/"], Action::Filter, "filter", true)];

fn nav(p: &Panes) -> &ListNav {
    &p.events.nav
}

fn nav_mut(p: &mut Panes) -> &mut ListNav {
    &mut p.events.nav
}

pub const DEF: Def = Def {
    pane: Pane::Events,
    title: "Events",
    keys: KEYS,
    detail_keys: None,
    in_detail: never,
    nav: Some(NavFns {
        get: nav,
        get_mut: nav_mut,
    }),
    step: update::step,
    action: no_action,
    snapshot: update::snapshot,
    on_msg: no_msg,
    clock: never,
    render: view::render,
};

impl State {
    /// Indices of the events that pass the filter, newest first.
    pub fn events_view(&self) -> Vec<usize> {
        let items: Vec<&EventItem> = self.events.iter().collect();
        self.panes.events.nav.view(&items, |e| {
            format!(
                "{} {} {}",
                e.kind.label(),
                e.run_id.as_deref().unwrap_or(""),
                e.text
            )
        })
    }
}
