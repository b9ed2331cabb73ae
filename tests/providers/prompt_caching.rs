//! Prompt caching and reasoning controls against the loopback server (issue 17 §4 and §6).
//!
//! The real binary runs a two-task plan (`b` depends on `a`) on one Anthropic-format model priced
//! in the config. `a`'s answer is long, so `b`'s generation and revision start with ~1,700 tokens
//! of dependency context: above the model's 1,024-token minimum, they carry a `cache_control`
//! breakpoint; `a`'s calls (no context, short system prompts) carry none. The server reports cache
//! reads and writes; every call must cost exactly its priced sum, and a call whose usage is
//! refused is charged its held worst case, which prices the input at the cache-write rate only
//! when the request asked for caching.

use crate::support::binary::{BIN, code};
use crate::support::loopback::clients::{KEY, client, req};
use crate::support::loopback::{Format, MockProvider, MockUsage, Recorded, Reply};
use orchestrator_tui::providers::{Provider, WireFormat};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};
use tokio_util::sync::CancellationToken;

/// Prices of the test model, USD per million tokens.
const INPUT: f64 = 3.0;
const CACHED: f64 = 0.3;
const WRITE: f64 = 3.75;
const OUTPUT: f64 = 15.0;

/// Micro-USD of `tokens` at `price` per million, rounded up (how each term is charged).
fn micros(tokens: i64, price: f64) -> i64 {
    (tokens as f64 * price).ceil() as i64
}

/// One reply for every role: a JSON evaluation whose `reason` makes the generated output long.
fn long_reply() -> String {
    let reason = "the dependency output is long and shared ".repeat(160);
    serde_json::json!({"score": 0.95, "reason": reason}).to_string()
}

const GOOD: MockUsage = MockUsage {
    input: 200,
    cached: 100,
    output: 20,
    reasoning: 0,
};
const GOOD_WRITES: u64 = 50;

struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    /// A plan of two tasks on one model `id` (configured by `model_toml`) of provider `lab`.
    fn new(kind: &str, base_url: &str, id: &str, model_toml: &str, extra: &str) -> Dir {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            r#"
[providers.lab]
kind = "{kind}"
base_url = "{base_url}"
api_key = "{KEY}"
models = ["{id}"]

{model_toml}

[simulated]
enabled = "never"
[routing]
explore_rate = 0.0
[engine]
concurrency = 1
[retry]
backoff_base_ms = 1
backoff_cap_ms = 2
{extra}
"#
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        std::fs::write(
            dir.path().join("plan.json"),
            r#"[{"id": "a", "type": "summarization", "prompt": "Summarise A", "max_iterations": 1},
               {"id": "b", "type": "summarization", "prompt": "Summarise B", "dependencies": ["a"],
                "max_iterations": 1}]"#,
        )
        .unwrap();
        Dir { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.path("data").join("orchestrator.db")).unwrap()
    }

    fn one(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    async fn bin(&self, args: &[&str]) -> Output {
        let mut c = Command::new(BIN);
        for k in [
            "ANTHROPIC_API_KEY",
            "OPENAI_API_KEY",
            "ORCHESTRATOR_CONFIG",
            "ORCHESTRATOR_DATA_DIR",
        ] {
            c.env_remove(k);
        }
        c.arg("--data-dir")
            .arg(self.path("data"))
            .arg("--config")
            .arg(self.path("config.toml"))
            .args(args);
        tokio::task::spawn_blocking(move || c.output().expect("run binary"))
            .await
            .unwrap()
    }

    async fn run(&self) -> Value {
        let plan = self.path("plan.json").display().to_string();
        let out = self
            .bin(&["run", "--plan", &plan, "--budget", "1", "--json"])
            .await;
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert_eq!(
            v["status"],
            "success",
            "exit {}: {}\ncalls: {:?}\n{v}",
            code(&out),
            String::from_utf8_lossy(&out.stderr),
            self.calls()
        );
        v
    }

    /// (role, task, outcome, input, cached, cache writes, output, reasoning, cost) per call.
    #[allow(clippy::type_complexity)]
    fn calls(&self) -> Vec<(String, String, String, i64, i64, i64, i64, i64, i64)> {
        let c = self.db();
        let mut st = c
            .prepare(
                "SELECT role, COALESCE(task_id, ''), outcome, input_tokens, cached_tokens,
                    cache_write_tokens, output_tokens, reasoning_tokens, cost_micros
                 FROM calls ORDER BY id",
            )
            .unwrap();
        st.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }
}

fn has_context(r: &Recorded) -> bool {
    r.raw_body.contains("DEPENDENCY OUTPUT")
}

/// The marked block of a request: the system prompt or the first user content block.
fn marked(r: &Recorded) -> Vec<String> {
    let mut out = Vec::new();
    if r.body["system"][0]["cache_control"]["type"] == "ephemeral" {
        out.push("system".to_string());
    }
    if let Some(blocks) = r.body["messages"][0]["content"].as_array() {
        for b in blocks {
            if b["cache_control"]["type"] == "ephemeral" {
                out.push(b["text"].as_str().unwrap_or("").to_string());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_run_marks_shared_context_and_costs_exactly_the_priced_sum() {
    let server = MockProvider::start().await;
    let good = Reply::text(&long_reply())
        .usage(GOOD)
        .cache_write(GOOD_WRITES);
    // Output far above any max_tokens: usage the request could not have produced.
    let refused = Reply::text("x").usage(MockUsage {
        output: 10_000_000,
        ..GOOD
    });
    // a: generate (refused, retried), critique, revise, evaluate; b: generate (refused,
    // retried), then good answers (the script's last reply repeats).
    server.script(
        "lab-model",
        [
            refused.clone(),
            good.clone(),
            good.clone(),
            good.clone(),
            good.clone(),
            refused,
            good,
        ],
    );
    let model = format!(
        "[[models]]\nid = \"lab-model\"\nprovider = \"lab\"\ninput = {INPUT}\ncached_input = {CACHED}\n\
         output = {OUTPUT}\ncache_write = {WRITE}\nquality = 0.9\ncontext_window = 200000\n"
    );
    // The model id carries no Claude name, so the minimum is the default 1,024 tokens.
    let d = Dir::new("anthropic", &server.base_url(), "lab-model", &model, "");
    let v = d.run().await;

    // Breakpoints: on exactly the requests that start with the dependency context, after it.
    let reqs: Vec<Recorded> = server
        .requests()
        .into_iter()
        .filter(|r| r.format == Some(Format::Anthropic))
        .collect();
    let with_context: Vec<&Recorded> = reqs.iter().filter(|r| has_context(r)).collect();
    assert!(
        with_context.len() >= 3,
        "b's generation (twice) and revision: {}",
        with_context.len()
    );
    for r in &reqs {
        let marks = marked(r);
        if has_context(r) {
            assert_eq!(marks.len(), 1, "{}", r.raw_body);
            assert!(
                marks[0].starts_with("<<<DEPENDENCY OUTPUT a>>>"),
                "{}",
                marks[0]
            );
            assert!(
                marks[0].ends_with("<<<END DEPENDENCY OUTPUT>>>\n"),
                "{}",
                marks[0]
            );
            let rest = r.body["messages"][0]["content"][1]["text"]
                .as_str()
                .unwrap();
            assert!(rest.starts_with("Task:\n") || rest.contains("Task:\nSummarise B"));
        } else {
            assert!(
                marks.is_empty(),
                "no context, nothing marked: {}",
                r.raw_body
            );
            assert!(!r.raw_body.contains("cache_control"));
        }
    }
    // The context is byte for byte the same in every request that carries it (cache hits).
    let first = marked(with_context[0]);
    assert!(with_context.iter().all(|r| marked(r) == first));

    // Costs: every answered call at its priced sum; the refused ones at their held worst case,
    // whose input is priced at the write rate exactly when the request carried a breakpoint.
    let per_call = micros(GOOD.input as i64, INPUT)
        + micros(GOOD.cached as i64, CACHED)
        + micros(GOOD_WRITES as i64, WRITE)
        + micros(GOOD.output as i64, OUTPUT);
    assert_eq!(per_call, 600 + 30 + 188 + 300);
    let calls = d.calls();
    let mut total = 0;
    let mut refused_seen = Vec::new();
    for (role, task, outcome, input, cached, writes, output, reasoning, cost) in &calls {
        total += cost;
        if outcome == "malformed_usage" {
            // The held usage is recorded: the input tokens and max_tokens the hold assumed.
            let write_priced = task == "b";
            let in_price = if write_priced { WRITE } else { INPUT };
            assert_eq!(
                *cost,
                micros(*input, in_price) + micros(*output, OUTPUT),
                "{task} {role}: worst case with input at {in_price}"
            );
            assert!(*cost > micros(*input, INPUT) + micros(*output, OUTPUT) || !write_priced);
            refused_seen.push(task.clone());
            continue;
        }
        assert_eq!(outcome, "ok", "{task} {role}");
        assert_eq!(
            (*input, *cached, *writes, *output, *reasoning),
            (200, 100, 50, 20, 0),
            "{task} {role}: the reported counts are recorded"
        );
        assert_eq!(*cost, per_call, "{task} {role}");
    }
    assert_eq!(refused_seen, vec!["a", "b"], "{calls:?}");
    let answered = calls.len() as i64 - 2;
    let spent = d.one("SELECT spent_micros FROM runs");
    let org = d.one("SELECT spent_micros FROM budget_levels WHERE level = 'org'");
    assert_eq!((spent, org), (total, total));
    assert!((v["total_cost_usd"].as_f64().unwrap() - total as f64 / 1e6).abs() < 1e-12);

    // `show --json` reports the cache tokens and the saving: 350 input tokens at $3 = 1050
    // micros against 600 + 30 + 188 = 818 paid, per answered call.
    let id = v["id"].as_str().unwrap().to_string();
    let out = d.bin(&["show", &id, "--json"]).await;
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["cached_tokens"], answered * 100);
    assert_eq!(s["cache_write_tokens"], answered * 50);
    let saving = s["cache_saving_usd"].as_f64().unwrap();
    assert!(
        (saving - (answered * (1050 - 818)) as f64 / 1e6).abs() < 1e-12,
        "{saving}"
    );
    assert_eq!(s["total_cost_usd"], v["total_cost_usd"]);
    let text = d.bin(&["show", &id]).await;
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!(
            "prompt cache: {} tokens read, {} written, saved ${:.4}",
            answered * 100,
            answered * 50,
            saving
        )),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_cached_and_reasoning_tokens_are_priced_and_effort_is_sent() {
    let server = MockProvider::start().await;
    let usage = MockUsage {
        input: 200,
        cached: 100,
        output: 20,
        reasoning: 30,
    };
    server.set_default(Reply::text(&long_reply()).usage(usage));
    let model = "[[models]]\nid = \"lab-model\"\nprovider = \"lab\"\ninput = 2.0\n\
                 cached_input = 0.5\noutput = 8.0\nquality = 0.9\nreasoning = true\n";
    let d = Dir::new(
        "openai",
        &server.openai_base_url(),
        "lab-model",
        model,
        "[task_types.summarization]\nreasoning_effort = \"low\"\n",
    );
    let v = d.run().await;
    // prompt_tokens 300 (100 cached) and completion_tokens 50 (30 reasoning):
    // 200 x $2 + 100 x $0.50 + (20 + 30) x $8.
    let per_call = 400 + 50 + 400;
    let calls = d.calls();
    assert!(calls.len() >= 8, "{calls:?}");
    for (role, task, outcome, input, cached, writes, output, reasoning, cost) in &calls {
        assert_eq!(outcome, "ok", "{task} {role}");
        assert_eq!(
            (*input, *cached, *writes, *output, *reasoning),
            (200, 100, 0, 20, 30)
        );
        assert_eq!(*cost, per_call, "{task} {role}");
    }
    let total = per_call * calls.len() as i64;
    assert_eq!(d.one("SELECT spent_micros FROM runs"), total);
    assert!((v["total_cost_usd"].as_f64().unwrap() - total as f64 / 1e6).abs() < 1e-12);
    // Saving: 100 cached tokens at $0.50 instead of $2.
    let id = v["id"].as_str().unwrap().to_string();
    let s: Value = serde_json::from_slice(&d.bin(&["show", &id, "--json"]).await.stdout).unwrap();
    let saving = s["cache_saving_usd"].as_f64().unwrap();
    assert!(
        (saving - (150 * calls.len()) as f64 / 1e6).abs() < 1e-12,
        "{saving}"
    );
    assert_eq!(s["cache_write_tokens"], 0);

    // reasoning_effort goes with the summarization calls (generate, revise), not with the
    // critique (code_review) or the evaluation, which have no setting; no cache_control ever.
    let reqs = server.requests();
    let mut efforts = 0;
    for r in &reqs {
        let system = r.body["messages"][0]["content"].as_str().unwrap_or("");
        let generator = system.contains("performing a summarization task");
        if generator {
            assert_eq!(r.body["reasoning_effort"], "low", "{}", r.raw_body);
            efforts += 1;
        } else {
            assert!(r.body.get("reasoning_effort").is_none(), "{}", r.raw_body);
        }
        assert!(!r.raw_body.contains("cache_control"));
    }
    assert!(efforts >= 4, "{efforts}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_client_marks_only_prefixes_above_the_models_minimum() {
    let server = MockProvider::start().await;
    server.set_default(Reply::text("ok"));
    let p = client(&server, WireFormat::Anthropic, false);
    // ~1,250 tokens of shared context (5,000 ASCII bytes at 4 a token).
    let context = "c".repeat(5000);
    for (model, marked_expected) in [
        ("claude-sonnet-4-6", true), // minimum 1,024
        ("claude-opus-4-5", false),  // minimum 4,096
        ("claude-haiku-4-5", false), // minimum 4,096
    ] {
        let mut r = req(model);
        r.messages[0].content = format!("{context}Task:\ngo");
        r.shared_prefix = context.len();
        p.chat(&r, &CancellationToken::new()).await.unwrap();
        let body = server.last_request().body;
        let content = &body["messages"][0]["content"];
        if marked_expected {
            assert_eq!(content[0]["cache_control"]["type"], "ephemeral", "{model}");
            assert_eq!(content[0]["text"].as_str().unwrap().len(), 5000);
            assert_eq!(content[1]["text"], "Task:\ngo");
        } else {
            assert_eq!(
                content,
                &Value::String(r.messages[0].content.clone()),
                "{model}"
            );
        }
    }
    // A prompt without a shared prefix is never split, however long.
    let mut r = req("claude-sonnet-4-6");
    r.messages[0].content = "d".repeat(20_000);
    p.chat(&r, &CancellationToken::new()).await.unwrap();
    assert!(server.last_request().body["messages"][0]["content"].is_string());

    // Thinking: the budget goes as `thinking`, and the temperature is left out.
    let mut r = req("claude-sonnet-4-6");
    r.max_tokens = 5000;
    r.reasoning.thinking_budget = Some(2048);
    p.chat(&r, &CancellationToken::new()).await.unwrap();
    let body = server.last_request().body;
    assert_eq!(
        body["thinking"],
        serde_json::json!({"type": "enabled", "budget_tokens": 2048})
    );
    assert!(body.get("temperature").is_none());
    assert_eq!(body["max_tokens"], 5000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_thinking_budget_raises_max_tokens_and_thinking_is_billed_as_output() {
    let server = MockProvider::start().await;
    // Thinking is inside Anthropic's output_tokens: 20 visible + 200 thinking.
    let usage = MockUsage {
        input: 100,
        cached: 0,
        output: 20,
        reasoning: 200,
    };
    let good = Reply::text(r#"{"score": 0.95, "reason": "ok"}"#).usage(usage);
    let refused = Reply::text("x").usage(MockUsage {
        output: 10_000_000,
        ..usage
    });
    server.script("claude-lab-4", [refused, good]);
    let model = format!(
        "[[models]]\nid = \"claude-lab-4\"\nprovider = \"lab\"\ninput = {INPUT}\ncached_input = {CACHED}\n\
         output = {OUTPUT}\ncache_write = {WRITE}\nquality = 0.9\nmax_output = 16000\n"
    );
    // A Claude-like id: models that think are told by their id (or `reasoning = true`).
    let d = Dir::new(
        "anthropic",
        &server.base_url(),
        "claude-lab-4",
        &model,
        "[task_types.summarization]\nthinking_budget = 2048\n",
    );
    d.run().await;
    let (_, _, summarization_max) = orchestrator_tui::domain::TaskType::Summarization.defaults();
    let reqs = server.requests();
    let mut thinking = 0;
    for r in &reqs {
        let system = r.body["system"].as_str().unwrap_or("");
        if system.contains("performing a summarization task") {
            // Generation and revision: the budget, max_tokens raised by it, no temperature.
            assert_eq!(
                r.body["thinking"],
                serde_json::json!({"type": "enabled", "budget_tokens": 2048}),
                "{}",
                r.raw_body
            );
            assert_eq!(r.body["max_tokens"], summarization_max + 2048);
            assert!(r.body.get("temperature").is_none());
            thinking += 1;
        } else {
            assert!(r.body.get("thinking").is_none(), "{}", r.raw_body);
        }
    }
    assert!(thinking >= 4, "{thinking}");
    // Every answered call: 100 x $3 + (20 + 200) x $15; the refused first generation is charged
    // its held worst case, whose output covers the whole raised max_tokens (thinking included).
    let calls = d.calls();
    let (first, rest) = calls.split_first().unwrap();
    assert_eq!(first.2, "malformed_usage");
    assert_eq!(first.6, i64::from(summarization_max + 2048));
    assert_eq!(first.8, micros(first.3, INPUT) + micros(first.6, OUTPUT));
    for (role, task, outcome, input, _, _, output, _, cost) in rest {
        assert_eq!(outcome, "ok", "{task} {role}");
        assert_eq!((*input, *output), (100, 220));
        assert_eq!(*cost, 300 + 3300, "{task} {role}");
    }
    let total: i64 = calls.iter().map(|c| c.8).sum();
    assert_eq!(d.one("SELECT spent_micros FROM runs"), total);
}

/// A HARD `max_cost_per_call_usd` holds for the request as built: a thinking budget raises what
/// a call may cost above routing's estimate, and the model is then not called at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cost_limit_counts_the_thinking_budget_of_the_request_as_built() {
    let (_, _, max) = orchestrator_tui::domain::TaskType::Summarization.defaults();
    // Routing's estimate (a short prompt, `max` output tokens) fits; with 2048 thinking tokens
    // more, the held worst case does not.
    let limit = (f64::from(max) + 1024.0) * OUTPUT / 1e6;
    let model = format!(
        "[[models]]\nid = \"claude-lab-4\"\nprovider = \"lab\"\ninput = {INPUT}\n\
         output = {OUTPUT}\nquality = 0.9\nmax_output = 16000\n"
    );
    let policy = format!(
        "[[policy]]\nname = \"per-call\"\nmode = \"hard\"\nmax_cost_per_call_usd = {limit}\n"
    );
    for thinking in [false, true] {
        let server = MockProvider::start().await;
        server.script(
            "claude-lab-4",
            [Reply::text(r#"{"score": 0.95, "reason": "ok"}"#)],
        );
        let extra = if thinking {
            format!("{policy}\n[task_types.summarization]\nthinking_budget = 2048\n")
        } else {
            policy.clone()
        };
        let d = Dir::new(
            "anthropic",
            &server.base_url(),
            "claude-lab-4",
            &model,
            &extra,
        );
        let plan = d.path("plan.json").display().to_string();
        let out = d
            .bin(&["run", "--plan", &plan, "--budget", "1", "--json"])
            .await;
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let generated = server
            .requests()
            .iter()
            .filter(|r| {
                r.body["system"]
                    .as_str()
                    .is_some_and(|s| s.contains("performing a summarization task"))
            })
            .count();
        if thinking {
            assert_ne!(v["status"], "success", "{v}");
            assert_eq!(generated, 0, "a call above the limit was sent");
            // The reason is in the run's record: routing's trace names the policy and amounts.
            let id = v["id"].as_str().unwrap_or_default().to_string();
            let shown = d.bin(&["show", &id, "--json"]).await;
            let text = String::from_utf8_lossy(&shown.stdout);
            assert!(
                text.contains("policy per-call: call may cost"),
                "{text}\n{}",
                String::from_utf8_lossy(&shown.stderr)
            );
        } else {
            // Without the thinking budget the same limit lets every call through.
            assert_eq!(v["status"], "success", "{v}");
            assert!(generated >= 2, "{generated}");
        }
    }
}
