//! One task, up to its max iterations: generate (with dependency context and structured
//! feedback) -> critique by another provider -> revise -> validate -> evaluate by another
//! provider. Every attempt is committed whole before the next step.

use super::EngineEvent;
use super::calls::{CallFail, CallSpec, call};
use super::context::{EngineCtx, RunCtx, Slot};
use super::feedback::{Feedback, head_tail, parse_score, strip_markers};
use crate::domain::status::{StopReason, TaskStatus};
use crate::domain::{CallRole, TaskType};
use crate::prompts;
use crate::store::{self, TaskRow, runs::AttemptWrite};
use crate::validators::{self, ValidatorResult, Verdict};

/// How a task's execution ended.
#[derive(Debug, Clone)]
pub enum TaskOutcome {
    Done {
        status: TaskStatus,
        output: String,
    },
    /// Could not run (no model, all providers failing): retryable by resume.
    Failed(String),
    /// Stopped before finishing (cancel, budget): back to pending.
    Stopped(StopReason, String),
}

struct Best {
    score: f64,
    eval: Option<f64>,
    output: String,
    model: String,
    reviewer: Option<String>,
}

/// Execute a task. `context` holds the outputs of its dependencies as (id, output).
pub async fn run_task(
    ctx: &EngineCtx,
    run: &RunCtx,
    task: &TaskRow,
    context: &[(String, String)],
    first_attempt: u32,
    slot: &mut Slot,
) -> TaskOutcome {
    let spec = &task.spec;
    let validators = validators::validators_for(
        spec.task_type.as_str(),
        &spec.validators,
        &ctx.cfg.validators,
    );
    let mut feedback: Option<Feedback> = None;
    let mut best: Option<Best> = None;
    let mut prev_score: Option<f64> = None;
    let ctx_chars = ctx.cfg.engine.context_chars_per_dependency;

    for iter in 1..=spec.max_iterations {
        let n = first_attempt + iter - 1;
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

        // Generate.
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
        if let Some(f) = &feedback {
            prompt.push('\n');
            prompt.push_str(&f.render());
        }
        let mut gen_spec = CallSpec::new(CallRole::Generate, prompt, spec.max_output_tokens);
        gen_spec.system = Some(prompts::generate_system(spec.task_type));
        gen_spec.task_type = Some(spec.task_type);
        gen_spec.task_id = Some(spec.id.clone());
        gen_spec.attempt = Some(n);
        gen_spec.threshold = Some(spec.threshold);
        let generated = match call(ctx, Some(run), &gen_spec, Some(slot)).await {
            Ok(ok) => ok,
            Err(f) => return fail_attempt(ctx, run, task, n, f, &best).await,
        };
        let gen_model = generated.model.clone();
        let mut gen_cost = generated.cost;
        emit(TaskStatus::Running, Some(gen_model.id.clone()), None);
        let mut output = strip_markers(&generated.response.text);

        // Critique by another provider, then revise by the generator when asked to.
        let mut crit = CallSpec::new(
            CallRole::Critique,
            prompts::critique_prompt(&spec.prompt, &output),
            1024,
        );
        crit.system = Some(prompts::CRITIQUE_SYSTEM.into());
        crit.task_type = Some(TaskType::CodeReview);
        crit.task_id = Some(spec.id.clone());
        crit.attempt = Some(n);
        crit.avoid_provider = Some(gen_model.provider.clone());
        let (reviewer, critique) = match call(ctx, Some(run), &crit, Some(slot)).await {
            Ok(ok) => (
                Some(ok.model.id.clone()),
                Some(strip_markers(&ok.response.text)),
            ),
            Err(CallFail::Cancelled) => {
                return TaskOutcome::Stopped(StopReason::Cancelled, "cancelled".into());
            }
            Err(CallFail::Budget(d)) => {
                return fail_attempt(ctx, run, task, n, CallFail::Budget(d), &best).await;
            }
            Err(e) => {
                ctx.warn(
                    Some(&run.id),
                    format!("task {}: critique skipped: {e}", spec.id),
                );
                (None, None)
            }
        };
        if let Some(c) = &critique
            && !c.trim_start().to_uppercase().starts_with("VERDICT: OK")
        {
            let mut rev = CallSpec::new(
                CallRole::Revise,
                prompts::revise_prompt(&spec.prompt, &output, c),
                spec.max_output_tokens,
            );
            rev.system = Some(prompts::generate_system(spec.task_type));
            rev.task_type = Some(spec.task_type);
            rev.task_id = Some(spec.id.clone());
            rev.attempt = Some(n);
            rev.pinned_model = Some(gen_model.id.clone());
            match call(ctx, Some(run), &rev, Some(slot)).await {
                Ok(ok) => {
                    gen_cost += ok.cost;
                    output = strip_markers(&ok.response.text);
                }
                Err(CallFail::Cancelled) => {
                    return TaskOutcome::Stopped(StopReason::Cancelled, "cancelled".into());
                }
                Err(CallFail::Budget(d)) => {
                    return fail_attempt(ctx, run, task, n, CallFail::Budget(d), &best).await;
                }
                Err(e) => ctx.warn(
                    Some(&run.id),
                    format!("task {}: revision skipped: {e}", spec.id),
                ),
            }
        }

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
        eval.avoid_provider = Some(gen_model.provider.clone());
        let mut evaluator = None;
        let mut score = None;
        let mut eval_reason = None;
        // One repair retry when the answer has no parsable score (content error).
        for _ in 0..2 {
            match call(ctx, Some(run), &eval, Some(slot)).await {
                Ok(ok) => {
                    evaluator = Some(ok.model.id.clone());
                    if let Some((s, r)) = parse_score(&ok.response.text) {
                        score = Some(s);
                        eval_reason = r;
                        break;
                    }
                    eval.prompt
                        .push_str("\nYour previous answer had no score. Answer with JSON only.");
                }
                Err(CallFail::Cancelled) => {
                    return TaskOutcome::Stopped(StopReason::Cancelled, "cancelled".into());
                }
                Err(CallFail::Budget(d)) => {
                    return fail_attempt(ctx, run, task, n, CallFail::Budget(d), &best).await;
                }
                Err(e) => {
                    ctx.warn(
                        Some(&run.id),
                        format!("task {}: evaluation failed: {e}", spec.id),
                    );
                    break;
                }
            }
        }

        // Learning: the generator's quality on this task type (validator failures count as 0).
        let validators_ok = !vresults.iter().any(|v| v.result == Verdict::Fail);
        if let Some(s) = score {
            let learned = if validators_ok { s } else { s.min(0.5) };
            let p = ctx
                .learning
                .record_score(&gen_model.id, spec.task_type, learned, gen_cost);
            let (m, t) = (gen_model.id.clone(), spec.task_type);
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
        if best.as_ref().is_none_or(|b| rank >= b.score) {
            best = Some(Best {
                score: rank,
                eval: score,
                output: output.clone(),
                model: gen_model.id.clone(),
                reviewer: reviewer.clone(),
            });
        }
        let b = best
            .as_ref()
            .map(|b| (b.model.clone(), b.reviewer.clone(), b.output.clone()));
        let (run_id, task_id) = (run.id.clone(), spec.id.clone());
        let (m, rv, ev) = (gen_model.id.clone(), reviewer.clone(), evaluator.clone());
        let (vr, fr, cr, out) = (
            vresults.clone(),
            failure_reason.clone(),
            critique.clone(),
            output.clone(),
        );
        let best_score = best.as_ref().and_then(|b| b.eval);
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
                )
            })
            .await;
        if let Err(e) = saved {
            return TaskOutcome::Failed(format!("could not record attempt: {e}"));
        }
        emit(TaskStatus::Running, Some(gen_model.id.clone()), score);
        if passed {
            return TaskOutcome::Done {
                status: TaskStatus::Completed,
                output,
            };
        }
        // Plateau: a revision that barely moves the score will not reach the threshold.
        if let (Some(p), Some(s)) = (prev_score, score)
            && s - p < ctx.cfg.engine.plateau_delta
            && validators_ok
        {
            break;
        }
        prev_score = score.or(prev_score);
        feedback = Some(Feedback::from_attempt(
            score,
            spec.threshold,
            &vresults,
            &output,
            eval_reason.as_deref(),
        ));
    }
    match best {
        Some(b) => TaskOutcome::Done {
            status: TaskStatus::Degraded,
            output: b.output,
        },
        None => TaskOutcome::Failed("no attempt produced output".into()),
    }
}

/// A call of attempt `n` could not be made: record the attempt and say how the task ends.
async fn fail_attempt(
    ctx: &EngineCtx,
    run: &RunCtx,
    task: &TaskRow,
    n: u32,
    f: CallFail,
    best: &Option<Best>,
) -> TaskOutcome {
    if let CallFail::Cancelled = f {
        return TaskOutcome::Stopped(StopReason::Cancelled, "cancelled".into());
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
            store::runs::update_task_result(c, &run_id, &task_id, None, None, None, None)
        })
        .await;
    match f {
        CallFail::Budget(_) => TaskOutcome::Stopped(StopReason::BudgetExhausted, reason),
        _ => match best {
            // Earlier iterations produced something: keep it as a degraded result.
            Some(b) => TaskOutcome::Done {
                status: TaskStatus::Degraded,
                output: b.output.clone(),
            },
            None => TaskOutcome::Failed(reason),
        },
    }
}
