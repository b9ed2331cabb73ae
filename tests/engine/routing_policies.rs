//! Breakers, policies and learning seen from the real binary on the simulated providers.

use crate::support::binary::*;
use serde_json::Value;

fn calls_by_model(env: &Env) -> Vec<(String, String, i64)> {
    let c = rusqlite::Connection::open(env.data().join("orchestrator.db")).unwrap();
    let mut st = c
        .prepare(
            "SELECT model, outcome, COUNT(*) FROM calls GROUP BY model, outcome ORDER BY model",
        )
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn code_plan(n: usize) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"id": "c{i}", "type": "code_generation", "prompt": "Implement helper number {i} in Python", "max_iterations": 1}}"#))
        .collect();
    format!("[{}]", items.join(","))
}

#[test]
fn failing_preferred_model_opens_its_breaker_and_the_run_still_succeeds() {
    // claude-opus-4-7 is the quality strategy's first choice for code generation.
    let env = Env::new("[simulated]\nfailing_models = [\"claude-opus-4-7\"]\n");
    let plan = env.write("plan.json", &code_plan(3));
    // One task at a time: with concurrency, calls already in flight when the breaker opens
    // also fail, which is expected but makes the count racy.
    let (v, out) = env.json(&[
        "run",
        "--plan",
        plan.to_str().unwrap(),
        "--json",
        "--concurrency",
        "1",
    ]);
    assert!(
        matches!(
            v["status"].as_str().unwrap(),
            "success" | "completed_degraded"
        ),
        "{}",
        stderr(&out)
    );
    let events = v["breaker_events"].as_array().unwrap();
    let opened: Vec<&Value> = events
        .iter()
        .filter(|e| e["model"] == "claude-opus-4-7" && e["to"] == "open")
        .collect();
    assert_eq!(opened.len(), 1, "{events:?}");
    assert!(
        opened[0]["reason"]
            .as_str()
            .unwrap()
            .contains("3 consecutive")
    );
    let opus: i64 = calls_by_model(&env)
        .iter()
        .filter(|(m, _, _)| m == "claude-opus-4-7")
        .map(|x| x.2)
        .sum();
    assert_eq!(
        opus, 3,
        "three failures open the breaker, then no more traffic"
    );
    for t in v["tasks"].as_array().unwrap() {
        assert_ne!(t["model"], "claude-opus-4-7");
    }
    // The breaker state persists for the next process.
    let (m, _) = env.json(&["models", "--json"]);
    let row = m["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "claude-opus-4-7")
        .unwrap()
        .clone();
    assert_eq!(row["breaker"], "open");
    // A manual reset closes it.
    let out = env.run(&["models", "reset", "claude-opus-4-7"]);
    assert_eq!(code(&out), 0);
    let (m, _) = env.json(&["models", "--json"]);
    let row = m["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "claude-opus-4-7")
        .unwrap()
        .clone();
    assert_eq!(row["breaker"], "closed");
}

#[test]
fn unauthorized_model_is_disabled_after_one_call() {
    let env = Env::new("[simulated]\nunauthorized_models = [\"claude-opus-4-7\"]\n");
    let plan = env.write("plan.json", &code_plan(2));
    let (v, _) = env.json(&[
        "run",
        "--plan",
        plan.to_str().unwrap(),
        "--json",
        "--concurrency",
        "1",
    ]);
    assert!(matches!(
        v["status"].as_str().unwrap(),
        "success" | "completed_degraded"
    ));
    let ev: Vec<&Value> = v["breaker_events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["model"] == "claude-opus-4-7")
        .collect();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["to"], "disabled");
    let opus: i64 = calls_by_model(&env)
        .iter()
        .filter(|(m, _, _)| m == "claude-opus-4-7")
        .map(|x| x.2)
        .sum();
    assert_eq!(opus, 1);
}

#[test]
fn hard_policy_blocks_a_provider_everywhere_and_is_audited() {
    let env = Env::new(
        "[[policy]]\nname = \"no-anthropic\"\nmode = \"hard\"\nscope = \"org\"\nblocked_providers = [\"anthropic\"]\n",
    );
    let (v, out) = env.json(&["run", "Build a todo app in Python", "--json"]);
    assert!(
        matches!(
            v["status"].as_str().unwrap(),
            "success" | "completed_degraded"
        ),
        "{}",
        stderr(&out)
    );
    assert!(
        calls_by_model(&env)
            .iter()
            .all(|(m, _, _)| !m.starts_with("claude"))
    );
    for t in v["tasks"].as_array().unwrap() {
        assert!(!t["model"].as_str().unwrap().starts_with("claude"));
        assert!(!t["reviewer"].as_str().unwrap_or("").starts_with("claude"));
    }
    let out = env.run(&["audit", "--json"]);
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty());
    for l in &lines {
        for k in [
            "at",
            "run",
            "task",
            "model",
            "policies",
            "mode",
            "violations",
            "allowed",
        ] {
            assert!(l.get(k).is_some(), "audit missing {k}");
        }
        if l["model"].as_str().unwrap().starts_with("claude") {
            assert_eq!(l["allowed"], false);
            assert_eq!(l["mode"], "hard");
        }
    }
    assert!(lines.iter().any(|l| l["allowed"] == false));
}

#[test]
fn soft_latency_violation_passes_with_a_warning_and_monitor_only_logs() {
    let env = Env::new(
        "[[policy]]\nname = \"fast\"\nmode = \"soft\"\nmax_latency_p95_ms = 1\n[[policy]]\nname = \"watch\"\nmode = \"monitor\"\nblocked_providers = [\"openai\"]\n",
    );
    let plan = env.write("plan.json", &flat_plan(2));
    let (v, out) = env.json(&["run", "--plan", plan.to_str().unwrap(), "--json"]);
    assert!(matches!(
        v["status"].as_str().unwrap(),
        "success" | "completed_degraded"
    ));
    assert!(stderr(&out).contains("policy warning"), "{}", stderr(&out));
    let out = env.run(&["audit", "--json"]);
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines.iter().all(|l| l["allowed"] == true),
        "nothing is blocked by soft latency or monitor"
    );
    assert!(lines.iter().any(|l| {
        l["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x.as_str().unwrap().contains("latency"))
    }));
}

#[test]
fn policy_check_reports_contradictions() {
    let env = Env::new("");
    let bad = env.write("p.toml", "[[policy]]\nname = \"x\"\nallowed_providers = [\"openai\"]\nblocked_providers = [\"openai\"]\n");
    let out = env.run(&["policy", "check", bad.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("both allowed and blocked"),
        "{}",
        stderr(&out)
    );
    let good = env.write(
        "g.toml",
        "[[policy]]\nname = \"eu\"\nmode = \"hard\"\nallowed_regions = [\"eu\"]\n",
    );
    let out = env.run(&["policy", "check", good.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("models excluded"));
}

#[test]
fn learning_recommends_a_cheaper_model_and_cost_routing_follows() {
    // deepseek-chat's prior (0.82) is below the code_generation threshold (0.85); in this simulator
    // it actually scores 0.97. Exploration gives it samples; learning does the rest.
    // Two providers keep the candidate set small, so exploration samples deepseek-chat often
    // (their models added to the catalog since, issue 17, are blocked to keep it small).
    let env = Env::new(
        "[simulated]\nquality = { \"deepseek-chat\" = 0.97, \"claude-opus-4-1\" = 0.95 }\n[routing]\nexplore_rate = 0.6\n[[policy]]\nname = \"two\"\nmode = \"hard\"\nallowed_providers = [\"anthropic\", \"deepseek\"]\nblocked_models = [\"claude-opus-4-7\", \"claude-opus-4-6\", \"claude-opus-4-5\", \"claude-sonnet-4-5\", \"deepseek-v4-pro\", \"deepseek-v4-flash\"]\n",
    );
    let plan = env.write("plan.json", &code_plan(8));
    for _ in 0..5 {
        let out = env.run(&[
            "run",
            "--plan",
            plan.to_str().unwrap(),
            "--json",
            "--concurrency",
            "4",
        ]);
        assert!(matches!(code(&out), 0 | 4), "{}", stderr(&out));
    }
    let (m, _) = env.json(&["models", "--json"]);
    let recs = m["recommendations"].as_array().unwrap();
    // (samples, quality) learned for code generation, per model.
    let learned = |id: &str| -> (u64, f64) {
        m["models"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["id"] == id)
            .flat_map(|x| x["profiles"].as_array().unwrap())
            .find(|p| p["task_type"] == "code_generation")
            .map_or((0, 0.0), |p| {
                (
                    p["samples"].as_u64().unwrap(),
                    p["quality"].as_f64().unwrap(),
                )
            })
    };
    if recs
        .iter()
        .any(|r| r["task_type"] == "code_generation" && r["to"] == "deepseek-chat")
    {
        for k in [
            "task_type",
            "from",
            "to",
            "cost_change_pct",
            "quality_ratio",
            "samples",
            "text",
        ] {
            assert!(recs[0].get(k).is_some(), "recommendation missing {k}");
        }
    } else {
        // Exploration is random per run: sometimes learning has already moved most generations
        // to deepseek-chat, and there is no costlier incumbent left to recommend it over. Then
        // it must be the most sampled model for code generation, at least as good as opus.
        let (ds, dq) = learned("deepseek-chat");
        let (os, oq) = learned("claude-opus-4-1");
        assert!(
            ds > os && dq >= 0.97 * oq,
            "no recommendation and deepseek-chat not the incumbent: {recs:?} {:?} {:?}",
            (ds, dq),
            (os, oq)
        );
    }
    // With exploration off, cost and balanced strategies now route code generation to it.
    let env2_cfg = env.write("noexplore.toml", "[simulated]\nlatency_ms_min = 0\nlatency_ms_max = 2\nquality = { \"deepseek-chat\" = 0.97 }\n[routing]\nexplore_rate = 0.0\n");
    for strategy in ["cost", "balanced"] {
        let (v, _) = env.json(&[
            "--config",
            env2_cfg.to_str().unwrap(),
            "run",
            "--plan",
            plan.to_str().unwrap(),
            "--json",
            "--strategy",
            strategy,
        ]);
        for t in v["tasks"].as_array().unwrap() {
            assert_eq!(t["model"], "deepseek-chat", "{strategy}: {}", t["id"]);
        }
    }
}
