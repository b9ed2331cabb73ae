//! What a model call in a run costs the store (issue 14's overhead): every write of the call
//! reaches the store thread in two jobs, the in-flight row (with the policy audit and its
//! warning event) before the request and the settle (with the call row and the routing record)
//! after it, and every one of those writes is committed.

use crate::support::loopback::{MockProvider, MockUsage, Reply};
use orchestrator_tui::args;
use orchestrator_tui::config::{
    Catalog, Config, PolicyConfig, ProviderConfig, ProviderKind, SimulatedMode, Strategy,
};
use orchestrator_tui::domain::{CallRole, Micros};
use orchestrator_tui::engine::calls::CallSpec;
use orchestrator_tui::engine::{EngineCtx, EngineHandle, RunRequest};
use orchestrator_tui::providers::ProviderRegistry;
use orchestrator_tui::store::Store;

const KEY: &str = "sk-test-call-writes-77a1";

/// An engine on `server` (OpenAI format) with a monitor policy every call breaks, so each call
/// also writes an audit row and a policy warning event.
fn engine(server: &MockProvider, dir: &std::path::Path) -> EngineHandle {
    let mut cfg = Config::defaults();
    cfg.simulated.enabled = SimulatedMode::Never;
    cfg.providers.clear();
    cfg.providers.insert(
        "openai".into(),
        ProviderConfig {
            kind: Some(ProviderKind::Openai),
            base_url: Some(server.openai_base_url()),
            api_key: Some(KEY.into()),
            ..Default::default()
        },
    );
    cfg.policies = vec![PolicyConfig {
        name: "watch-cost".into(),
        mode: "monitor".into(),
        scope: "org".into(),
        max_cost_per_call_usd: Some(0.000_001),
        ..Default::default()
    }];
    let catalog = Catalog::from_config(&cfg).expect("catalog");
    let registry = ProviderRegistry::from_config(&cfg, &catalog).expect("registry");
    let store = Store::open(dir).expect("store");
    let ctx = EngineCtx::new(cfg, catalog, registry, store, dir.to_path_buf()).expect("ctx");
    orchestrator_tui::engine::spawn(ctx)
}

/// A loopback server answering every call briefly, an engine on it, and a run open on that engine
/// (`team`: the run's team, if any).
async fn open_run(
    dir: &std::path::Path,
    team: Option<&str>,
) -> (
    MockProvider,
    EngineHandle,
    std::sync::Arc<orchestrator_tui::engine::RunCtx>,
) {
    let server = MockProvider::start().await;
    server.set_default(Reply::text("A short answer.").usage(MockUsage {
        input: 20,
        cached: 0,
        output: 12,
        reasoning: 0,
    }));
    let e = engine(&server, dir);
    let run = e
        .open_run(RunRequest {
            description: "call writes".into(),
            criteria: String::new(),
            budget: Micros::from_usd(100.0),
            time_limit_secs: 600,
            team: team.map(str::to_string),
            concurrency: 4,
            strategy: Strategy::Quality,
            output_dir: Some(dir.join("out")),
            plan: None,
            force: true,
        })
        .await
        .expect("run");
    (server, e, run)
}

/// A task's generation call routed to gpt-4o only.
fn gpt4o_call(e: &EngineHandle, prompt: String, task: &str) -> CallSpec {
    let mut spec = CallSpec::new(CallRole::Generate, prompt, 64);
    spec.task_id = Some(task.into());
    spec.attempt = Some(1);
    spec.exclude = e
        .catalog()
        .models
        .iter()
        .filter(|m| m.id != "gpt-4o")
        .map(|m| m.id.clone())
        .collect();
    spec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_in_a_run_reaches_the_store_in_two_jobs_with_all_its_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, e, run) = open_run(dir.path(), None).await;
    let spec = gpt4o_call(&e, "Reply with a sentence.".into(), "t1");
    // The first call grows the run's lease (an awaited job of its own); the second is a call
    // as a run makes most of them.
    e.call(Some(&run), &spec).await.expect("first call");
    let before = e.store().jobs_sent();
    let ok = e.call(Some(&run), &spec).await.expect("second call");
    let jobs = e.store().jobs_sent() - before;
    assert_eq!(ok.model.id, "gpt-4o");
    assert_eq!(jobs, 2, "store jobs for one call");
    // Queued behind both calls' jobs (FIFO): every write of both calls is committed.
    let (calls, cost, spent, audits, warnings, routing, inflight): (
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
    ) = e
        .store()
        .call(|c| {
            c.query_row(
                "SELECT (SELECT COUNT(*) FROM calls),
                        (SELECT CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) FROM calls),
                        (SELECT spent_micros FROM runs),
                        (SELECT COUNT(*) FROM audit WHERE model = 'gpt-4o'),
                        (SELECT COUNT(*) FROM run_events WHERE kind = 'policy'),
                        (SELECT COUNT(*) FROM routing WHERE chosen = 'gpt-4o'),
                        (SELECT COUNT(*) FROM inflight_calls)",
                args![],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                },
            )
        })
        .await
        .expect("read back");
    assert_eq!(calls, 2);
    assert!(cost > 0);
    assert_eq!(spent, cost, "the run is charged what its calls cost");
    assert_eq!(audits, 2, "one audit row per call");
    assert_eq!(warnings, 2, "one policy warning event per call");
    assert_eq!(routing, 2, "one routing record per call");
    assert_eq!(inflight, 0, "each settle removed its call's in-flight row");
}

/// A statement SQLite compiles again on every execution pays its parser and planner each time:
/// the settle's alert check did, a fifth of the store thread's time at 1,000 calls/s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_call_paths_statements_are_compiled_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, e, run) = open_run(dir.path(), Some("research")).await;
    for i in 0..6 {
        let spec = gpt4o_call(&e, format!("Reply with sentence {i}."), &format!("t{i}"));
        e.call(Some(&run), &spec).await.expect("call");
    }
    let again = e.store().reprepared().await.expect("statement stats");
    assert!(again.is_empty(), "statements compiled again: {again:#?}");
}
