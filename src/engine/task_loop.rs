//! One task, up to its max iterations: generate (with dependency context and structured
//! feedback) -> critique by another provider -> revise -> validate -> evaluate by another
//! provider. Every attempt is committed whole before the next step.

use super::EngineEvent;
use super::calls::{CallFail, CallSpec, call};
use super::checkpoint::{self, Best, Checkpoint, Generated};
use super::context::{EngineCtx, RunCtx, Slot};
use super::feedback::{Feedback, head_tail, parse_score, strip_markers};
use crate::domain::status::{StopReason, TaskStatus};
use crate::domain::{CallRole, TaskType};
use crate::prompts;
use crate::store::{self, TaskRow, runs::AttemptWrite};
use crate::validators::{self, ValidatorResult, Verdict};

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
    },
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
    let spec = &task.spec;
    let validators = validators::validators_for(
        spec.task_type.as_str(),
        &spec.validators,
        &ctx.cfg.validators,
    );
    let mut ck = resume.unwrap_or_else(|| Checkpoint::start(first_attempt));
    let ctx_chars = ctx.cfg.engine.context_chars_per_dependency;

    while ck.iter <= spec.max_iterations {
        let (iter, n) = (ck.iter, ck.n);
        let emit = |status: TaskStatus, model: Option<String>, score: Option<f64>| {
            ctx.emit(EngineEvent::TaskChanged {
                run_id: run.id.clone(),
                task_id: spec.id.clone(),
                status,
                model,
                iteration: iter,
                score,
                reason: None,
            })
        };
        emit(TaskStatus::Running, None, None);

        // Generate (unless done before the task was parked).
        let mut generated = match ck.progress.generated.clone() {
            Some(g) => g,
            None => {
                let mut prompt = String::new();
                for (id, out) in context {
                    prompt.push_str(&format!(
                        "{} {id}>>>\n{}\n{}\n",
                        prompts::CONTEXT_START,
                        strip_markers(&head_tail(out, ctx_chars)),
                        prompts::CONTEXT_END
                    ));
                }
                prompt.push_str(&format!("Task:\n{}\n", spec.prompt));
                if let Some(f) = &ck.feedback {
                    prompt.push('\n');
                    prompt.push_str(&f.render());
                }
                let mut gen_spec =
                    CallSpec::new(CallRole::Generate, prompt, spec.max_output_tokens);
                gen_spec.system = Some(prompts::generate_system(spec.task_type));
                gen_spec.task_type = Some(spec.task_type);
                gen_spec.task_id = Some(spec.id.clone());
                gen_spec.attempt = Some(n);
                gen_spec.threshold = Some(spec.threshold);
                match call(ctx, Some(run), &gen_spec, Some(slot)).await {
                    Ok(ok) => {
                        let g = Generated {
                            model: ok.model.id.clone(),
                            provider: ok.model.provider.clone(),
                            cost: ok.cost,
                            output: strip_markers(&ok.response.text),
                        };
                        ck.progress.generated = Some(g.clone());
                        g
                    }
                    Err(f) => return fail_attempt(ctx, run, task, ck, f).await,
                }
            }
        };
        emit(TaskStatus::Running, Some(generated.model.clone()), None);

        // Critique by another provider, then revise by the generator when asked to.
        if !ck.progress.critiqued {
            let mut crit = CallSpec::new(
                CallRole::Critique,
                prompts::critique_prompt(&spec.prompt, &generated.output),
                1024,
            );
            crit.system = Some(prompts::CRITIQUE_SYSTEM.into());
            crit.task_type = Some(TaskType::CodeReview);
            crit.task_id = Some(spec.id.clone());
            crit.attempt = Some(n);
            crit.avoid_provider = Some(generated.provider.clone());
            match call(ctx, Some(run), &crit, Some(slot)).await {
                Ok(ok) => {
                    ck.progress.reviewer = Some(ok.model.id.clone());
                    ck.progress.critique = Some(strip_markers(&ok.response.text));
                }
                Err(CallFail::Cancelled) => {
                    return TaskOutcome::Stopped(StopReason::Cancelled, "cancelled".into());
                }
                Err(CallFail::Budget(d)) => return park(ck, &d),
                Err(e) => {
                    ctx.warn(
                        Some(&run.id),
                        format!("task {}: critique skipped: {e}", spec.id),
                    );
                }
            }
            ck.progress.critiqued = true;
        }
        if let Some(c) = ck.progress.critique.clone()
            && !ck.progress.revised
            && !c.trim_start().to_uppercase().starts_with("VERDICT: OK")
        {
            let mut rev = CallSpec::new(
                CallRole::Revise,
                prompts::revise_prompt(&spec.prompt, &generated.output, &c),
                spec.max_output_tokens,
            );
            rev.system = Some(prompts::generate_system(spec.task_type));
            rev.task_type = Some(spec.task_type);
            rev.task_id = Some(spec.id.clone());
            rev.attempt = Some(n);
            rev.pinned_model = Some(generated.model.clone());
            match call(ctx, Some(run), &rev, Some(slot)).await {
                Ok(ok) => {
                    generated.cost += ok.cost;
                    generated.output = strip_markers(&ok.response.text);
                    ck.progress.generated = Some(generated.clone());
                }
                Err(CallFail::Cancelled) => {
                    return TaskOutcome::Stopped(StopReason::Cancelled, "cancelled".into());
                }
                Err(CallFail::Budget(d)) => return park(ck, &d),
                Err(e) => ctx.warn(
                    Some(&run.id),
                    format!("task {}: revision skipped: {e}", spec.id),
                ),
            }
            ck.progress.revised = true;
        }
        let output = generated.output.clone();
        let (gen_model, gen_cost) = (generated.model.clone(), generated.cost);

        // Validate (deterministic), then evaluate by another provider.
        let vresults: Vec<ValidatorResult> =
            validators::run_all_async(&validators, &output, &ctx.cfg.validators).await;
        let mut eval = CallSpec::new(
            CallRole::Evaluate,
            prompts::evaluate_prompt(&spec.prompt, &run.criteria, &output),
            256,
        );
        eval.system = Some(prompts::EVALUATE_SYSTEM.into());
        eval.task_type = Some(TaskType::Evaluation);
        eval.task_id = Some(spec.id.clone());
        eval.attempt = Some(n);
        eval.avoid_provider = Some(generated.provider.clone());
        let mut score = None;
        let mut eval_reason = None;
        // One repair retry when the answer has no parsable score (content error).
        while ck.progress.eval_tries < 2 {
            if ck.progress.eval_tries > 0 && !eval.prompt.ends_with(EVAL_REPAIR) {
                eval.prompt.push_str(EVAL_REPAIR);
            }
            match call(ctx, Some(run), &eval, Some(slot)).await {
                Ok(ok) => {
                    ck.progress.evaluator = Some(ok.model.id.clone());
                    if let Some((s, r)) = parse_score(&ok.response.text) {
                        score = Some(s);
                        eval_reason = r;
                        break;
                    }
                    ck.progress.eval_tries += 1;
                }
                Err(CallFail::Cancelled) => {
                    return TaskOutcome::Stopped(StopReason::Cancelled, "cancelled".into());
                }
                Err(CallFail::Budget(d)) => return park(ck, &d),
                Err(e) => {
                    ctx.warn(
                        Some(&run.id),
                        format!("task {}: evaluation failed: {e}", spec.id),
                    );
                    break;
                }
            }
        }
        let (reviewer, critique, evaluator) = (
            ck.progress.reviewer.clone(),
            ck.progress.critique.clone(),
            ck.progress.evaluator.clone(),
        );

        // Learning: the generator's quality on this task type (validator failures count as 0).
        let validators_ok = !vresults.iter().any(|v| v.result == Verdict::Fail);
        if let Some(s) = score {
            let learned = if validators_ok { s } else { s.min(0.5) };
            let p = ctx
                .learning
                .record_score(&gen_model, spec.task_type, learned, gen_cost);
            let (m, t) = (gen_model.clone(), spec.task_type);
            let _ = ctx
                .store
                .call(move |c| store::models::save_profile(c, &m, t, &p))
                .await;
        }
        let passed = validators_ok && score.is_some_and(|s| s >= spec.threshold);
        let failure_reason = (!passed).then(|| {
            Feedback::from_attempt(
                score,
                spec.threshold,
                &vresults,
                &output,
                eval_reason.as_deref(),
            )
            .reason
        });
        // Best attempt: passing beats failing, then higher score.
        let rank = score.unwrap_or(0.0) + if validators_ok { 1.0 } else { 0.0 };
        if ck.best.as_ref().is_none_or(|b| rank >= b.score) {
            ck.best = Some(Best {
                score: rank,
                eval: score,
                output: output.clone(),
                model: gen_model.clone(),
                reviewer: reviewer.clone(),
            });
        }
        let b = ck
            .best
            .as_ref()
            .map(|b| (b.model.clone(), b.reviewer.clone(), b.output.clone()));
        let (run_id, task_id) = (run.id.clone(), spec.id.clone());
        let (m, rv, ev) = (gen_model.clone(), reviewer.clone(), evaluator.clone());
        let (vr, fr, cr, out) = (
            vresults.clone(),
            failure_reason.clone(),
            critique.clone(),
            output.clone(),
        );
        let best_score = ck.best.as_ref().and_then(|b| b.eval);
        let saved = ctx
            .store
            .transact(move |tx| {
                store::runs::insert_attempt(
                    tx,
                    &AttemptWrite {
                        run_id: &run_id,
                        task_id: &task_id,
                        n,
                        model: Some(&m),
                        reviewer: rv.as_deref(),
                        evaluator: ev.as_deref(),
                        score,
                        validators: &vr,
                        failure_reason: fr.as_deref(),
                        critique: cr.as_deref(),
                        output: Some(&out),
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
        if let Err(e) = saved {
            return TaskOutcome::Failed(format!("could not record attempt: {e}"));
        }
        emit(TaskStatus::Running, Some(gen_model.clone()), score);
        if passed {
            return TaskOutcome::Done {
                status: TaskStatus::Completed,
                output,
            };
        }
        // Plateau: a revision that barely moves the score will not reach the threshold.
        if let (Some(p), Some(s)) = (ck.prev_score, score)
            && s - p < ctx.cfg.engine.plateau_delta
            && validators_ok
        {
            break;
        }
        let feedback = Feedback::from_attempt(
            score,
            spec.threshold,
            &vresults,
            &output,
            eval_reason.as_deref(),
        );
        ck.next(feedback, score.or(ck.prev_score));
    }
    match ck.best {
        Some(b) => TaskOutcome::Done {
            status: TaskStatus::Degraded,
            output: b.output,
        },
        None => TaskOutcome::Failed("no attempt produced output".into()),
    }
}

/// A call refused by the budget: the task waits at it.
fn park(ck: Checkpoint, d: &crate::budget::ledger::Denial) -> TaskOutcome {
    TaskOutcome::Parked {
        checkpoint: Box::new(ck),
        reason: format!("budget exhausted: {d}"),
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
        CallFail::Budget(d) => return park(ck, &d),
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
