//! Context windows through the real binary and a loopback OpenAI-compatible server (issue 16 §4):
//! a huge dependency output is cut so that no request exceeds the model's window; a llama.cpp
//! "exceeds the available context size" 400 is a `context_overflow` call, shrunk and retried on
//! the same model, not a breaker strike; the window of a listed model is asked of the server.

use crate::support::binary::{Env, code};
use crate::support::loopback::{MockProvider, Recorded, Reply};
use orchestrator_tui::engine::fit::input_tokens;
use serde_json::Value;

fn env(server: &MockProvider, extra: &str) -> Env {
    Env::new(&format!(
        "[simulated]\nenabled = \"never\"\n[routing]\nexplore_rate = 0.0\n\
         [providers.local]\nkind = \"openai\"\nbase_url = \"{}\"\nmodels = [\"tiny\"]\n{extra}",
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
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (v, out)
}

/// (system, user, max_tokens) of a recorded chat request.
fn parts(r: &Recorded) -> (String, String, u64) {
    let msgs = r.body["messages"].as_array().cloned().unwrap_or_default();
    let text = |role: &str| {
        msgs.iter()
            .filter(|m| m["role"] == role)
            .filter_map(|m| m["content"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let max = r.body["max_tokens"]
        .as_u64()
        .or_else(|| r.body["max_completion_tokens"].as_u64())
        .expect("max_tokens sent");
    (text("system"), text("user"), max)
}

/// Tokens the request may take of the window, as the engine counts them (with its margin).
fn needs(r: &Recorded) -> u64 {
    let (system, user, max) = parts(r);
    input_tokens(Some(&system), &user) + max
}

fn outcomes(env: &Env) -> Vec<String> {
    let db = rusqlite::Connection::open(env.data().join("orchestrator.db")).unwrap();
    let mut st = db
        .prepare("SELECT outcome FROM calls ORDER BY rowid")
        .unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

const ACCEPT: &str = r#"{"verdict": "accept", "defects": []}"#;
const SCORE: &str = r#"{"score": 0.9, "reason": "fine"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_dependency_output_is_cut_so_no_request_exceeds_the_window() {
    let server = MockProvider::start().await;
    // t1 answers 60 000 characters; t2 depends on it.
    let huge = format!("HEAD-OF-OUTPUT\n{}\nTAIL-OF-OUTPUT", "word ".repeat(12_000));
    server.script(
        "tiny",
        [
            Reply::text(&huge),
            Reply::text(ACCEPT),
            Reply::text(SCORE),
            Reply::text("the summary"),
            Reply::text(ACCEPT),
            Reply::text(SCORE),
        ],
    );
    let env = env(
        &server,
        "[engine]\ncontext_chars_per_dependency = 100000\n\
         [[models]]\nid = \"tiny\"\nprovider = \"local\"\ncontext_window = 2048\n",
    );
    let plan = env.write(
        "plan.json",
        r#"[{"id": "t1", "type": "creative_writing", "prompt": "Write a long text", "max_iterations": 1},
            {"id": "t2", "type": "summarization", "prompt": "Summarise the text", "dependencies": ["t1"], "max_iterations": 1}]"#,
    );
    let (v, out) = run_json(
        &env,
        &[
            "run",
            "summarise",
            "--plan",
            plan.to_str().unwrap(),
            "--json",
            "--concurrency",
            "1",
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(code(&out), 0 | 4), "{stderr}\n{v}");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 6, "{stderr}");
    for r in &reqs {
        assert!(
            needs(r) <= 2048,
            "a request needs {} of 2048 tokens",
            needs(r)
        );
    }
    // t1's critique and evaluation carried its output cut head+tail; so did t2's prompt.
    let (_, t2_prompt, _) = parts(&reqs[3]);
    assert!(t2_prompt.contains("Summarise the text"), "{t2_prompt}");
    for (i, r) in [(1, &reqs[1]), (2, &reqs[2]), (3, &reqs[3])] {
        let (_, user, _) = parts(r);
        assert!(user.contains("HEAD-OF-OUTPUT"), "request {i}");
        assert!(user.contains("TAIL-OF-OUTPUT"), "request {i}");
        assert!(user.contains("characters omitted"), "request {i}");
        assert!(user.len() < huge.len() / 4, "request {i}: {}", user.len());
    }
    // The configured window is used: the server is not asked.
    assert!(server.discovery_requests().is_empty());
    assert!(outcomes(&env).iter().all(|o| o == "ok"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_overflow_shrinks_the_request_and_retries_on_the_same_model() {
    let server = MockProvider::start().await;
    // The window as llama.cpp reports it (8192 per slot), but the server refuses the first
    // request as over a 1024-token context.
    server.serve_discovery(
        "/props",
        200,
        r#"{"default_generation_settings": {"n_ctx": 8192}, "total_slots": 4}"#,
    );
    let overflow = r#"{"error":{"code":400,"message":"request (1100 tokens) exceeds the available context size (1024 tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":1100,"n_ctx":1024}}"#;
    server.script(
        "tiny",
        [
            Reply::status(400, overflow),
            Reply::text("the summary"),
            Reply::text(ACCEPT),
            Reply::text(SCORE),
        ],
    );
    let env = env(&server, "");
    let plan = env.write(
        "plan.json",
        r#"[{"id": "t1", "type": "summarization", "prompt": "Summarise it", "max_iterations": 1}]"#,
    );
    let (v, out) = run_json(
        &env,
        &[
            "run",
            "summarise",
            "--plan",
            plan.to_str().unwrap(),
            "--json",
            "--concurrency",
            "1",
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 0, "{stderr}\n{v}");
    assert_eq!(v["status"], "success", "{v}");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 4, "{stderr}");
    // The first request was fitted to the discovered 8192 tokens, the retry to the 1024 the
    // error named, and every later call remembers it.
    assert!(needs(&reqs[0]) <= 8192);
    assert!(needs(&reqs[0]) > 1024, "{}", needs(&reqs[0]));
    for r in &reqs[1..] {
        assert!(needs(r) <= 1024, "{}", needs(r));
    }
    assert_eq!(
        parts(&reqs[0]).1,
        parts(&reqs[1]).1,
        "same prompt, less output"
    );
    // Discovery asked llama.cpp's /props once, at the server root.
    let d = server.discovery_requests();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(
        (d[0].method.as_str(), d[0].path.as_str()),
        ("GET", "/props")
    );
    // The overflow is its own outcome, and no breaker strike.
    assert_eq!(outcomes(&env), ["context_overflow", "ok", "ok", "ok"]);
    let db = rusqlite::Connection::open(env.data().join("orchestrator.db")).unwrap();
    let breaker: Option<String> = db
        .query_row(
            "SELECT breaker_after FROM calls ORDER BY rowid LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(breaker.as_deref(), Some("closed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_overflow_falls_back_and_a_prompt_too_large_for_every_window_fails_clearly() {
    let server = MockProvider::start().await;
    let overflow = r#"{"error":{"code":400,"message":"request exceeds the available context size, try increasing it","type":"exceed_context_size_error"}}"#;
    server.script("tiny", [Reply::status(400, overflow)]);
    let env = env(
        &server,
        "[[models]]\nid = \"tiny\"\nprovider = \"local\"\ncontext_window = 4096\n",
    );
    let plan = env.write(
        "plan.json",
        r#"[{"id": "t1", "type": "summarization", "prompt": "Summarise it", "max_iterations": 1}]"#,
    );
    let (v, out) = run_json(
        &env,
        &[
            "run",
            "summarise",
            "--plan",
            plan.to_str().unwrap(),
            "--json",
            "--concurrency",
            "1",
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(code(&out), 0, "{v}");
    // Two tries on the one model (the second fitted to 3/4 of the window), then nothing left.
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "{stderr}");
    assert!(needs(&reqs[1]) <= 3072, "{}", needs(&reqs[1]));
    assert_eq!(outcomes(&env), ["context_overflow", "context_overflow"]);
    assert!(
        stderr.contains("context window exceeded")
            || v.to_string().contains("context window exceeded"),
        "{stderr}\n{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_refusing_long_prompts_gets_a_shrunk_one_and_the_run_succeeds() {
    use crate::support::loopback::prompt_chars;
    let server = MockProvider::start().await;
    // No window configured and none discovered (every discovery route 404s): the engine
    // assumes 32768 tokens; the server refuses any prompt over 8192 characters as over 2048
    // tokens (this text runs 4 characters a token).
    const MAX_CHARS: usize = 8192;
    server.limit_context(
        "tiny",
        MAX_CHARS,
        r#"{"error":{"code":400,"message":"request (3100 tokens) exceeds the available context size (2048 tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":3100,"n_ctx":2048}}"#,
    );
    let huge = format!("BEGIN\n{}\nEND", "word ".repeat(4_000));
    server.script(
        "tiny",
        [
            Reply::text(&huge),
            Reply::text(ACCEPT),
            Reply::text(SCORE),
            Reply::text("the summary"),
            Reply::text(ACCEPT),
            Reply::text(SCORE),
        ],
    );
    let env = env(&server, "[engine]\ncontext_chars_per_dependency = 100000\n");
    let plan = env.write(
        "plan.json",
        r#"[{"id": "t1", "type": "creative_writing", "prompt": "Write a long text", "max_iterations": 1},
            {"id": "t2", "type": "summarization", "prompt": "Summarise the text", "dependencies": ["t1"], "max_iterations": 1}]"#,
    );
    let (v, out) = run_json(
        &env,
        &[
            "run",
            "summarise",
            "--plan",
            plan.to_str().unwrap(),
            "--json",
            "--concurrency",
            "1",
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 0, "{stderr}\n{v}");
    assert_eq!(v["status"], "success", "{v}");
    let sizes: Vec<usize> = server
        .requests()
        .iter()
        .map(|r| prompt_chars(&r.body))
        .collect();
    // t1's generation fits; its critique (carrying the 20 000-character output) is refused once,
    // then sent shrunk; from then on every request fits the learned 2048 tokens.
    let outcomes = outcomes(&env);
    assert_eq!(
        outcomes,
        ["ok", "context_overflow", "ok", "ok", "ok", "ok", "ok"],
        "{sizes:?}"
    );
    assert!(sizes[1] > MAX_CHARS, "{sizes:?}");
    for (i, s) in sizes.iter().enumerate().skip(2) {
        assert!(*s <= MAX_CHARS, "request {i}: {s} characters ({sizes:?})");
    }
    for r in &server.requests()[2..] {
        assert!(needs(r) <= 2048, "{}", needs(r));
    }
    assert_eq!(server.discovery_requests().len(), 3, "asked once, in vain");
}
