//! The Events pane's part of `update`: selection, and the events a snapshot brings (breaker
//! transitions stored by any process since the last load, the stored history once, then the
//! other events stored since the last load).

use super::EventsState;
use crate::tui::snapshot::{EventItem, Snapshot};
use crate::tui::state::State;
use std::collections::VecDeque;

impl EventsState {
    /// Keep the selection on the same event when a new one arrives on top.
    pub(in crate::tui::panes) fn pushed(&mut self, log: &VecDeque<EventItem>) {
        if self.nav.key.is_some() {
            let keys: Vec<String> = log.iter().map(|e| e.seq.to_string()).collect();
            self.nav.reselect(&keys);
        }
    }
}

pub(super) fn step(s: &mut State, delta: isize) {
    let v = s.events_view();
    s.panes.events.nav.step(delta, v.len());
    s.panes.events.nav.key = v
        .get(s.panes.events.nav.selected)
        .and_then(|i| s.events.get(*i))
        .map(|e| e.seq.to_string());
}

pub(super) fn snapshot(s: &mut State, snap: &mut Snapshot) {
    for e in std::mem::take(&mut snap.breaker_events) {
        s.push_event_item(e);
    }
    if let Some(mut h) = snap.history.take() {
        // Events this process listed live before the first load are stored too: once each.
        h.retain(|e| s.echo.history(&(e.kind, e.run_id.clone(), e.text.clone())));
        s.append_history(h);
    }
    // Other processes' events as they are stored; this process's were listed live (or are
    // listed now, when stored before the engine announced them: `echo.rs` pairs the two).
    for e in std::mem::take(&mut snap.stored_events) {
        if s.echo
            .stored((e.kind, e.run_id.clone(), e.text.clone()), s.now_ms)
        {
            s.push_event_item(e);
        }
    }
}
