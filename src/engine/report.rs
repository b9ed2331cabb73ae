//! The JSON documents of `cli-contract.md` (`show`, `run`, `resume`, `runs`), built from the store.
//! Every field is always present (`null` or `[]` when empty).

use crate::domain::Micros;
use crate::domain::money::usd_json;
use crate::domain::status::RunStatus;
use crate::liveness as lock;
use crate::store::{AttemptRow, RunStore, StoreError, StoredRun, TaskRow};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// A stored status with liveness folded in: `running` without a live owner is `interrupted`.
/// The one rule for `runs`, `show` and the TUI.
pub fn effective_status(data_dir: &Path, run: &impl StoredRun) -> RunStatus {
    let status = run.stored_status();
    if status == RunStatus::Running && !run_live(data_dir, run) {
        RunStatus::Interrupted
    } else {
        status
    }
}

/// Is the run driven by a live process? On the PostgreSQL store its advisory lock says, for
/// every machine; on SQLite its lock file and recorded owner.
pub fn run_live(data_dir: &Path, run: &impl StoredRun) -> bool {
    run.lock_held()
        .unwrap_or_else(|| lock::run_alive(data_dir, run.run_id(), run.owner()))
}

fn round(m: Micros) -> f64 {
    usd_json(m)
}

pub fn run_json(
    c: &(impl RunStore + ?Sized),
    data_dir: &Path,
    id: &str,
) -> Result<Value, StoreError> {
    let run = c.run(id)?;
    let status = effective_status(data_dir, &run);
    let tasks = c.tasks(id)?;
    let attempts = c.attempts(id)?;
    let costs: HashMap<String, Micros> = c.task_costs(id)?.into_iter().collect();
    let counts = c.call_counts(id)?;
    let breaker = c.run_breaker_events(id)?;
    let files = c.artifacts(id)?;
    let outputs = outputs_json(
        &c.artifact_places(id)?,
        run.host.as_deref(),
        &run.output_dir,
    );
    let mut refused = c.refusals(id)?;
    let simulated = c.any_call_simulated(id).unwrap_or(run.simulated);
    let routing = c.run_routing(id)?;
    let mut tasks_json = tasks_json(&tasks, &attempts, &costs, &files, &mut refused);
    add_routing(&mut tasks_json, &routing);
    let tasks_done = tasks.iter().filter(|t| t.status.is_done()).count();
    let driver = c.driven_host(id)?.or_else(|| run.host.clone());
    Ok(json!({
        "id": run.id,
        "status": status,
        // A resume must be able to run something: not when only a cycle's tasks are left.
        "resumable": super::resumable::resumable(status, &tasks),
        "status_reason": run.status_reason,
        "description": run.description,
        "criteria": run.criteria,
        "team": run.team,
        "strategy": run.strategy,
        "simulated": simulated,
        // No valid plan came back: the description ran as one task.
        "plan_fallback": run.plan_fallback,
        "host": run.host,
        "user": run.user,
        // The machine driving the run now, or that drove it last (`host` started it).
        "driver_host": driver,
        "budget_usd": round(run.budget),
        "time_limit_secs": run.time_limit_secs,
        "total_cost_usd": round(run.spent),
        // Part of the total charged as the held worst case of calls cut short by a crash.
        "estimated_cost_usd": round(counts.estimated),
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "updated_at": run.updated_at,
        "output_dir": run.output_dir,
        // Files stay on the machine that wrote them: per machine and directory, its files (a run
        // resumed on another machine has its new outputs there, in the same layout).
        "outputs": outputs,
        "tasks_done": tasks_done,
        "tasks_total": tasks.len(),
        "tasks": tasks_json,
        "calls": counts.total,
        "calls_ok": counts.ok,
        // Prompt caching: input tokens read from / written to providers' caches, and what that
        // saved against the full input price (negative while writes are not yet repaid).
        "cached_tokens": counts.cached_tokens,
        "cache_write_tokens": counts.cache_write_tokens,
        "cache_saving_usd": round(counts.cache_saving),
        "breaker_events": breaker,
    }))
}

/// `outputs` of `show`: the run's files grouped by (host, directory), the run's own place
/// first. Files recorded before hosts were are at the run's host and output directory.
fn outputs_json(
    places: &[crate::store::runs::ArtifactPlace],
    host: Option<&str>,
    output_dir: &str,
) -> Value {
    // ((host, dir), files)
    type Place = (Option<String>, String);
    let mut groups: Vec<(Place, Vec<String>)> = Vec::new();
    for (h, d, path) in places {
        let key = (
            h.clone().or_else(|| host.map(String::from)),
            d.clone().unwrap_or_else(|| output_dir.to_string()),
        );
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, files)) => files.push(path.clone()),
            None => groups.push((key, vec![path.clone()])),
        }
    }
    let own = |k: &Place| k.0.as_deref() == host && k.1 == output_dir;
    groups.sort_by_key(|(k, _)| !own(k));
    Value::Array(
        groups
            .into_iter()
            .map(|((host, dir), files)| json!({"host": host, "dir": dir, "files": files}))
            .collect(),
    )
}

/// Each attempt gains `routing`: the routing of each of its calls (generate, critique, revise,
/// evaluate), with the candidates ranked (expected quality, typical cost), the ones filtered
/// out and why, what happened to each model tried, and why the first pick won.
fn add_routing(tasks: &mut [Value], routing: &[crate::store::routing::RoutingRecord]) {
    for t in tasks.iter_mut() {
        let id = t["id"].as_str().unwrap_or_default().to_string();
        let Some(attempts) = t["attempts"].as_array_mut() else {
            continue;
        };
        for a in attempts.iter_mut() {
            let n = a["n"].as_u64().unwrap_or_default();
            let calls: Vec<Value> = routing
                .iter()
                .filter(|r| r.task_id == id && u64::from(r.attempt) == n)
                .map(|r| {
                    let candidates: Vec<Value> = r
                        .candidates
                        .iter()
                        .map(|c| {
                            json!({
                                "model": c.model,
                                "rank": c.rank,
                                "expected_quality": c.quality,
                                "typical_cost_usd": c.cost_micros.map(|m| round(Micros(m))),
                                "filtered": c.filtered,
                                "outcome": c.outcome,
                            })
                        })
                        .collect();
                    json!({
                        "role": r.role,
                        "strategy": r.strategy,
                        "chosen": r.chosen,
                        "reason": r.reason,
                        "candidates": candidates,
                    })
                })
                .collect();
            a["routing"] = Value::Array(calls);
        }
    }
}

/// The `tasks` array of `show`: each task with its attempts, files and refused paths.
fn tasks_json(
    tasks: &[TaskRow],
    attempts: &[AttemptRow],
    costs: &HashMap<String, Micros>,
    files: &[(String, Option<String>)],
    refused: &mut HashMap<String, Vec<(String, String)>>,
) -> Vec<Value> {
    let mut by_task: HashMap<&str, Vec<Value>> = HashMap::new();
    for a in attempts {
        by_task.entry(a.task_id.as_str()).or_default().push(json!({
            "n": a.n,
            "model": a.model,
            "reviewer": a.reviewer,
            "evaluator": a.evaluator,
            "score": a.score,
            "cost_usd": round(a.cost),
            "validators": a.validators,
            "failure_reason": a.failure_reason,
            "critique": a.critique,
            "self_evaluated": a.self_evaluated,
            "score_note": a.score_note,
            "at": a.created_at,
        }));
    }
    let last_validators: HashMap<&str, Value> = attempts
        .iter()
        .map(|a| (a.task_id.as_str(), json!(a.validators)))
        .collect();
    tasks
        .iter()
        .map(|t| {
            let id = t.spec.id.as_str();
            json!({
                "id": id,
                "type": t.spec.task_type,
                "status": t.status,
                "status_reason": t.status_reason,
                "prompt": t.spec.prompt,
                "dependencies": t.spec.dependencies,
                "model": t.model,
                "reviewer": t.reviewer,
                "score": t.score,
                "threshold": t.spec.threshold,
                "iterations": t.iterations,
                "max_iterations": t.spec.max_iterations,
                "cost_usd": round(costs.get(id).copied().unwrap_or_default()),
                "validators": last_validators.get(id).cloned().unwrap_or(json!([])),
                "attempts": by_task.remove(id).unwrap_or_default(),
                "artifacts": files
                    .iter()
                    .filter(|(_, t)| t.as_deref() == Some(id))
                    .map(|(p, _)| p.clone())
                    .collect::<Vec<_>>(),
                "refused_paths": refused
                    .remove(id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(p, r)| json!({"path": p, "reason": r}))
                    .collect::<Vec<_>>(),
            })
        })
        .collect()
}

pub fn runs_json(c: &(impl RunStore + ?Sized), data_dir: &Path) -> Result<Value, StoreError> {
    let runs = c.list_runs()?;
    let more = ListFacts::load(c, &runs)?;
    Ok(runs_json_from(
        &runs,
        |r| effective_status(data_dir, r),
        &more,
    ))
}

/// What `runs` shows besides the run rows themselves.
#[derive(Debug, Default)]
pub struct ListFacts {
    /// Runs a resume could not advance: every unfinished task is on a dependency cycle or
    /// depends on one (`engine/resumable.rs`).
    pub blocked: HashSet<String>,
    /// The machine that drove each run resumed at least once, last.
    pub driven: HashMap<String, String>,
}

impl ListFacts {
    /// Only runs with unfinished tasks have their tasks read.
    pub fn load(
        c: &(impl RunStore + ?Sized),
        runs: &[crate::store::RunSummary],
    ) -> Result<Self, StoreError> {
        let mut blocked = HashSet::new();
        for r in runs
            .iter()
            .filter(|r| r.tasks_total > 0 && r.tasks_done < r.tasks_total)
        {
            if super::resumable::blocked_rows(&c.tasks(&r.id)?).is_some() {
                blocked.insert(r.id.clone());
            }
        }
        Ok(ListFacts {
            blocked,
            driven: c.driven_hosts()?,
        })
    }
}

/// `runs --json` of `runs`, each shown with the status `status` gives it (liveness folded in)
/// and the facts of `more`: blocked runs are not resumable whatever their status.
pub fn runs_json_from(
    runs: &[crate::store::RunSummary],
    status: impl Fn(&crate::store::RunSummary) -> crate::domain::status::RunStatus,
    more: &ListFacts,
) -> Value {
    let v: Vec<Value> = runs
        .iter()
        .map(|r| {
            let status = status(r);
            json!({
                "id": r.id,
                "status": status,
                "resumable": status.is_resumable() && !more.blocked.contains(&r.id),
                "description": r.description,
                "team": r.team,
                "total_cost_usd": round(r.spent),
                "tasks_done": r.tasks_done,
                "tasks_total": r.tasks_total,
                "created_at": r.created_at,
                "updated_at": r.updated_at,
                "host": r.host,
                "user": r.user,
                // Where it is driven now or was last (`host` started it).
                "driver_host": more.driven.get(&r.id).or(r.host.as_ref()),
            })
        })
        .collect();
    Value::Array(v)
}

#[cfg(test)]
mod tests {
    use super::outputs_json;
    use serde_json::json;

    #[test]
    fn outputs_are_grouped_by_machine_with_the_runs_own_place_first() {
        let place = |h: Option<&str>, d: Option<&str>, p: &str| {
            (h.map(String::from), d.map(String::from), p.to_string())
        };
        let places = vec![
            place(Some("b"), Some("/b/outputs/r-1"), "a.py"),
            // Recorded before hosts were: the run's own host and directory.
            place(None, None, "b.py"),
            place(Some("a"), Some("/a/outputs/r-1"), "c.py"),
            place(Some("b"), Some("/b/outputs/r-1"), "d.py"),
        ];
        assert_eq!(
            outputs_json(&places, Some("a"), "/a/outputs/r-1"),
            json!([
                {"host": "a", "dir": "/a/outputs/r-1", "files": ["b.py", "c.py"]},
                {"host": "b", "dir": "/b/outputs/r-1", "files": ["a.py", "d.py"]},
            ])
        );
        assert_eq!(outputs_json(&[], Some("a"), "/x"), json!([]));
    }
}
