//! A decomposition (not a `--plan` file) whose tasks form a dependency cycle: the cycle's tasks
//! fail with the cycle named, the rest runs, and the run is not called resumable, since resuming
//! could never run those tasks; its reason says so.

use crate::support::binary::{Env, code};
use crate::support::loopback::{MockProvider, Reply};
use serde_json::Value;

const PLAN: &str = r#"{"tasks": [
  {"id": "t1", "type": "summarization", "prompt": "Summarise the text", "dependencies": [], "validators": []},
  {"id": "t2", "type": "summarization", "prompt": "Summarise t3", "dependencies": ["t3"], "validators": []},
  {"id": "t3", "type": "summarization", "prompt": "Summarise t2", "dependencies": ["t2"], "validators": []}
]}"#;

fn env(server: &MockProvider) -> Env {
    Env::new(&format!(
        "[simulated]\nenabled = \"never\"\n[providers.local]\nkind = \"openai\"\nbase_url = \"{}\"\nmodels = [\"tiny\"]\n",
        server.openai_base_url()
    ))
}

/// Run off the runtime's worker threads: the server keeps serving meanwhile.
async fn run(env: &Env, args: &[&str]) -> std::process::Output {
    let mut c = env.cmd();
    c.args(args);
    tokio::task::spawn_blocking(move || c.output().expect("run binary"))
        .await
        .unwrap()
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_cycle_fails_its_tasks_and_the_run_is_not_resumable() {
    let server = MockProvider::start().await;
    server.script(
        "tiny",
        [
            Reply::text(PLAN),
            Reply::text("A short summary of the text, with its main point."),
            Reply::text(r#"{"verdict": "accept", "defects": []}"#),
            Reply::text(r#"{"score": 0.9, "reason": "good"}"#),
        ],
    );
    let env = env(&server);
    let out = run(
        &env,
        &["run", "Summarise a text", "--json", "--concurrency", "1"],
    )
    .await;
    let v = json(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(v["status"], "partial_success", "{v}\n{stderr}");
    let task = |id: &str| {
        v["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(task("t1")["status"], "completed", "{v}");
    for id in ["t2", "t3"] {
        assert_eq!(task(id)["status"], "failed", "{v}");
    }
    // Resuming cannot run a cycle's tasks: not resumable, and the reason says why.
    assert_eq!(v["resumable"], false, "{v}");
    let reason = v["status_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("not resumable") && reason.contains("cycle"),
        "{reason}"
    );
    let id = v["id"].as_str().unwrap().to_string();

    let shown = json(&run(&env, &["show", &id, "--json"]).await);
    assert_eq!(shown["resumable"], false, "{shown}");
    let listed = json(&run(&env, &["runs", "--json"]).await);
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["resumable"], false, "{listed}");

    let text = run(&env, &["show", &id]).await;
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(!text.contains("(resumable)"), "{text}");
    assert!(text.contains("cycle"), "{text}");
    let runs = run(&env, &["runs"]).await;
    let runs = String::from_utf8_lossy(&runs.stdout);
    let line = runs.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(!line.contains(" yes "), "{runs}");
    assert_eq!(code(&out), 3, "{stderr}");

    // The TUI's run list says so too (its Resume column and `r` read `blocked`).
    let store = orchestrator_tui::store::Store::open(&env.data()).expect("store");
    let mut reader = store.read_target().open().expect("reader");
    let snap = reader
        .read(|c| orchestrator_tui::tui::data::load(c, &env.data(), &vec![], &Default::default()))
        .expect("snapshot");
    let row = snap.runs.iter().find(|r| r.id == id).expect("listed");
    assert!(row.blocked, "{row:?}");

    // `resume` says why instead of failing the same tasks again.
    let resumed = run(&env, &["resume", &id]).await;
    let err = String::from_utf8_lossy(&resumed.stderr);
    assert_eq!(code(&resumed), 2, "{err}");
    assert!(
        err.contains("not resumable") && err.contains("t2 -> t3 -> t2"),
        "{err}"
    );

    // A new run with the same description is not offered this one to resume.
    // (The tiny budget is refused at pre-flight, after the match was looked for.)
    let again = run(&env, &["run", "Summarise a text", "--budget", "0.000001"]).await;
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(!err.contains(&id), "{err}");
    assert!(!err.contains("is resumable"), "{err}");
}
