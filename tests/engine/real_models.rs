//! A run whose only provider is one small model behind an OpenAI-compatible server (issue 16):
//! it gets past planning when the model gives no usable task list, is scored by that same model
//! (said in JSON), and makes no revision call when the critique accepts the output.
//!
//! The loopback server answers the one model's calls in order; with one task and concurrency 1
//! the order is fixed: decompose, decompose again (stricter prompt), generate, critique,
//! [revise,] evaluate.

use crate::support::binary::{Env, code};
use crate::support::loopback::{MockProvider, Reply};
use serde_json::Value;

const CODE: &str = "```python\ndef reverse(s):\n    return s[::-1]\n\n\ndef test_reverse():\n    assert reverse(\"ab\") == \"ba\"\n```\n";

fn env(server: &MockProvider) -> Env {
    Env::new(&format!(
        "[simulated]\nenabled = \"never\"\n[providers.local]\nkind = \"openai\"\nbase_url = \"{}\"\nmodels = [\"tiny\"]\n",
        server.openai_base_url()
    ))
}

/// Run off the runtime's worker threads: the server keeps serving meanwhile.
async fn run_json(env: &Env, args: &[&str]) -> (Value, std::process::Output) {
    let mut c = env.cmd();
    c.args(args);
    let out = tokio::task::spawn_blocking(move || c.output().expect("run binary"))
        .await
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out)
}

fn roles(server: &MockProvider) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| {
            let system = r.body["messages"][0]["content"].as_str().unwrap_or("");
            let user = r.body["messages"]
                .as_array()
                .and_then(|m| m.last())
                .and_then(|m| m["content"].as_str())
                .unwrap_or("");
            if system.contains("planning engine") {
                "decompose"
            } else if system.contains("strict reviewer") {
                "critique"
            } else if system.contains("evaluator") {
                "evaluate"
            } else if user.contains("REVIEWER CRITIQUE") {
                "revise"
            } else {
                "generate"
            }
            .to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_without_a_usable_plan_still_runs_the_description_as_one_task() {
    let server = MockProvider::start().await;
    server.script(
        "tiny",
        [
            Reply::text("Sure! Here is how I would approach it: first, think."),
            Reply::text("1. write the function 2. test it"),
            Reply::text(CODE),
            Reply::text(r#"{"verdict": "accept", "defects": []}"#),
            Reply::text(r#"{"score": 0.9, "reason": "correct and tested"}"#),
        ],
    );
    let env = env(&server);
    let (v, out) = run_json(
        &env,
        &[
            "run",
            "Write a Python function that reverses a string, with a test",
            "--json",
            "--concurrency",
            "1",
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 0, "{stderr}");
    assert_eq!(v["status"], "success", "{v}");
    assert_eq!(v["plan_fallback"], true);
    let tasks = v["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["type"], "code_generation");
    assert!(
        tasks[0]["prompt"]
            .as_str()
            .unwrap()
            .starts_with("Write a Python function")
    );
    assert!(
        stderr.contains("running the description as one code_generation task"),
        "{stderr}"
    );
    // The accepted critique means no revision call.
    assert_eq!(
        roles(&server),
        ["decompose", "decompose", "generate", "critique", "evaluate"]
    );
    // The second decomposition asked more strictly.
    let second = &server.requests()[1].body["messages"];
    let last = second.as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap();
    assert!(last.contains("not a usable task list"), "{last}");
    // Scored by the one model there is, and said so.
    let attempt = &tasks[0]["attempts"][0];
    assert_eq!(attempt["self_evaluated"], true, "{attempt}");
    assert_eq!(attempt["evaluator"], "tiny");
    assert_eq!(attempt["score"], 0.9);
    assert_eq!(attempt["critique"], "VERDICT: OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_with_unknown_dependencies_keeps_its_tasks_and_out_of_range_scores_are_noted() {
    let server = MockProvider::start().await;
    server.script(
        "tiny",
        [
            Reply::text(
                r#"{"tasks": [{"id": "t1", "type": "summarization", "prompt": "Summarise the text",
                  "dependencies": ["t7"], "validators": []}]}"#,
            ),
            Reply::text("A short summary of the text."),
            Reply::text(r#"{"verdict": "revise", "defects": ["too short"]}"#),
            Reply::text("A longer summary of the text, with its main point."),
            Reply::text(r#"{"score": 9, "reason": "good"}"#),
        ],
    );
    let env = env(&server);
    let (v, out) = run_json(
        &env,
        &["run", "Summarise a text", "--json", "--concurrency", "1"],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 0, "{stderr}");
    assert_eq!(v["plan_fallback"], false);
    assert!(
        stderr.contains("unknown or self dependency `t7` dropped"),
        "{stderr}"
    );
    assert_eq!(
        roles(&server),
        ["decompose", "generate", "critique", "revise", "evaluate"]
    );
    let attempt = &v["tasks"][0]["attempts"][0];
    assert_eq!(attempt["score"], 0.9);
    assert_eq!(
        attempt["score_note"], "the evaluator gave 9: read as 9/10",
        "{attempt}"
    );
    assert_eq!(attempt["critique"], "VERDICT: REVISE\n- too short");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_model_never_answers_is_still_a_system_failure() {
    let server = MockProvider::start().await;
    server.set_default(Reply::status(401, r#"{"error": {"message": "bad key"}}"#));
    let env = env(&server);
    let (v, out) = run_json(&env, &["run", "Write a Python function", "--json"]).await;
    assert_ne!(code(&out), 0);
    assert_eq!(v["status"], "system_failure", "{v}");
    assert_eq!(v["plan_fallback"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_equally_scored_attempt_without_code_does_not_replace_one_with_checked_code() {
    let server = MockProvider::start().await;
    let accept = r#"{"verdict": "accept", "defects": []}"#;
    let half = r#"{"score": 0.5, "reason": "partly"}"#;
    server.script(
        "tiny",
        [
            Reply::text(CODE),
            Reply::text(accept),
            Reply::text(half),
            Reply::text("I would write a function that reverses the string."),
            Reply::text(accept),
            Reply::text(half),
        ],
    );
    let env = env(&server);
    let plan = env.write(
        "plan.json",
        r#"[{"id": "t1", "type": "code_generation", "prompt": "Reverse a string in Python", "max_iterations": 2}]"#,
    );
    let out_dir = env.dir.path().join("out");
    let (v, out) = run_json(
        &env,
        &[
            "run",
            "--plan",
            plan.to_str().unwrap(),
            "reverse",
            "--json",
            "--out",
            out_dir.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(code(&out), 4, "{}", String::from_utf8_lossy(&out.stderr));
    let attempts = v["tasks"][0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{v}");
    assert_eq!(attempts[0]["validators"][0]["name"], "syntax:python");
    assert_eq!(attempts[1]["validators"][0]["result"], "skipped");
    // The task's result is the attempt with the checked code, written as Python.
    assert!(out_dir.join("tasks/t1.py").is_file(), "{v}");
    assert!(!out_dir.join("tasks/t1.md").exists());
}
