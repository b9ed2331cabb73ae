//! Row types read from and written to the store.

use crate::domain::status::{RunStatus, TaskStatus};
use crate::domain::{Micros, TaskSpec};
use crate::validators::ValidatorResult;
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct NewRun {
    pub id: String,
    pub description: String,
    pub criteria: String,
    pub team: Option<String>,
    pub strategy: String,
    pub budget: Micros,
    pub time_limit_secs: u64,
    pub concurrency: usize,
    pub output_dir: String,
    pub plan: Option<Vec<TaskSpec>>,
    pub simulated: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub id: String,
    pub description: String,
    pub criteria: String,
    pub team: Option<String>,
    pub strategy: String,
    pub budget: Micros,
    pub time_limit_secs: u64,
    pub concurrency: usize,
    pub output_dir: String,
    pub plan_json: Option<String>,
    pub status: RunStatus,
    pub status_reason: Option<String>,
    pub tasks_committed: bool,
    pub exec_ms: u64,
    pub spent: Micros,
    pub simulated: bool,
    pub created_at: String,
    pub started_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
    /// No valid plan came back from the models: the description ran as one task.
    pub plan_fallback: bool,
    /// The machine and OS user that started it (`None` on runs of older versions).
    pub host: Option<String>,
    pub user: Option<String>,
    /// The process driving it (set while `running`; see `engine::lock::run_alive`).
    #[serde(skip)]
    pub owner: Option<super::owner::Owner>,
    /// On the PostgreSQL store: whether its run lock (an advisory lock) is held by any
    /// process, on any machine (`None` on SQLite: lock files and owners decide).
    pub lock_held: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskRow {
    pub spec: TaskSpec,
    pub status: TaskStatus,
    pub status_reason: Option<String>,
    pub model: Option<String>,
    pub reviewer: Option<String>,
    pub score: Option<f64>,
    pub iterations: u32,
    pub output: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttemptRow {
    pub task_id: String,
    pub n: u32,
    pub model: Option<String>,
    pub reviewer: Option<String>,
    pub evaluator: Option<String>,
    pub score: Option<f64>,
    pub validators: Vec<ValidatorResult>,
    pub failure_reason: Option<String>,
    pub critique: Option<String>,
    pub output: Option<String>,
    pub cost: Micros,
    pub created_at: String,
    /// Evaluated by its own generator (a single-model setup).
    pub self_evaluated: bool,
    /// How an out-of-range score was read, when it was.
    pub score_note: Option<String>,
}

/// One request to a provider, whatever its outcome.
#[derive(Debug, Clone)]
pub struct CallRecord {
    pub run_id: Option<String>,
    pub task_id: Option<String>,
    pub attempt: Option<u32>,
    pub role: String,
    pub provider: String,
    pub model: String,
    pub simulated: bool,
    pub input_tokens: u64,
    pub cached_tokens: u64,
    /// Input tokens written to the provider's cache (priced at the cache-write rate).
    pub cache_write_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost: Micros,
    /// What caching saved on the call (`engine::usage::Charge::saving`).
    pub cache_saving: Micros,
    pub latency_ms: u64,
    pub ttft_ms: Option<u64>,
    pub outcome: crate::domain::CallOutcome,
    pub error: Option<String>,
    pub retry: u32,
    pub breaker_after: Option<String>,
    /// When the call ended (RFC 3339): the row is written behind, so commit time can be later.
    pub at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BreakerEventRow {
    pub at: String,
    pub model: String,
    pub from: String,
    pub to: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub id: String,
    pub status: RunStatus,
    pub description: String,
    pub team: Option<String>,
    pub spent: Micros,
    pub tasks_done: u64,
    pub tasks_total: u64,
    pub updated_at: String,
    pub created_at: String,
    #[serde(skip)]
    pub owner: Option<super::owner::Owner>,
    /// On the PostgreSQL store: whether its run lock (an advisory lock) is held by any
    /// process, on any machine (`None` on SQLite: lock files and owners decide).
    pub lock_held: Option<bool>,
    /// The run's own cap (the TUI shows spend against it).
    #[serde(skip)]
    pub budget: Micros,
    /// The machine and OS user that started it (`None` on runs of older versions).
    pub host: Option<String>,
    pub user: Option<String>,
}
