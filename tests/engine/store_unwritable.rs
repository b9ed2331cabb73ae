//! When the store cannot commit, no new model call starts (issue 14 §3), in process: a counting
//! fake provider makes the engine's own database connection read-only (`PRAGMA query_only`, the
//! same failure class as a full disk: SQLite says the file cannot be written) while it answers
//! one call of a 12-task plan. Every call answered is then either recorded or counted as
//! unrecorded, and the run stops within a few calls instead of paying for the whole plan with
//! nothing recorded. (tests/engine/store_faults.rs does it with a real full disk.)

use async_trait::async_trait;
use orchestrator_tui::config::{Catalog, Config, ModelInfo, Strategy};
use orchestrator_tui::domain::{CallRole, Micros, TaskSpec, TaskType};
use orchestrator_tui::engine::{EngineCtx, RunRequest};
use orchestrator_tui::providers::{
    ChatRequest, ChatResponse, Provider, ProviderError, ProviderRegistry, Usage,
};
use orchestrator_tui::store::Store;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const TASKS: usize = 12;
const CONCURRENCY: usize = 3;
/// The answer during which the database stops accepting writes.
const BREAK_AT: usize = 6;

struct Counting {
    answered: AtomicUsize,
    store: Mutex<Option<Store>>,
}

#[async_trait]
impl Provider for Counting {
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
        // A provider takes a while to answer; the store thread gets to work meanwhile.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let n = self.answered.fetch_add(1, Ordering::SeqCst) + 1;
        if n == BREAK_AT {
            let store = self.store.lock().unwrap().clone().unwrap();
            store
                .call(|c| c.execute_batch("PRAGMA query_only = 1"))
                .await
                .unwrap();
        }
        Ok(ChatResponse {
            text: match req.role {
                CallRole::Critique => "VERDICT: OK".into(),
                CallRole::Evaluate => "{\"score\": 0.95, \"reason\": \"fine\"}".into(),
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
        })
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

fn plan() -> Vec<TaskSpec> {
    (0..TASKS)
        .map(|i| TaskSpec {
            id: format!("t{i}"),
            task_type: TaskType::Summarization,
            prompt: format!("Summarise part {i}"),
            dependencies: vec![],
            threshold: 0.0,
            max_iterations: 1,
            max_output_tokens: 256,
            validators: vec![],
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_call_starts_once_the_store_cannot_commit() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::defaults();
    cfg.routing.explore_rate = 0.0;
    let fake = Arc::new(Counting {
        answered: AtomicUsize::new(0),
        store: Mutex::new(None),
    });
    let mut map: BTreeMap<String, Arc<dyn Provider>> = BTreeMap::new();
    map.insert("alpha".into(), fake.clone());
    map.insert("beta".into(), fake.clone());
    let catalog = Catalog {
        models: vec![model("a1", "alpha", 0.9), model("b1", "beta", 0.85)],
    };
    let store = Store::open(dir.path()).unwrap();
    // Answers that cannot be recorded are given up after this long (30 s in the product).
    store.set_retry_window(Duration::from_millis(200));
    *fake.store.lock().unwrap() = Some(store.clone());
    let ctx = EngineCtx::new(
        cfg,
        catalog,
        ProviderRegistry::with(map, false),
        store.clone(),
        dir.path().to_path_buf(),
    )
    .unwrap();
    let engine = orchestrator_tui::engine::spawn(ctx);
    let (_id, join) = engine
        .start(RunRequest {
            description: "store drill".into(),
            criteria: String::new(),
            budget: Micros::from_usd(10.0),
            time_limit_secs: 86_400,
            team: None,
            concurrency: CONCURRENCY,
            strategy: Strategy::Quality,
            output_dir: Some(dir.path().join("out")),
            plan: Some(plan()),
            force: true,
        })
        .await
        .expect("start");
    tokio::time::timeout(Duration::from_secs(120), join)
        .await
        .expect("the run ends")
        .expect("join");

    let answered = fake.answered.load(Ordering::SeqCst);
    let outage = store.outage().expect("the outage is known");
    assert!(
        outage.reason.contains("not writable") && outage.reason.contains("orchestrator.db"),
        "{}",
        outage.reason
    );
    // Calls already in flight finish (they are paid for); none starts after the failure is seen.
    assert!(
        answered <= BREAK_AT + 2 * CONCURRENCY,
        "{answered} calls answered; the plan needs {} and the store broke at answer {BREAK_AT}",
        TASKS * 3
    );
    // Every answer is either in the database or counted as unrecorded: nothing is lost unseen.
    let c = rusqlite::Connection::open(dir.path().join("orchestrator.db")).unwrap();
    let recorded: i64 = c
        .query_row("SELECT COUNT(*) FROM calls WHERE outcome = 'ok'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        answered as u64,
        recorded as u64 + outage.unrecorded_calls,
        "answered {answered}, recorded {recorded}, unrecorded {}",
        outage.unrecorded_calls
    );
    assert!(outage.unrecorded_calls >= 1);
    let spent: i64 = c
        .query_row("SELECT COALESCE(SUM(cost_micros), 0) FROM calls", [], |r| {
            r.get(0)
        })
        .unwrap();
    // $1 and $2 per million input and output tokens: 100 + 40 micro-USD a call.
    let per_call = 100 + 2 * 20;
    assert_eq!(
        outage.unrecorded,
        Micros(per_call * outage.unrecorded_calls as i64),
        "recorded spend {spent}"
    );
}
