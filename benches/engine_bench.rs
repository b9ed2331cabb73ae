//! Engine benchmarks (release): model calls per second through the full engine (routing, breaker,
//! budget reserve/settle, telemetry, SQLite) with zero-latency simulated providers, and the time
//! from `resume` to the first new call on a 10,000-task run with half its tasks done.
//!
//! cargo bench --bench engine_bench -- [--tasks 3000] [--concurrency 16] [--resume-tasks 10000]

use orchestrator_tui::args;
use orchestrator_tui::config::{Catalog, Config, Strategy};
use orchestrator_tui::domain::{Micros, TaskSpec, TaskType};
use orchestrator_tui::engine::{EngineCtx, EngineEvent, EngineHandle, ResumeRequest, RunRequest};
use orchestrator_tui::providers::ProviderRegistry;
use orchestrator_tui::store::Store;
use std::path::Path;
use std::time::Instant;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn engine(dir: &Path) -> EngineHandle {
    let mut cfg = Config::defaults();
    cfg.simulated.latency_ms_min = 0;
    cfg.simulated.latency_ms_max = 0;
    let catalog = Catalog::from_config(&cfg).expect("catalog");
    let registry = ProviderRegistry::from_config(&cfg, &catalog).expect("registry");
    let store = Store::open(dir).expect("store");
    let ctx = EngineCtx::new(cfg, catalog, registry, store, dir.to_path_buf()).expect("engine");
    orchestrator_tui::engine::spawn(ctx)
}

fn plan(n: usize) -> Vec<TaskSpec> {
    (0..n)
        .map(|i| TaskSpec {
            id: format!("t{i}"),
            task_type: TaskType::Summarization,
            prompt: format!("Summarise item {i}"),
            dependencies: vec![],
            threshold: 0.0,
            max_iterations: 1,
            max_output_tokens: 256,
            validators: vec![],
        })
        .collect()
}

fn request(tasks: Vec<TaskSpec>, concurrency: usize) -> RunRequest {
    RunRequest {
        description: "bench".into(),
        criteria: String::new(),
        budget: Micros::from_usd(1e6),
        time_limit_secs: 86_400,
        team: None,
        concurrency,
        strategy: Strategy::Quality,
        output_dir: None,
        plan: Some(tasks),
        force: true,
    }
}

fn calls(e: &EngineHandle) -> i64 {
    e.store()
        .call_blocking(|c| c.query_row("SELECT COUNT(*) FROM calls", args![], |r| r.get(0)))
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = arg("--tasks", 3000);
    let conc = arg("--concurrency", 16);
    let big = arg("--resume-tasks", 10_000);

    // 1. Throughput.
    let dir = tempfile::tempdir().expect("tempdir");
    let e = engine(dir.path());
    let t0 = Instant::now();
    let (_, join) = e.start(request(plan(n), conc)).await.expect("start");
    let status = join.await.expect("join");
    let secs = t0.elapsed().as_secs_f64();
    let k = calls(&e);

    eprintln!("throughput: {k} calls in {secs:.2}s");
    // 2. Resume of a big run with half of it done.
    let dir2 = tempfile::tempdir().expect("tempdir");
    let e2 = engine(dir2.path());
    // Stop the big run at about half by its budget (deterministic, unlike racing a cancel
    // against a zero-latency engine), then resume it with a larger budget.
    let spent: i64 = e
        .store()
        .call_blocking(|c| {
            c.query_row(
                "SELECT CAST(SUM(cost_micros) AS BIGINT) FROM calls",
                args![],
                |r| r.get(0),
            )
        })
        .unwrap_or(0);
    let per_task = spent as f64 / n as f64;
    let mut req = request(plan(big), conc);
    req.budget = Micros((per_task * big as f64 / 2.0) as i64);
    let (id, join) = e2.start(req).await.expect("start");
    let first_status = join.await.expect("join");
    let id2 = id.clone();
    let done: i64 = e2
        .store()
        .call(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM tasks WHERE run_id = ?1 AND status = 'completed'",
                args![id2],
                |r| r.get(0),
            )
        })
        .await
        .unwrap_or(0);
    eprintln!("first run: {first_status:?}");
    eprintln!("half done: {done}");
    eprintln!("stopped");
    let e3 = engine(dir2.path());
    let mut ev3 = e3.subscribe();
    let t1 = Instant::now();
    let (_, join3) = e3
        .resume(ResumeRequest {
            run_id: id.clone(),
            budget: Some(Micros::from_usd(1e6)),
            time_limit_secs: None,
        })
        .await
        .expect("resume");
    eprintln!("resumed");
    if std::env::var("BENCH_DEBUG").is_ok() {
        let st = join3.await;
        eprintln!("status {st:?}");
        let id2 = id.clone();
        let v = e3
            .store()
            .call_blocking(move |c| {
                c.query_row(
                    "SELECT status, status_reason FROM runs WHERE id=?1",
                    args![id2],
                    |r| {
                        Ok(format!(
                            "{:?} {:?}",
                            r.get::<String>(0)?,
                            r.get::<Option<String>>(1)?
                        ))
                    },
                )
            })
            .unwrap();
        eprintln!("{v}");
        return;
    }
    loop {
        match ev3.recv().await {
            Ok(EngineEvent::Call { .. }) => break,
            Ok(e) => {
                if std::env::var("BENCH_DEBUG2").is_ok() {
                    eprintln!("{e:?}")
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(_) => break,
        }
    }
    eprintln!("first call");
    let first_call_ms = t1.elapsed().as_secs_f64() * 1000.0;
    e3.cancel(&id);
    let _ = join3.await;

    println!(
        "{}",
        serde_json::json!({
            "throughput": {
                "tasks": n, "concurrency": conc, "status": status, "calls": k,
                "seconds": secs, "calls_per_sec": k as f64 / secs,
            },
            "resume": { "tasks": big, "done_before_resume": done, "time_to_first_call_ms": first_call_ms },
        })
    );
}
