//! The call path: route (`route.rs`, with the policy audit in `audit.rs`) -> per model, attempts
//! (`attempt.rs`): breaker admission -> hold the worst case -> provider call -> settle + call row +
//! breaker, written behind (`record.rs`) -> retry after a backoff (`backoff.rs`) or fall back to
//! the next candidate. Every role goes through here.

mod attempt;
mod audit;
mod backoff;
mod record;
mod route;

pub use backoff::backoff;

use super::context::{EngineCtx, RunCtx, Slot};
use super::hold::BudgetWait;
use crate::budget::ledger::Denial;
use crate::config::{ModelInfo, Strategy};
use crate::domain::{CallRole, Micros, TaskType};
use crate::providers::{ChatRequest, ChatResponse, Message};
use crate::routing::health::now_ms;
use attempt::ModelEnd;
use route::{Pick, Refusal};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct CallSpec {
    pub role: CallRole,
    pub task_type: Option<TaskType>,
    pub task_id: Option<String>,
    pub attempt: Option<u32>,
    pub system: Option<String>,
    pub prompt: String,
    pub max_tokens: u32,
    /// Prefer a model of another provider (critique/evaluation of this provider's output).
    pub avoid_provider: Option<String>,
    pub prefer_cheap: bool,
    /// Try this model first when healthy (revision by the generator).
    pub pinned_model: Option<String>,
    /// Models not to use at all for this call.
    pub exclude: Vec<String>,
    /// The task's acceptance threshold (cost/balanced routing pick models expected to reach it).
    pub threshold: Option<f64>,
    /// The JSON shape the answer must have (structured output), when it is parsed.
    pub schema: Option<std::sync::Arc<crate::providers::OutputSchema>>,
}

impl CallSpec {
    pub fn new(role: CallRole, prompt: String, max_tokens: u32) -> Self {
        CallSpec {
            role,
            task_type: None,
            task_id: None,
            attempt: None,
            system: None,
            prompt,
            max_tokens,
            avoid_provider: None,
            prefer_cheap: false,
            pinned_model: None,
            exclude: vec![],
            threshold: None,
            schema: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CallOk {
    pub model: ModelInfo,
    pub response: ChatResponse,
    pub cost: Micros,
}

/// Why a logical call produced no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallFail {
    /// No capable, healthy, allowed model is left (`no_available_model`).
    #[error("no_available_model: {0}")]
    NoModel(String),
    /// No candidate's reservation fits the budget.
    #[error("budget exhausted: {0}")]
    Budget(Denial),
    #[error("cancelled")]
    Cancelled,
}

/// One logical call in progress: what was tried, refused and learned so far.
struct CallState<'a> {
    ctx: &'a EngineCtx,
    run: Option<&'a RunCtx>,
    spec: &'a CallSpec,
    cancel: &'a CancellationToken,
    strategy: Strategy,
    /// Models not to route to again (failed, refused, unusable).
    exclude: Vec<String>,
    /// The refusal of the cheapest candidate this round.
    denial: Option<Denial>,
    /// How the call waits for headroom when every candidate is refused.
    wait: BudgetWait,
    last_error: Option<String>,
    /// Jitter seed, advanced by each backoff.
    seed: u64,
    /// After a model fails, prefer another provider for the fallback.
    avoid: Option<String>,
    /// Models whose policy block is already in the audit trail.
    audited: Vec<String>,
    /// Input tokens the router estimates costs with.
    est_in: u64,
}

impl<'a> CallState<'a> {
    fn new(
        ctx: &'a EngineCtx,
        run: Option<&'a RunCtx>,
        spec: &'a CallSpec,
        cancel: &'a CancellationToken,
    ) -> Self {
        let est_in = crate::providers::estimate_tokens(&spec.prompt)
            + spec
                .system
                .as_deref()
                .map_or(0, crate::providers::estimate_tokens)
            + 8;
        CallState {
            ctx,
            run,
            spec,
            cancel,
            strategy: run.map_or(ctx.cfg.engine.strategy, |r| r.strategy),
            exclude: spec.exclude.clone(),
            denial: None,
            wait: BudgetWait::new(run),
            last_error: None,
            seed: now_ms() ^ spec.prompt.len() as u64,
            avoid: None,
            audited: Vec::new(),
            est_in,
        }
    }

    /// `model` is given up for this call: the next candidate, preferably of another provider.
    fn fall_back(&mut self, model: &ModelInfo) {
        if self.spec.avoid_provider.is_none() {
            self.avoid = Some(model.provider.clone());
        }
        self.exclude.push(model.id.clone());
    }
}

/// The request `spec` makes of `model`.
fn request(spec: &CallSpec, model: &ModelInfo) -> ChatRequest {
    ChatRequest {
        model: model.id.clone(),
        system: spec.system.clone(),
        messages: vec![Message {
            role: "user".into(),
            content: spec.prompt.clone(),
        }],
        max_tokens: spec.max_tokens.min(model.max_output).max(1),
        temperature: None,
        role: spec.role,
        task_type: spec.task_type,
        attempt: spec.attempt.unwrap_or(1),
        schema: spec.schema.clone(),
    }
}

/// Make one logical call for a run (or for no run, e.g. analysis), with retries and fallback.
pub async fn call(
    ctx: &EngineCtx,
    run: Option<&RunCtx>,
    spec: &CallSpec,
    mut slot: Option<&mut Slot>,
) -> Result<CallOk, CallFail> {
    let never = CancellationToken::new();
    let cancel = run.map_or(&never, |r| &r.cancel);
    let mut st = CallState::new(ctx, run, spec, cancel);
    loop {
        if cancel.is_cancelled() {
            return Err(CallFail::Cancelled);
        }
        let model = match st.pick() {
            Pick::Model(m) => *m,
            Pick::None { blocked } => match st.refusal(&blocked).await {
                Refusal::TryAgain => continue,
                Refusal::Fail(f) => return Err(f),
            },
        };
        let Some(provider) = ctx.registry.get(&model.provider).cloned() else {
            st.exclude.push(model.id.clone());
            continue;
        };
        let req = request(spec, &model);
        // Hold the worst case; a little slack on the input estimate.
        let held_in = req.estimated_input_tokens() + req.estimated_input_tokens() / 10 + 16;
        let worst = match model.try_worst_case(held_in, req.max_tokens) {
            Ok(w) => w,
            Err(e) => {
                st.last_error = Some(format!("{}: cannot hold its worst case: {e}", model.id));
                st.exclude.push(model.id.clone());
                continue;
            }
        };
        let target = attempt::Target {
            model: &model,
            provider: &provider,
            req: &req,
            input: held_in,
            worst,
        };
        match st.try_model(&target, slot.as_deref_mut()).await {
            ModelEnd::Answered(ok) => return Ok(*ok),
            ModelEnd::Stop(f) => return Err(f),
            ModelEnd::FallBack => st.fall_back(&model),
        }
    }
}
