//! Where a task parked by the budget continues: its iteration, the step whose call was refused
//! and what the steps before it produced, so a refused call never uses up an iteration and
//! nothing already paid for is asked again. Kept in `tasks.resume_state` (JSON) from the moment
//! the task is parked until its iteration is recorded.

use super::feedback::Feedback;
use crate::domain::Micros;
use crate::store::{RunStore, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The best attempt of a task so far (passing beats failing, then higher score).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Best {
    pub score: f64,
    pub eval: Option<f64>,
    pub output: String,
    pub model: String,
    pub reviewer: Option<String>,
}

/// The generator's answer of the current iteration (after revision, once revised).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Generated {
    pub model: String,
    pub provider: String,
    /// Generation plus revision.
    pub cost: Micros,
    pub output: String,
}

/// Steps of the current iteration already done.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Progress {
    pub generated: Option<Generated>,
    /// The critique step ran (it may have been skipped after a provider failure).
    pub critiqued: bool,
    pub reviewer: Option<String>,
    pub critique: Option<String>,
    pub revised: bool,
    /// Evaluations answered without a parsable score (the next one asks for JSON only).
    pub eval_tries: u32,
    pub evaluator: Option<String>,
}

/// A task's loop state between two calls.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    /// 1-based iteration of the task's loop.
    pub iter: u32,
    /// Attempt number recorded for this iteration.
    pub n: u32,
    pub feedback: Option<Feedback>,
    pub prev_score: Option<f64>,
    pub best: Option<Best>,
    pub progress: Progress,
}

impl Checkpoint {
    /// The start of a task's first iteration, numbered `n`.
    pub fn start(n: u32) -> Self {
        Checkpoint {
            iter: 1,
            n,
            feedback: None,
            prev_score: None,
            best: None,
            progress: Progress::default(),
        }
    }

    /// The start of the next iteration.
    pub fn next(&mut self, feedback: Feedback, prev_score: Option<f64>) {
        self.iter += 1;
        self.n += 1;
        self.feedback = Some(feedback);
        self.prev_score = prev_score;
        self.progress = Progress::default();
    }
}

/// Store (or clear, with `None`) where a task continues.
pub fn save(
    c: &(impl RunStore + ?Sized),
    run_id: &str,
    task_id: &str,
    ck: Option<&Checkpoint>,
) -> Result<(), StoreError> {
    let json = match ck {
        Some(ck) => Some(serde_json::to_string(ck).map_err(|e| {
            StoreError::Invalid(format!(
                "task {task_id}: cannot encode its resume point: {e}"
            ))
        })?),
        None => None,
    };
    c.save_resume_state(run_id, task_id, json.as_deref())
}

/// Resume points of a run's tasks. An unreadable one is reported and the task starts its
/// iteration over (the attempt numbering still moves on).
pub fn load_all(
    c: &(impl RunStore + ?Sized),
    run_id: &str,
) -> Result<(HashMap<String, Checkpoint>, Vec<String>), StoreError> {
    let rows = c.resume_states(run_id)?;
    let (mut out, mut bad) = (HashMap::new(), Vec::new());
    for (id, json) in rows {
        match serde_json::from_str::<Checkpoint>(&json) {
            Ok(ck) => {
                out.insert(id, ck);
            }
            Err(e) => bad.push(format!("task {id}: unreadable resume point ignored: {e}")),
        }
    }
    Ok((out, bad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_survives_the_store() {
        let c = crate::store::open_in_memory().unwrap();
        crate::store::runs::insert_run(
            &c,
            &crate::store::NewRun {
                id: "r".into(),
                description: "d".into(),
                criteria: String::new(),
                team: None,
                strategy: "quality".into(),
                budget: Micros(1),
                time_limit_secs: 1,
                concurrency: 1,
                output_dir: "/tmp/unused".into(),
                plan: None,
                simulated: true,
            },
        )
        .unwrap();
        let spec: Vec<crate::domain::TaskSpec> = serde_json::from_str(
            r#"[{"id": "t", "type": "summarization", "prompt": "p", "threshold": 0.8, "max_iterations": 2, "max_output_tokens": 9},
                {"id": "u", "type": "summarization", "prompt": "p", "threshold": 0.8, "max_iterations": 2, "max_output_tokens": 9}]"#,
        )
        .unwrap();
        crate::store::runs::insert_tasks(&c, "r", &spec).unwrap();
        let mut ck = Checkpoint::start(3);
        ck.progress.generated = Some(Generated {
            model: "m".into(),
            provider: "p".into(),
            cost: Micros(12),
            output: "out".into(),
        });
        ck.progress.critiqued = true;
        save(&c, "r", "t", Some(&ck)).unwrap();
        crate::store::resume::save_resume_state(&c, "r", "u", Some("{")).unwrap();
        let (all, bad) = load_all(&c, "r").unwrap();
        let got = &all["t"];
        assert_eq!((got.iter, got.n), (1, 3));
        assert!(got.progress.critiqued && !got.progress.revised);
        assert_eq!(got.progress.generated.as_ref().unwrap().cost, Micros(12));
        assert_eq!(bad.len(), 1, "{bad:?}");
        save(&c, "r", "t", None).unwrap();
        assert!(load_all(&c, "r").unwrap().0.is_empty());
    }
}
