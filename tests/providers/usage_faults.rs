//! A hostile OpenAI-compatible server on 127.0.0.1 (issue 14, section 2): usage it reports and
//! bodies it sends can never push spend past a cap nor exhaust memory.
//!
//! The real binary runs a one-task plan on two local models: `hostile` (preferred, scripted to
//! misbehave) and `honest`. Impossible usage is a `malformed_usage` transient fault charged the
//! call's held worst case; three in a row open hostile's breaker and the run finishes on honest.
//! The provider client is also driven directly for the size limits (lowered so tests stay small).

use crate::support::binary::{BIN, code};
use crate::support::loopback::clients::{FORMATS, KEY, chat, fast_timeouts};
use crate::support::loopback::{MockProvider, MockUsage, Reply};
use orchestrator_tui::providers::{HttpOptions, HttpProvider, ProviderError, WireFormat};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

/// One reply serves every role (critique does not say "VERDICT: OK", so the generator revises).
const REPLY: &str = r#"{"score": 0.95, "reason": "ok"}"#;
const BUDGET_USD: f64 = 1.0;
const MAX_BODY: usize = 64 * 1024 * 1024;

struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    /// `hostile` at $0.25 / $2 per million tokens (10^12 input tokens would be $250,000), and a
    /// cheaper, lower-rated `honest`, both on the loopback server.
    fn new(server: &MockProvider) -> Dir {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            r#"
[providers.local]
kind = "openai"
base_url = "{}"
models = ["hostile", "honest"]

[[models]]
id = "hostile"
provider = "local"
input = 0.25
cached_input = 0.025
output = 2.0
quality = 0.95

[[models]]
id = "honest"
provider = "local"
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
[timeouts]
first_byte_secs = 20
idle_secs = 20
total_secs = 120
"#,
            server.openai_base_url()
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

    /// `run --plan plan.json --budget 1 --json`, off the runtime's threads (the server serves
    /// meanwhile).
    async fn run(&self) -> (Value, Output) {
        let mut c = Command::new(BIN);
        for k in [
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
            .args(["run", "--plan"])
            .arg(self.path("plan.json"))
            .args(["--budget", &BUDGET_USD.to_string(), "--json"]);
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

    /// (outcome, cost, error) of hostile's calls.
    fn hostile_calls(&self) -> Vec<(String, i64, String)> {
        let c = self.db();
        let mut st = c
            .prepare(
                "SELECT outcome, cost_micros, COALESCE(error, '') FROM calls
                 WHERE model = 'hostile' ORDER BY id",
            )
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The ledger is whole and within the cap: call costs are never negative and add up to the
    /// run's and the org's spend, which stay at or below the budget, with nothing left held.
    fn assert_spend_within_cap(&self, v: &Value) {
        let negative = self.one("SELECT COUNT(*) FROM calls WHERE cost_micros < 0");
        assert_eq!(negative, 0, "a call was charged a negative amount");
        let calls = self.one("SELECT COALESCE(SUM(cost_micros), 0) FROM calls");
        let run = self.one("SELECT spent_micros FROM runs");
        let org = self.one("SELECT spent_micros FROM budget_levels WHERE level = 'org'");
        let cap = (BUDGET_USD * 1e6) as i64;
        assert!(
            (0..=cap).contains(&org),
            "org spent {org} micros on a {cap} cap"
        );
        assert_eq!((run, org), (calls, calls), "run, org and call costs differ");
        let reported = v["total_cost_usd"].as_f64().unwrap();
        assert!(
            (reported - calls as f64 / 1e6).abs() < 1e-9,
            "{reported} vs {calls}"
        );
        let held = self.one("SELECT COALESCE(SUM(amount_micros), 0) FROM reservations");
        assert_eq!(held, 0, "reservations left behind");
    }

    fn assert_hostile_breaker_opened(&self) {
        let opened = self.one(
            "SELECT COUNT(*) FROM breaker_events WHERE model = 'hostile' AND to_state = 'open'",
        );
        assert!(opened >= 1, "hostile's breaker never opened");
    }
}

fn openai_answer(usage: &str) -> String {
    format!(
        r#"{{"id":"x","object":"chat.completion","choices":[{{"index":0,"message":{{"role":"assistant","content":{}}},"finish_reason":"stop"}}],"usage":{usage}}}"#,
        serde_json::to_string(REPLY).unwrap()
    )
}

fn honest(server: &MockProvider) {
    server.script(
        "honest",
        [Reply::text(REPLY).usage(MockUsage {
            input: 50,
            cached: 0,
            output: 20,
            reasoning: 0,
        })],
    );
}

/// Impossible usage: every hostile call is `malformed_usage`, charged the same positive held
/// amount, warned about, and the run completes on honest within the cap.
async fn malformed_usage_run(server: &MockProvider, what: &str) {
    let d = Dir::new(server);
    let (v, out) = d.run().await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        v["status"],
        "success",
        "{what}: exit {}: {stderr}",
        code(&out)
    );
    d.assert_spend_within_cap(&v);
    let calls = d.hostile_calls();
    assert_eq!(
        calls.len(),
        3,
        "{what}: a first try and two retries: {calls:?}"
    );
    for (outcome, cost, error) in &calls {
        assert_eq!(outcome, "malformed_usage", "{what}: {error}");
        assert!(error.contains("malformed usage"), "{what}: {error}");
        assert!(*cost > 0 && *cost == calls[0].1, "{what}: {calls:?}");
    }
    assert!(
        stderr.contains("malformed usage") && stderr.contains("charged the $"),
        "{what}: no warning: {stderr}"
    );
    d.assert_hostile_breaker_opened();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_of_u64_max_tokens_is_malformed_never_a_wrapped_negative_charge() {
    let server = MockProvider::start().await;
    honest(&server);
    let max = u64::MAX;
    let usage = format!(r#"{{"prompt_tokens":{max},"completion_tokens":{max}}}"#);
    // Streamed (usage chunk before [DONE]) and whole answers alike.
    let stream = [
        format!(
            "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{}}},\"finish_reason\":\"stop\"}}]}}\n\n",
            serde_json::to_string(REPLY).unwrap()
        ),
        format!("data: {{\"choices\":[],\"usage\":{usage}}}\n\n"),
        "data: [DONE]\n\n".to_string(),
    ];
    server.script(
        "hostile",
        [
            Reply::raw_sse(stream),
            Reply::status(200, &openai_answer(&usage)),
        ],
    );
    malformed_usage_run(&server, "u64::MAX").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_of_a_trillion_input_tokens_is_malformed_and_never_passes_the_cap() {
    let server = MockProvider::start().await;
    honest(&server);
    server.script(
        "hostile",
        [Reply::status(
            200,
            &openai_answer(r#"{"prompt_tokens":1000000000000,"completion_tokens":10}"#),
        )],
    );
    malformed_usage_run(&server, "10^12").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_usage_is_malformed_not_a_free_call() {
    let server = MockProvider::start().await;
    honest(&server);
    server.script(
        "hostile",
        [Reply::status(
            200,
            &openai_answer(r#"{"prompt_tokens":-5000,"completion_tokens":-1}"#),
        )],
    );
    malformed_usage_run(&server, "negative").await;
}

/// A stream with no usage just above the size limit: cut at the limit, charged the held worst
/// case (not its length), a transient fault; the retry gets a normal answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_answer_without_usage_above_the_size_limit_is_cut_and_charged_its_hold() {
    let server = MockProvider::start().await;
    honest(&server);
    let piece = format!(
        "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{}\"}}}}]}}\n\n",
        "x".repeat(64 * 1024)
    );
    server.script(
        "hostile",
        [
            Reply::sse_flood(&piece, MAX_BODY + piece.len(), "data: [DONE]\n\n"),
            Reply::text(REPLY).usage(MockUsage {
                input: 50,
                cached: 0,
                output: 20,
                reasoning: 0,
            }),
        ],
    );
    let d = Dir::new(&server);
    let (v, out) = d.run().await;
    assert_eq!(
        v["status"],
        "success",
        "exit {}: {}",
        code(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    d.assert_spend_within_cap(&v);
    let calls = d.hostile_calls();
    let (outcome, cost, error) = &calls[0];
    assert_eq!(outcome, "transient", "{calls:?}");
    assert!(
        error.contains("exceeded the size limit of 64 MiB"),
        "{error}"
    );
    // Charged exactly what a malformed-usage call is: the held worst case, at least the whole
    // max_tokens output (1,024 tokens at $2 / M for a summary).
    assert!(*cost >= 2048, "{cost}");
    assert!(
        calls[1..].iter().all(|(o, _, _)| o == "ok"),
        "the retry is a normal answer: {calls:?}"
    );
}

fn client(
    server: &MockProvider,
    format: WireFormat,
    stream: bool,
    max_body: usize,
) -> HttpProvider {
    let base = match format {
        WireFormat::OpenAi => server.openai_base_url(),
        _ => server.base_url(),
    };
    let mut o = HttpOptions::new("test", format, &base, Some(KEY.into()));
    o.stream = stream;
    o.timeouts = fast_timeouts();
    o.max_body = max_body;
    HttpProvider::new(o).expect("client")
}

fn assert_oversized(e: &ProviderError, says: &str) {
    assert!(
        matches!(e, ProviderError::Oversized { .. }),
        "not a size-limit error: {e:?}"
    );
    assert_eq!(e.class(), "transient");
    assert!(e.billed(), "charged its hold");
    assert!(e.to_string().contains(says), "{e}");
}

/// A 500 MB answer says the size limit was exceeded: refused unread when its length is
/// declared, cut at the limit when chunked; and a stream is capped the same in every format.
#[tokio::test]
async fn bodies_above_the_size_limit_say_so() {
    let server = MockProvider::start().await;
    let head = r#"{"choices":[{"index":0,"message":{"role":"assistant","content":""#;
    let tail = r#""},"finish_reason":"stop"}]}"#;
    let huge = 500 * 1000 * 1000;
    server.script("m", [Reply::json_flood(head, huge, tail, true)]);
    let e = chat(&client(&server, WireFormat::OpenAi, false, MAX_BODY), "m")
        .await
        .unwrap_err();
    assert_oversized(
        &e,
        "response body of 500000000 bytes exceeds the size limit of 64 MiB",
    );
    // Chunked, no length: read up to the (lowered) limit, then cut.
    server.script("m", [Reply::json_flood(head, huge, tail, false)]);
    let e = chat(&client(&server, WireFormat::OpenAi, false, 1 << 20), "m")
        .await
        .unwrap_err();
    assert_oversized(&e, "response body exceeded the size limit of 1 MiB");
    // A body just below the limit is a normal answer.
    server.script("m", [Reply::json_flood(head, 1 << 20, tail, false)]);
    let ok = chat(&client(&server, WireFormat::OpenAi, false, 1 << 20), "m")
        .await
        .unwrap();
    assert_eq!(ok.text.len(), (1 << 20) - head.len() - tail.len());
    // Streams: comment lines are valid SSE in every format, and count towards the limit.
    let comment = format!(": {}\n\n", "x".repeat(16 * 1024));
    for f in FORMATS {
        server.script("m", [Reply::sse_flood(&comment, 4 << 20, "")]);
        let e = chat(&client(&server, f, true, 1 << 20), "m")
            .await
            .unwrap_err();
        assert_oversized(
            &e,
            "streamed response body exceeded the size limit of 1 MiB",
        );
    }
    // One SSE line longer than the limit is cut the same way.
    let line = format!("data: {}", "x".repeat(2 << 20));
    server.script("m", [Reply::raw_sse([line])]);
    let e = chat(&client(&server, WireFormat::OpenAi, true, 1 << 20), "m")
        .await
        .unwrap_err();
    assert_oversized(&e, "exceeded the size limit of 1 MiB");
}
