//! The run list, the open run with its tasks, and a task's attempts.

use super::epoch_ms;
use super::local;
use crate::domain::status::{RunStatus, TaskStatus};
use crate::store::{Backend, StoreError};
use crate::tui::state::*;
use std::collections::HashMap;
use std::path::Path;

/// Failed calls listed in a task's detail (the newest).
const FAILED_CALLS: usize = 50;

fn validators_line(json: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    let name = x["name"].as_str().unwrap_or("?");
                    match x["result"].as_str().unwrap_or("") {
                        "pass" | "passed" | "ok" => format!("{name} ✓"),
                        "fail" | "failed" => format!("{name} ✕"),
                        other => format!("{name} {other}"),
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// Every run, newest first, with liveness folded into its status by the same rule as
/// `runs`/`show` (a deleted lock file does not make a live run interrupted).
pub(super) fn run_list(
    c: &(impl Backend + ?Sized),
    data_dir: &Path,
) -> Result<Vec<RunItem>, StoreError> {
    let runs = c.list_runs()?;
    // What `runs` shows besides the rows: which runs a cycle blocks, where each was driven last.
    let facts = crate::engine::report::ListFacts::load(c, &runs)?;
    Ok(runs
        .into_iter()
        .map(|r| {
            let status = crate::engine::report::effective_status(data_dir, &r);
            // Written by any machine of a shared store: shown, so text-safe.
            let safe = |v: &str| crate::text_safe::clean_line(v).into_owned();
            RunItem {
                blocked: status.is_resumable() && facts.blocked.contains(&r.id),
                host: facts.driven.get(&r.id).or(r.host.as_ref()).map(|h| safe(h)),
                user: r.user.as_deref().map(safe),
                status,
                created: local(&r.created_at, "%m-%d %H:%M"),
                id: r.id,
                description: r.description,
                team: r.team,
                spent: r.spent,
                budget: r.budget,
                tasks_done: r.tasks_done,
                tasks_total: r.tasks_total,
            }
        })
        .collect())
}

/// The open run and its tasks (`None`: it was deleted).
pub(super) fn run_detail(
    c: &(impl Backend + ?Sized),
    data_dir: &Path,
    id: &str,
) -> Result<Option<RunDetail>, StoreError> {
    let run = match c.run(id) {
        Ok(run) => run,
        Err(StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    // The call each running task makes: in flight first, else its latest.
    let mut calls: HashMap<String, CallNow> = HashMap::new();
    for (task, role, model, in_flight) in c.current_calls(id)? {
        calls.entry(task).or_insert(CallNow {
            role,
            model,
            in_flight,
        });
    }
    let tasks: Vec<TaskItem> = c
        .task_views(id)?
        .into_iter()
        .map(|t| TaskItem {
            call: if t.status == TaskStatus::Running.as_str() {
                calls.remove(&t.id)
            } else {
                None
            },
            title: task_title(&t.prompt_head),
            dependencies: t.dependencies,
            id: t.id,
            task_type: t.task_type,
            status: t.status.parse().unwrap_or(TaskStatus::Pending),
            status_reason: t.status_reason,
            model: t.model,
            iteration: t.iterations,
            max_iterations: t.max_iterations,
            score: t.score,
            threshold: t.threshold,
            cost: t.cost,
            started_ms: t.started_at.as_deref().and_then(epoch_ms),
            finished_ms: t.finished_at.as_deref().and_then(epoch_ms),
        })
        .collect();
    let status = crate::engine::report::effective_status(data_dir, &run);
    // An interrupted run has no finish time: its last update is when it stopped.
    let ended_ms = (status != RunStatus::Running)
        .then(|| run.finished_at.as_deref().unwrap_or(&run.updated_at))
        .and_then(epoch_ms);
    // The level that refused: the run's reason once it stopped, else a parked task's.
    let binding = run
        .status_reason
        .as_deref()
        .and_then(crate::budget::denial::binding_level)
        .or_else(|| {
            tasks
                .iter()
                .filter_map(|t| t.status_reason.as_deref())
                .find_map(crate::budget::denial::binding_level)
        })
        .map(String::from);
    Ok(Some(RunDetail {
        binding,
        status,
        ended_ms,
        output_dir: run.output_dir,
        tasks,
        id: run.id,
        description: run.description,
        status_reason: run.status_reason,
        team: run.team,
        budget: run.budget,
        spent: run.spent,
    }))
}

/// The task detail: prompt, output and attempts (`None`: no such task).
pub(super) fn task_attempts(
    c: &(impl Backend + ?Sized),
    run: &str,
    task: &str,
) -> Result<Option<TaskAttempts>, StoreError> {
    let Some((prompt, output)) = c.task_text(run, task)? else {
        return Ok(None);
    };
    let attempts = c.attempt_views(run, task).unwrap_or_default();
    Ok(Some(TaskAttempts {
        failed_calls: c.failed_calls(run, task, FAILED_CALLS)?,
        routing: c.routing(run, task)?,
        run_id: run.to_string(),
        task_id: task.to_string(),
        prompt,
        output,
        attempts: attempts
            .into_iter()
            .map(|a| AttemptItem {
                n: a.n,
                model: a.model,
                reviewer: a.reviewer,
                score: a.score,
                cost: a.cost,
                failure_reason: a.failure_reason,
                validators: validators_line(&a.validators_json),
                critique: a.critique,
                output: a.output,
                self_evaluated: a.self_evaluated,
                score_note: a.score_note,
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators_read_as_one_line() {
        let j =
            r#"[{"name":"length","result":"pass"},{"name":"json","result":"fail","reason":"x"}]"#;
        assert_eq!(validators_line(j), "length ✓, json ✕");
        assert_eq!(validators_line("not json"), "");
    }
}
