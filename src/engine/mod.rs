//! The engine: a background service on a tokio runtime, driven by commands and observed through
//! events. It never imports the UI; the TUI and headless mode are two observers of the same events.

pub mod admin;
pub mod calls;
pub mod cancel;
pub mod checkpoint;
mod close;
pub mod context;
pub mod dag;
pub mod decompose;
pub mod driver;
pub mod feedback;
pub mod fit;
pub mod hold;
mod inflight;
mod live;
pub mod outputs;
pub mod preflight;
pub mod report;
pub mod resumable;
pub mod semantic;
pub mod service;
pub mod task_loop;
pub mod usage;

pub use admin::{Deleted, ResetBy};
pub use cancel::Cancel;
pub use context::{EngineCtx, RunCtx, StartError};
pub use semantic::EngineModel;
pub use service::{EngineHandle, Started, spawn};

use crate::domain::status::{RunStatus, TaskStatus};
use crate::domain::{CallOutcome, Micros, TaskSpec};
use crate::routing::breaker::BreakerState;
use serde::Serialize;
use std::path::PathBuf;

/// What the engine tells its observers. Serialisable so tests and logs can print it.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EngineEvent {
    RunStarted {
        run_id: String,
        description: String,
        resumed: bool,
    },
    Planned {
        run_id: String,
        tasks: usize,
        warnings: Vec<String>,
    },
    TaskChanged {
        run_id: String,
        task_id: String,
        status: TaskStatus,
        model: Option<String>,
        iteration: u32,
        score: Option<f64>,
        reason: Option<String>,
    },
    /// A task waits at a call the budget refused (`checkpoint.rs`): back to pending, it goes
    /// on from that call when another task's end frees budget, or when the run is resumed with
    /// a larger budget.
    TaskParked {
        run_id: String,
        task_id: String,
        iteration: u32,
        /// The refused call's step: generate, critique, revise or evaluate.
        role: String,
        /// The cheapest model the budget refused for it.
        model: String,
        /// The refusal: binding level, needed, left, spent and held.
        refusal: String,
        /// The task's status reason, as stored.
        reason: String,
    },
    /// A call of a task starts on `model` (the task table shows it while it runs).
    Calling {
        run_id: String,
        task_id: String,
        attempt: Option<u32>,
        role: String,
        model: String,
    },
    Call {
        run_id: Option<String>,
        task_id: Option<String>,
        role: String,
        model: String,
        provider: String,
        outcome: CallOutcome,
        cost: Micros,
        latency_ms: u64,
        error: Option<String>,
    },
    Breaker {
        run_id: Option<String>,
        model: String,
        from: BreakerState,
        to: BreakerState,
        reason: String,
    },
    /// A policy lets `model` serve the call but warns about it (`routing/policy.rs`).
    Policy {
        run_id: Option<String>,
        model: String,
        message: String,
    },
    /// A call was charged other than as reported: the held worst case (a billed refusal,
    /// impossible usage) or the hold itself when the provider counted more than estimated.
    Budget {
        run_id: Option<String>,
        message: String,
    },
    /// Anything else worth telling: skipped steps, records that could not be written.
    Warning {
        run_id: Option<String>,
        message: String,
    },
    RunFinished {
        run_id: String,
        status: RunStatus,
        cost: Micros,
        reason: Option<String>,
    },
}

impl EngineEvent {
    /// The run the event is about, if any.
    pub fn run_id(&self) -> Option<&str> {
        match self {
            EngineEvent::RunStarted { run_id, .. }
            | EngineEvent::Planned { run_id, .. }
            | EngineEvent::TaskChanged { run_id, .. }
            | EngineEvent::TaskParked { run_id, .. }
            | EngineEvent::Calling { run_id, .. }
            | EngineEvent::RunFinished { run_id, .. } => Some(run_id),
            EngineEvent::Call { run_id, .. }
            | EngineEvent::Breaker { run_id, .. }
            | EngineEvent::Policy { run_id, .. }
            | EngineEvent::Budget { run_id, .. }
            | EngineEvent::Warning { run_id, .. } => run_id.as_deref(),
        }
    }

    /// The one-line text of a warning (policy, budget or other), as observers show it.
    pub fn warning_text(&self) -> Option<String> {
        match self {
            EngineEvent::Policy { model, message, .. } => {
                Some(format!("policy warning for {model}: {message}"))
            }
            EngineEvent::Budget { message, .. } | EngineEvent::Warning { message, .. } => {
                Some(message.clone())
            }
            _ => None,
        }
    }

    /// The one line telling that a task parked (`TaskParked`), as observers show it.
    pub fn parked_text(&self) -> Option<String> {
        let EngineEvent::TaskParked {
            task_id,
            iteration,
            role,
            model,
            refusal,
            ..
        } = self
        else {
            return None;
        };
        Some(format!(
            "task {task_id} parked: budget refused the {role} call to {model} (iteration \
             {iteration}): {refusal}; it goes on from that call when budget frees up, or resume \
             with a larger budget"
        ))
    }

    /// What the Events pane lists for this event, as (kind, text): the kind is one of
    /// `store::events::KINDS`. The same lines are stored (`store/events.rs`), so the pane shows
    /// the same text after a restart. Empty: not listed (progress, successful calls).
    pub fn log_lines(&self) -> Vec<(&'static str, String)> {
        match self {
            EngineEvent::RunStarted {
                description,
                resumed,
                ..
            } => {
                let verb = if *resumed { "resumed" } else { "started" };
                vec![("info", format!("run {verb}: {description}"))]
            }
            EngineEvent::Planned {
                tasks, warnings, ..
            } => {
                // Plan warnings are about the plan's text (dropped items, repaired fields).
                let mut v: Vec<(&'static str, String)> = warnings
                    .iter()
                    .map(|w| ("warning", format!("plan: {w}")))
                    .collect();
                v.push(("info", format!("planned {tasks} tasks")));
                v
            }
            EngineEvent::TaskChanged {
                task_id, status, ..
            } if *status == TaskStatus::Failed => {
                vec![("error", format!("task {task_id} failed"))]
            }
            EngineEvent::TaskChanged { .. } | EngineEvent::Calling { .. } => vec![],
            EngineEvent::TaskParked { .. } => {
                vec![("budget", self.parked_text().unwrap_or_default())]
            }
            EngineEvent::Call {
                role,
                model,
                outcome,
                error,
                ..
            } if outcome.is_failure() => {
                vec![(
                    "error",
                    call_failed_text(role, model, *outcome, error.as_deref()),
                )]
            }
            EngineEvent::Call { .. } => vec![],
            EngineEvent::Breaker {
                model,
                from,
                to,
                reason,
                ..
            } => vec![(
                "breaker",
                format!("{model}: {} → {} ({reason})", from.as_str(), to.as_str()),
            )],
            EngineEvent::Policy { .. } => vec![("policy", self.warning_text().unwrap_or_default())],
            EngineEvent::Budget { .. } => vec![("budget", self.warning_text().unwrap_or_default())],
            EngineEvent::Warning { .. } => {
                vec![("warning", self.warning_text().unwrap_or_default())]
            }
            EngineEvent::RunFinished {
                status,
                cost,
                reason,
                ..
            } => {
                let kind = match status {
                    RunStatus::Success
                    | RunStatus::CompletedDegraded
                    | RunStatus::PartialSuccess => "info",
                    RunStatus::BudgetExhausted => "budget",
                    _ => "error",
                };
                let why = reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                vec![(
                    kind,
                    format!("run finished: {status}, ${:.4}{why}", cost.usd()),
                )]
            }
        }
    }
}

/// The Events line of a failed call.
pub fn call_failed_text(
    role: &str,
    model: &str,
    outcome: CallOutcome,
    error: Option<&str>,
) -> String {
    let detail = error.map(|e| format!(": {e}")).unwrap_or_default();
    format!("{role} call to {model} failed ({outcome}){detail}")
}

/// A new run as the user asked for it.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub description: String,
    pub criteria: String,
    pub budget: Micros,
    pub time_limit_secs: u64,
    pub team: Option<String>,
    pub concurrency: usize,
    pub strategy: crate::config::Strategy,
    pub output_dir: Option<PathBuf>,
    pub plan: Option<Vec<TaskSpec>>,
    pub force: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ResumeRequest {
    pub run_id: String,
    pub budget: Option<Micros>,
    pub time_limit_secs: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Bad input: exit 2.
    #[error("{0}")]
    Invalid(String),
    /// Pre-flight budget refusal: exit 8.
    #[error("{0}")]
    Preflight(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("the engine has stopped")]
    Stopped,
}
