//! The pure `update(state, msg) -> effects`: no I/O, no async, no clock. The driver
//! (`runner.rs`) feeds it keys, engine events, snapshots and ticks, executes the effects and draws
//! when `dirty` is set. Keys go through `input.rs`, engine events through `events.rs`; each pane's
//! own part (its keys, its part of a snapshot, its messages) is in `panes/<pane>/update.rs`,
//! reached through `panes::DEFS`.

pub use super::state::{Confirm, FLASH_MS, Flash, MAX_EVENTS, Overlay, State};

use super::action::{Effect, Msg};
use super::panes::DEFS;
use super::state::*;
use crossterm::event::{KeyEventKind, KeyModifiers};

/// The single entry point: apply `msg`, return what the driver must do.
pub fn update(s: &mut State, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(k) => {
            if k.kind != KeyEventKind::Press {
                return vec![];
            }
            let ctx = s.ctx();
            match s.keymap.lookup(ctx, &k) {
                Some(a) => super::input::action(s, a),
                None => {
                    let plain = !k
                        .modifiers
                        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
                    if let (crossterm::event::KeyCode::Char(c), true) = (k.code, plain) {
                        super::input::text_input(s, c);
                    }
                    vec![]
                }
            }
        }
        Msg::Action(a) => super::input::action(s, a),
        Msg::Paste(text) => {
            super::input::paste(s, &text);
            vec![]
        }
        Msg::Engine(ev) => super::events::engine_event(s, *ev),
        Msg::Snapshot(snap) => {
            snapshot(s, *snap);
            vec![]
        }
        Msg::Tick(now) => {
            s.now_ms = now;
            if s.flash.as_ref().is_some_and(|f| f.until_ms <= now) {
                s.flash = None;
                s.dirty = true;
            }
            if s.clock_visible() {
                s.dirty = true;
            }
            vec![]
        }
        Msg::Resize => {
            s.dirty = true;
            vec![]
        }
        Msg::Started { run_id, resumed } => {
            s.active.insert(run_id.clone());
            s.open(&run_id);
            let verb = if resumed { "resumed" } else { "started" };
            s.flash(format!("{verb} run {run_id}"), false);
            vec![Effect::Refresh]
        }
        Msg::Failed(text) => {
            s.push_event(EventKind::Error, None, text.clone());
            s.flash(text, true);
            vec![]
        }
        Msg::Lagged(n) => {
            s.push_event(
                EventKind::Warning,
                None,
                format!("{n} engine events skipped (the display fell behind)"),
            );
            vec![Effect::Refresh]
        }
        Msg::Mouse(m) => super::mouse::mouse(s, m),
        Msg::Outputs(o) => {
            // Shown only if nothing else was opened meanwhile.
            if s.overlay == Overlay::None {
                s.overlay = Overlay::Outputs(o);
                s.flash = None;
                s.dirty = true;
            }
            vec![]
        }
        Msg::Done(text) => {
            s.push_event(EventKind::Info, None, text.clone());
            s.flash(text, false);
            vec![Effect::Refresh]
        }
        // The panes' own messages (deleted run, breaker reset, analysis results).
        mut m => {
            for d in DEFS {
                match (d.on_msg)(s, m) {
                    Ok(fx) => return fx,
                    Err(back) => m = back,
                }
            }
            vec![]
        }
    }
}

/// Take a fresh snapshot: each pane takes its part (in `DEFS` order); equal parts change nothing
/// (no redraw).
fn snapshot(s: &mut State, mut snap: Snapshot) {
    if !s.loaded {
        s.loaded = true;
        s.dirty = true;
        // Open on Runs with the newest run selected (and open in Tasks).
        if s.open_run.is_none()
            && let Some(first) = snap.runs.first()
        {
            s.open_run = Some(first.id.clone());
        }
    }
    for d in DEFS {
        (d.snapshot)(s, &mut snap);
    }
}

/// For events.rs: the run detail's task, if it is the open run.
pub(super) fn open_task_mut<'a>(
    s: &'a mut State,
    run_id: &str,
    task_id: &str,
) -> Option<&'a mut TaskItem> {
    s.detail
        .as_mut()
        .filter(|d| d.id == run_id)
        .and_then(|d| d.tasks.iter_mut().find(|t| t.id == task_id))
}
