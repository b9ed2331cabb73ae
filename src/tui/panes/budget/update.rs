//! The Budget pane's part of `update`: the selected level and the budget part of a snapshot.

use crate::tui::action::{Action, Effect};
use crate::tui::acts;
use crate::tui::snapshot::Snapshot;
use crate::tui::state::State;

pub(super) fn step(s: &mut State, delta: isize) {
    let b = &mut s.panes.budget;
    let n = b.snap.levels.len();
    if n > 0 {
        b.sel = (b.sel as isize + delta).clamp(0, n as isize - 1) as usize;
    }
}

pub(super) fn snapshot(s: &mut State, snap: &mut Snapshot) {
    let b = &mut s.panes.budget;
    if snap.budget != b.snap {
        b.snap = std::mem::take(&mut snap.budget);
        b.sel = b.sel.min(b.snap.levels.len().saturating_sub(1));
        s.dirty = true;
    }
}

/// `b`: raise the selected level's cap (a form, then a confirmation).
pub(super) fn action(s: &mut State, a: Action) -> Option<Vec<Effect>> {
    (a == Action::RaiseCap).then(|| acts::raise_cap_for_level(s))
}
