//! Budgets under concurrency and crashes (issue 7, "Done when 3, 5"); the ledger's property
//! test is in ledger_props.rs.
//!
//! (b) Four processes of the real binary share one data dir and an org cap smaller than their
//!     combined demand: the sum of recorded call costs never exceeds the cap.
//! (c) kill -9 during a run leaves reservations; the next start releases them.

use crate::support::binary::*;
use orchestrator_tui::domain::Micros;
use rusqlite::Connection;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// (b) and (c): real processes

const FAST: &str = "[simulated]\nlatency_ms_min = 5\nlatency_ms_max = 40\n";

fn db(env: &Env) -> Connection {
    Connection::open(env.data().join("orchestrator.db")).unwrap()
}

fn one(env: &Env, sql: &str) -> i64 {
    db(env).query_row(sql, [], |r| r.get(0)).unwrap()
}

fn spawn(env: &Env, args: &[&str]) -> Child {
    env.cmd()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn four_processes_share_an_org_cap_without_overspending() {
    // Small max_output_tokens: worst-case reservations close to actual costs, so the runs
    // pack spend tight against the cap.
    let plan_text = flat_plan(6).replace(
        r#""max_iterations": 1"#,
        r#""max_iterations": 1, "max_output_tokens": 40"#,
    );
    // What one run costs alone, to size a cap below the combined demand of four.
    let probe = Env::new(FAST);
    let plan = probe.write("plan.json", &plan_text);
    let (v, out) = probe.json(&["run", "--plan", plan.to_str().unwrap(), "--json"]);
    assert!(matches!(code(&out), 0 | 4), "{}", stderr(&out));
    let one_run = v["total_cost_usd"].as_f64().unwrap();
    assert!(one_run > 0.0);

    let env = Env::new(FAST);
    let plan = env.write("plan.json", &plan_text);
    // Near a cap runs fall back to cheaper models (a run stops only when no capable model's
    // call fits), so the cap is set below what four runs cost even on the cheapest ones.
    let cap_usd = (one_run * 0.3 * 1e6).round() / 1e6;
    let out = env.run(&["budget", "set-org", &format!("{cap_usd}")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let cap = Micros::from_usd(cap_usd).0;

    let children: Vec<Child> = (0..4)
        .map(|_| {
            spawn(
                &env,
                &["run", "--plan", plan.to_str().unwrap(), "--json", "--force"],
            )
        })
        .collect();
    let mut statuses = vec![];
    for ch in children {
        let out = ch.wait_with_output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {}", stderr(&out));
        });
        let st = v["status"].as_str().unwrap().to_string();
        let expected_code = match st.as_str() {
            "success" => 0,
            "completed_degraded" => 4,
            "budget_exhausted" => 5,
            other => panic!("run ended `{other}`: {}", stderr(&out)),
        };
        assert_eq!(code(&out), expected_code, "{}", stderr(&out));
        statuses.push(st);
    }
    let spent = one(&env, "SELECT COALESCE(SUM(cost_micros), 0) FROM calls");
    eprintln!("one run {one_run} USD; cap {cap} micros; spent {spent}; {statuses:?}");
    assert!(
        spent <= cap,
        "recorded calls cost {spent} micros, cap {cap}"
    );
    assert_eq!(
        one(
            &env,
            "SELECT spent_micros FROM budget_levels WHERE level = 'org'"
        ),
        spent
    );
    assert!(
        statuses.iter().any(|s| s == "budget_exhausted"),
        "the cap never bound: {statuses:?} (one run costs {one_run})"
    );
    assert_eq!(one(&env, "SELECT COUNT(*) FROM reservations"), 0);
    assert_eq!(
        one(
            &env,
            "SELECT reserved_micros FROM budget_levels WHERE level = 'org'"
        ),
        0
    );
    assert_eq!(
        one(&env, "SELECT COALESCE(SUM(reserved_micros), 0) FROM runs"),
        0
    );
    // Each run's spend is the sum of its own calls.
    assert_eq!(
        one(
            &env,
            "SELECT COUNT(*) FROM runs r WHERE r.spent_micros !=
               (SELECT COALESCE(SUM(cost_micros), 0) FROM calls c WHERE c.run_id = r.id)"
        ),
        0
    );
    let (b, _) = env.json(&["budget", "--json"]);
    assert_eq!(b["org"]["reserved_usd"], 0.0);
    assert!(b["org"]["spent_usd"].as_f64().unwrap() <= cap_usd + 1e-9);
}

#[test]
fn kill_9_leaves_reservations_that_the_next_start_releases() {
    let env = Env::new("[simulated]\nlatency_ms_min = 300\nlatency_ms_max = 600\n");
    let out = env.run(&["budget", "set-team", "web", "50"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let plan = env.write("plan.json", &flat_plan(8));
    let mut child = spawn(
        &env,
        &[
            "run",
            "--plan",
            plan.to_str().unwrap(),
            "--team",
            "web",
            "--json",
        ],
    );
    let db_path = env.data().join("orchestrator.db");
    wait_for("a settled call and reservations in flight", || {
        db_path.exists()
            && Connection::open(&db_path)
                .and_then(|c| {
                    c.query_row(
                        // The run's lease row holds the in-flight calls' worst case.
                        "SELECT (SELECT COUNT(*) FROM calls WHERE cost_micros > 0) > 0
                            AND (SELECT COALESCE(SUM(amount_micros), 0) FROM reservations) > 0",
                        [],
                        |r| r.get::<_, bool>(0),
                    )
                })
                .unwrap_or(false)
    });
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();

    assert!(one(&env, "SELECT COUNT(*) FROM reservations") > 0);
    assert!(
        one(
            &env,
            "SELECT reserved_micros FROM budget_levels WHERE level = 'org'"
        ) > 0
    );

    // Any start releases them: `budget --json` is the cheapest one.
    let (b, out) = env.json(&["budget", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(b["org"]["reserved_usd"], 0.0, "{b}");
    let web = b["teams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "web")
        .expect("team web");
    assert_eq!(web["reserved_usd"], 0.0, "{b}");
    assert_eq!(one(&env, "SELECT COUNT(*) FROM reservations"), 0);
    assert_eq!(
        one(&env, "SELECT COALESCE(SUM(reserved_micros), 0) FROM runs"),
        0
    );
    assert_eq!(
        one(
            &env,
            "SELECT COALESCE(SUM(reserved_micros), 0) FROM budget_levels"
        ),
        0
    );
    let calls = one(&env, "SELECT COALESCE(SUM(cost_micros), 0) FROM calls");
    assert!(calls > 0);
    for level in ["org", "team:web"] {
        assert_eq!(
            one(
                &env,
                &format!("SELECT spent_micros FROM budget_levels WHERE level = '{level}'")
            ),
            calls,
            "{level} spend != recorded calls"
        );
    }
    assert_eq!(one(&env, "SELECT spent_micros FROM runs"), calls);
    let spent_usd = b["org"]["spent_usd"].as_f64().unwrap();
    assert!((spent_usd - calls as f64 / 1e6).abs() < 1e-9);
}

/// `$X` amounts following `label` in a refusal message, e.g. `needed` -> the one before it.
fn usd_before(text: &str, label: &str) -> Option<f64> {
    let at = text.find(label)?;
    let head = text[..at].trim_end();
    let start = head.rfind('$')?;
    head[start + 1..].parse().ok()
}

fn usd_after(text: &str, label: &str) -> Option<f64> {
    let at = text.find(label)? + label.len();
    let rest = text[at..].trim_start().strip_prefix('$')?;
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[test]
fn eight_processes_on_an_org_cap_are_refused_only_near_it() {
    // Issue 14: with the cap far from spent, headroom held by other processes (their leases'
    // spare, their calls in flight) must go back to a refused process before it gives up.
    let env = Env::new(FAST);
    let cap_usd = 0.50;
    let out = env.run(&["budget", "set-org", &format!("{cap_usd}")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // 8 x 48 tasks cost well over the cap, even on the cheapest models.
    let plan = env.write("plan.json", &flat_plan(48));
    let children: Vec<Child> = (0..8)
        .map(|_| {
            spawn(
                &env,
                &["run", "--plan", plan.to_str().unwrap(), "--json", "--force"],
            )
        })
        .collect();
    let mut ids = vec![];
    let mut statuses = vec![];
    for ch in children {
        let out = ch.wait_with_output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stderr(&out)));
        ids.push(v["id"].as_str().unwrap().to_string());
        statuses.push(v["status"].as_str().unwrap().to_string());
    }
    let cap = Micros::from_usd(cap_usd).0;
    let spent = one(&env, "SELECT COALESCE(SUM(cost_micros), 0) FROM calls");
    eprintln!("cap {cap}; spent {spent}; {statuses:?}");
    assert!(
        spent <= cap,
        "recorded calls cost {spent} micros, cap {cap}"
    );
    assert_eq!(
        one(
            &env,
            "SELECT spent_micros FROM budget_levels WHERE level = 'org'"
        ),
        spent
    );
    assert!(
        statuses.iter().any(|s| s == "budget_exhausted"),
        "the cap never bound: {statuses:?}"
    );
    let c = db(&env);
    let mut refusals = 0;
    for (id, st) in ids.iter().zip(&statuses) {
        if st != "budget_exhausted" {
            continue;
        }
        let reasons: Vec<String> = c
            .prepare("SELECT status_reason FROM tasks WHERE run_id = ?1 AND status = 'pending' AND status_reason IS NOT NULL")
            .unwrap()
            .query_map([id], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            !reasons.is_empty(),
            "run {id} ended {st} with no refused task"
        );
        for r in reasons {
            let needed = usd_before(&r, " needed").unwrap_or_else(|| panic!("no amount in {r:?}"));
            let at = usd_after(&r, "(spent").unwrap_or_else(|| panic!("no spend in {r:?}"));
            assert!(
                r.contains("org budget"),
                "run {id} refused below the org level: {r}"
            );
            // The message rounds to 1/100 of a cent.
            assert!(
                cap_usd - at < 3.0 * needed + 0.0002,
                "run {id} refused with ${:.4} of ${cap_usd} unspent, {:.1}x the ${needed} its \
                 cheapest call needs: {r}",
                cap_usd - at,
                (cap_usd - at) / needed
            );
            refusals += 1;
        }
    }
    eprintln!("{refusals} refused tasks, each near the cap");
    assert_eq!(one(&env, "SELECT COUNT(*) FROM reservations"), 0);
    assert_eq!(
        one(
            &env,
            "SELECT reserved_micros FROM budget_levels WHERE level = 'org'"
        ),
        0
    );
}
