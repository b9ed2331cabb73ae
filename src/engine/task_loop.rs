//! One task, up to its max iterations: generate (with dependency context and structured
//! feedback) -> critique by another provider -> revise -> validate -> evaluate by another
//! provider. Every attempt is committed whole before the next step.

use super::EngineEvent;
use super::calls::{CallFail, CallSpec, call};
use super::checkpoint::{self, Best, Checkpoint, Generated};
use super::context::{EngineCtx, RunCtx, Slot};
use super::feedback::{Feedback, head_tail, parse_critique, parse_score_noted, strip_markers};
use crate::domain::status::{StopReason, TaskStatus};
use crate::domain::{CallRole, TaskType};
use crate::prompts;
use crate::prompts::schemas;
use crate::store::{self, TaskRow, runs::AttemptWrite};
use crate::validators::{self, ValidatorResult, Verdict};

/// Breaks ties between equally scored attempts in favour of one a check passed on; far below
/// any score difference an evaluator gives.
const CHECKED_BONUS: f64 = 1e-6;

/// Appended to the evaluation prompt after an answer without a score.
const EVAL_REPAIR: &str = "\nYour previous answer had no score. Answer with JSON only.";

/// How a task's execution ended.
#[derive(Debug, Clone)]
pub enum TaskOutcome {
    Done {
        status: TaskStatus,
        output: String,
    },
    /// Could not run (no model, all providers failing): retryable by resume.
    Failed(String),
    /// Stopped before finishing (cancel): back to pending.
    Stopped(StopReason, String),
    /// A call did not fit the budget with none of the run's other calls in flight: the task
    /// waits at that exact call (`reason` says why).
    Parked {
        checkpoint: Box<Checkpoint>,
        reason: String,
        /// The refused call: its step and the cheapest model the budget refused for it, and
        /// the refusal itself (level, needed, spent, held).
        refused: Box<Refused>,
    },
}

/// The call a parked task waits at, as its `EngineEvent::TaskParked` tells it.
#[derive(Debug, Clone)]
pub struct Refused {
    pub role: CallRole,
    pub model: String,
    pub denial: String,
}

/// A task's iteration step ended the task early with this outcome (cancelled, parked, failed).
type Step<T> = Result<T, TaskOutcome>;

/// One task being executed: its loop state and what every step needs.
struct TaskRun<'a> {
    ctx: &'a EngineCtx,
    run: &'a RunCtx,
    task: &'a TaskRow,
    slot: &'a mut Slot,
    ck: Checkpoint,
}

/// What the validators and the evaluator made of an iteration's output.
struct Judged {
    vresults: Vec<ValidatorResult>,
    validators_ok: bool,
    score: Option<f64>,
    eval_reason: Option<String>,
    /// How an out-of-range score was read (`feedback::Score::note`).
    score_note: Option<String>,
    /// The evaluator was the generator (a single-model setup).
    self_evaluated: bool,
}

/// Execute a task from `resume` (where it was parked) or from the start of a first iteration
/// numbered `first_attempt`. `context` holds the outputs of its dependencies as (id, output).
pub async fn run_task(
    ctx: &EngineCtx,
    run: &RunCtx,
    task: &TaskRow,
    context: &[(String, String)],
    first_attempt: u32,
    resume: Option<Checkpoint>,
    slot: &mut Slot,
) -> TaskOutcome {
    let mut t = TaskRun {
        ctx,
        run,
        task,
        slot,
        ck: resume.unwrap_or_else(|| Checkpoint::start(first_attempt)),
    };
    match t.iterate(context).await {
        Ok(()) => t.best_or_failed(),
        Err(end) => end,
    }
}

impl TaskRun<'_> {
    /// Iterations until one passes (`Err(Done)`), the score plateaus or the iterations run out.
    async fn iterate(&mut self, context: &[(String, String)]) -> Step<()> {
        let spec = &self.task.spec;
        let validators = validators::validators_for(
            spec.task_type.as_str(),
            &spec.validators,
            &self.ctx.cfg.validators,
        );
        while self.ck.iter <= spec.max_iterations {
            self.emit(TaskStatus::Running, None, None);
            let mut generated = self.generate(context).await?;
            self.emit(TaskStatus::Running, Some(generated.model.clone()), None);
            // Critique by another provider, then revise by the generator when asked to.
            self.critique(&generated).await?;
            self.revise(&mut generated, context).await?;
            let judged = self.judge(&validators, &generated).await?;
            self.learn(&generated, &judged).await;
            let passed = judged.validators_ok && judged.score.is_some_and(|s| s >= spec.threshold);
            self.record(&generated, &judged, passed).await?;
            self.emit(
                TaskStatus::Running,
                Some(generated.model.clone()),
                judged.score,
            );
            if passed {
                return Err(TaskOutcome::Done {
                    status: TaskStatus::Completed,
                    output: generated.output,
                });
            }
            // Plateau: a revision that barely moves the score will not reach the threshold.
            if let (Some(p), Some(s)) = (self.ck.prev_score, judged.score)
                && s - p < self.ctx.cfg.engine.plateau_delta
                && judged.validators_ok
            {
                break;
            }
            let feedback = Feedback::from_attempt(
                judged.score,
                spec.threshold,
                &judged.vresults,
                &generated.output,
                judged.eval_reason.as_deref(),
            );
            let prev = judged.score.or(self.ck.prev_score);
            self.ck.next(feedback, prev);
        }
        Ok(())
    }

    /// After the last iteration: the best attempt as a degraded result.
    fn best_or_failed(self) -> TaskOutcome {
        match self.ck.best {
            Some(b) => TaskOutcome::Done {
                status: TaskStatus::Degraded,
                output: b.output,
            },
            None => TaskOutcome::Failed("no attempt produced output".into()),
        }
    }

    fn emit(&self, status: TaskStatus, model: Option<String>, score: Option<f64>) {
        self.ctx.emit(EngineEvent::TaskChanged {
            run_id: self.run.id.clone(),
            task_id: self.task.spec.id.clone(),
            status,
            model,
            iteration: self.ck.iter,
            score,
            reason: None,
        })
    }

    /// A call of this task for `role`, attempt `ck.n`.
    fn spec(&self, role: CallRole, prompt: String, max_tokens: u32) -> CallSpec {
        let mut c = CallSpec::new(role, prompt, max_tokens);
        c.task_id = Some(self.task.spec.id.clone());
        c.attempt = Some(self.ck.n);
        c
    }

    /// A critique, revision or evaluation call failed: cancelled and budget refusals end the
    /// task (stopped, parked); anything else is warned about and the step is skipped.
    fn step_failed(&self, f: CallFail, role: CallRole, what: &str) -> Step<()> {
        match f {
            CallFail::Cancelled => Err(TaskOutcome::Stopped(
                StopReason::Cancelled,
                "cancelled".into(),
            )),
            CallFail::Budget(d, model) => Err(park(self.ck.clone(), role, &d, model)),
            e => {
                self.ctx.warn(
                    Some(&self.run.id),
                    format!("task {}: {what}: {e}", self.task.spec.id),
                );
                Ok(())
            }
        }
    }

    /// The generator's answer (unless done before the task was parked), with the outputs of
    /// the dependencies and the last iteration's feedback in the prompt.
    async fn generate(&mut self, context: &[(String, String)]) -> Step<Generated> {
        if let Some(g) = self.ck.progress.generated.clone() {
            return Ok(g);
        }
        let spec = &self.task.spec;
        let mut prompt = self.shared_context(context);
        let shared = prompt.len();
        prompt.push_str(&format!("Task:\n{}\n", spec.prompt));
        if let Some(f) = &self.ck.feedback {
            prompt.push('\n');
            prompt.push_str(&f.render());
        }
        let mut gen_spec = self.spec(CallRole::Generate, prompt, spec.max_output_tokens);
        gen_spec.shared_prefix = shared;
        gen_spec.system = Some(prompts::generate_system(spec.task_type));
        gen_spec.task_type = Some(spec.task_type);
        gen_spec.threshold = Some(spec.threshold);
        match call(self.ctx, Some(self.run), &gen_spec, Some(&mut *self.slot)).await {
            Ok(ok) => {
                let g = Generated {
                    model: ok.model.id.clone(),
                    provider: ok.model.provider.clone(),
                    cost: ok.cost,
                    output: strip_markers(&ok.response.text),
                };
                self.ck.progress.generated = Some(g.clone());
                Ok(g)
            }
            Err(f) => Err(fail_attempt(self.ctx, self.run, self.task, self.ck.clone(), f).await),
        }
    }

    /// The dependencies' outputs, framed: the first part of the generation and revision
    /// prompts, byte for byte the same in both (and in every iteration) so a provider cache
    /// written by the first call serves the others (`CallSpec::shared_prefix`).
    fn shared_context(&self, context: &[(String, String)]) -> String {
        let ctx_chars = self.ctx.cfg.engine.context_chars_per_dependency;
        let mut out = String::new();
        for (id, dep) in context {
            out.push_str(&format!(
                "{} {id}>>>\n{}\n{}\n",
                prompts::CONTEXT_START,
                strip_markers(&head_tail(dep, ctx_chars)),
                prompts::CONTEXT_END
            ));
        }
        out
    }

    /// Critique by a model of another provider (skipped on a provider failure).
    async fn critique(&mut self, generated: &Generated) -> Step<()> {
        if self.ck.progress.critiqued {
            return Ok(());
        }
        let spec = &self.task.spec;
        let mut crit = self.spec(
            CallRole::Critique,
            prompts::critique_prompt(&spec.prompt, &generated.output),
            1024,
        );
        crit.system = Some(prompts::CRITIQUE_SYSTEM.into());
        crit.task_type = Some(TaskType::CodeReview);
        crit.avoid_provider = Some(generated.provider.clone());
        crit.schema = Some(schemas::critique());
        match call(self.ctx, Some(self.run), &crit, Some(&mut *self.slot)).await {
            Ok(ok) => {
                self.ck.progress.reviewer = Some(ok.model.id.clone());
                // The verdict decides whether a revision is asked for at all (`revise`).
                let c = parse_critique(&strip_markers(&ok.response.text));
                self.ck.progress.critique = Some(c.text);
            }
            Err(f) => self.step_failed(f, CallRole::Critique, "critique skipped")?,
        }
        self.ck.progress.critiqued = true;
        Ok(())
    }

    /// Revision by the generator, unless the critique found nothing to change.
    async fn revise(
        &mut self,
        generated: &mut Generated,
        context: &[(String, String)],
    ) -> Step<()> {
        let Some(c) = self.ck.progress.critique.clone() else {
            return Ok(());
        };
        if self.ck.progress.revised || c.trim_start().to_uppercase().starts_with("VERDICT: OK") {
            return Ok(());
        }
        let spec = &self.task.spec;
        // The same system prompt and context prefix as the generation, on the same model: the
        // revision reads what the generation wrote to the provider's cache.
        let mut prompt = self.shared_context(context);
        let shared = prompt.len();
        prompt.push_str(&prompts::revise_prompt(&spec.prompt, &generated.output, &c));
        let mut rev = self.spec(CallRole::Revise, prompt, spec.max_output_tokens);
        rev.shared_prefix = shared;
        rev.system = Some(prompts::generate_system(spec.task_type));
        rev.task_type = Some(spec.task_type);
        rev.pinned_model = Some(generated.model.clone());
        match call(self.ctx, Some(self.run), &rev, Some(&mut *self.slot)).await {
            Ok(ok) => {
                generated.cost += ok.cost;
                generated.output = strip_markers(&ok.response.text);
                self.ck.progress.generated = Some(generated.clone());
            }
            Err(f) => self.step_failed(f, CallRole::Revise, "revision skipped")?,
        }
        self.ck.progress.revised = true;
        Ok(())
    }

    /// Validate (deterministic), then evaluate by another provider: one repair retry when the
    /// answer has no parsable score (content error).
    async fn judge(
        &mut self,
        validators: &[validators::ValidatorSpec],
        generated: &Generated,
    ) -> Step<Judged> {
        let spec = &self.task.spec;
        let output = &generated.output;
        let vresults: Vec<ValidatorResult> =
            validators::run_all_async(validators, output, &self.ctx.cfg.validators).await;
        let mut eval = self.spec(
            CallRole::Evaluate,
            prompts::evaluate_prompt(&spec.prompt, &self.run.criteria, output),
            256,
        );
        eval.system = Some(prompts::EVALUATE_SYSTEM.into());
        eval.task_type = Some(TaskType::Evaluation);
        eval.avoid_provider = Some(generated.provider.clone());
        eval.schema = Some(schemas::evaluation());
        let (mut score, mut eval_reason, mut score_note) = (None, None, None);
        while self.ck.progress.eval_tries < 2 {
            if self.ck.progress.eval_tries > 0 && !eval.prompt.ends_with(EVAL_REPAIR) {
                eval.prompt.push_str(EVAL_REPAIR);
            }
            match call(self.ctx, Some(self.run), &eval, Some(&mut *self.slot)).await {
                Ok(ok) => {
                    self.ck.progress.evaluator = Some(ok.model.id.clone());
                    if let Some(s) = parse_score_noted(&ok.response.text) {
                        if let Some(note) = &s.note {
                            self.ctx.warn(
                                Some(&self.run.id),
                                format!("task {}: {note}", self.task.spec.id),
                            );
                        }
                        score = Some(s.value);
                        eval_reason = s.reason;
                        score_note = s.note;
                        break;
                    }
                    self.ck.progress.eval_tries += 1;
                }
                Err(f) => {
                    self.step_failed(f, CallRole::Evaluate, "evaluation failed")?;
                    break;
                }
            }
        }
        let validators_ok = !vresults.iter().any(|v| v.result == Verdict::Fail);
        let self_evaluated = score.is_some()
            && self.ck.progress.evaluator.as_deref() == Some(generated.model.as_str());
        Ok(Judged {
            vresults,
            validators_ok,
            score,
            eval_reason,
            score_note,
            self_evaluated,
        })
    }

    /// Learning: the generator's quality on this task type (validator failures count as 0.5 at
    /// most).
    async fn learn(&self, generated: &Generated, judged: &Judged) {
        let Some(s) = judged.score else {
            return;
        };
        let task_type = self.task.spec.task_type;
        let learned = if judged.validators_ok { s } else { s.min(0.5) };
        let p =
            self.ctx
                .learning
                .record_score(&generated.model, task_type, learned, generated.cost);
        let m = generated.model.clone();
        let _ = self
            .ctx
            .store
            .call(move |c| store::models::save_profile(c, &m, task_type, &p))
            .await;
    }

    /// Keep the best attempt and record the iteration whole (the task's result is its best).
    async fn record(&mut self, generated: &Generated, judged: &Judged, passed: bool) -> Step<()> {
        let spec = &self.task.spec;
        let score = judged.score;
        let failure_reason = (!passed).then(|| {
            Feedback::from_attempt(
                score,
                spec.threshold,
                &judged.vresults,
                &generated.output,
                judged.eval_reason.as_deref(),
            )
            .reason
        });
        let progress = &self.ck.progress;
        let (reviewer, critique, evaluator) = (
            progress.reviewer.clone(),
            progress.critique.clone(),
            progress.evaluator.clone(),
        );
        // Best attempt: passing beats failing, then higher score, then an attempt some check
        // passed on over one nothing could be checked on (a revision that dropped the code).
        let checked = judged.vresults.iter().any(|v| v.result == Verdict::Pass);
        let rank = score.unwrap_or(0.0)
            + if judged.validators_ok { 1.0 } else { 0.0 }
            + if checked { CHECKED_BONUS } else { 0.0 };
        if self.ck.best.as_ref().is_none_or(|b| rank >= b.score) {
            self.ck.best = Some(Best {
                score: rank,
                eval: score,
                output: generated.output.clone(),
                model: generated.model.clone(),
                reviewer: reviewer.clone(),
            });
        }
        let b = self
            .ck
            .best
            .as_ref()
            .map(|b| (b.model.clone(), b.reviewer.clone(), b.output.clone()));
        let best_score = self.ck.best.as_ref().and_then(|b| b.eval);
        let (run_id, task_id, n) = (self.run.id.clone(), spec.id.clone(), self.ck.n);
        let (m, vr, out) = (
            generated.model.clone(),
            judged.vresults.clone(),
            generated.output.clone(),
        );
        let (self_evaluated, score_note) = (judged.self_evaluated, judged.score_note.clone());
        let saved = self
            .ctx
            .store
            .transact(move |tx| {
                store::runs::insert_attempt(
                    tx,
                    &AttemptWrite {
                        run_id: &run_id,
                        task_id: &task_id,
                        n,
                        model: Some(&m),
                        reviewer: reviewer.as_deref(),
                        evaluator: evaluator.as_deref(),
                        score,
                        validators: &vr,
                        failure_reason: failure_reason.as_deref(),
                        critique: critique.as_deref(),
                        output: Some(&out),
                        self_evaluated,
                        score_note: score_note.as_deref(),
                    },
                )?;
                let (bm, br, bo) = b.clone().unwrap_or_default();
                store::runs::update_task_result(
                    tx,
                    &run_id,
                    &task_id,
                    Some(&bm),
                    br.as_deref(),
                    best_score,
                    Some(&bo),
                )?;
                // The iteration is recorded whole: a parked task's resume point is spent.
                checkpoint::save(tx, &run_id, &task_id, None)
            })
            .await;
        saved.map_err(|e| TaskOutcome::Failed(format!("could not record attempt: {e}")))
    }
}

/// A call refused by the budget: the task waits at it.
fn park(
    ck: Checkpoint,
    role: CallRole,
    d: &crate::budget::ledger::Denial,
    model: String,
) -> TaskOutcome {
    TaskOutcome::Parked {
        checkpoint: Box::new(ck),
        reason: format!("budget exhausted: {d}"),
        refused: Box::new(Refused {
            role,
            model,
            denial: d.to_string(),
        }),
    }
}

/// The generation of attempt `ck.n` could not be made: park on the budget, else record the
/// attempt and say how the task ends.
async fn fail_attempt(
    ctx: &EngineCtx,
    run: &RunCtx,
    task: &TaskRow,
    ck: Checkpoint,
    f: CallFail,
) -> TaskOutcome {
    let n = ck.n;
    match f {
        CallFail::Cancelled => {
            return TaskOutcome::Stopped(StopReason::Cancelled, "cancelled".into());
        }
        CallFail::Budget(d, model) => return park(ck, CallRole::Generate, &d, model),
        CallFail::NoModel(_) => {}
    }
    let reason = f.to_string();
    let (run_id, task_id, r) = (run.id.clone(), task.spec.id.clone(), reason.clone());
    let _ = ctx
        .store
        .call(move |c| {
            store::runs::insert_attempt(
                c,
                &AttemptWrite {
                    run_id: &run_id,
                    task_id: &task_id,
                    n,
                    model: None,
                    reviewer: None,
                    evaluator: None,
                    score: None,
                    validators: &[],
                    failure_reason: Some(&r),
                    critique: None,
                    output: None,
                    self_evaluated: false,
                    score_note: None,
                },
            )?;
            store::runs::update_task_result(c, &run_id, &task_id, None, None, None, None)?;
            checkpoint::save(c, &run_id, &task_id, None)
        })
        .await;
    match ck.best {
        // Earlier iterations produced something: keep it as a degraded result.
        Some(b) => TaskOutcome::Done {
            status: TaskStatus::Degraded,
            output: b.output,
        },
        None => TaskOutcome::Failed(reason),
    }
}
