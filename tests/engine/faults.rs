//! The engine's call path under provider faults (issue 5, "Done when 2"), in process, on paused
//! virtual time: a scripted fake `Provider` serves a three-model catalog on two providers and a
//! one-task plan runs generate -> critique -> revise -> evaluate. Per fault class we check what
//! the `calls` table records (outcome, retry number), the waits taken on tokio's clock, the
//! fallback to the next model, and the breaker history.
//!
//! Virtual time: `start_paused` makes the retry sleeps instant. While the engine waits for its
//! SQLite thread (an OS thread, invisible to tokio) the runtime looks idle, and tokio then
//! auto-advances the clock to the next timer, which would be the run's time-limit deadline. A
//! 1 ms ticker (see [`Ticker`]) keeps a near timer pending so the clock only creeps forward in
//! 1 ms steps while the store works: waits we assert as lower bounds are exact, and "no wait"
//! is asserted as far below a wait the engine would have taken.

use async_trait::async_trait;
use orchestrator_tui::config::{Catalog, Config, ModelInfo, Strategy};
use orchestrator_tui::domain::status::RunStatus;
use orchestrator_tui::domain::{CallRole, Micros, TaskSpec, TaskType};
use orchestrator_tui::engine::{EngineCtx, EngineHandle, RunRequest};
use orchestrator_tui::providers::{
    ChatRequest, ChatResponse, Provider, ProviderError, ProviderRegistry, Usage,
};
use orchestrator_tui::store::Store;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// One scripted answer.
#[derive(Debug, Clone)]
enum Step {
    Ok,
    /// Succeeds, but the provider reports far more input tokens than the prompt could hold.
    OkHugeInput,
    /// Succeeds with plausible usage that costs more than was held: twice the estimated input
    /// (a tokenizer counting high) and every allowed output token.
    OkAboveHold,
    RateLimited(Duration),
    Transient,
    /// 401: a bad key (key scoped).
    Unauthorized,
    /// 404: unknown model (this model only).
    NotFound,
    BadRequest,
}

/// One request as the fake saw it, with the virtual time it arrived.
#[derive(Debug, Clone)]
struct Seen {
    model: String,
    role: CallRole,
    at: Instant,
}

/// Per model, a queue of scripted steps; an empty queue answers `Ok` (a well-formed answer for
/// the request's role).
#[derive(Default)]
struct Fake {
    script: Mutex<HashMap<String, VecDeque<Step>>>,
    log: Mutex<Vec<Seen>>,
}

impl Fake {
    fn script(&self, model: &str, steps: impl IntoIterator<Item = Step>) {
        self.script
            .lock()
            .unwrap()
            .insert(model.into(), steps.into_iter().collect());
    }

    fn log(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }
}

fn answer(role: CallRole) -> String {
    match role {
        // Not "VERDICT: OK", so the generator revises: every role of an attempt is exercised.
        CallRole::Critique => "VERDICT: REVISE\n- tighten the wording".into(),
        CallRole::Evaluate => "{\"score\": 0.9, \"reason\": \"fine\"}".into(),
        _ => "A short summary.".into(),
    }
}

#[async_trait]
impl Provider for Fake {
    fn name(&self) -> &str {
        "fake"
    }
    fn is_simulated(&self) -> bool {
        false
    }
    async fn chat(
        &self,
        req: &ChatRequest,
        _cancel: &CancellationToken,
    ) -> Result<ChatResponse, ProviderError> {
        self.log.lock().unwrap().push(Seen {
            model: req.model.clone(),
            role: req.role,
            at: Instant::now(),
        });
        let step = self
            .script
            .lock()
            .unwrap()
            .get_mut(&req.model)
            .and_then(|q| q.pop_front())
            .unwrap_or(Step::Ok);
        match step {
            Step::Ok | Step::OkHugeInput | Step::OkAboveHold => Ok(ChatResponse {
                text: answer(req.role),
                usage: match step {
                    Step::OkHugeInput => Usage {
                        input: 1_000_000,
                        cached_input: 0,
                        cache_write: 0,
                        output: 20,
                        reasoning: 0,
                    },
                    Step::OkAboveHold => Usage {
                        input: 2 * req.estimated_input_tokens() + 100,
                        cached_input: 0,
                        cache_write: 0,
                        output: req.max_tokens.into(),
                        reasoning: 0,
                    },
                    _ => Usage {
                        input: 100,
                        cached_input: 0,
                        cache_write: 0,
                        output: 20,
                        reasoning: 0,
                    },
                },
                finish_reason: Some("stop".into()),
                ttft: None,
            }),
            Step::RateLimited(d) => Err(ProviderError::RateLimited {
                retry_after: Some(d),
                message: "rate limit exceeded".into(),
            }),
            Step::Transient => Err(ProviderError::Transient {
                status: Some(503),
                message: "overloaded".into(),
            }),
            Step::Unauthorized => Err(ProviderError::Permanent {
                status: Some(401),
                message: "invalid api key".into(),
                key_scoped: true,
            }),
            Step::NotFound => Err(ProviderError::Permanent {
                status: Some(404),
                message: "unknown model".into(),
                key_scoped: false,
            }),
            Step::BadRequest => Err(ProviderError::Request {
                status: Some(400),
                message: "invalid request".into(),
            }),
        }
    }
}

fn model(id: &str, provider: &str, quality: f64) -> ModelInfo {
    ModelInfo {
        id: id.into(),
        provider: provider.into(),
        input: 1.0,
        cached_input: 0.1,
        output: 2.0,
        context_window: Some(100_000),
        max_output: 4096,
        region: vec![],
        tags: vec![],
        latency_ms: 100,
        task_types: vec![],
        quality,
        quality_by_type: BTreeMap::new(),
        reasoning: false,
        ..Default::default()
    }
}

/// Keeps a 1 ms timer pending so paused time creeps instead of jumping to the run deadline while
/// the engine waits for its store thread.
struct Ticker(tokio::task::JoinHandle<()>);

impl Ticker {
    fn start() -> Ticker {
        Ticker(tokio::spawn(async {
            loop {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }))
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Harness {
    dir: tempfile::TempDir,
    fake: Arc<Fake>,
    engine: EngineHandle,
    _ticker: Ticker,
}

/// Quality ranking of the catalog: a1 (alpha) > b1 (beta) > a2 (alpha). The generator is a1;
/// critique and evaluation prefer the other provider.
fn harness(tune: impl FnOnce(&mut Config)) -> Harness {
    let ticker = Ticker::start();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::defaults();
    tune(&mut cfg);
    let fake = Arc::new(Fake::default());
    let catalog = Catalog {
        models: vec![
            model("a1", "alpha", 0.9),
            model("b1", "beta", 0.85),
            model("a2", "alpha", 0.8),
        ],
    };
    let mut map: BTreeMap<String, Arc<dyn Provider>> = BTreeMap::new();
    map.insert("alpha".into(), fake.clone());
    map.insert("beta".into(), fake.clone());
    // Deterministic routing: no exploration.
    cfg.routing.explore_rate = 0.0;
    let ctx = EngineCtx::new(
        cfg,
        catalog,
        ProviderRegistry::with(map, false),
        Store::open(dir.path()).unwrap(),
        dir.path().to_path_buf(),
    )
    .unwrap();
    let engine = orchestrator_tui::engine::spawn(ctx);
    Harness {
        dir,
        fake,
        engine,
        _ticker: ticker,
    }
}

/// One row of the `calls` table.
#[derive(Debug, Clone, PartialEq)]
struct Call {
    model: String,
    role: String,
    outcome: String,
    retry: u32,
    breaker_after: String,
}

impl Harness {
    /// Run the one-task plan to its end.
    async fn run(&self) -> (String, RunStatus) {
        let req = RunRequest {
            description: "fault drill".into(),
            criteria: String::new(),
            budget: Micros::from_usd(10.0),
            time_limit_secs: 86_400,
            team: None,
            concurrency: 1,
            strategy: Strategy::Quality,
            output_dir: None,
            plan: Some(vec![TaskSpec {
                id: "t1".into(),
                task_type: TaskType::Summarization,
                prompt: "Summarise the fault drill".into(),
                dependencies: vec![],
                threshold: 0.0,
                max_iterations: 1,
                max_output_tokens: 256,
                validators: vec![],
            }]),
            force: true,
        };
        let (id, join) = self.engine.start(req).await.expect("start");
        let status = tokio::time::timeout(Duration::from_secs(3600), join)
            .await
            .expect("the run ends")
            .expect("join");
        (id, status)
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.dir.path().join("orchestrator.db")).unwrap()
    }

    fn calls(&self) -> Vec<Call> {
        let c = self.db();
        let mut st = c
            .prepare(
                "SELECT model, role, outcome, retry, COALESCE(breaker_after, '')
                 FROM calls ORDER BY id",
            )
            .unwrap();
        st.query_map([], |r| {
            Ok(Call {
                model: r.get(0)?,
                role: r.get(1)?,
                outcome: r.get(2)?,
                retry: r.get(3)?,
                breaker_after: r.get(4)?,
            })
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    /// (model, from, to) of every breaker transition.
    fn breaker_events(&self) -> Vec<(String, String, String)> {
        let c = self.db();
        let mut st = c
            .prepare("SELECT model, from_state, to_state FROM breaker_events ORDER BY id")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The calls table and the fake's log, checked to describe the same requests in order.
    fn calls_and_log(&self) -> (Vec<Call>, Vec<Seen>) {
        let calls = self.calls();
        let log = self.fake.log();
        assert_eq!(
            calls
                .iter()
                .map(|c| (c.model.as_str(), c.role.as_str()))
                .collect::<Vec<_>>(),
            log.iter()
                .map(|s| (s.model.as_str(), s.role.as_str()))
                .collect::<Vec<_>>(),
            "the calls table and the provider disagree"
        );
        (calls, log)
    }

    fn assert_no_reservation_left(&self) {
        let c = self.db();
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM reservations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0, "reservations left");
        let reserved: i64 = c
            .query_row(
                "SELECT reserved_micros FROM budget_levels WHERE level = 'org'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(reserved, 0);
    }
}

fn summary(calls: &[Call]) -> Vec<(&str, &str, &str, u32)> {
    calls
        .iter()
        .map(|c| {
            (
                c.model.as_str(),
                c.role.as_str(),
                c.outcome.as_str(),
                c.retry,
            )
        })
        .collect()
}

/// A wait the engine might take by mistake is asserted against this much smaller bound: the
/// clock creeps 1 ms per idle turn of the runtime while SQLite works, a few hundred ms per run.
const CREEP: Duration = Duration::from_secs(10);

#[tokio::test(start_paused = true)]
async fn clean_run_calls_every_role_once() {
    let h = harness(|_| {});
    let (_, status) = h.run().await;
    assert_eq!(status, RunStatus::Success);
    let (calls, _) = h.calls_and_log();
    assert_eq!(
        summary(&calls),
        vec![
            ("a1", "generate", "ok", 0),
            ("b1", "critique", "ok", 0),
            ("a1", "revise", "ok", 0),
            ("b1", "evaluate", "ok", 0),
        ]
    );
    assert!(h.breaker_events().is_empty());
    h.assert_no_reservation_left();
}

#[tokio::test(start_paused = true)]
async fn rate_limit_waits_as_asked_then_retries_the_same_model() {
    let h = harness(|_| {});
    let wait = Duration::from_secs(30);
    h.fake.script("a1", [Step::RateLimited(wait)]);
    let (_, status) = h.run().await;
    assert_eq!(status, RunStatus::Success);
    let (calls, log) = h.calls_and_log();
    assert_eq!(
        summary(&calls)[..2],
        [
            ("a1", "generate", "rate_limited", 0),
            ("a1", "generate", "ok", 1)
        ],
        "{calls:#?}"
    );
    assert!(
        log[1].at - log[0].at >= wait,
        "retried after {:?}, asked {wait:?}",
        log[1].at - log[0].at
    );
    // A wait is not a fault: the breaker never moved.
    assert_eq!(calls[0].breaker_after, "closed");
    assert!(h.breaker_events().is_empty(), "{:?}", h.breaker_events());
    h.assert_no_reservation_left();
}

#[tokio::test(start_paused = true)]
async fn no_sleep_after_the_last_retry() {
    let h = harness(|_| {});
    let short = Duration::from_secs(2);
    // The third answer asks for 50 s (under max_retry_after_secs = 60): after the last retry
    // the engine must move on at once instead of sleeping it.
    let last = Duration::from_secs(50);
    h.fake.script(
        "a1",
        [
            Step::RateLimited(short),
            Step::RateLimited(short),
            Step::RateLimited(last),
        ],
    );
    let (_, status) = h.run().await;
    assert_eq!(status, RunStatus::Success);
    let (calls, log) = h.calls_and_log();
    assert_eq!(
        summary(&calls)[..4],
        [
            ("a1", "generate", "rate_limited", 0),
            ("a1", "generate", "rate_limited", 1),
            ("a1", "generate", "rate_limited", 2),
            ("b1", "generate", "ok", 0),
        ],
        "{calls:#?}"
    );
    for i in 0..2 {
        assert!(
            log[i + 1].at - log[i].at >= short,
            "retry {} too early",
            i + 1
        );
    }
    let gap = log[3].at - log[2].at;
    assert!(
        gap < CREEP && gap < last,
        "slept {gap:?} after the last retry"
    );
    // a1 is still waiting out its 50 s: the revision moved to another model, not a1.
    assert!(calls[4..].iter().all(|c| c.model != "a1"), "{calls:#?}");
    assert!(h.breaker_events().is_empty());
    h.assert_no_reservation_left();
}

#[tokio::test(start_paused = true)]
async fn retry_after_beyond_the_cap_falls_back_at_once() {
    let h = harness(|c| c.retry.max_retry_after_secs = 60);
    h.fake
        .script("a1", [Step::RateLimited(Duration::from_secs(3600))]);
    let (_, status) = h.run().await;
    assert_eq!(status, RunStatus::Success);
    let (calls, log) = h.calls_and_log();
    assert_eq!(
        summary(&calls)[..2],
        [
            ("a1", "generate", "rate_limited", 0),
            ("b1", "generate", "ok", 0)
        ],
        "{calls:#?}"
    );
    let gap = log[1].at - log[0].at;
    assert!(gap < CREEP, "waited {gap:?} before falling back");
    assert_eq!(log.iter().filter(|s| s.model == "a1").count(), 1);
}

#[tokio::test(start_paused = true)]
async fn transient_failures_retry_with_backoff_then_fall_back_and_open_the_breaker() {
    let h = harness(|_| {});
    h.fake
        .script("a1", [Step::Transient, Step::Transient, Step::Transient]);
    let (_, status) = h.run().await;
    assert_eq!(status, RunStatus::Success);
    let (calls, log) = h.calls_and_log();
    assert_eq!(
        summary(&calls)[..4],
        [
            ("a1", "generate", "transient", 0),
            ("a1", "generate", "transient", 1),
            ("a1", "generate", "transient", 2),
            ("b1", "generate", "ok", 0),
        ],
        "{calls:#?}"
    );
    // Backoff is full jitter under the configured ceilings (0.5 s, then 1 s): never more than
    // the cap, whatever the jitter (the creep of the clock only adds).
    let cap = Duration::from_millis(8000);
    for i in 0..2 {
        assert!(log[i + 1].at - log[i].at < cap + CREEP);
    }
    // Three consecutive transient failures open a1's breaker (failure_threshold = 3).
    assert_eq!(calls[2].breaker_after, "open");
    assert_eq!(
        h.breaker_events(),
        vec![("a1".into(), "closed".into(), "open".into())]
    );
    // An open model gets no more calls in the run (cooldown 30 s is not over).
    assert!(calls[4..].iter().all(|c| c.model != "a1"), "{calls:#?}");
    h.assert_no_reservation_left();
}

#[tokio::test(start_paused = true)]
async fn unauthorized_disables_the_model_without_retry() {
    let h = harness(|_| {});
    h.fake.script("a1", [Step::Unauthorized]);
    let (_, status) = h.run().await;
    assert_eq!(status, RunStatus::Success);
    let (calls, _) = h.calls_and_log();
    assert_eq!(
        summary(&calls)[..2],
        [
            ("a1", "generate", "permanent", 0),
            ("b1", "generate", "ok", 0)
        ],
        "{calls:#?}"
    );
    assert_eq!(calls[0].breaker_after, "disabled");
    let ev = h.breaker_events();
    assert!(
        ev.contains(&("a1".into(), "closed".into(), "disabled".into())),
        "{ev:?}"
    );
    // Never called again.
    assert_eq!(calls.iter().filter(|c| c.model == "a1").count(), 1);
    h.assert_no_reservation_left();
}

#[tokio::test(start_paused = true)]
async fn not_found_disables_only_that_model() {
    let h = harness(|_| {});
    h.fake.script("a1", [Step::NotFound]);
    let (_, status) = h.run().await;
    assert_eq!(status, RunStatus::Success);
    let (calls, _) = h.calls_and_log();
    assert_eq!(
        summary(&calls)[..2],
        [
            ("a1", "generate", "permanent", 0),
            ("b1", "generate", "ok", 0)
        ]
    );
    assert_eq!(
        h.breaker_events(),
        vec![("a1".into(), "closed".into(), "disabled".into())]
    );
    // a2 shares a1's provider but not its fate: the critique of b1's output goes to alpha's a2.
    assert!(
        calls
            .iter()
            .any(|c| c.model == "a2" && c.role == "critique" && c.outcome == "ok"),
        "{calls:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn request_error_is_not_retried_and_leaves_the_model_healthy() {
    let h = harness(|_| {});
    h.fake.script("a1", [Step::BadRequest]);
    let (_, status) = h.run().await;
    assert_eq!(status, RunStatus::Success);
    let (calls, _) = h.calls_and_log();
    assert_eq!(
        summary(&calls)[..2],
        [
            ("a1", "generate", "request", 0),
            ("b1", "generate", "ok", 0)
        ],
        "{calls:#?}"
    );
    assert_eq!(calls[0].breaker_after, "closed");
    assert!(h.breaker_events().is_empty());
    // Healthy: later calls of the same run still go to a1 (critique of beta's output).
    assert!(
        calls[2..]
            .iter()
            .any(|c| c.model == "a1" && c.outcome == "ok"),
        "{calls:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn every_model_failing_ends_system_failure_with_nothing_reserved() {
    let h = harness(|_| {});
    for m in ["a1", "b1", "a2"] {
        h.fake.script(m, std::iter::repeat_n(Step::Transient, 10));
    }
    let (_, status) = h.run().await;
    assert_eq!(status, RunStatus::SystemFailure);
    let (calls, _) = h.calls_and_log();
    // Each model: one call and two retries, then the next; no success anywhere.
    for m in ["a1", "b1", "a2"] {
        let retries: Vec<u32> = calls
            .iter()
            .filter(|c| c.model == m)
            .map(|c| c.retry)
            .collect();
        assert_eq!(retries, vec![0, 1, 2], "{m}: {calls:#?}");
    }
    assert!(calls.iter().all(|c| c.outcome == "transient"));
    assert_eq!(h.breaker_events().len(), 3);
    h.assert_no_reservation_left();
}

#[tokio::test(start_paused = true)]
async fn unauthorized_key_disables_every_model_of_that_key() {
    // providers.md: "A 401 or 403 disables every model that uses that key; a 404 disables only
    // that model." a1 and a2 share provider alpha's key.
    let h = harness(|_| {});
    h.fake.script("a1", [Step::Unauthorized]);
    let (_, status) = h.run().await;
    assert_eq!(status, RunStatus::Success);
    let (calls, _) = h.calls_and_log();
    assert!(
        calls.iter().all(|c| c.model != "a2"),
        "a2 was called with alpha's bad key: {calls:#?}"
    );
    let ev = h.breaker_events();
    for m in ["a1", "a2"] {
        assert!(
            ev.contains(&(m.into(), "closed".into(), "disabled".into())),
            "{m}: {ev:?}"
        );
    }
    assert!(!ev.iter().any(|(m, _, _)| m == "b1"), "{ev:?}");
}

/// Warnings (budget ones included) the engine sent so far.
fn warnings(
    events: &mut tokio::sync::broadcast::Receiver<orchestrator_tui::engine::EngineEvent>,
) -> Vec<String> {
    use orchestrator_tui::engine::EngineEvent;
    let mut warned = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if let EngineEvent::Warning { message, .. } | EngineEvent::Budget { message, .. } = ev {
            warned.push(message);
        }
    }
    warned
}

impl Harness {
    /// Call costs add up to the run's and the org's spend, and nothing stays reserved.
    fn assert_ledger_matches_calls(&self, id: &str) -> i64 {
        let c = self.db();
        let one = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap() };
        let calls = one("SELECT SUM(cost_micros) FROM calls");
        assert_eq!(
            one(&format!("SELECT spent_micros FROM runs WHERE id = '{id}'")),
            calls
        );
        assert_eq!(
            one("SELECT spent_micros FROM budget_levels WHERE level = 'org'"),
            calls
        );
        self.assert_no_reservation_left();
        calls
    }
}

#[tokio::test(start_paused = true)]
async fn usage_the_prompt_could_not_produce_is_malformed_charged_its_hold_and_retried() {
    let h = harness(|_| {});
    h.fake.script("a1", [Step::OkHugeInput]);
    let mut events = h.engine.subscribe();
    let (id, status) = h.run().await;
    assert_eq!(status, RunStatus::Success);
    let warned = warnings(&mut events);
    assert!(
        warned.iter().any(
            |w| w.starts_with("a1: malformed usage: 1000000 input tokens")
                && w.contains("charged the $")
        ),
        "{warned:?}"
    );
    let calls = h.calls();
    assert_eq!(
        summary(&calls)[..2],
        [
            ("a1", "generate", "malformed_usage", 0),
            ("a1", "generate", "ok", 1)
        ],
        "a transient fault, retried on the same model"
    );
    let c = h.db();
    let (cost, input, output): (i64, i64, i64) = c
        .query_row(
            "SELECT cost_micros, input_tokens, output_tokens FROM calls ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    // The held worst case ($1 / M in, $2 / M out, 256 output tokens), not $1 of input.
    assert_eq!(output, 256);
    assert_eq!(cost, input + 2 * 256, "{cost} {input}");
    assert!(cost < Micros::from_usd(0.01).0);
    h.assert_ledger_matches_calls(&id);
}

#[tokio::test(start_paused = true)]
async fn a_call_costing_more_than_held_is_charged_the_hold_and_reported() {
    let h = harness(|_| {});
    h.fake.script("a1", [Step::OkAboveHold]);
    let mut events = h.engine.subscribe();
    let (id, status) = h.run().await;
    assert_eq!(status, RunStatus::Success);
    let warned = warnings(&mut events);
    assert!(
        warned.iter().any(|w| w.starts_with("a1 cost $")
            && w.contains("above the $")
            && w.ends_with("charged the held amount")),
        "{warned:?}"
    );
    let c = h.db();
    let (outcome, cost, input, output): (String, i64, i64, i64) = c
        .query_row(
            "SELECT outcome, cost_micros, input_tokens, output_tokens FROM calls ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    // Plausible usage is an answer (recorded as reported), charged no more than was held.
    assert_eq!((outcome.as_str(), output), ("ok", 256));
    assert!(cost < input + 2 * 256, "{cost} is the reported price");
    h.assert_ledger_matches_calls(&id);
}
