//! Breakers on the org-wide PostgreSQL store (issue 19), in process: an engine on "machine A"
//! (API key `key-a` for provider alpha) gets a 401 from alpha and repeated 503s from beta.
//! Engines started afterwards on other machines see beta's breaker open (an outage is the
//! org's), and alpha's models disabled only when they call it with the same key: another
//! engineer's key still works. Skipped without `ORCHESTRATOR_TEST_PG_URL`.

use async_trait::async_trait;
use orchestrator_tui::config::{Catalog, Config, ModelInfo, ProviderConfig, Strategy};
use orchestrator_tui::domain::status::RunStatus;
use orchestrator_tui::domain::{Micros, TaskSpec, TaskType};
use orchestrator_tui::engine::{EngineCtx, EngineHandle, ResetBy, RunRequest};
use orchestrator_tui::providers::{
    ChatRequest, ChatResponse, Provider, ProviderError, ProviderRegistry, Usage,
};
use orchestrator_tui::routing::BreakerState;
use orchestrator_tui::store::Store;
use orchestrator_tui::store::pg::PgTarget;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// alpha answers 401 (a bad key), beta 503 (down), gamma answers.
struct Fake;

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
        match req.model.as_str() {
            "a1" | "a2" => Err(ProviderError::Permanent {
                status: Some(401),
                message: "invalid api key".into(),
                key_scoped: true,
            }),
            "b1" => Err(ProviderError::Transient {
                status: Some(503),
                message: "overloaded".into(),
            }),
            _ => Ok(answer(req)),
        }
    }
}

/// A good answer to any call.
fn answer(req: &ChatRequest) -> ChatResponse {
    ChatResponse {
        text: match req.role {
            orchestrator_tui::domain::CallRole::Evaluate => {
                "{\"score\": 0.9, \"reason\": \"fine\"}".into()
            }
            _ => "A short summary.".into(),
        },
        usage: Usage {
            input: 100,
            cached_input: 0,
            cache_write: 0,
            output: 20,
            reasoning: 0,
        },
        finish_reason: Some("stop".into()),
        ttft: None,
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
        latency_ms: 100,
        quality,
        ..Default::default()
    }
}

/// An engine on `target` whose alpha key is `key` (a "machine" with its own data dir).
fn machine(target: &PgTarget, key: &str, dir: &std::path::Path) -> EngineCtx {
    let catalog = Catalog {
        models: vec![
            model("a1", "alpha", 0.95),
            model("b1", "beta", 0.9),
            model("a2", "alpha", 0.85),
            model("c1", "gamma", 0.8),
        ],
    };
    machine_with(target, key, dir, Arc::new(Fake), catalog)
}

/// [`machine`] with its own provider (for every provider) and catalog.
fn machine_with(
    target: &PgTarget,
    key: &str,
    dir: &std::path::Path,
    provider: Arc<dyn Provider>,
    catalog: Catalog,
) -> EngineCtx {
    let mut cfg = Config::defaults();
    cfg.routing.explore_rate = 0.0;
    cfg.retry.backoff_base_ms = 1;
    cfg.retry.backoff_cap_ms = 2;
    for (p, k) in [("alpha", key), ("beta", "key-beta"), ("gamma", "key-gamma")] {
        cfg.providers.insert(
            p.into(),
            ProviderConfig {
                api_key: Some(k.into()),
                ..Default::default()
            },
        );
    }
    let mut map: BTreeMap<String, Arc<dyn Provider>> = BTreeMap::new();
    for p in ["alpha", "beta", "gamma"] {
        map.insert(p.into(), provider.clone());
    }
    EngineCtx::new(
        cfg,
        catalog,
        ProviderRegistry::with(map, false),
        Store::open_pg(target).expect("the PostgreSQL store"),
        dir.to_path_buf(),
    )
    .expect("engine")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_are_the_orgs_and_auth_disables_stay_with_their_key() {
    // A schema of its own, dropped at the end, also when the test fails.
    let Some(schema) = crate::support::pg::PgSchema::new("breakers") else {
        return;
    };
    let target = schema.target.clone();
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();

    let t = target.clone();
    let d = dirs[0].path().to_path_buf();
    let a = tokio::task::spawn_blocking(move || machine(&t, "key-a", &d))
        .await
        .unwrap();
    let engine = orchestrator_tui::engine::spawn(a);
    let (_, join) = engine
        .start(RunRequest {
            description: "breaker drill".into(),
            criteria: String::new(),
            budget: Micros::from_usd(10.0),
            time_limit_secs: 600,
            team: None,
            concurrency: 1,
            strategy: Strategy::Quality,
            output_dir: None,
            plan: Some(vec![TaskSpec {
                id: "t1".into(),
                task_type: TaskType::Summarization,
                prompt: "Summarise the drill".into(),
                dependencies: vec![],
                threshold: 0.0,
                max_iterations: 1,
                max_output_tokens: 256,
                validators: vec![],
            }]),
            force: true,
        })
        .await
        .expect("start");
    let status = join.await.unwrap();
    assert_eq!(status, RunStatus::Success);
    drop(engine);

    // Machines started afterwards: B with another alpha key, C with the same one.
    let (t, d) = (target.clone(), dirs[1].path().to_path_buf());
    let b = tokio::task::spawn_blocking(move || machine(&t, "key-b", &d))
        .await
        .unwrap();
    let (t, d) = (target.clone(), dirs[2].path().to_path_buf());
    let c = tokio::task::spawn_blocking(move || machine(&t, "key-a", &d))
        .await
        .unwrap();
    for m in [&b, &c] {
        assert_eq!(
            m.health.get("b1").state,
            BreakerState::Open,
            "an outage is the org's"
        );
        assert_eq!(m.health.get("c1").state, BreakerState::Closed);
    }
    for model in ["a1", "a2"] {
        assert_eq!(
            b.health.get(model).state,
            BreakerState::Closed,
            "another key still works for {model}"
        );
        assert_eq!(
            c.health.get(model).state,
            BreakerState::Disabled,
            "the same key is disabled for {model}"
        );
    }
    drop((b, c));
    // The store never holds the key itself (the synchronous client runs off the runtime).
    let hashes = tokio::task::spawn_blocking(move || {
        let mut conn = target.connect().unwrap();
        let hashes: Vec<String> = conn
            .query("SELECT key_hash FROM key_disables", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        hashes
    })
    .await
    .unwrap();
    assert!(!hashes.is_empty() && hashes.iter().all(|h| !h.contains("key-a")));
}

/// Beta is down as seen from one machine (`beta_down`) and up from the other; every call's model
/// is noted.
struct Split {
    beta_down: bool,
    called: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl Provider for Split {
    fn name(&self) -> &str {
        "split"
    }
    fn is_simulated(&self) -> bool {
        false
    }
    async fn chat(
        &self,
        req: &ChatRequest,
        _cancel: &CancellationToken,
    ) -> Result<ChatResponse, ProviderError> {
        self.called
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(req.model.clone());
        if self.beta_down && req.model == "b1" {
            return Err(ProviderError::Transient {
                status: Some(503),
                message: "overloaded".into(),
            });
        }
        Ok(answer(req))
    }
}

fn one_task_run(description: &str) -> RunRequest {
    RunRequest {
        description: description.into(),
        criteria: String::new(),
        budget: Micros::from_usd(10.0),
        time_limit_secs: 600,
        team: None,
        concurrency: 1,
        strategy: Strategy::Quality,
        output_dir: None,
        plan: Some(vec![TaskSpec {
            id: "t1".into(),
            task_type: TaskType::Summarization,
            prompt: "Summarise the drill".into(),
            dependencies: vec![],
            threshold: 0.0,
            max_iterations: 1,
            max_output_tokens: 256,
            validators: vec![],
        }]),
        force: true,
    }
}

/// Wait (bounded; the bound only ends a failing test) until `model`'s breaker in `engine` is
/// `want`.
async fn until_breaker(engine: &EngineHandle, model: &str, want: BreakerState) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while engine.breaker(model).state != want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{model} never became {want:?} in the running engine"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_engine_follows_outages_and_resets_made_elsewhere() {
    let Some(schema) = crate::support::pg::PgSchema::new("live_breakers") else {
        return;
    };
    let target = schema.target.clone();
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let catalog = || Catalog {
        models: vec![model("b1", "beta", 0.95), model("c1", "gamma", 0.8)],
    };
    let calls_a = Arc::new(Mutex::new(Vec::new()));
    let calls_b = Arc::new(Mutex::new(Vec::new()));
    let start = |key: &'static str, i: usize, beta_down: bool, called: &Arc<Mutex<Vec<String>>>| {
        let (t, d) = (target.clone(), dirs[i].path().to_path_buf());
        let p: Arc<dyn Provider> = Arc::new(Split {
            beta_down,
            called: called.clone(),
        });
        let cat = catalog();
        tokio::task::spawn_blocking(move || machine_with(&t, key, &d, p, cat))
    };
    // Machine B runs first (its engine listening), with every breaker closed.
    let b = orchestrator_tui::engine::spawn(start("key-b", 1, false, &calls_b).await.unwrap());
    assert_eq!(b.breaker("b1").state, BreakerState::Closed);
    // Machine A sees beta down: its run opens b1's breaker (an outage: the org's).
    let a = orchestrator_tui::engine::spawn(start("key-a", 0, true, &calls_a).await.unwrap());
    let (_, join) = a.start(one_task_run("outage on A")).await.expect("start A");
    assert_eq!(join.await.unwrap(), RunStatus::Success);
    assert_eq!(a.breaker("b1").state, BreakerState::Open);
    let tripped = std::time::Instant::now();
    // B, still running and never having called beta, has it open too...
    until_breaker(&b, "b1", BreakerState::Open).await;
    // Printed, not asserted (an upper bound: A's run went on after the trip).
    eprintln!(
        "open in the running engine B {:?} after A's run",
        tripped.elapsed()
    );
    // ... so its next routing decision avoids b1 (which would have answered B).
    let (_, join) = b.start(one_task_run("routed on B")).await.expect("start B");
    assert_eq!(join.await.unwrap(), RunStatus::Success);
    let called = calls_b.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(!called.is_empty(), "B made calls");
    assert!(
        called.iter().all(|m| m == "c1"),
        "B sent to a provider down for the org: {called:?}"
    );
    // A reset on A closes it in B as well.
    a.reset_breaker("b1", ResetBy::Cli).await.expect("reset");
    until_breaker(&b, "b1", BreakerState::Closed).await;
    drop((a, b));
}
