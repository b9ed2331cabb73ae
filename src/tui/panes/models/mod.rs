//! Models pane: every catalog model with breaker state (symbol + word + colour), consecutive
//! failures, calls, success rate, latency p50/p95 with a sparkline, cost, the selected model's
//! learned quality per task type with sample counts, and routing recommendations. `x` resets the
//! selected model's breaker.

mod update;
mod view;

pub use view::ModelsPane;

use super::{Def, Key, NavFns, Pane, Panes, never};
use crate::tui::action::Action;
use crate::tui::snapshot::ModelRow;
use crate::tui::state::State;
use crate::tui::widgets::list::ListNav;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelsState {
    /// The models as last loaded (breaker states updated at once by engine events).
    pub items: Vec<ModelRow>,
    pub nav: ListNav,
    /// Routing recommendations from the learned profiles (as the `models` command says them).
    pub recommendations: Vec<String>,
}

const KEYS: &[Key] = &[
    (&["x"], Action::ResetBreaker, "reset breaker", true),
    (&["/"], Action::Filter, "filter", true),
];

fn nav(p: &Panes) -> &ListNav {
    &p.models.nav
}

fn nav_mut(p: &mut Panes) -> &mut ListNav {
    &mut p.models.nav
}

pub const DEF: Def = Def {
    pane: Pane::Models,
    title: "Models",
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

impl ModelsState {
    /// Indices of the models that pass the filter.
    pub fn view(&self) -> Vec<usize> {
        self.nav.view(&self.items, |m| {
            format!("{} {} {}", m.id, m.provider, m.breaker.as_str())
        })
    }

    pub fn selected(&self) -> Option<&ModelRow> {
        let v = self.view();
        v.get(self.nav.selected).and_then(|i| self.items.get(*i))
    }
}

impl State {
    pub fn models_view(&self) -> Vec<usize> {
        self.panes.models.view()
    }

    pub fn selected_model(&self) -> Option<&ModelRow> {
        self.panes.models.selected()
    }
}
