//! End-to-end runs of the real binary on the simulated providers (no keys, fresh data dir).

use crate::support::binary::*;

#[test]
fn simulated_run_succeeds_and_show_has_every_contract_field() {
    let env = Env::new("");
    let out_dir = env.dir.path().join("out");
    let (v, out) = env.json(&[
        "run",
        "Build a command-line todo app in Python with tests",
        "--budget",
        "2",
        "--json",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let status = v["status"].as_str().unwrap();
    assert!(
        status == "success" || status == "completed_degraded",
        "status {status}: {}",
        stderr(&out)
    );
    assert_eq!(code(&out), if status == "success" { 0 } else { 4 });
    let id = v["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("r-"));

    let (s, out) = env.json(&["show", &id, "--json"]);
    assert_eq!(code(&out), 0);
    for k in [
        "id",
        "status",
        "resumable",
        "description",
        "criteria",
        "team",
        "budget_usd",
        "total_cost_usd",
        "started_at",
        "finished_at",
        "output_dir",
        "tasks",
        "calls",
        "breaker_events",
    ] {
        assert!(s.get(k).is_some(), "missing {k}");
    }
    assert_eq!(s["resumable"], false);
    assert_eq!(s["budget_usd"], 2.0);
    assert!(s["team"].is_null());
    let tasks = s["tasks"].as_array().unwrap();
    assert!(tasks.len() >= 5, "{} tasks", tasks.len());
    let mut sum_tasks = 0.0;
    for t in tasks {
        for k in [
            "id",
            "type",
            "status",
            "dependencies",
            "model",
            "reviewer",
            "score",
            "threshold",
            "iterations",
            "cost_usd",
            "validators",
            "attempts",
        ] {
            assert!(t.get(k).is_some(), "task missing {k}");
        }
        let attempts = t["attempts"].as_array().unwrap();
        assert_eq!(attempts.len() as u64, t["iterations"].as_u64().unwrap());
        for a in attempts {
            for k in ["n", "model", "score", "cost_usd", "failure_reason"] {
                assert!(a.get(k).is_some(), "attempt missing {k}");
            }
        }
        // Critique by another provider than the generator.
        let model = t["model"].as_str().unwrap();
        let reviewer = t["reviewer"].as_str().unwrap();
        assert_ne!(
            provider_of(model),
            provider_of(reviewer),
            "{model} reviewed by {reviewer}"
        );
        sum_tasks += t["cost_usd"].as_f64().unwrap();
    }
    // total includes decomposition, so it is at least the tasks' sum.
    let total = s["total_cost_usd"].as_f64().unwrap();
    assert!(total + 1e-9 >= sum_tasks && total > 0.0 && total <= 2.0);
    assert!(s["calls"].as_u64().unwrap() > tasks.len() as u64);

    // Outputs written.
    assert!(out_dir.join("summary.json").is_file());
    assert!(out_dir.join("README.md").is_file());
    assert!(out_dir.join("tasks").read_dir().unwrap().count() >= tasks.len());

    // runs --json lists it, newest first, with the contract fields.
    let (r, _) = env.json(&["runs", "--json"]);
    let row = &r.as_array().unwrap()[0];
    assert_eq!(row["id"], id.as_str());
    for k in [
        "id",
        "status",
        "resumable",
        "description",
        "team",
        "total_cost_usd",
        "tasks_done",
        "tasks_total",
        "updated_at",
    ] {
        assert!(row.get(k).is_some(), "runs missing {k}");
    }
    assert_eq!(row["tasks_done"], row["tasks_total"]);
    // Every run records the machine and user that started it (issue 19), in `runs` and `show`.
    let me = orchestrator_tui::store::owner::Owner::current();
    assert_eq!(row["host"], me.host.as_str());
    assert_eq!(row["user"], orchestrator_tui::store::owner::os_user());
    let (shown, _) = env.json(&["show", id.as_str(), "--json"]);
    assert_eq!(shown["host"], me.host.as_str());
    assert_eq!(shown["user"], row["user"]);
}

fn provider_of(model: &str) -> &'static str {
    if model.starts_with("claude") {
        "anthropic"
    } else if model.starts_with("gpt") {
        "openai"
    } else if model.starts_with("gemini") {
        "google"
    } else if model.starts_with("kimi") {
        "kimi"
    } else {
        "deepseek"
    }
}

#[test]
fn all_calls_failing_is_system_failure_exit_7() {
    let env = Env::new("[simulated]\ntransient_failure_rate = 1.0\n");
    let (v, out) = env.json(&["run", "Build a todo app", "--json"]);
    assert_eq!(code(&out), 7, "{}", stderr(&out));
    assert_eq!(v["status"], "system_failure");
    assert_eq!(v["resumable"], true);
    assert!(v["breaker_events"].as_array().unwrap().len() >= 3);
}

#[test]
fn plan_file_runs_without_decomposition() {
    let env = Env::new("");
    let plan = env.write("plan.json", &flat_plan(6));
    let (v, out) = env.json(&[
        "run",
        "--plan",
        plan.to_str().unwrap(),
        "--json",
        "--concurrency",
        "4",
    ]);
    assert!(matches!(code(&out), 0 | 4), "{}", stderr(&out));
    assert_eq!(v["tasks"].as_array().unwrap().len(), 6);
    // No decomposition call: every call belongs to a task.
    let per_task: u64 = v["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["attempts"].as_array().unwrap().len() as u64)
        .sum();
    assert!(per_task >= 6);
}

#[test]
fn bad_inputs_exit_2_with_one_line_and_change_nothing() {
    let env = Env::new("");
    // Seed the store with one run so "nothing changed" is meaningful.
    let plan = env.write("plan.json", &flat_plan(1));
    let out = env.run(&["run", "--plan", plan.to_str().unwrap(), "--json"]);
    assert!(matches!(code(&out), 0 | 4));
    let before = table_counts(&env.data());

    let bad_cfg = env.write("bad.toml", "[engine]\nconcurrency = \"lots\"\n");
    let unknown_key = env.write("unknown.toml", "[engine]\nspeed = 3\n");
    let bad_plan = env.write(
        "badplan.json",
        "[{\"id\": \"a\", \"type\": \"poetry\", \"prompt\": \"x\"}]",
    );
    let garbage_plan = env.write("garbage.json", "this is not json");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--config".into(),
                bad_cfg.display().to_string(),
                "runs".into(),
            ],
            "engine.concurrency",
        ),
        (
            vec![
                "--config".into(),
                unknown_key.display().to_string(),
                "runs".into(),
            ],
            "speed",
        ),
        (
            vec!["show".into(), "r-nope00".into(), "--json".into()],
            "r-nope00",
        ),
        (vec!["run".into(), "   ".into()], "empty"),
        (
            vec![
                "run".into(),
                "--plan".into(),
                bad_plan.display().to_string(),
            ],
            "badplan.json",
        ),
        (
            vec![
                "run".into(),
                "--plan".into(),
                garbage_plan.display().to_string(),
            ],
            "garbage.json",
        ),
        (
            vec!["run".into(), "x".into(), "--budget".into(), "0".into()],
            "--budget",
        ),
        (vec!["resume".into(), "r-nope00".into()], "r-nope00"),
        (
            vec![
                "run".into(),
                "x".into(),
                "--strategy".into(),
                "fastest".into(),
            ],
            "fastest",
        ),
    ];
    for (args, needle) in cases {
        let mut cmd = env.cmd();
        // A later --config overrides the env's default one.
        let out = cmd.args(&args).output().unwrap();
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: stdout not empty");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert_eq!(
            table_counts(&env.data()),
            before,
            "{args:?} changed the store"
        );
    }
}

#[test]
fn unwritable_data_dir_is_bad_input() {
    let env = Env::new("");
    let file = env.write("not-a-dir", "x");
    let out = std::process::Command::new(BIN)
        .arg("--data-dir")
        .arg(file.join("sub"))
        .arg("runs")
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("not-a-dir"), "{}", stderr(&out));
}

#[test]
fn config_print_default_is_valid_and_commented() {
    let env = Env::new("");
    let out = env.run(&["config", "print-default"]);
    assert_eq!(code(&out), 0);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("# ") && text.contains("[engine]") && text.contains("[simulated]"));
    let p = env.write("printed.toml", &text);
    let out = env
        .cmd()
        .arg("--config")
        .arg(&p)
        .arg("runs")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}
