//! A run's tasks and their attempts: the committed plan, task status and results.

use crate::args;
use crate::domain::status::TaskStatus;
use crate::domain::{Micros, TaskSpec, TaskType};
use crate::store::records::*;
use crate::store::sql::{Row, Sql};
use crate::store::{StoreError, now_rfc3339};
use crate::validators::{ValidatorResult, ValidatorSpec};

/// Commit the task list and mark it committed in one step (resume then skips decomposition).
pub fn insert_tasks(c: &dyn Sql, run_id: &str, tasks: &[TaskSpec]) -> Result<(), StoreError> {
    for (i, t) in tasks.iter().enumerate() {
        c.execute(
            "INSERT INTO tasks (run_id, id, seq, type, prompt, dependencies, threshold,
                max_iterations, max_output_tokens, validators, status)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending')",
            args![
                run_id,
                t.id,
                i as i64,
                t.task_type.as_str(),
                t.prompt,
                serde_json::to_string(&t.dependencies).unwrap_or_else(|_| "[]".into()),
                t.threshold,
                t.max_iterations,
                t.max_output_tokens,
                serde_json::to_string(&t.validators).unwrap_or_else(|_| "[]".into()),
            ],
        )?;
    }
    c.execute(
        // The plan now lives in `tasks`; dropping the copy keeps the hot run row small (every
        // call updates it, and SQLite rewrites the whole row).
        "UPDATE runs SET tasks_committed = 1, plan_json = NULL, updated_at = ?2 WHERE id = ?1",
        args![run_id, now_rfc3339()],
    )?;
    Ok(())
}

fn task_row(r: &Row) -> Result<TaskRow, StoreError> {
    let ty: String = r.get(1)?;
    let deps: String = r.get(3)?;
    let vals: String = r.get(7)?;
    let status: String = r.get(8)?;
    Ok(TaskRow {
        spec: TaskSpec {
            id: r.get(0)?,
            task_type: ty.parse().unwrap_or(TaskType::CodeGeneration),
            prompt: r.get(2)?,
            dependencies: serde_json::from_str(&deps).unwrap_or_default(),
            threshold: r.get(4)?,
            max_iterations: r.get(5)?,
            max_output_tokens: r.get(6)?,
            validators: serde_json::from_str::<Vec<ValidatorSpec>>(&vals).unwrap_or_default(),
        },
        status: status.parse().unwrap_or(TaskStatus::Pending),
        status_reason: r.get(9)?,
        model: r.get(10)?,
        reviewer: r.get(11)?,
        score: r.get(12)?,
        iterations: r.get(13)?,
        output: r.get(14)?,
    })
}

pub fn get_tasks(c: &dyn Sql, run_id: &str) -> Result<Vec<TaskRow>, StoreError> {
    c.query_map(
        "SELECT id, type, prompt, dependencies, threshold, max_iterations, max_output_tokens,
            validators, status, status_reason, model, reviewer, score, iterations, output
         FROM tasks WHERE run_id = ?1 ORDER BY seq",
        args![run_id],
        task_row,
    )
}

pub fn set_task_status(
    c: &dyn Sql,
    run_id: &str,
    task_id: &str,
    status: TaskStatus,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    let now = now_rfc3339();
    c.execute(
        "UPDATE tasks SET status = ?3, status_reason = ?4,
            started_at = CASE WHEN ?3 = 'running' THEN ?5 ELSE started_at END,
            finished_at = CASE WHEN ?3 IN ('completed','degraded','failed','skipped') THEN ?5 ELSE NULL END
         WHERE run_id = ?1 AND id = ?2",
        args![run_id, task_id, status.as_str(), reason, now],
    )?;
    Ok(())
}

/// Everything an attempt produced, recorded whole; the task row reflects its best attempt.
pub struct AttemptWrite<'a> {
    pub run_id: &'a str,
    pub task_id: &'a str,
    pub n: u32,
    pub model: Option<&'a str>,
    pub reviewer: Option<&'a str>,
    pub evaluator: Option<&'a str>,
    pub score: Option<f64>,
    pub validators: &'a [ValidatorResult],
    pub failure_reason: Option<&'a str>,
    pub critique: Option<&'a str>,
    pub output: Option<&'a str>,
    /// The evaluator was the generator itself (a single-model setup).
    pub self_evaluated: bool,
    /// How an out-of-range score was read (`feedback::Score::note`).
    pub score_note: Option<&'a str>,
}

pub fn insert_attempt(c: &dyn Sql, a: &AttemptWrite) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO attempts (run_id, task_id, n, model, reviewer, evaluator, score,
            validators, failure_reason, critique, output, created_at, self_evaluated, score_note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
         ON CONFLICT (run_id, task_id, n) DO UPDATE SET model = excluded.model,
            reviewer = excluded.reviewer, evaluator = excluded.evaluator, score = excluded.score,
            validators = excluded.validators, failure_reason = excluded.failure_reason,
            critique = excluded.critique, output = excluded.output,
            created_at = excluded.created_at, self_evaluated = excluded.self_evaluated,
            score_note = excluded.score_note",
        args![
            a.run_id,
            a.task_id,
            a.n,
            a.model,
            a.reviewer,
            a.evaluator,
            a.score,
            serde_json::to_string(a.validators).unwrap_or_else(|_| "[]".into()),
            a.failure_reason,
            a.critique,
            a.output,
            now_rfc3339(),
            a.self_evaluated,
            a.score_note
        ],
    )?;
    Ok(())
}

/// The task's current result: best attempt so far; iterations = attempts recorded.
pub fn update_task_result(
    c: &dyn Sql,
    run_id: &str,
    task_id: &str,
    model: Option<&str>,
    reviewer: Option<&str>,
    score: Option<f64>,
    output: Option<&str>,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE tasks SET model = COALESCE(?3, model), reviewer = COALESCE(?4, reviewer),
            score = COALESCE(?5, score), output = COALESCE(?6, output),
            iterations = (SELECT COUNT(*) FROM attempts a WHERE a.run_id = ?1 AND a.task_id = ?2)
         WHERE run_id = ?1 AND id = ?2",
        args![run_id, task_id, model, reviewer, score, output],
    )?;
    Ok(())
}

pub fn get_attempts(c: &dyn Sql, run_id: &str) -> Result<Vec<AttemptRow>, StoreError> {
    // One grouped pass over the calls instead of a subquery per attempt.
    let costs: std::collections::HashMap<(String, u32), i64> = c
        .query_map(
            "SELECT task_id, attempt, CAST(SUM(cost_micros) AS BIGINT) FROM calls
             WHERE run_id = ?1 AND task_id IS NOT NULL AND attempt IS NOT NULL
             GROUP BY task_id, attempt",
            args![run_id],
            |r| Ok(((r.get::<String>(0)?, r.get::<u32>(1)?), r.get::<i64>(2)?)),
        )?
        .into_iter()
        .collect();
    let rows = c.query_map(
        "SELECT a.task_id, a.n, a.model, a.reviewer, a.evaluator, a.score, a.validators,
            a.failure_reason, a.critique, a.output, a.created_at, a.self_evaluated, a.score_note
         FROM attempts a WHERE a.run_id = ?1 ORDER BY a.task_id, a.n",
        args![run_id],
        |r| {
            let v: String = r.get(6)?;
            Ok(AttemptRow {
                task_id: r.get(0)?,
                n: r.get(1)?,
                model: r.get(2)?,
                reviewer: r.get(3)?,
                evaluator: r.get(4)?,
                score: r.get(5)?,
                validators: serde_json::from_str(&v).unwrap_or_default(),
                failure_reason: r.get(7)?,
                critique: r.get(8)?,
                output: r.get(9)?,
                created_at: r.get(10)?,
                self_evaluated: r.get(11)?,
                score_note: r.get(12)?,
                cost: Micros::ZERO,
            })
        },
    )?;
    let rows = rows
        .into_iter()
        .map(|mut a| {
            a.cost = Micros(costs.get(&(a.task_id.clone(), a.n)).copied().unwrap_or(0));
            a
        })
        .collect();
    Ok(rows)
}
