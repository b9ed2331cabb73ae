//! The call path: route (`route.rs`, with the policy audit in `audit.rs`) -> per model, attempts
//! (`attempt.rs`): breaker admission -> hold the worst case -> provider call -> settle + call row +
//! breaker, written behind (`record.rs`) -> retry after a backoff (`backoff.rs`) or fall back to
//! the next candidate. Every role goes through here.

mod attempt;
mod audit;
mod backoff;
mod pending;
mod record;
mod route;
mod trace;
mod window;

pub use backoff::backoff;
pub(crate) use pending::{Part, Parts, Pending};
pub(crate) use record::not_recorded;
pub use window::Windows;

use super::context::{EngineCtx, RunCtx, Slot};
use super::hold::BudgetWait;
use crate::budget::ledger::Denial;
use crate::config::{ModelInfo, Strategy};
use crate::domain::reasoning::MIN_THINKING_BUDGET;
use crate::domain::{CallRole, Micros, Reasoning, TaskType};
use crate::engine::fit::{TooLarge, fit};
use crate::providers::caching;
use crate::providers::reasoning::{outside_max_tokens, supports_reasoning};
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
    /// Bytes at the start of `prompt` shared with the task's other calls (its dependencies'
    /// outputs): cached where the provider takes cache breakpoints.
    pub shared_prefix: usize,
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
            shared_prefix: 0,
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
    /// No candidate's reservation fits the budget: the cheapest refusal, and the model it was
    /// for (named when the task parks).
    #[error("budget exhausted: {0}")]
    Budget(Denial, String),
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
    /// The refusal of the cheapest candidate this round, and that candidate.
    denial: Option<(Denial, String)>,
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
    /// The routing record of a task's call (`None` for other calls).
    trace: Option<trace::Trace>,
    /// Writes that go with the call's next store job (`pending.rs`).
    pending: pending::Pending,
    /// The last attempt's settle and record, queued when the call ends (with its routing
    /// record): nothing awaits between the attempt's end and the call's.
    record: Option<record::Deferred>,
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
            trace: (run.is_some() && spec.task_id.is_some() && spec.attempt.is_some())
                .then(trace::Trace::default),
            pending: pending::Pending::default(),
            record: None,
        }
    }

    /// Queue what is waiting: the deferred record with the pending parts before it, else the
    /// parts alone.
    fn flush(&mut self) {
        let parts = self.pending.take();
        match self.record.take() {
            Some(d) => record::submit(self.ctx, self.run, d, parts),
            None => parts.submit(self.ctx, self.run.map(|r| r.id.as_str())),
        }
    }

    /// `model` is given up for this call: the next candidate, preferably of another provider.
    /// Note in the routing record what happened when the call tried `model`.
    fn traced(&mut self, model: &str, what: impl FnOnce() -> String) {
        if let Some(t) = &mut self.trace {
            t.outcome(model, what());
        }
    }

    fn fall_back(&mut self, model: &ModelInfo) {
        if self.spec.avoid_provider.is_none() {
            self.avoid = Some(model.provider.clone());
        }
        self.exclude.push(model.id.clone());
    }
}

/// The request `spec` makes of `model`, fitted into a `window`-token context (`engine/fit.rs`),
/// with the `reasoning` controls configured for its task type when the model takes them. A
/// thinking budget raises `max_tokens` by as much (thinking counts inside it), up to the
/// model's output limit, so the worst case held covers the thinking. Reasoning a server does
/// not count inside `max_tokens` (`providers::reasoning::outside_max_tokens`) is carried in
/// `reasoning.outside_max_tokens`, held and allowed on top of it.
fn request(
    spec: &CallSpec,
    model: &ModelInfo,
    window: u64,
    reasoning: Reasoning,
) -> Result<ChatRequest, TooLarge> {
    let reasoning = if supports_reasoning(model) {
        reasoning
    } else {
        Reasoning::default()
    };
    let max_tokens = spec
        .max_tokens
        .saturating_add(reasoning.thinking_budget.unwrap_or(0))
        .min(model.max_output)
        .max(1);
    // The answer's schema travels as input too (an Anthropic tool, a Gemini responseSchema).
    let fixed = match (&spec.system, &spec.schema) {
        (s, Some(schema)) => Some(format!("{}{}", s.as_deref().unwrap_or(""), schema.schema)),
        (s, None) => s.clone(),
    };
    let fitted = fit(fixed.as_deref(), &spec.prompt, max_tokens, window)?;
    if fitted.cut_chars > 0 || fitted.max_tokens < max_tokens {
        tracing::debug!(
            model = %model.id,
            window,
            cut_chars = fitted.cut_chars,
            max_tokens = fitted.max_tokens,
            "request fitted into the context window"
        );
    }
    // The shared context stays a cacheable prefix only if fitting left it whole.
    let shared = spec
        .prompt
        .get(..spec.shared_prefix)
        .filter(|p| fitted.prompt.starts_with(p))
        .map_or(0, str::len);
    // When the model's limit (or the window) squeezes, the answer keeps its own max_tokens or
    // at least half: the budget shrinks, and is dropped below Anthropic's 1024 floor.
    let answer = spec.max_tokens.min(fitted.max_tokens / 2).max(1);
    let thinking_budget = reasoning
        .thinking_budget
        .map(|b| b.min(fitted.max_tokens.saturating_sub(answer)))
        .filter(|b| *b >= MIN_THINKING_BUDGET);
    Ok(ChatRequest {
        model: model.id.clone(),
        system: spec.system.clone(),
        messages: vec![Message {
            role: "user".into(),
            content: fitted.prompt,
        }],
        max_tokens: fitted.max_tokens,
        temperature: None,
        role: spec.role,
        task_type: spec.task_type,
        attempt: spec.attempt.unwrap_or(1),
        schema: spec.schema.clone(),
        shared_prefix: shared,
        reasoning: Reasoning {
            effort: reasoning.effort,
            thinking_budget,
            outside_max_tokens: outside_max_tokens(model),
        },
    })
}

/// The window to fit into after `window` overflowed: the limit the server named when smaller,
/// else three quarters (the estimate undercounted this server's tokenizer).
fn shrunk_window(window: u64, limit: Option<u64>) -> u64 {
    match limit {
        Some(l) if l < window => l,
        _ => window * 3 / 4,
    }
}

/// Make one logical call for a run (or for no run, e.g. analysis), with retries and fallback.
pub async fn call(
    ctx: &EngineCtx,
    run: Option<&RunCtx>,
    spec: &CallSpec,
    slot: Option<&mut Slot>,
) -> Result<CallOk, CallFail> {
    let never = CancellationToken::new();
    let cancel = run.map_or(&never, |r| &r.cancel);
    let mut st = CallState::new(ctx, run, spec, cancel);
    let result = models(&mut st, slot).await;
    if let (Some(t), Some(r)) = (st.trace.take(), run) {
        let chosen = result.as_ref().ok().map(|ok| ok.model.id.clone());
        if let Some(part) = trace::part(r, spec, st.strategy, t, chosen) {
            st.pending.push(part);
        }
    }
    st.flush();
    result
}

impl Drop for CallState<'_> {
    /// A call dropped while awaiting (its task aborted) still queues what it has written.
    fn drop(&mut self) {
        if !self.pending.is_empty() || self.record.is_some() {
            self.flush();
        }
    }
}

/// Models in routing order until one answers or none is left.
async fn models(st: &mut CallState<'_>, mut slot: Option<&mut Slot>) -> Result<CallOk, CallFail> {
    let (ctx, spec, cancel) = (st.ctx, st.spec, st.cancel);
    let reasoning = ctx.cfg.reasoning_for(spec.task_type);
    'models: loop {
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
        let mut window = ctx
            .windows
            .window(&ctx.cfg, &model, provider.is_simulated())
            .await;
        // A context overflow shrinks the request and asks the same model once more.
        let mut shrunk = false;
        loop {
            let req = match request(spec, &model, window, reasoning) {
                Ok(r) => r,
                Err(e) => {
                    st.traced(&model.id, || format!("context window: {e}"));
                    st.last_error = Some(format!("{}: {e}", model.id));
                    st.exclude.push(model.id.clone());
                    continue 'models;
                }
            };
            // Hold the worst case; a little slack on the input estimate. A request with cache
            // breakpoints may write all of it to the cache, at the dearer write price.
            let held_in = req.estimated_input_tokens() + req.estimated_input_tokens() / 10 + 16;
            let may_write = caching::may_write(&req);
            let worst =
                match model.try_worst_case_caching(held_in, req.max_billed_output(), may_write) {
                    Ok(w) => w,
                    Err(e) => {
                        st.traced(&model.id, || {
                            format!("budget: cannot hold its worst case: {e}")
                        });
                        st.last_error =
                            Some(format!("{}: cannot hold its worst case: {e}", model.id));
                        st.exclude.push(model.id.clone());
                        continue 'models;
                    }
                };
            // Routing judged max-cost policies on an estimate; the request as built may hold
            // more (cache writes, a thinking budget): a HARD limit must hold for what is held.
            let facts = crate::routing::policy::CallFacts {
                team: st.run.and_then(|r| r.team.as_deref()),
                task_type: spec.task_type,
                worst_cost: Some(worst),
                p95_ms: None,
            };
            if let Some(why) = crate::routing::policy::cost_blocked(&ctx.policies, &facts, worst) {
                st.traced(&model.id, || why.clone());
                st.last_error = Some(format!("{}: {why}", model.id));
                st.exclude.push(model.id.clone());
                continue 'models;
            }
            let target = attempt::Target {
                model: &model,
                provider: &provider,
                req: &req,
                input: held_in,
                worst,
            };
            match st.try_model(&target, slot.as_deref_mut()).await {
                ModelEnd::Answered(ok) => {
                    st.traced(&model.id, || "answered".into());
                    return Ok(*ok);
                }
                ModelEnd::Stop(f) => return Err(f),
                ModelEnd::FallBack => {
                    st.fall_back(&model);
                    continue 'models;
                }
                ModelEnd::Overflow(limit) => {
                    window = shrunk_window(window, limit);
                    st.traced(&model.id, || {
                        format!("context window overflow: asked again within {window} tokens")
                    });
                    ctx.windows.learn(&model.id, window);
                    if shrunk {
                        st.fall_back(&model);
                        continue 'models;
                    }
                    shrunk = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overflow_shrinks_to_the_named_limit_or_three_quarters() {
        assert_eq!(shrunk_window(32_768, Some(4096)), 4096);
        assert_eq!(shrunk_window(4096, Some(4096)), 3072);
        assert_eq!(shrunk_window(4096, Some(9000)), 3072);
        assert_eq!(shrunk_window(4096, None), 3072);
    }

    #[test]
    fn requests_are_fitted_to_the_window_and_the_models_output_limit() {
        let mut m = crate::config::Catalog::embedded()
            .unwrap()
            .get("claude-sonnet-4-6")
            .unwrap()
            .clone();
        m.max_output = 2000;
        let spec = CallSpec::new(CallRole::Generate, "x".repeat(8000), 8000);
        let r = request(&spec, &m, 200_000, Reasoning::default()).unwrap();
        assert_eq!(r.max_tokens, 2000);
        let r = request(&spec, &m, 4096, Reasoning::default()).unwrap();
        assert!(
            crate::engine::fit::input_tokens(None, &r.messages[0].content) + r.max_tokens as u64
                <= 4096
        );
        assert!(request(&spec, &m, 1024, Reasoning::default()).is_err());
        // A schema sent with the request takes room too.
        let plain = request(&spec, &m, 4096, Reasoning::default())
            .unwrap()
            .max_tokens;
        let mut with_schema = spec.clone();
        with_schema.schema = Some(std::sync::Arc::new(crate::providers::OutputSchema {
            name: "big",
            description: "a large schema",
            schema: serde_json::json!({ "description": "d".repeat(2000) }),
        }));
        let r = request(&with_schema, &m, 4096, Reasoning::default()).unwrap();
        assert!(r.max_tokens + 400 < plain, "{} vs {plain}", r.max_tokens);
    }

    #[test]
    fn a_thinking_budget_raises_max_tokens_and_only_reaches_models_that_think() {
        let catalog = crate::config::Catalog::embedded().unwrap();
        let mut sonnet = catalog.get("claude-sonnet-4-6").unwrap().clone();
        sonnet.max_output = 64_000;
        let spec = CallSpec::new(CallRole::Generate, "write it".into(), 4000);
        let r = Reasoning {
            effort: Some(crate::domain::ReasoningEffort::High),
            thinking_budget: Some(8000),
            ..Default::default()
        };
        let req = request(&spec, &sonnet, 200_000, r).unwrap();
        assert_eq!(req.max_tokens, 12_000);
        assert_eq!(req.reasoning, r);
        // Capped by the model's output limit: the budget shrinks so the answer keeps its 4000.
        sonnet.max_output = 9000;
        let req = request(&spec, &sonnet, 200_000, r).unwrap();
        assert_eq!(req.max_tokens, 9000);
        assert_eq!(req.reasoning.thinking_budget, Some(5000));
        // Squeezed harder, the answer keeps half.
        sonnet.max_output = 4096;
        let req = request(&spec, &sonnet, 200_000, r).unwrap();
        assert_eq!(req.reasoning.thinking_budget, Some(2048));
        sonnet.max_output = 1024;
        let req = request(&spec, &sonnet, 200_000, r).unwrap();
        assert_eq!(
            req.reasoning.thinking_budget, None,
            "no room for 1024 tokens"
        );
        // A model without reasoning controls gets none, and no extra tokens.
        let gpt4o = catalog.get("gpt-4o").unwrap();
        let req = request(&spec, gpt4o, 200_000, r).unwrap();
        assert_eq!(req.reasoning, Reasoning::default());
        assert_eq!(req.max_tokens, 4000.min(gpt4o.max_output));
    }

    #[test]
    fn reasoning_a_server_does_not_count_in_max_tokens_is_carried_for_the_hold() {
        let spec = CallSpec::new(CallRole::Generate, "write it".into(), 4000);
        let r1 = ModelInfo {
            id: "deepseek-r1".into(),
            max_output: 8192,
            ..Default::default()
        };
        let req = request(&spec, &r1, 128_000, Reasoning::default()).unwrap();
        assert_eq!(req.max_tokens, 4000, "the answer's limit is sent unchanged");
        assert_eq!(req.reasoning.outside_max_tokens, 32_768);
        assert_eq!(req.max_billed_output(), 4000 + 32_768);
        let catalog = crate::config::Catalog::embedded().unwrap();
        let sonnet = catalog.get("claude-sonnet-4-6").unwrap();
        let req = request(&spec, sonnet, 200_000, Reasoning::default()).unwrap();
        assert_eq!(req.max_billed_output(), req.max_tokens);
    }

    #[test]
    fn the_shared_prefix_survives_only_an_uncut_prompt() {
        let m = crate::config::Catalog::embedded()
            .unwrap()
            .get("claude-sonnet-4-6")
            .unwrap()
            .clone();
        let context = "c".repeat(5000);
        let mut spec = CallSpec::new(CallRole::Generate, format!("{context}Task: go"), 100);
        spec.shared_prefix = context.len();
        let req = request(&spec, &m, 200_000, Reasoning::default()).unwrap();
        assert_eq!(req.shared_prefix, context.len());
        assert!(caching::may_write(&req));
    }
}
