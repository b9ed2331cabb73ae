//! Routing decision cost: choose a model among 50 candidates with learned profiles and 10
//! policies. Prints JSON. cargo bench --bench router_bench

use orchestrator_tui::config::{Catalog, Config, SimulatedMode, Strategy};
use orchestrator_tui::domain::{Micros, TaskType};
use orchestrator_tui::providers::ProviderRegistry;
use orchestrator_tui::routing::Health;
use orchestrator_tui::routing::learning::Learning;
use orchestrator_tui::routing::policy;
use orchestrator_tui::routing::router::{Inputs, RouteQuery, route};
use std::time::Instant;

fn main() {
    let mut cfg = Config::defaults();
    cfg.simulated.enabled = SimulatedMode::Always;
    let base = Catalog::embedded().expect("catalog");
    let mut models = Vec::new();
    for i in 0..50 {
        let mut m = base.models[i % base.models.len()].clone();
        m.id = format!("{}-{i}", m.id);
        models.push(m);
    }
    let catalog = Catalog { models };
    let registry = ProviderRegistry::from_config(&cfg, &catalog).expect("registry");
    let health = Health::new(cfg.breaker.clone());
    let learning = Learning::default();
    for (i, m) in catalog.models.iter().enumerate() {
        for t in TaskType::ALL {
            learning.record_score(
                &m.id,
                t,
                0.7 + (i % 10) as f64 / 40.0,
                Micros(1000 + i as i64),
            );
            learning.record_call(&m.id, t, true, 500 + i as u64 * 10);
        }
    }
    let text: String = (0..10)
        .map(|i| {
            format!(
                "[[policy]]\nname = \"p{i}\"\nmode = \"{}\"\nscope = \"{}\"\nblocked_models = [\"gpt-4o-{i}\"]\nmax_latency_p95_ms = 100000\nmax_cost_per_call_usd = 5.0\n",
                ["hard", "soft", "monitor"][i % 3],
                if i % 2 == 0 { "org" } else { "task_type:code_generation" }
            )
        })
        .collect();
    let pcfg: Config = toml::from_str(&text).expect("policies");
    let policies = policy::parse(&pcfg.policies).expect("parse");
    let inputs = Inputs {
        catalog: &catalog,
        registry: &registry,
        health: &health,
        learning: &learning,
        policies: &policies,
    };
    let exclude: Vec<String> = vec![];
    let n = 20_000u32;
    let mut results = serde_json::Map::new();
    for strategy in [
        Strategy::Quality,
        Strategy::Balanced,
        Strategy::Cost,
        Strategy::Latency,
    ] {
        let q = RouteQuery {
            task_type: Some(TaskType::CodeGeneration),
            exclude: &exclude,
            threshold: Some(0.85),
            team: Some("web"),
            est_input: 2000,
            max_tokens: 4096,
            ..Default::default()
        };
        let mut samples = Vec::with_capacity(n as usize);
        let mut picked = 0usize;
        for _ in 0..n {
            let t = Instant::now();
            let r = route(&inputs, strategy, &q, 0);
            samples.push(t.elapsed().as_nanos() as u64);
            picked += r.ranked.len();
        }
        samples.sort_unstable();
        let pct = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
        results.insert(
            strategy.as_str().into(),
            serde_json::json!({"p50_us": pct(0.5), "p99_us": pct(0.99), "candidates": picked / n as usize}),
        );
    }
    println!(
        "{}",
        serde_json::json!({"models": 50, "policies": 10, "decisions_per_strategy": n, "results": results})
    );
}
