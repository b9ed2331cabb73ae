//! Plain data the panes show: snapshots loaded from the store on the loader thread (`data.rs`),
//! compared for equality so unchanged data never causes a redraw. No I/O, no clock.

use super::panes::analysis::StoredAnalysis;
use crate::domain::Micros;
use crate::domain::status::{RunStatus, TaskStatus};
use crate::routing::breaker::BreakerState;

/// One load of everything the panes show.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    pub runs: Vec<RunItem>,
    /// The open run (Tasks pane), when one is open.
    pub detail: Option<RunDetail>,
    /// The task shown in the detail view, when one is.
    pub attempts: Option<TaskAttempts>,
    pub models: Vec<ModelRow>,
    pub budget: BudgetSnap,
    /// Stored history for the Events pane: only in the first load.
    pub history: Option<Vec<EventItem>>,
    /// The latest stored analysis, when it is new to this loader.
    pub analysis: Option<StoredAnalysis>,
    /// Breaker transitions stored (by any process) since the last load, oldest first. The
    /// Events pane lists breaker transitions from here only, so this process's own (also
    /// announced by the engine) are listed once.
    pub breaker_events: Vec<EventItem>,
    /// Events of every other kind stored (by any process) since the last load, oldest first.
    /// The Events pane lists those this process's engine has not announced live (`tui/echo.rs`).
    pub stored_events: Vec<EventItem>,
    /// Routing recommendations from the learned profiles (the `models` command's).
    pub recommendations: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunItem {
    pub id: String,
    /// Liveness folded in: `running` without a live owner is `interrupted`.
    pub status: RunStatus,
    pub description: String,
    pub team: Option<String>,
    pub spent: Micros,
    pub budget: Micros,
    pub tasks_done: u64,
    pub tasks_total: u64,
    /// Creation time as shown (`MM-DD HH:MM`).
    pub created: String,
    /// The OS user that started it, and the machine driving it now or that drove it last (the
    /// one that started it unless it was resumed elsewhere: `runs.driven_host`, read in `tui/data/runs.rs`); `None`: a run of
    /// an older version.
    pub host: Option<String>,
    pub user: Option<String>,
    /// No resume can advance it: every unfinished task is on or behind a dependency cycle
    /// (`engine/resumable.rs`), whatever its status says.
    pub blocked: bool,
}

impl RunItem {
    /// Started by `me` (this host and OS user)? A run that recorded neither is nobody's.
    pub fn is_by(&self, me: &Me) -> bool {
        self.host.as_deref() == Some(me.host.as_str())
            && self.user.as_deref() == Some(me.user.as_str())
    }
}

/// Who this process runs as: the host and OS user its runs record (the Runs pane's "mine").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Me {
    pub host: String,
    pub user: String,
}

impl Me {
    /// This process (`store::owner`: the same names a run row records).
    pub fn current() -> Me {
        Me {
            host: crate::store::owner::Owner::current().host.clone(),
            user: crate::store::owner::os_user().to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunDetail {
    pub id: String,
    pub description: String,
    pub status: RunStatus,
    pub status_reason: Option<String>,
    pub team: Option<String>,
    pub budget: Micros,
    pub spent: Micros,
    /// Epoch ms the run stopped (finished, or last seen when interrupted); `None` while it runs.
    /// Elapsed times of tasks left unfinished stop here instead of counting on.
    pub ended_ms: Option<i64>,
    /// Where its outputs are written (deleting the run keeps this folder).
    pub output_dir: String,
    pub tasks: Vec<TaskItem>,
    /// The budget level that refused it (`run`, `org`, `team:<name>`), when one did.
    pub binding: Option<String>,
}

impl RunDetail {
    /// The clock a task's elapsed time runs to: `now` while the run runs, its end after.
    pub fn clock_ms(&self, now_ms: i64) -> i64 {
        match self.ended_ms {
            Some(end) if self.status != RunStatus::Running => end.min(now_ms),
            _ => now_ms,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskItem {
    pub id: String,
    pub task_type: String,
    pub status: TaskStatus,
    pub status_reason: Option<String>,
    pub model: Option<String>,
    pub iteration: u32,
    pub max_iterations: u32,
    pub score: Option<f64>,
    pub threshold: f64,
    pub cost: Micros,
    /// Epoch ms; elapsed is computed against the state's `now` when rendering.
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    /// The first line of its prompt, text-safe and cut short.
    pub title: String,
    pub dependencies: Vec<String>,
    /// While it runs: the call it is making (or made last).
    pub call: Option<CallNow>,
}

/// The call a running task is making.
#[derive(Debug, Clone, PartialEq)]
pub struct CallNow {
    /// `generate`, `critique`, `revise`, `evaluate`...
    pub role: String,
    pub model: String,
    /// In flight now (else the latest call, ended).
    pub in_flight: bool,
}

/// Characters of a task title.
pub const TITLE_CHARS: usize = 60;

/// A task's title: the first non-empty line of its prompt, escape sequences removed, cut to
/// [`TITLE_CHARS`].
pub fn task_title(prompt: &str) -> String {
    let line = prompt
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let clean = crate::text_safe::clean_line(line).into_owned();
    if clean.chars().count() <= TITLE_CHARS {
        return clean;
    }
    let mut t: String = clean.chars().take(TITLE_CHARS - 1).collect();
    t.push('…');
    t
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskAttempts {
    pub run_id: String,
    pub task_id: String,
    pub prompt: String,
    pub output: Option<String>,
    pub attempts: Vec<AttemptItem>,
    /// Calls of the task that failed, oldest first (the newest few).
    pub failed_calls: Vec<crate::store::views::FailedCallView>,
    /// The routing of each call, by attempt.
    pub routing: Vec<crate::store::routing::RoutingRecord>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AttemptItem {
    pub n: u32,
    pub model: Option<String>,
    pub reviewer: Option<String>,
    pub score: Option<f64>,
    pub cost: Micros,
    pub failure_reason: Option<String>,
    /// Validator verdicts in one line (`length ✓, json ✕`).
    pub validators: String,
    pub critique: Option<String>,
    pub output: Option<String>,
    /// Evaluated by its own generator (a single-model setup).
    pub self_evaluated: bool,
    /// How an out-of-range score was read, when it was.
    pub score_note: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelRow {
    pub id: String,
    pub provider: String,
    pub breaker: BreakerState,
    pub failures: u32,
    pub calls: u64,
    pub ok: u64,
    pub cost: Micros,
    pub p50_ms: Option<u64>,
    pub p95_ms: Option<u64>,
    /// Latencies of the latest successful calls, oldest first (sparkline).
    pub recent_ms: Vec<u64>,
    /// Learned quality per task type: (task type, quality, evaluated samples).
    pub quality: Vec<(String, f64, u64)>,
    /// What prompt caching saved on this model's calls.
    pub cache_saving: Micros,
}

impl ModelRow {
    pub fn success_rate(&self) -> Option<f64> {
        (self.calls > 0).then(|| self.ok as f64 / self.calls as f64)
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BudgetSnap {
    pub levels: Vec<LevelItem>,
    /// (run id, description, spent), most expensive first.
    pub by_run: Vec<(String, String, Micros)>,
    /// (phase = call role, spent), most expensive first.
    pub by_phase: Vec<(String, Micros)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LevelItem {
    /// `org` or `team:<name>`.
    pub level: String,
    pub cap: Option<Micros>,
    pub spent: Micros,
    pub reserved: Micros,
    pub period: Option<String>,
    /// Part of `spent` charged as an estimate (calls cut short by a crash).
    pub estimated: Micros,
    /// (epoch ms, spent at that time), oldest first.
    pub series: Vec<(i64, Micros)>,
}

impl LevelItem {
    pub fn remaining(&self) -> Option<Micros> {
        crate::budget::remaining(self.cap, self.spent, self.reserved)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Breaker,
    Policy,
    Budget,
    Error,
    Warning,
    Info,
}

impl EventKind {
    pub fn label(self) -> &'static str {
        match self {
            EventKind::Breaker => "breaker",
            EventKind::Policy => "policy",
            EventKind::Budget => "budget",
            EventKind::Error => "error",
            EventKind::Warning => "warning",
            EventKind::Info => "info",
        }
    }

    /// A stored kind (`store::events::KINDS`); unknown ones are `info`.
    pub fn parse(kind: &str) -> EventKind {
        match kind {
            "breaker" => EventKind::Breaker,
            "policy" => EventKind::Policy,
            "budget" => EventKind::Budget,
            "error" => EventKind::Error,
            "warning" => EventKind::Warning,
            _ => EventKind::Info,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            EventKind::Breaker => "◐",
            EventKind::Policy => "§",
            EventKind::Budget => "$",
            EventKind::Error => "✕",
            EventKind::Warning => "!",
            EventKind::Info => "·",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventItem {
    /// Increasing number: the selection key.
    pub seq: u64,
    /// As shown (`HH:MM:SS`).
    pub time: String,
    pub kind: EventKind,
    pub run_id: Option<String>,
    pub text: String,
}
