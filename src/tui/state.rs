//! The UI state. What every pane shares lives here: the runs list and the open run (the status
//! bar shows it), the event log (every pane and the engine events push to it), the runs this
//! process drives, the popups, the status-bar message and the clock. Each pane's own state is in
//! `panes` (`panes/<pane>/mod.rs`). Changed only by `update` (`app.rs` and the panes'
//! `update.rs`); render reads it. No I/O, no clock.

pub use super::snapshot::*;

use super::keymap::{Ctx, Keymap};
use super::panes::{Pane, Panes};
use super::widgets::form::Form;
use std::collections::{BTreeSet, VecDeque};

/// Events kept for the Events pane.
pub const MAX_EVENTS: usize = 1000;
/// How long a status-bar message stays (ms).
pub const FLASH_MS: i64 = 6000;

#[derive(Debug, Clone, PartialEq)]
pub enum Confirm {
    Quit,
    Delete(String),
    /// Cancel this run (`c`).
    Cancel(String),
    /// Apply this cap change (`b`, after its form).
    RaiseCap(super::widgets::form::CapChange),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Overlay {
    #[default]
    None,
    Help {
        scroll: u16,
    },
    Form(Form),
    Confirm(Confirm),
    /// Editing the filter of the current pane.
    Filter,
    /// The Analysis pane's path prompt (the text typed so far, edited like a shell line).
    Prompt(super::widgets::line_edit::LineEdit),
    /// A run's output directory and files (`o`); `e` opens the selected one.
    Outputs(super::action::Outputs),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Flash {
    pub text: String,
    pub error: bool,
    pub until_ms: i64,
}

#[derive(Debug, Clone)]
pub struct State {
    pub keymap: Keymap,
    pub pane: Pane,
    pub now_ms: i64,
    pub overlay: Overlay,
    /// Every stored run, newest first, liveness folded in.
    pub runs: Vec<RunItem>,
    /// The run shown in the Tasks pane and the status bar.
    pub open_run: Option<String>,
    /// Its detail, once loaded.
    pub detail: Option<RunDetail>,
    /// Newest first.
    pub events: VecDeque<EventItem>,
    event_seq: u64,
    /// This process's live lines and the stored rows, paired so each is listed once.
    pub echo: super::echo::Echo,
    /// Each pane's own state.
    pub panes: Panes,
    /// Runs driven by this process.
    pub active: BTreeSet<String>,
    /// This host and OS user (the Runs pane's "mine"); tests set their own.
    pub me: Me,
    pub flash: Option<Flash>,
    /// Quitting: waiting for cancelled runs to be stored.
    pub stopping: bool,
    /// The user quit while runs were in flight and they were cancelled: the process ends as a
    /// headless Ctrl-C does ("cancelled by the user", exit 130).
    pub quit_cancelled: bool,
    /// The first snapshot has arrived.
    pub loaded: bool,
    pub simulated: bool,
    pub default_budget_usd: f64,
    /// Something visible changed since the last draw.
    pub dirty: bool,
    /// Where the last frame put its list rows and buttons (written by render, read by the mouse
    /// hit test only).
    pub hits: super::mouse::HitCell,
}

impl State {
    pub fn new(now_ms: i64, default_budget_usd: f64, simulated: bool) -> State {
        State {
            keymap: Keymap::default(),
            pane: Pane::Runs,
            now_ms,
            overlay: Overlay::None,
            runs: vec![],
            open_run: None,
            detail: None,
            events: VecDeque::new(),
            event_seq: 0,
            echo: Default::default(),
            panes: Panes::default(),
            active: BTreeSet::new(),
            me: Me::current(),
            flash: None,
            stopping: false,
            quit_cancelled: false,
            loaded: false,
            simulated,
            default_budget_usd,
            dirty: true,
            hits: Default::default(),
        }
    }

    /// The keymap context of the current screen.
    pub fn ctx(&self) -> Ctx {
        match &self.overlay {
            Overlay::Help { .. } => Ctx::Help,
            Overlay::Form(_) => Ctx::Form,
            Overlay::Confirm(_) => Ctx::Confirm,
            Overlay::Filter => Ctx::Filter,
            Overlay::Prompt(_) => Ctx::Prompt,
            Overlay::Outputs(_) => Ctx::Outputs,
            Overlay::None if (self.pane.def().in_detail)(self) => Ctx::Detail(self.pane),
            Overlay::None => Ctx::Pane(self.pane),
        }
    }

    /// Open the run in the Tasks pane.
    pub fn open(&mut self, id: &str) {
        if self.open_run.as_deref() != Some(id) {
            self.open_run = Some(id.to_string());
            self.detail = None;
            self.panes.run_changed();
        }
        self.pane = Pane::Tasks;
    }

    /// No run open any more (it was deleted).
    pub fn close_run(&mut self) {
        self.open_run = None;
        self.detail = None;
        self.panes.run_changed();
    }

    pub fn flash(&mut self, text: impl Into<String>, error: bool) {
        self.flash = Some(Flash {
            text: text.into(),
            error,
            until_ms: self.now_ms + FLASH_MS,
        });
        self.dirty = true;
    }

    pub fn push_event(&mut self, kind: EventKind, run_id: Option<String>, text: String) {
        let time = chrono::DateTime::from_timestamp_millis(self.now_ms)
            .map(|t| {
                t.with_timezone(&chrono::Local)
                    .format("%H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default();
        self.push_event_item(EventItem {
            seq: 0,
            time,
            kind,
            run_id,
            text,
        });
    }

    /// Put an event on top of the Events pane (its `seq` is assigned here).
    pub fn push_event_item(&mut self, mut e: EventItem) {
        self.event_seq += 1;
        e.seq = self.event_seq;
        self.events.push_front(e);
        self.events.truncate(MAX_EVENTS);
        self.panes.events_pushed(&self.events);
        self.dirty = true;
    }

    /// Stored history (newest first) below what is already listed.
    pub fn append_history(&mut self, h: Vec<EventItem>) {
        if h.is_empty() {
            return;
        }
        for mut e in h {
            self.event_seq += 1;
            e.seq = self.event_seq;
            self.events.push_back(e);
        }
        self.events.truncate(MAX_EVENTS);
        self.dirty = true;
    }

    /// Does the screen show anything that changes with the clock alone?
    pub fn clock_visible(&self) -> bool {
        (self.pane.def().clock)(self)
    }
}
