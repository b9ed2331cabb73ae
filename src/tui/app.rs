//! The UI state and the pure `update(state, msg) -> effects`: no I/O, no async, no clock. The
//! driver (`runner.rs`) feeds it keys, engine events, snapshots and ticks, executes the effects
//! and draws when `dirty` is set.

use super::action::{Effect, Msg, Pane};
use super::analysis::AnalysisState;
use super::keymap::{Ctx, Keymap};
use super::state::*;
use crate::routing::breaker::BreakerState;
use crossterm::event::{KeyEventKind, KeyModifiers};
use std::collections::{BTreeSet, VecDeque};

/// Events kept for the Events pane.
pub const MAX_EVENTS: usize = 1000;
/// How long a status-bar message stays (ms).
pub const FLASH_MS: i64 = 6000;

#[derive(Debug, Clone, PartialEq)]
pub enum Confirm {
    Quit,
    Delete(String),
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
    /// The Analysis pane's path prompt (the text typed so far).
    Prompt(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Flash {
    pub text: String,
    pub error: bool,
    pub until_ms: i64,
}

/// The task detail view of the Tasks pane.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskView {
    pub task_id: String,
    pub scroll: u16,
}

#[derive(Debug, Clone)]
pub struct State {
    pub keymap: Keymap,
    pub pane: Pane,
    pub now_ms: i64,
    pub overlay: Overlay,
    pub runs: Vec<RunItem>,
    pub runs_nav: ListNav,
    pub open_run: Option<String>,
    pub detail: Option<RunDetail>,
    pub tasks_nav: ListNav,
    pub task_view: Option<TaskView>,
    pub attempts: Option<TaskAttempts>,
    pub models: Vec<ModelRow>,
    pub models_nav: ListNav,
    pub budget: BudgetSnap,
    pub budget_sel: usize,
    /// Newest first.
    pub events: VecDeque<EventItem>,
    pub events_nav: ListNav,
    event_seq: u64,
    pub analysis: AnalysisState,
    /// Runs driven by this process.
    pub active: BTreeSet<String>,
    pub flash: Option<Flash>,
    /// Quitting: waiting for cancelled runs to be stored.
    pub stopping: bool,
    /// The first snapshot has arrived.
    pub loaded: bool,
    pub simulated: bool,
    pub default_budget_usd: f64,
    /// Something visible changed since the last draw.
    pub dirty: bool,
}

impl State {
    pub fn new(now_ms: i64, default_budget_usd: f64, simulated: bool) -> State {
        State {
            keymap: Keymap::default(),
            pane: Pane::Runs,
            now_ms,
            overlay: Overlay::None,
            runs: vec![],
            runs_nav: ListNav::default(),
            open_run: None,
            detail: None,
            tasks_nav: ListNav::default(),
            task_view: None,
            attempts: None,
            models: vec![],
            models_nav: ListNav::default(),
            budget: BudgetSnap::default(),
            budget_sel: 0,
            events: VecDeque::new(),
            events_nav: ListNav::default(),
            event_seq: 0,
            analysis: AnalysisState::default(),
            active: BTreeSet::new(),
            flash: None,
            stopping: false,
            loaded: false,
            simulated,
            default_budget_usd,
            dirty: true,
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
            Overlay::None if self.pane == Pane::Tasks && self.task_view.is_some() => {
                Ctx::TaskDetail
            }
            Overlay::None if self.pane == Pane::Analysis && self.analysis.detail.is_some() => {
                Ctx::FindingDetail
            }
            Overlay::None => Ctx::Pane(self.pane),
        }
    }

    pub fn runs_view(&self) -> Vec<usize> {
        self.runs_nav.view(&self.runs, |r| {
            format!(
                "{} {} {} {}",
                r.id,
                r.status,
                r.description,
                r.team.as_deref().unwrap_or("")
            )
        })
    }

    pub fn tasks(&self) -> &[TaskItem] {
        self.detail.as_ref().map_or(&[], |d| d.tasks.as_slice())
    }

    pub fn tasks_view(&self) -> Vec<usize> {
        self.tasks_nav.view(self.tasks(), |t| {
            format!(
                "{} {} {} {}",
                t.id,
                t.task_type,
                t.status,
                t.model.as_deref().unwrap_or("")
            )
        })
    }

    pub fn models_view(&self) -> Vec<usize> {
        self.models_nav.view(&self.models, |m| {
            format!("{} {} {}", m.id, m.provider, m.breaker.as_str())
        })
    }

    pub fn events_view(&self) -> Vec<usize> {
        let items: Vec<&EventItem> = self.events.iter().collect();
        self.events_nav.view(&items, |e| {
            format!(
                "{} {} {}",
                e.kind.label(),
                e.run_id.as_deref().unwrap_or(""),
                e.text
            )
        })
    }

    pub fn selected_run(&self) -> Option<&RunItem> {
        let v = self.runs_view();
        v.get(self.runs_nav.selected)
            .and_then(|i| self.runs.get(*i))
    }

    pub fn selected_task(&self) -> Option<&TaskItem> {
        let v = self.tasks_view();
        v.get(self.tasks_nav.selected)
            .and_then(|i| self.tasks().get(*i))
    }

    pub fn selected_model(&self) -> Option<&ModelRow> {
        let v = self.models_view();
        v.get(self.models_nav.selected)
            .and_then(|i| self.models.get(*i))
    }

    /// Open the run in the Tasks pane.
    pub fn open(&mut self, id: &str) {
        if self.open_run.as_deref() != Some(id) {
            self.open_run = Some(id.to_string());
            self.detail = None;
            self.tasks_nav = ListNav::default();
            self.task_view = None;
            self.attempts = None;
        }
        self.pane = Pane::Tasks;
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
        // Keep the selection on the same event (new ones arrive on top).
        if self.events_nav.key.is_some() {
            let keys: Vec<String> = self.events.iter().map(|e| e.seq.to_string()).collect();
            self.events_nav.reselect(&keys);
        }
        self.dirty = true;
    }

    /// Does the screen show anything that changes with the clock alone?
    fn clock_visible(&self) -> bool {
        self.pane == Pane::Tasks
            && self.detail.as_ref().is_some_and(|d| {
                d.tasks
                    .iter()
                    .any(|t| t.started_ms.is_some() && t.finished_ms.is_none())
            })
    }
}

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
        Msg::Deleted(id) => {
            s.runs.retain(|r| r.id != id);
            if s.open_run.as_deref() == Some(id.as_str()) {
                s.open_run = None;
                s.detail = None;
                s.task_view = None;
            }
            let keys: Vec<String> = s.runs.iter().map(|r| r.id.clone()).collect();
            s.runs_nav.key = None;
            s.runs_nav.reselect(&keys);
            s.flash(format!("deleted run {id}"), false);
            vec![Effect::Refresh]
        }
        Msg::BreakerReset(model) => {
            if let Some(m) = s.models.iter_mut().find(|m| m.id == model) {
                m.breaker = BreakerState::Closed;
                m.failures = 0;
            }
            s.flash(format!("breaker of {model} reset to closed"), false);
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
        Msg::Analysis(m) => super::analysis::on_msg(s, m),
    }
}

/// Take a fresh snapshot: replace what differs; equal parts change nothing (no redraw).
fn snapshot(s: &mut State, snap: Snapshot) {
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
    if snap.runs != s.runs {
        s.runs = snap.runs;
        let keys: Vec<String> = s
            .runs_view()
            .iter()
            .map(|i| s.runs[*i].id.clone())
            .collect();
        s.runs_nav.reselect(&keys);
        s.dirty = true;
    }
    // The open run is gone (deleted elsewhere): close it rather than wait for it.
    if snap.detail.is_none()
        && let Some(open) = &s.open_run
        && !s.runs.iter().any(|r| &r.id == open)
        && !s.active.contains(open)
    {
        s.open_run = None;
        s.detail = None;
        s.task_view = None;
        s.dirty = true;
    }
    if snap.detail.as_ref().map(|d| &d.id) == s.open_run.as_ref() && snap.detail != s.detail {
        s.detail = snap.detail;
        let keys: Vec<String> = s
            .tasks_view()
            .iter()
            .map(|i| s.tasks()[*i].id.clone())
            .collect();
        s.tasks_nav.reselect(&keys);
        s.dirty = true;
    }
    let want = s.task_view.as_ref().map(|t| t.task_id.as_str());
    if snap.attempts.as_ref().map(|a| a.task_id.as_str()) == want
        && want.is_some()
        && snap.attempts != s.attempts
    {
        s.attempts = snap.attempts;
        s.dirty = true;
    }
    if snap.models != s.models {
        s.models = snap.models;
        let keys: Vec<String> = s
            .models_view()
            .iter()
            .map(|i| s.models[*i].id.clone())
            .collect();
        s.models_nav.reselect(&keys);
        s.dirty = true;
    }
    if snap.budget != s.budget {
        s.budget = snap.budget;
        s.budget_sel = s.budget_sel.min(s.budget.levels.len().saturating_sub(1));
        s.dirty = true;
    }
    if let Some(a) = snap.analysis {
        super::analysis::stored(s, a);
    }
    for e in snap.breaker_events {
        s.push_event_item(e);
    }
    if let Some(h) = snap.history
        && !h.is_empty()
    {
        for mut e in h {
            s.event_seq += 1;
            e.seq = s.event_seq;
            s.events.push_back(e);
        }
        s.events.truncate(MAX_EVENTS);
        s.dirty = true;
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
