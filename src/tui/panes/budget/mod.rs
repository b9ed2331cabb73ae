//! Budget pane: org and team caps with spent, reserved and remaining; a burn-down chart of the
//! selected level with a linear projection; spend by run and by phase.

mod update;
mod view;

pub use view::{BudgetPane, Projection, project};

use super::{Def, Key, Pane, never, no_msg};
use crate::tui::action::Action;
use crate::tui::snapshot::BudgetSnap;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BudgetState {
    pub snap: BudgetSnap,
    /// The selected level (its burn-down is charted).
    pub sel: usize,
}

const KEYS: &[Key] = &[
    (&["j", "down"], Action::Down, "next level", true),
    (&["k", "up"], Action::Up, "previous level", false),
    (&["b"], Action::RaiseCap, "raise this cap", true),
];

pub const DEF: Def = Def {
    pane: Pane::Budget,
    title: "Budget",
    keys: KEYS,
    detail_keys: None,
    in_detail: never,
    nav: None,
    step: update::step,
    action: update::action,
    snapshot: update::snapshot,
    on_msg: no_msg,
    clock: never,
    render: view::render,
};
