//! Bad numbers and plans are refused up front (exit 2, one line naming the flag, key or cycle,
//! nothing stored), and a time limit stored by an older version cannot crash or stall a resume.

use crate::support::binary::*;

/// `args` exits 2 with one stderr line containing every `needle`, stdout empty, store unchanged.
fn refused(env: &Env, args: &[&str], needles: &[&str]) {
    let before = table_counts(&env.data());
    let out = env.run(args);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{args:?}: {err}");
    assert!(out.stdout.is_empty(), "{args:?}: stdout not empty");
    for n in needles {
        assert!(err.contains(n), "{args:?}: `{n}` not in: {err}");
    }
    assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    assert_eq!(
        table_counts(&env.data()),
        before,
        "{args:?} changed the store"
    );
}

#[test]
fn absurd_time_limits_and_concurrency_exit_2() {
    let env = Env::new("");
    let plan = env.write("plan.json", &flat_plan(1));
    let p = plan.to_str().unwrap();
    for t in [
        "9223372036854775807",
        "18446744073709551615",
        "0",
        "2592001",
    ] {
        refused(&env, &["run", "x", "--time", t, "--json"], &["--time", t]);
        refused(&env, &["run", "--plan", p, "--time", t], &["--time"]);
    }
    for n in ["100000", "0", "257"] {
        refused(
            &env,
            &["run", "x", "--concurrency", n],
            &["--concurrency", n],
        );
    }
    // A run to resume: resume's --time is bounded the same way.
    let out = env.run(&["run", "--plan", p, "--json", "--time", "2592000"]);
    assert!(matches!(code(&out), 0 | 4), "{}", stderr(&out));
    let (v, _) = env.json(&["runs", "--json"]);
    let id = v[0]["id"].as_str().unwrap().to_string();
    refused(
        &env,
        &["resume", &id, "--time", "9223372036854775807"],
        &["--time"],
    );
}

#[test]
fn nan_and_out_of_range_config_values_name_the_file_and_key() {
    let env = Env::new("");
    for (text, key) in [
        ("[engine]\nplateau_delta = nan\n", "engine.plateau_delta"),
        ("[engine]\nconcurrency = 100000\n", "engine.concurrency"),
        (
            "[engine]\ndefault_time_secs = 0\n",
            "engine.default_time_secs",
        ),
        (
            "[breaker]\ncooldown_secs = 9223372036854775807\n",
            "breaker.cooldown_secs",
        ),
    ] {
        let cfg = env.write("bad.toml", text);
        let c = cfg.to_str().unwrap();
        refused(&env, &["--config", c, "run", "x"], &[c, key]);
    }
}

#[test]
fn a_plan_with_a_dependency_cycle_is_refused_naming_the_cycle() {
    let env = Env::new("");
    let plan = env.write(
        "cycle.json",
        r#"[
          {"id": "t0", "type": "summarization", "prompt": "a"},
          {"id": "t1", "type": "summarization", "prompt": "b", "dependencies": ["t2"]},
          {"id": "t2", "type": "summarization", "prompt": "c", "dependencies": ["t1"]},
          {"id": "t3", "type": "summarization", "prompt": "d", "dependencies": ["t1"]}
        ]"#,
    );
    let p = plan.to_str().unwrap();
    // The store exists before, so "nothing stored" is checked on its tables.
    assert_eq!(code(&env.run(&["runs"])), 0);
    refused(
        &env,
        &["run", "--plan", p, "--json"],
        &["cycle.json", "t1 -> t2 -> t1"],
    );
    refused(
        &env,
        &["run", "--plan", p, "--dry-run"],
        &["t1 -> t2 -> t1"],
    );
    let (v, _) = env.json(&["runs", "--json"]);
    assert_eq!(v, serde_json::json!([]), "no run was stored");
}

/// A run stored by an older version with a time limit it should never have accepted.
fn resumable_run_with_stored_time(env: &Env, stored: i64) -> String {
    let failing = env.write(
        "failing.toml",
        "[simulated]\ntransient_failure_rate = 1.0\n",
    );
    let plan = env.write("plan.json", &flat_plan(2));
    let out = env
        .cmd()
        .arg("--config")
        .arg(&failing)
        .args(["run", "--json", "--plan"])
        .arg(&plan)
        .output()
        .unwrap();
    assert_eq!(code(&out), 7, "{}", stderr(&out));
    // The failures opened breakers: close them so the resume can call models.
    assert_eq!(code(&env.run(&["models", "reset", "--all"])), 0);
    let (v, _) = env.json(&["runs", "--json"]);
    let id = v[0]["id"].as_str().unwrap().to_string();
    let c = rusqlite::Connection::open(env.data().join("orchestrator.db")).unwrap();
    c.execute(
        "UPDATE runs SET time_limit_secs = ?1 WHERE id = ?2",
        rusqlite::params![stored, id],
    )
    .unwrap();
    id
}

#[test]
fn resuming_a_run_with_an_old_out_of_range_time_limit_neither_panics_nor_times_out() {
    // i64::MAX: `--time 9223372036854775807` of an older version; -1: its `u64::MAX`.
    for stored in [i64::MAX, -1] {
        let env = Env::new("");
        let id = resumable_run_with_stored_time(&env, stored);
        let (v, out) = env.json(&["resume", &id, "--json"]);
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{stored}: {err}");
        assert!(
            matches!(code(&out), 0 | 4),
            "{stored}: exit {}: {err}",
            code(&out)
        );
        assert!(
            matches!(v["status"].as_str(), Some("success" | "completed_degraded")),
            "{stored}: {v}"
        );
        assert!(err.contains("stored time limit"), "{stored}: {err}");
    }
}
