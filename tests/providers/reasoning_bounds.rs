//! Reasoning tokens against `max_tokens`, per provider, on the loopback server.
//!
//! Most providers count reasoning inside the request's limit (OpenAI `max_completion_tokens`,
//! Anthropic `max_tokens` > `budget_tokens`, Gemini `maxOutputTokens`, DeepSeek's current API,
//! llama.cpp): more than that is `malformed_usage`. DeepSeek R1 as first served bounds only the
//! final answer with `max_tokens` and thinks up to 32K tokens beyond it (a model's
//! `reasoning_outside_max_tokens` says the same of any server): such an answer is legitimate,
//! `ok` and charged its real cost, the hold covers it, and only reasoning past that bound is
//! `malformed_usage`, charged the held worst case. xAI reports reasoning beside
//! `completion_tokens` rather than inside: it is billed on top, never dropped.
//!
//! The real binary runs a one-task plan on `model` (preferred) with `fallback` behind it.

use crate::support::binary::{BIN, code};
use crate::support::loopback::{MockProvider, MockUsage, Reply};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// One reply serves every role.
const REPLY: &str = r#"{"score": 0.95, "reason": "ok"}"#;
/// $1 input and $2 output per million tokens: a token is 1 or 2 micro-USD.
const INPUT: i64 = 1;
const OUTPUT: i64 = 2;
/// Reported input tokens of every answer.
const IN_TOKENS: u64 = 50;
/// The test model's output limit, so `max_tokens` is at most this.
const MAX_OUTPUT: u64 = 2000;

struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    /// `model` (kind `kind`, with `model_extra` lines) preferred over a cheaper `fallback`.
    fn new(kind: &str, base_url: &str, model: &str, model_extra: &str) -> Dir {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            r#"
[providers.lab]
kind = "{kind}"
base_url = "{base_url}"
api_key = "sk-test-key"
models = ["{model}", "fallback"]

[[models]]
id = "{model}"
provider = "lab"
input = 1.0
cached_input = 0.1
output = 2.0
max_output = {MAX_OUTPUT}
quality = 0.95
{model_extra}

[[models]]
id = "fallback"
provider = "lab"
input = 0.1
cached_input = 0.01
output = 0.4
quality = 0.6

[simulated]
enabled = "never"
[routing]
explore_rate = 0.0
[retry]
backoff_base_ms = 1
backoff_cap_ms = 2
"#
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        std::fs::write(
            dir.path().join("plan.json"),
            r#"[{"id": "a", "type": "summarization", "prompt": "Summarise A", "max_iterations": 1}]"#,
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

    /// `run --plan plan.json --budget 5 --json`; the run must succeed.
    async fn run(&self) -> Value {
        let mut c = Command::new(BIN);
        for k in [
            "OPENAI_API_KEY",
            "GEMINI_API_KEY",
            "ORCHESTRATOR_CONFIG",
            "ORCHESTRATOR_DATA_DIR",
        ] {
            c.env_remove(k);
        }
        c.arg("--data-dir")
            .arg(self.path("data"))
            .arg("--config")
            .arg(self.path("config.toml"))
            .args(["run", "--plan"])
            .arg(self.path("plan.json"))
            .args(["--budget", "5", "--json"]);
        let out = tokio::task::spawn_blocking(move || c.output().expect("run binary"))
            .await
            .unwrap();
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
            "exit {}: {}",
            code(&out),
            String::from_utf8_lossy(&out.stderr)
        );
        v
    }

    /// (outcome, output tokens, reasoning tokens, cost, error) of `model`'s calls.
    fn calls(&self, model: &str) -> Vec<(String, i64, i64, i64, String)> {
        let c = self.db();
        let mut st = c
            .prepare(
                "SELECT outcome, output_tokens, reasoning_tokens, cost_micros, COALESCE(error, '')
                 FROM calls WHERE model = ?1 ORDER BY id",
            )
            .unwrap();
        st.query_map([model], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    /// Call costs add up to the run's and the org's spend, within the cap, nothing left held.
    fn assert_ledger_whole(&self) {
        let calls = self.one("SELECT COALESCE(SUM(cost_micros), 0) FROM calls");
        let run = self.one("SELECT spent_micros FROM runs");
        let org = self.one("SELECT spent_micros FROM budget_levels WHERE level = 'org'");
        assert_eq!((run, org), (calls, calls));
        assert!(org <= 5_000_000, "org spent {org} micros on a $5 cap");
        let held = self.one("SELECT COALESCE(SUM(amount_micros), 0) FROM reservations");
        assert_eq!(held, 0, "reservations left behind");
    }
}

fn thought(reasoning: u64) -> Reply {
    Reply::text(REPLY).usage(MockUsage {
        input: IN_TOKENS,
        cached: 0,
        output: 20,
        reasoning,
    })
}

fn fallback(server: &MockProvider) {
    server.script("fallback", [thought(0)]);
}

/// The `max_tokens` each request for `model` carried (OpenAI format).
fn sent_max_tokens(server: &MockProvider, model: &str) -> Vec<u64> {
    server
        .requests_for(model)
        .iter()
        .map(|r| r.body["max_tokens"].as_u64().expect("max_tokens sent"))
        .collect()
}

/// Every call of `model` is `ok` and charged exactly its reported usage.
fn assert_charged_real_cost(d: &Dir, model: &str, reasoning: u64) {
    let calls = d.calls(model);
    assert!(!calls.is_empty());
    let billed = 20 + reasoning as i64;
    for (outcome, output, thought, cost, error) in &calls {
        assert_eq!(outcome, "ok", "{error}");
        assert_eq!((*output, *thought), (20, reasoning as i64));
        assert_eq!(*cost, IN_TOKENS as i64 * INPUT + billed * OUTPUT);
    }
    assert!(d.calls("fallback").is_empty(), "fell back: {calls:?}");
}

/// Every call of `model` (a first try and two retries) is `malformed_usage`, charged one held
/// worst case of at least `held_output` output tokens, and the run finishes on the fallback.
fn assert_malformed_charged_hold(d: &Dir, model: &str, held_output: i64) {
    let calls = d.calls(model);
    assert_eq!(calls.len(), 3, "{calls:?}");
    for (outcome, _, _, cost, error) in &calls {
        assert_eq!(outcome, "malformed_usage", "{error}");
        assert!(error.contains("malformed usage"), "{error}");
        assert_eq!(*cost, calls[0].3);
        assert!(
            *cost >= held_output * OUTPUT,
            "charged {cost} micros: the hold must cover {held_output} output tokens"
        );
    }
    assert!(!d.calls("fallback").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deepseek_r1_thinking_beyond_max_tokens_is_ok_and_charged_its_real_cost() {
    let server = MockProvider::start().await;
    fallback(&server);
    // 30,000 reasoning tokens: far above max_tokens (at most 2,000), within R1's 32K.
    let reasoning = 30_000;
    server.script("deepseek-r1", [thought(reasoning)]);
    let d = Dir::new("openai", &server.openai_base_url(), "deepseek-r1", "");
    d.run().await;
    assert_charged_real_cost(&d, "deepseek-r1", reasoning);
    // The answer's limit is sent as asked; the chain of thought is held on top of it.
    let sent = sent_max_tokens(&server, "deepseek-r1");
    assert!(sent.iter().all(|m| *m <= MAX_OUTPUT), "{sent:?}");
    d.assert_ledger_whole();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deepseek_r1_thinking_beyond_its_32k_is_malformed_and_the_hold_covers_the_32k() {
    let server = MockProvider::start().await;
    fallback(&server);
    // max_tokens + 32,768 is at most 34,768.
    server.script("deepseek-r1", [thought(40_000)]);
    let d = Dir::new("openai", &server.openai_base_url(), "deepseek-r1", "");
    d.run().await;
    assert_malformed_charged_hold(&d, "deepseek-r1", 32_768);
    d.assert_ledger_whole();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_declared_to_think_beyond_max_tokens_is_held_and_allowed_that_much() {
    let server = MockProvider::start().await;
    fallback(&server);
    let declared = "reasoning = true\nreasoning_outside_max_tokens = 6000";
    // 5,000 reasoning tokens above a max_tokens of at most 2,000: within the declared 6,000.
    server.script("thinker", [thought(5_000)]);
    let d = Dir::new("openai", &server.openai_base_url(), "thinker", declared);
    d.run().await;
    assert_charged_real_cost(&d, "thinker", 5_000);
    d.assert_ledger_whole();

    // Past max_tokens + 6,000: malformed, charged a hold that covered the 6,000.
    let server = MockProvider::start().await;
    fallback(&server);
    server.script("thinker", [thought(MAX_OUTPUT + 6_001)]);
    let d = Dir::new("openai", &server.openai_base_url(), "thinker", declared);
    d.run().await;
    assert_malformed_charged_hold(&d, "thinker", 6_000);
    d.assert_ledger_whole();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_thoughts_count_inside_max_output_tokens() {
    // Gemini bills thoughts against maxOutputTokens: thoughts past it are impossible.
    let server = MockProvider::start().await;
    fallback(&server);
    server.script("gemini-lab-2.5", [thought(MAX_OUTPUT)]);
    let d = Dir::new("gemini", &server.base_url(), "gemini-lab-2.5", "");
    d.run().await;
    let calls = d.calls("gemini-lab-2.5");
    assert_eq!(calls.len(), 3, "{calls:?}");
    for (outcome, _, _, cost, error) in &calls {
        assert_eq!(outcome, "malformed_usage", "{error}");
        // The hold: no more than max_tokens of output (plus the input estimate).
        assert!(*cost < (MAX_OUTPUT as i64 + 1000) * OUTPUT, "{cost}");
    }
    d.assert_ledger_whole();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reasoning_reported_beside_completion_tokens_is_billed_on_top() {
    // xAI's usage: reasoning_tokens beside completion_tokens, added in total_tokens
    // (50 + 20 + 200 = 270). The provider bills 220 output tokens; so must the ledger.
    let server = MockProvider::start().await;
    fallback(&server);
    let body = serde_json::json!({
        "id": "x", "object": "chat.completion",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": REPLY}}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 270,
                  "completion_tokens_details": {"reasoning_tokens": 200}},
    });
    server.script("grok-lab", [Reply::status(200, &body.to_string())]);
    let d = Dir::new("openai", &server.openai_base_url(), "grok-lab", "");
    d.run().await;
    assert_charged_real_cost(&d, "grok-lab", 200);
    d.assert_ledger_whole();
}
