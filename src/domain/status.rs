//! Run and task statuses and the pure rules that decide a run's final status (product.md §1).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Interrupted,
    Success,
    PartialSuccess,
    CompletedDegraded,
    BudgetExhausted,
    Timeout,
    SystemFailure,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Success => "success",
            RunStatus::PartialSuccess => "partial_success",
            RunStatus::CompletedDegraded => "completed_degraded",
            RunStatus::BudgetExhausted => "budget_exhausted",
            RunStatus::Timeout => "timeout",
            RunStatus::SystemFailure => "system_failure",
        }
    }

    /// Terminal runs are never re-entered: resuming them would redo finished work forever.
    pub fn is_terminal(self) -> bool {
        matches!(self, RunStatus::Success | RunStatus::CompletedDegraded)
    }

    /// Resumable given the liveness already folded in (`Running` with a live owner is not).
    pub fn is_resumable(self) -> bool {
        matches!(
            self,
            RunStatus::Interrupted
                | RunStatus::PartialSuccess
                | RunStatus::BudgetExhausted
                | RunStatus::Timeout
                | RunStatus::SystemFailure
        )
    }

    /// Exit code of product.md §9.
    pub fn exit_code(self) -> i32 {
        match self {
            RunStatus::Success => 0,
            RunStatus::PartialSuccess | RunStatus::Interrupted | RunStatus::Running => 3,
            RunStatus::CompletedDegraded => 4,
            RunStatus::BudgetExhausted => 5,
            RunStatus::Timeout => 6,
            RunStatus::SystemFailure => 7,
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored status word this binary does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} status `{word}`")]
pub struct UnknownStatus {
    /// "run" or "task".
    pub what: &'static str,
    pub word: String,
}

impl UnknownStatus {
    fn new(what: &'static str, word: &str) -> Self {
        UnknownStatus {
            what,
            word: word.to_string(),
        }
    }
}

impl FromStr for RunStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, UnknownStatus> {
        Ok(match s {
            "running" => RunStatus::Running,
            "interrupted" => RunStatus::Interrupted,
            "success" => RunStatus::Success,
            "partial_success" => RunStatus::PartialSuccess,
            "completed_degraded" => RunStatus::CompletedDegraded,
            "budget_exhausted" => RunStatus::BudgetExhausted,
            "timeout" => RunStatus::Timeout,
            "system_failure" => RunStatus::SystemFailure,
            other => return Err(UnknownStatus::new("run", other)),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Pending,
    Running,
    Completed,
    Degraded,
    Failed,
    Skipped,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Running => "running",
            TaskStatus::Completed => "completed",
            TaskStatus::Degraded => "degraded",
            TaskStatus::Failed => "failed",
            TaskStatus::Skipped => "skipped",
        }
    }

    /// Executed to the end: dependants may start, resume leaves it alone.
    pub fn is_done(self) -> bool {
        matches!(self, TaskStatus::Completed | TaskStatus::Degraded)
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, UnknownStatus> {
        Ok(match s {
            "pending" => TaskStatus::Pending,
            "running" => TaskStatus::Running,
            "completed" => TaskStatus::Completed,
            "degraded" => TaskStatus::Degraded,
            "failed" => TaskStatus::Failed,
            "skipped" => TaskStatus::Skipped,
            other => return Err(UnknownStatus::new("task", other)),
        })
    }
}

/// Why a run stopped before all of its tasks could execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Cancelled,
    BudgetExhausted,
    TimeLimit,
    /// The database cannot commit (disk full, read-only): no call may start.
    StoreUnavailable,
}

/// Everything the final-status rule needs; gathered by the engine, decided here without I/O.
#[derive(Debug, Clone, Default)]
pub struct RunFacts {
    pub tasks: Vec<TaskStatus>,
    /// Model calls of this run (any role, any process lifetime) that returned a usable answer.
    pub successful_calls: u64,
    pub stop: Option<StopReason>,
}

/// The run status rule of product.md §1, including the original's bugs (§12) it must not repeat.
pub fn final_status(f: &RunFacts) -> RunStatus {
    match f.stop {
        Some(StopReason::Cancelled) => return RunStatus::PartialSuccess,
        Some(StopReason::BudgetExhausted) => return RunStatus::BudgetExhausted,
        Some(StopReason::TimeLimit) => return RunStatus::Timeout,
        // Stopped as a crash would: resumable, nothing about the work is decided.
        Some(StopReason::StoreUnavailable) => return RunStatus::Interrupted,
        None => {}
    }
    // The original reported SUCCESS when every call failed; no answer means no success.
    if f.successful_calls == 0 || f.tasks.is_empty() {
        return RunStatus::SystemFailure;
    }
    if f.tasks.iter().all(|t| *t == TaskStatus::Completed) {
        return RunStatus::Success;
    }
    if f.tasks.iter().all(|t| t.is_done()) {
        return RunStatus::CompletedDegraded;
    }
    // Nothing executed to the end and every task that ran failed: a provider/key problem.
    let any_done = f.tasks.iter().any(|t| t.is_done());
    let any_failed = f.tasks.contains(&TaskStatus::Failed);
    if !any_done && any_failed {
        return RunStatus::SystemFailure;
    }
    RunStatus::PartialSuccess
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskStatus::*;

    fn facts(tasks: &[TaskStatus], ok: u64, stop: Option<StopReason>) -> RunFacts {
        RunFacts {
            tasks: tasks.to_vec(),
            successful_calls: ok,
            stop,
        }
    }

    #[test]
    fn all_completed_is_success() {
        assert_eq!(
            final_status(&facts(&[Completed, Completed], 9, None)),
            RunStatus::Success
        );
    }

    #[test]
    fn degraded_tasks_make_a_terminal_degraded_run() {
        let s = final_status(&facts(&[Completed, Degraded], 9, None));
        assert_eq!(s, RunStatus::CompletedDegraded);
        assert!(s.is_terminal() && !s.is_resumable());
    }

    #[test]
    fn missing_tasks_make_partial_success_resumable() {
        for missing in [Pending, Running, Skipped, Failed] {
            let s = final_status(&facts(&[Completed, missing], 9, None));
            assert_eq!(s, RunStatus::PartialSuccess, "{missing:?}");
            assert!(s.is_resumable());
        }
    }

    #[test]
    fn every_call_failing_is_never_success() {
        // Original bug (§12): all model calls failing still ended in SUCCESS.
        assert_eq!(
            final_status(&facts(&[Completed, Completed], 0, None)),
            RunStatus::SystemFailure
        );
        assert_eq!(final_status(&facts(&[], 0, None)), RunStatus::SystemFailure);
        assert_eq!(
            final_status(&facts(&[Failed, Skipped, Skipped], 1, None)),
            RunStatus::SystemFailure
        );
    }

    #[test]
    fn no_tasks_is_system_failure() {
        assert_eq!(final_status(&facts(&[], 3, None)), RunStatus::SystemFailure);
    }

    #[test]
    fn stop_reasons_win() {
        let t = [Completed, Pending];
        assert_eq!(
            final_status(&facts(&t, 2, Some(StopReason::Cancelled))),
            RunStatus::PartialSuccess
        );
        assert_eq!(
            final_status(&facts(&t, 2, Some(StopReason::BudgetExhausted))),
            RunStatus::BudgetExhausted
        );
        assert_eq!(
            final_status(&facts(&t, 2, Some(StopReason::TimeLimit))),
            RunStatus::Timeout
        );
    }

    #[test]
    fn resumability_and_exit_codes() {
        assert!(RunStatus::Interrupted.is_resumable());
        assert!(RunStatus::SystemFailure.is_resumable());
        assert!(!RunStatus::Success.is_resumable());
        assert!(!RunStatus::Running.is_resumable());
        assert_eq!(RunStatus::Success.exit_code(), 0);
        assert_eq!(RunStatus::PartialSuccess.exit_code(), 3);
        assert_eq!(RunStatus::CompletedDegraded.exit_code(), 4);
        assert_eq!(RunStatus::BudgetExhausted.exit_code(), 5);
        assert_eq!(RunStatus::Timeout.exit_code(), 6);
        assert_eq!(RunStatus::SystemFailure.exit_code(), 7);
        for s in ["running", "interrupted", "success", "timeout"] {
            assert_eq!(s.parse::<RunStatus>().unwrap().as_str(), s);
        }
    }
}
