//! An org cap below what a run needs (issue 7, "Done when 4"): the run stops `budget_exhausted`
//! (or is refused at pre-flight) without overspending, and completes once the cap is raised.

use crate::support::binary::*;
use rusqlite::Connection;

const CONFIG: &str = "[simulated]\nseed = 7\nlatency_ms_min = 1\nlatency_ms_max = 10\n";

fn plan() -> String {
    // Pairs of dependent tasks so a stop mid-run leaves work behind that needs its inputs.
    let items: Vec<String> = (0..8)
        .map(|i| {
            let deps = if i % 2 == 1 {
                format!("[\"t{}\"]", i - 1)
            } else {
                "[]".into()
            };
            format!(
                r#"{{"id": "t{i}", "type": "summarization", "prompt": "Summarise part {i}", "dependencies": {deps}, "max_iterations": 1}}"#
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

fn one(env: &Env, sql: &str) -> i64 {
    Connection::open(env.data().join("orchestrator.db"))
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

fn run_args(plan: &str, force: bool) -> Vec<String> {
    let mut a: Vec<String> = ["run", "--plan", plan, "--strategy", "cost", "--json"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if force {
        a.push("--force".into());
    }
    a
}

fn json(env: &Env, args: &[String]) -> (serde_json::Value, std::process::Output) {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    env.json(&a)
}

#[test]
fn preflight_refusal_with_json_prints_one_document() {
    // cli-contract.md: with --json, stdout holds exactly one JSON document for every exit code
    // except 2. A pre-flight refusal is exit 8.
    let env = Env::new(CONFIG);
    let p = env.write("plan.json", &plan());
    let out = env.run(&["budget", "set-org", "0.000001"]);
    assert_eq!(code(&out), 0);
    let out = env.run(&[
        "run",
        "--plan",
        p.to_str().unwrap(),
        "--strategy",
        "cost",
        "--json",
    ]);
    assert_eq!(code(&out), 8, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "exit 8 with --json: stdout is not one JSON document ({e}): {:?}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    assert!(v.is_object(), "{v}");
    assert!(stderr(&out).contains("pre-flight"), "{}", stderr(&out));
    // Nothing started, nothing spent.
    assert_eq!(one(&env, "SELECT COUNT(*) FROM runs"), 0);
    assert_eq!(one(&env, "SELECT COUNT(*) FROM calls"), 0);
}

fn assert_within_cap(env: &Env, cap: i64) {
    let spent = one(env, "SELECT COALESCE(SUM(cost_micros), 0) FROM calls");
    assert!(spent <= cap, "spent {spent} micros over the cap {cap}");
    assert_eq!(
        one(
            env,
            "SELECT spent_micros FROM budget_levels WHERE level = 'org'"
        ),
        spent
    );
    assert_eq!(one(env, "SELECT COUNT(*) FROM reservations"), 0);
}

#[test]
fn a_run_over_the_org_cap_stops_then_completes_when_the_cap_is_raised() {
    // 1. What the run costs with the cost strategy, uncapped.
    let probe = Env::new(CONFIG);
    let p = probe.write("plan.json", &plan());
    let (v, out) = json(&probe, &run_args(p.to_str().unwrap(), false));
    assert!(matches!(code(&out), 0 | 4), "{}", stderr(&out));
    let full = v["total_cost_usd"].as_f64().unwrap();
    assert!(full > 0.0);

    // 2. A fresh data dir with an org cap of 40% of that.
    let env = Env::new(CONFIG);
    let p = env.write("plan.json", &plan());
    let plan_path = p.to_str().unwrap().to_string();
    let cap_usd = (full * 0.4 * 1e6).floor() / 1e6;
    let cap = (cap_usd * 1e6).round() as i64;
    let out = env.run(&["budget", "set-org", &cap_usd.to_string()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let out = env.run(
        &run_args(&plan_path, false)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let mut stopped: Option<String> = None;
    match code(&out) {
        5 => {
            assert_eq!(v["status"], "budget_exhausted");
            assert_eq!(v["resumable"], true);
            stopped = Some(v["id"].as_str().unwrap().to_string());
        }
        8 => {
            // Refused at pre-flight: nothing was spent, no run was started.
            assert_eq!(one(&env, "SELECT COUNT(*) FROM calls"), 0);
            assert!(stderr(&out).contains('$'), "{}", stderr(&out));
        }
        other => panic!("exit {other}: {}", stderr(&out)),
    }
    assert_within_cap(&env, cap);

    // The budget_exhausted path is what this test is about: force past pre-flight if needed.
    let id = match stopped {
        Some(id) => id,
        None => {
            let (v, out) = json(&env, &run_args(&plan_path, true));
            assert_eq!(code(&out), 5, "{}", stderr(&out));
            assert_eq!(v["status"], "budget_exhausted");
            v["id"].as_str().unwrap().to_string()
        }
    };
    assert_within_cap(&env, cap);
    let done_before = one(
        &env,
        &format!(
            "SELECT COUNT(*) FROM tasks WHERE run_id = '{id}' AND status IN ('completed', 'degraded')"
        ),
    );
    assert!(
        done_before < 8,
        "the run did all its work under 40% of its cost"
    );

    // 3. Raise the cap and resume: it completes.
    let out = env.run(&["budget", "set-org", "100"]);
    assert_eq!(code(&out), 0);
    let (v, out) = env.json(&["resume", &id, "--json"]);
    let status = v["status"].as_str().unwrap();
    assert!(
        matches!(status, "success" | "completed_degraded"),
        "{status}: {}",
        stderr(&out)
    );
    assert_eq!(code(&out), if status == "success" { 0 } else { 4 });
    assert_eq!(v["tasks"].as_array().unwrap().len(), 8);
    // The resumed run's spend is every call charged to it, and the org saw the same.
    let run_spent = one(
        &env,
        &format!("SELECT spent_micros FROM runs WHERE id = '{id}'"),
    );
    assert_eq!(
        run_spent,
        one(
            &env,
            &format!("SELECT COALESCE(SUM(cost_micros), 0) FROM calls WHERE run_id = '{id}'")
        )
    );
    assert!((v["total_cost_usd"].as_f64().unwrap() - run_spent as f64 / 1e6).abs() < 1e-9);
    assert_eq!(
        one(
            &env,
            "SELECT spent_micros FROM budget_levels WHERE level = 'org'"
        ),
        one(&env, "SELECT COALESCE(SUM(cost_micros), 0) FROM calls")
    );
    assert_eq!(one(&env, "SELECT COUNT(*) FROM reservations"), 0);
}
