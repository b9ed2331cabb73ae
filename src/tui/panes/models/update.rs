//! The Models pane's part of `update`: selection, the breaker reset (`x`, done by the engine), the
//! models of a snapshot, and the reset's result.

use crate::routing::breaker::BreakerState;
use crate::tui::action::{Action, Effect, Msg};
use crate::tui::snapshot::Snapshot;
use crate::tui::state::State;

pub(super) fn step(s: &mut State, delta: isize) {
    let m = &mut s.panes.models;
    let v = m.view();
    m.nav.step(delta, v.len());
    m.nav.key = m.selected().map(|m| m.id.clone());
}

pub(super) fn action(s: &mut State, a: Action) -> Option<Vec<Effect>> {
    if a != Action::ResetBreaker {
        return None;
    }
    if let Some(m) = s.panes.models.selected() {
        let (model, from) = (m.id.clone(), m.breaker);
        if from == BreakerState::Closed {
            s.flash(format!("the breaker of {model} is already closed"), false);
        } else {
            s.flash(format!("resetting the breaker of {model}…"), false);
            return Some(vec![Effect::ResetBreaker {
                model,
                from: from.as_str().to_string(),
            }]);
        }
    }
    Some(vec![])
}

pub(super) fn snapshot(s: &mut State, snap: &mut Snapshot) {
    let m = &mut s.panes.models;
    if snap.recommendations != m.recommendations {
        m.recommendations = std::mem::take(&mut snap.recommendations);
        s.dirty = true;
    }
    if snap.models != m.items {
        m.items = std::mem::take(&mut snap.models);
        let keys: Vec<String> = m.view().iter().map(|i| m.items[*i].id.clone()).collect();
        m.nav.reselect(&keys);
        s.dirty = true;
    }
}

pub(super) fn on_msg(s: &mut State, m: Msg) -> Result<Vec<Effect>, Msg> {
    let Msg::BreakerReset(model) = m else {
        return Err(m);
    };
    if let Some(m) = s.panes.models.items.iter_mut().find(|m| m.id == model) {
        m.breaker = BreakerState::Closed;
        m.failures = 0;
    }
    s.flash(format!("breaker of {model} reset to closed"), false);
    Ok(vec![Effect::Refresh])
}
