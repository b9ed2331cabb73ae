//! Engine overhead per model call (benchmarks.md §1): a loopback server answering instantly in
//! OpenAI and Anthropic formats; calls at fixed offered rates through the full engine path
//! (routing, policy, budget reserve/settle, breaker, telemetry, SQLite) versus the same request
//! sent straight to the server in the same run. The calls are made within a run, as a project's
//! calls are (its budget lease, run/org ledger and call rows all in play). Prints JSON.
//!
//! Both paths are measured in alternating blocks (`--block-ms`, 200 by default: direct, engine,
//! engine, direct, ...), so a noisy neighbour or a frequency change on a shared machine lands on
//! both rather than on whichever ran during it; `--sequential` runs all direct calls first, then
//! all engine calls (the method of the figures before 2026-12-05). After an engine block the
//! store thread's queue is drained before the next block starts, so the engine's writes behind
//! a call are not counted against the direct path.
//!
//! cargo bench --bench overhead_bench [-- --rates 100,500,1000 --secs 5]
//!   [--block-ms 200 | --sequential]
//!   [--store postgres://user@host/db]  (the org-wide store: a schema of its own, dropped after)

#[path = "../tests/support/loopback/mod.rs"]
mod support;

use orchestrator_tui::config::{
    Catalog, Config, PolicyConfig, ProviderConfig, ProviderKind, SimulatedMode, Strategy,
};
use orchestrator_tui::domain::CallRole;
use orchestrator_tui::domain::Micros;
use orchestrator_tui::engine::calls::CallSpec;
use orchestrator_tui::engine::{EngineCtx, EngineHandle, RunRequest};
use orchestrator_tui::providers::ProviderRegistry;
use orchestrator_tui::store::Store;
use orchestrator_tui::store::pg::PgTarget;

/// The benchmark's own schema on a `--store` server.
fn bench_schema() -> String {
    format!("bench_overhead_{}", std::process::id())
}

/// Drop the benchmark's schema (off the runtime's threads).
fn drop_schema() {
    if let Some(url) = arg("--store") {
        let _ = std::thread::spawn(move || {
            if let Ok(t) = PgTarget::parse(&url, &bench_schema())
                && let Ok(mut c) = t.connect()
            {
                let _ =
                    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", bench_schema()));
            }
        })
        .join();
    }
}
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{MockProvider, MockUsage, Reply};

const KEY: &str = "bench-key";

fn arg(name: &str) -> Option<String> {
    let v: Vec<String> = std::env::args().collect();
    v.iter()
        .position(|a| a == name)
        .and_then(|i| v.get(i + 1).cloned())
}

fn proc_stat() -> (f64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (cpu, hwm)
}

fn summary(mut v: Vec<f64>) -> Value {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let p = |q: f64| {
        if v.is_empty() {
            0.0
        } else {
            v[((v.len() - 1) as f64 * q).round() as usize]
        }
    };
    json!({"p50_ms": p(0.5), "p90_ms": p(0.9), "p99_ms": p(0.99), "max_ms": p(1.0), "n": v.len()})
}

/// Fire `f` at `rate` per second for `secs` (open loop); latencies in ms and error count.
async fn open_loop<F, Fut>(rate: u64, secs: f64, f: &F) -> (Vec<f64>, u64, f64)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let period = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let total = (rate as f64 * secs) as u64;
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = start + period * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let fut = f();
        set.spawn(async move {
            let t = Instant::now();
            let ok = fut.await;
            (t.elapsed().as_secs_f64() * 1000.0, ok)
        });
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    while let Some(r) = set.join_next().await {
        match r {
            Ok((l, true)) => lat.push(l),
            _ => errors += 1,
        }
    }
    let achieved = total as f64 / start.elapsed().as_secs_f64();
    (lat, errors, achieved)
}

/// One path's calls over all its blocks: latencies, errors, calls sent and seconds spent.
#[derive(Default)]
struct Phase {
    lat: Vec<f64>,
    errors: u64,
    sent: f64,
    secs: f64,
    cpu: f64,
}

impl Phase {
    fn add(&mut self, (lat, errors, achieved): (Vec<f64>, u64, f64), secs: f64, cpu: f64) {
        let sent = (lat.len() as u64 + errors) as f64;
        self.lat.extend(lat);
        self.errors += errors;
        self.sent += sent;
        self.secs += if achieved > 0.0 {
            sent / achieved
        } else {
            secs
        };
        self.cpu += cpu;
    }

    fn rate(&self) -> f64 {
        self.sent / self.secs.max(1e-9)
    }
}

/// `secs` of calls at `rate` on each path, in alternating blocks of `block` seconds (or one block
/// each, direct first, when `block` is at least `secs`). `drain` runs after each engine block.
async fn measure<D, DF, E, EF, W, WF>(
    rate: u64,
    secs: f64,
    block: f64,
    direct: D,
    engine: E,
    drain: W,
) -> (Phase, Phase)
where
    D: Fn() -> DF,
    DF: std::future::Future<Output = bool> + Send + 'static,
    E: Fn() -> EF,
    EF: std::future::Future<Output = bool> + Send + 'static,
    W: Fn() -> WF,
    WF: std::future::Future<Output = ()>,
{
    let (mut d, mut e) = (Phase::default(), Phase::default());
    let blocks = (secs / block).ceil().max(1.0) as usize;
    let each = secs / blocks as f64;
    for i in 0..blocks {
        // Direct, engine, engine, direct, ...: neither path always goes first.
        let order = if i % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for is_direct in order {
            let cpu0 = proc_stat().0;
            if is_direct {
                let r = open_loop(rate, each, &direct).await;
                d.add(r, each, proc_stat().0 - cpu0);
            } else {
                let r = open_loop(rate, each, &engine).await;
                // The store's work behind these calls counts as theirs.
                drain().await;
                e.add(r, each, proc_stat().0 - cpu0);
            }
        }
    }
    (d, e)
}

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
    cfg.providers.insert(
        "anthropic".into(),
        ProviderConfig {
            kind: Some(ProviderKind::Anthropic),
            base_url: Some(server.base_url()),
            api_key: Some(KEY.into()),
            ..Default::default()
        },
    );
    // Policies on the path as a team would have them: a hard one every call passes, and a monitor
    // one every call violates (so each call also writes an audit row).
    cfg.policies = vec![
        PolicyConfig {
            name: "no-deepseek".into(),
            mode: "hard".into(),
            scope: "org".into(),
            blocked_providers: vec!["deepseek".into()],
            ..Default::default()
        },
        PolicyConfig {
            name: "watch-cost".into(),
            mode: "monitor".into(),
            scope: "org".into(),
            max_cost_per_call_usd: Some(0.000_001),
            ..Default::default()
        },
    ];
    let catalog = Catalog::from_config(&cfg).expect("catalog");
    let registry = ProviderRegistry::from_config(&cfg, &catalog).expect("registry");
    let store = match arg("--store") {
        // The synchronous PostgreSQL client may not start inside the runtime: opened aside.
        Some(url) => std::thread::spawn(move || {
            let target = PgTarget::parse(&url, &bench_schema()).expect("--store URL");
            Store::open_pg(&target)
        })
        .join()
        .expect("open thread")
        .expect("PostgreSQL store"),
        None => Store::open(dir).expect("store"),
    };
    let ctx = EngineCtx::new(cfg, catalog, registry, store, dir.to_path_buf()).expect("ctx");
    orchestrator_tui::engine::spawn(ctx)
}

fn raw_request(
    server: &MockProvider,
    model: &str,
    anthropic: bool,
) -> (String, Vec<(&'static str, String)>, Vec<u8>) {
    let body = if anthropic {
        json!({"model": model, "max_tokens": 64, "stream": true, "system": "You are a benchmark.",
               "messages": [{"role": "user", "content": "Reply with a short sentence."}]})
    } else {
        json!({"model": model, "max_tokens": 64, "stream": true, "stream_options": {"include_usage": true},
               "messages": [{"role": "system", "content": "You are a benchmark."},
                            {"role": "user", "content": "Reply with a short sentence."}]})
    };
    let (url, headers) = if anthropic {
        (
            format!("{}/v1/messages", server.base_url()),
            vec![
                ("x-api-key", KEY.to_string()),
                ("anthropic-version", "2023-06-01".to_string()),
            ],
        )
    } else {
        (
            format!("{}/chat/completions", server.openai_base_url()),
            vec![("authorization", format!("Bearer {KEY}"))],
        )
    };
    (url, headers, serde_json::to_vec(&body).unwrap_or_default())
}

fn main() {
    let rates: Vec<u64> = arg("--rates")
        .unwrap_or_else(|| "100,500,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let secs: f64 = arg("--secs").and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let block: f64 = if std::env::args().any(|a| a == "--sequential") {
        secs
    } else {
        arg("--block-ms")
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(200.0)
            / 1000.0
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let server = MockProvider::start().await;
        server.set_recording(false);
        server.set_default(Reply::text("Latency is the time between asking and hearing back.").chunks(4).usage(
            MockUsage { input: 20, cached: 0, output: 12, reasoning: 0 },
        ));
        let dir = tempfile::tempdir().expect("tempdir");
        let e = engine(&server, dir.path());
        let run = e
            .open_run(RunRequest {
                description: "overhead benchmark".into(),
                criteria: String::new(),
                budget: Micros::from_usd(10_000.0),
                time_limit_secs: 3600,
                team: None,
                concurrency: 64,
                strategy: Strategy::Quality,
                output_dir: Some(dir.path().join("out")),
                plan: None,
                force: true,
            })
            .await
            .expect("bench run");
        let client = reqwest::Client::builder().tcp_nodelay(true).build().expect("client");
        let mut results = Vec::new();
        for (format, model) in [("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-6")] {
            let (url, headers, body) = raw_request(&server, model, format == "anthropic");
            for &rate in &rates {
                let (c2, u2, h2, b2) = (client.clone(), url.clone(), headers.clone(), body.clone());
                let others: Vec<String> = e.catalog().models.iter().filter(|m| m.id != model).map(|m| m.id.clone()).collect();
                let (jobs0, groups0) = (e.store().jobs_sent(), e.store().groups_run());
                let spec = Arc::new({
                    let mut s = CallSpec::new(CallRole::Generate, "Reply with a short sentence.".into(), 64);
                    s.system = Some("You are a benchmark.".into());
                    s.exclude = others;
                    s
                });
                let (r2, e2, e3) = (run.clone(), e.clone(), e.clone());
                let (direct, through) = measure(
                    rate,
                    secs,
                    block,
                    move || {
                        let mut rq = c2.post(&u2).header("content-type", "application/json").body(b2.clone());
                        for (k, v) in &h2 {
                            rq = rq.header(*k, v);
                        }
                        async move {
                            match rq.send().await {
                                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                                _ => false,
                            }
                        }
                    },
                    move || {
                        let (e, spec, run) = (e2.clone(), spec.clone(), r2.clone());
                        async move { e.call(Some(&run), &spec).await.is_ok() }
                    },
                    // Behind every write queued so far (the queue is FIFO).
                    move || {
                        let e = e3.clone();
                        async move {
                            let _ = e.store().call(|_| Ok(())).await;
                        }
                    },
                )
                .await;
                let (_, rss) = proc_stat();
                let jobs = e.store().jobs_sent() - jobs0;
                let groups = e.store().groups_run() - groups0;
                let (d, t) = (summary(direct.lat.clone()), summary(through.lat.clone()));
                let added = |k: &str| t[k].as_f64().unwrap_or(0.0) - d[k].as_f64().unwrap_or(0.0);
                results.push(json!({
                    "format": format, "model": model, "offered_rate": rate, "seconds": secs,
                    "method": if block >= secs { "sequential" } else { "interleaved" }, "block_seconds": block.min(secs),
                    "achieved_rate_engine": through.rate(), "achieved_rate_direct": direct.rate(),
                    "direct": d, "engine": t,
                    "added_ms": {"p50": added("p50_ms"), "p90": added("p90_ms"), "p99": added("p99_ms"), "max": added("max_ms")},
                    "errors_engine": through.errors, "errors_direct": direct.errors,
                    "cpu_seconds_engine_phase": through.cpu, "cpu_seconds_direct_phase": direct.cpu,
                    "peak_rss_kb": rss,
                    "store_jobs_per_call": jobs as f64 / (through.lat.len() as f64).max(1.0),
                    "store_commits_per_call": groups as f64 / (through.lat.len() as f64).max(1.0),
                }));
            }
        }
        // Queued behind every settle: the ledger must equal the recorded call costs.
        let (calls, cost, run_spent, org_spent, audits): (i64, i64, i64, i64, i64) = e
            .store()
            .call(|c| {
                c.query_row(
                    "SELECT (SELECT COUNT(*) FROM calls),
                            (SELECT CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) FROM calls),
                            (SELECT CAST(COALESCE(SUM(spent_micros), 0) AS BIGINT) FROM runs),
                            (SELECT COALESCE(MAX(spent_micros), 0) FROM budget_levels WHERE level = 'org'),
                            (SELECT COUNT(*) FROM audit)",
                    orchestrator_tui::args![],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
            })
            .await
            .unwrap_or_default();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"bench": "engine_overhead", "persisted_calls": calls,
                "policies": e.policy_count(), "audit_rows": audits,
                "ledger": {"calls_cost_micros": cost, "run_spent_micros": run_spent, "org_spent_micros": org_spent,
                           "consistent": cost == run_spent && cost == org_spent},
                "store": if arg("--store").is_some() { "postgres" } else { "sqlite" },
                "results": results}))
                .unwrap_or_default()
        );
    });
    drop_schema();
}
