//! Budgets as the engine lives them (issue 14, section 1), in process on paused virtual time with
//! a fake provider whose answers cost little next to their worst case (a call's worst case is
//! its input plus `max_tokens` of output, held until it settles):
//! - a run's own calls in flight never end it `budget_exhausted`: a refused call waits for them;
//! - a task refused mid-iteration continues at that exact call when resumed, and a refused call
//!   never uses up an iteration; resumed with the same budget, nothing more is done;
//! - headroom one run holds beyond its calls in flight never makes another run fail;
//! - a lease gives its spare back within a second of its run going idle.
//!
//! Virtual time: see tests/engine/faults.rs (a 1 ms ticker keeps the clock creeping while the
//! store thread works; where a deadline is asserted, the test slows the clock to real time).

use async_trait::async_trait;
use orchestrator_tui::config::{Catalog, Config, ModelInfo, Strategy};
use orchestrator_tui::domain::status::RunStatus;
use orchestrator_tui::domain::{CallRole, Micros, TaskSpec, TaskType};
use orchestrator_tui::engine::{EngineCtx, EngineHandle, ResumeRequest, RunRequest};
use orchestrator_tui::providers::{
    ChatRequest, ChatResponse, Provider, ProviderError, ProviderRegistry, Usage,
};
use orchestrator_tui::store::Store;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Answers every role well; usage is 100 input tokens and 20 output tokens unless a role is
/// told otherwise; each answer takes `latency` of virtual time. `rate_limit_once` answers that
/// role's first request with a 429 asking for a wait.
#[derive(Default)]
struct Fake {
    latency: Duration,
    output: HashMap<CallRole, u64>,
    rate_limit_once: Mutex<Option<(CallRole, Duration)>>,
    /// When a call asked to wait was answered.
    limited_at: Mutex<Option<Instant>>,
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
        tokio::time::sleep(self.latency).await;
        let limited = {
            let mut g = self.rate_limit_once.lock().unwrap();
            match *g {
                Some((role, wait)) if role == req.role => {
                    *g = None;
                    Some(wait)
                }
                _ => None,
            }
        };
        if let Some(wait) = limited {
            *self.limited_at.lock().unwrap() = Some(Instant::now());
            return Err(ProviderError::RateLimited {
                retry_after: Some(wait),
                message: "slow down".into(),
            });
        }
        let text = match req.role {
            CallRole::Critique => "VERDICT: REVISE\n- tighten it".to_string(),
            CallRole::Evaluate => "{\"score\": 0.9, \"reason\": \"fine\"}".to_string(),
            _ => "A short summary.".to_string(),
        };
        Ok(ChatResponse {
            text,
            usage: Usage {
                input: 100,
                cached_input: 0,
                cache_write: 0,
                output: self.output.get(&req.role).copied().unwrap_or(20),
                reasoning: 0,
            },
            finish_reason: Some("stop".into()),
            ttft: None,
        })
    }
}

/// $1 per million input tokens, $2 per million output tokens: a call's worst case in micros is
/// its estimated input plus twice its `max_tokens`.
fn model(id: &str, provider: &str, quality: f64) -> ModelInfo {
    ModelInfo {
        id: id.into(),
        provider: provider.into(),
        input: 1.0,
        cached_input: 0.1,
        output: 2.0,
        context_window: Some(200_000),
        max_output: 64_000,
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

/// Keeps a 1 ms timer pending so paused time creeps instead of jumping to the next deadline
/// while the engine waits for its store thread.
struct Ticker(tokio::task::JoinHandle<()>);

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

fn harness(fake: Fake) -> Harness {
    let ticker = Ticker(tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }));
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::defaults();
    cfg.routing.explore_rate = 0.0;
    let fake = Arc::new(fake);
    let mut map: BTreeMap<String, Arc<dyn Provider>> = BTreeMap::new();
    map.insert("alpha".into(), fake.clone());
    map.insert("beta".into(), fake.clone());
    let catalog = Catalog {
        models: vec![model("a1", "alpha", 0.9), model("b1", "beta", 0.85)],
    };
    let ctx = EngineCtx::new(
        cfg,
        catalog,
        ProviderRegistry::with(map, false),
        Store::open(dir.path()).unwrap(),
        dir.path().to_path_buf(),
    )
    .unwrap();
    Harness {
        dir,
        fake,
        engine: orchestrator_tui::engine::spawn(ctx),
        _ticker: ticker,
    }
}

fn task(id: &str, max_output_tokens: u32, max_iterations: u32, threshold: f64) -> TaskSpec {
    TaskSpec {
        id: id.into(),
        task_type: TaskType::Summarization,
        prompt: format!("Summarise part {id}"),
        dependencies: vec![],
        threshold,
        max_iterations,
        max_output_tokens,
        validators: vec![],
    }
}

fn request(budget: Micros, concurrency: usize, plan: Vec<TaskSpec>) -> RunRequest {
    RunRequest {
        description: "budget drill".into(),
        criteria: String::new(),
        budget,
        time_limit_secs: 86_400,
        team: None,
        concurrency,
        strategy: Strategy::Quality,
        output_dir: None,
        plan: Some(plan),
        force: true,
    }
}

async fn finish(join: tokio::task::JoinHandle<RunStatus>) -> RunStatus {
    tokio::time::timeout(Duration::from_secs(3600), join)
        .await
        .expect("the run ends")
        .expect("join")
}

impl Harness {
    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.dir.path().join("orchestrator.db")).unwrap()
    }

    fn one(&self, sql: &str, p: impl rusqlite::Params) -> i64 {
        self.db().query_row(sql, p, |r| r.get(0)).unwrap()
    }

    async fn set_org_cap(&self, cap: Micros) {
        self.engine
            .store()
            .call(move |c| orchestrator_tui::store::ledger::set_level_cap(c, "org", cap, None))
            .await
            .unwrap();
    }

    /// (status, reason) of every task of a run, in plan order.
    fn tasks(&self, run: &str) -> Vec<(String, Option<String>)> {
        let c = self.db();
        let mut st = c
            .prepare("SELECT status, status_reason FROM tasks WHERE run_id = ?1 ORDER BY seq")
            .unwrap();
        st.query_map([run], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// (role, attempt) of a run's calls in order.
    fn calls(&self, run: &str) -> Vec<(String, u32)> {
        let c = self.db();
        let mut st = c
            .prepare("SELECT role, attempt FROM calls WHERE run_id = ?1 ORDER BY id")
            .unwrap();
        st.query_map([run], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn assert_settled(&self) {
        assert_eq!(self.one("SELECT COUNT(*) FROM reservations", []), 0);
        assert_eq!(
            self.one(
                "SELECT COALESCE(SUM(reserved_micros), 0) FROM budget_levels",
                []
            ),
            0
        );
        assert_eq!(
            self.one("SELECT COALESCE(SUM(cost_micros), 0) FROM calls", []),
            self.one(
                "SELECT spent_micros FROM budget_levels WHERE level = 'org'",
                []
            )
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_runs_own_calls_in_flight_never_end_it() {
    // Generations hold ~8,300 micros each and cost 140: three at once do not fit in 20,000,
    // two do, and the whole run costs about 3,400.
    let h = harness(Fake {
        latency: Duration::from_millis(100),
        ..Fake::default()
    });
    let plan = (0..6)
        .map(|i| task(&format!("t{i}"), 4000, 1, 0.5))
        .collect();
    let (id, join) = h
        .engine
        .start(request(Micros(20_000), 3, plan))
        .await
        .unwrap();
    let status = finish(join).await;
    let tasks = h.tasks(&id);
    assert_eq!(status, RunStatus::Success, "{tasks:?}");
    assert!(tasks.iter().all(|(s, _)| s == "completed"), "{tasks:?}");
    let spent = h.one("SELECT spent_micros FROM runs WHERE id = ?1", [&id]);
    assert!(spent <= 20_000, "spent {spent}");
    h.assert_settled();
}

#[tokio::test(start_paused = true)]
async fn a_refused_call_is_where_the_task_resumes() {
    // Generation holds ~6,300 and costs ~6,100 (its answer uses all of max_tokens); the critique
    // then needs ~2,400 of the ~900 left: the task parks at the critique of attempt 1.
    let mut output = HashMap::new();
    output.insert(CallRole::Generate, 3000);
    let h = harness(Fake {
        latency: Duration::from_millis(10),
        output,
        ..Fake::default()
    });
    let (id, join) = h
        .engine
        .start(request(Micros(7_000), 1, vec![task("t1", 3000, 2, 1.0)]))
        .await
        .unwrap();
    assert_eq!(finish(join).await, RunStatus::BudgetExhausted);
    assert_eq!(h.calls(&id), vec![("generate".to_string(), 1)]);
    assert_eq!(
        h.one("SELECT COUNT(*) FROM attempts WHERE run_id = ?1", [&id]),
        0,
        "a refused call recorded an attempt"
    );
    let reason = h.tasks(&id)[0].1.clone().unwrap_or_default();
    // The refusal names the level, what was needed and who holds what.
    for part in [
        "run budget: $0.00",
        "needed",
        "left of $0.0070",
        "spent $0.0061",
        "held by this run's calls in flight $0.0000",
    ] {
        assert!(reason.contains(part), "{part:?} not in {reason:?}");
    }

    // Resumed with the same budget: the same call is refused, nothing else happens.
    let again = ResumeRequest {
        run_id: id.clone(),
        budget: Some(Micros(7_000)),
        time_limit_secs: None,
    };
    let (_, join) = h.engine.resume(again).await.unwrap();
    assert_eq!(finish(join).await, RunStatus::BudgetExhausted);
    assert_eq!(h.calls(&id).len(), 1);

    // With more budget it continues at the critique of attempt 1, and has exactly its two
    // iterations (the threshold is never reached).
    let more = ResumeRequest {
        run_id: id.clone(),
        budget: Some(Micros(1_000_000)),
        time_limit_secs: None,
    };
    let (_, join) = h.engine.resume(more).await.unwrap();
    assert_eq!(finish(join).await, RunStatus::CompletedDegraded);
    let calls: Vec<(String, u32)> = h.calls(&id);
    let expect: Vec<(String, u32)> = [
        ("generate", 1),
        ("critique", 1),
        ("revise", 1),
        ("evaluate", 1),
        ("generate", 2),
        ("critique", 2),
        ("revise", 2),
        ("evaluate", 2),
    ]
    .iter()
    .map(|(r, n)| (r.to_string(), *n))
    .collect();
    assert_eq!(calls, expect);
    assert_eq!(
        h.one(
            "SELECT COUNT(*) FROM attempts WHERE run_id = ?1 AND model IS NOT NULL",
            [&id]
        ),
        2
    );
    assert_eq!(
        h.one("SELECT COUNT(*) FROM attempts WHERE run_id = ?1", [&id]),
        2
    );
    assert_eq!(
        h.one("SELECT iterations FROM tasks WHERE run_id = ?1", [&id]),
        2
    );
    assert_eq!(
        h.one(
            "SELECT COUNT(*) FROM tasks WHERE run_id = ?1 AND resume_state IS NOT NULL",
            [&id]
        ),
        0
    );
    h.assert_settled();
}

#[tokio::test(start_paused = true)]
async fn headroom_one_run_holds_never_makes_another_fail() {
    // Org cap 100,000. Run A makes slow small calls (worst ~2,300 each) and holds spare headroom
    // for several of them; run B's generation needs ~90,300, which fits only once A gives its
    // spare back (A's own calls in flight hold a few thousand at most).
    let h = harness(Fake {
        latency: Duration::from_millis(300),
        ..Fake::default()
    });
    h.set_org_cap(Micros(100_000)).await;
    let a_plan = (0..4)
        .map(|i| task(&format!("a{i}"), 1000, 1, 0.5))
        .collect();
    let (a, a_join) = h
        .engine
        .start(request(Micros(1_000_000), 1, a_plan))
        .await
        .unwrap();
    // Start B once A's lease holds more than one call's worst case.
    let held = || {
        h.one(
            "SELECT COALESCE(MAX(amount_micros), 0) FROM reservations WHERE run_id = ?1",
            [&a],
        )
    };
    let t0 = Instant::now();
    while held() < 5_000 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "A never grew its lease"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (b, b_join) = h
        .engine
        .start(request(
            Micros(1_000_000),
            1,
            vec![task("b0", 45_000, 1, 0.5)],
        ))
        .await
        .unwrap();
    // B may wait up to 2 s for A: let virtual time pass no faster than real time meanwhile, so
    // the store thread's commits are not outrun by the creeping clock.
    let started = Instant::now();
    while Instant::now() < started + Duration::from_secs(3) && !b_join.is_finished() {
        tokio::time::sleep(Duration::from_millis(1)).await;
        std::thread::sleep(Duration::from_millis(1));
    }
    let (sa, sb) = (finish(a_join).await, finish(b_join).await);
    assert_eq!(sb, RunStatus::Success, "{:?}", h.tasks(&b));
    assert_eq!(sa, RunStatus::Success, "{:?}", h.tasks(&a));
    assert!(
        h.one(
            "SELECT spent_micros FROM budget_levels WHERE level = 'org'",
            []
        ) <= 100_000
    );
    assert_eq!(h.one("SELECT COUNT(*) FROM budget_waiters", []), 0);
    h.assert_settled();
}

#[tokio::test(start_paused = true)]
async fn an_idle_lease_gives_its_spare_back_within_a_second() {
    // The critique is asked to wait 5 s: the run has nothing in flight meanwhile.
    let h = harness(Fake {
        latency: Duration::from_millis(10),
        rate_limit_once: Mutex::new(Some((CallRole::Critique, Duration::from_secs(5)))),
        ..Fake::default()
    });
    h.set_org_cap(Micros(10_000_000)).await;
    let (id, join) = h
        .engine
        .start(request(
            Micros(1_000_000),
            1,
            vec![task("t1", 1000, 1, 0.5)],
        ))
        .await
        .unwrap();
    let lease = || {
        h.one(
            "SELECT COALESCE(MAX(amount_micros), 0) FROM reservations WHERE run_id = ?1",
            [&id],
        )
    };
    let t0 = Instant::now();
    let limited = loop {
        if let Some(at) = *h.fake.limited_at.lock().unwrap() {
            break at;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "no 429 seen");
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let before = lease();
    assert!(before > 0, "the lease held nothing to give back");
    // Let virtual time pass no faster than real time from here, so the store thread's commit
    // is not outrun by the creeping clock (one virtual ms per real ms at most).
    while Instant::now() < limited + Duration::from_millis(1_000) {
        tokio::time::sleep(Duration::from_millis(1)).await;
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        lease(),
        0,
        "idle for a second, the lease still holds {} of {before}",
        lease()
    );
    assert_eq!(finish(join).await, RunStatus::Success);
    h.assert_settled();
}
