//! One whole project through each wire format (Anthropic, OpenAI, Gemini) against the loopback
//! server over real HTTP, driving the real binary: paths, headers, bodies, and the run's tokens
//! and cost match what the server reported.

use crate::support::binary::*;
use crate::support::loopback::{Format, MockProvider, MockUsage, Reply};
use std::process::Command;

const USAGE: MockUsage = MockUsage {
    input: 100,
    cached: 40,
    output: 20,
    reasoning: 0,
};

struct Case {
    provider: &'static str,
    env_key: &'static str,
    format: Format,
    auth_header: &'static str,
}

fn config(server: &MockProvider, provider: &str) -> String {
    let base = if provider == "openai" {
        server.openai_base_url()
    } else {
        server.base_url()
    };
    format!(
        "[providers.{provider}]\nbase_url = \"{base}\"\n[simulated]\nenabled = \"auto\"\n[timeouts]\nfirst_byte_secs = 10\nidle_secs = 10\ntotal_secs = 30\n"
    )
}

fn run_case(c: &Case) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(MockProvider::start());
    // One answer that every role accepts: it parses as a score for evaluation and critique asks
    // for a revision (not `VERDICT: OK`), so generate, critique, revise and evaluate all happen.
    server
        .set_default(Reply::text("{\"score\": 0.95, \"reason\": \"meets the task\"}").usage(USAGE));
    let env = Env::new(&config(&server, c.provider));
    let plan = env.write("plan.json", &flat_plan(2));
    let key = format!("test-key-{}", c.provider);
    let mut cmd: Command = env.cmd();
    cmd.env(c.env_key, &key)
        .args(["run", "--plan", plan.to_str().unwrap(), "--json"]);
    let out = rt
        .block_on(async { tokio::task::spawn_blocking(move || cmd.output()).await })
        .unwrap()
        .unwrap();
    assert!(
        matches!(code(&out), 0 | 4),
        "{}: {}",
        c.provider,
        stderr(&out)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["simulated"], false);

    let reqs = server.requests();
    assert!(!reqs.is_empty());
    for r in &reqs {
        assert_eq!(r.format, Some(c.format), "{}", r.path);
        assert_eq!(r.method, "POST");
        match c.format {
            Format::OpenAi => {
                assert_eq!(r.path, "/v1/chat/completions");
                assert_eq!(
                    r.header("authorization"),
                    Some(format!("Bearer {key}").as_str())
                );
                assert!(r.body["messages"].is_array() && r.body["model"].is_string());
            }
            Format::Anthropic => {
                assert_eq!(r.path, "/v1/messages");
                assert_eq!(r.header("x-api-key"), Some(key.as_str()));
                assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
                assert!(r.body["max_tokens"].as_u64().unwrap() > 0);
                assert!(r.body["system"].is_string());
            }
            Format::Gemini => {
                assert!(r.path.starts_with("/v1beta/models/"), "{}", r.path);
                assert!(
                    r.path.contains(":streamGenerateContent")
                        || r.path.contains(":generateContent")
                );
                assert_eq!(r.header(c.auth_header), Some(key.as_str()));
                assert!(r.body["contents"].is_array());
            }
        }
    }

    // Tokens and cost: every call recorded what the server reported, priced from the catalog.
    let catalog = orchestrator_tui::config::Catalog::embedded().unwrap();
    let db = rusqlite::Connection::open(env.data().join("orchestrator.db")).unwrap();
    let rows: Vec<(String, i64, i64, i64, i64, String)> = db
        .prepare("SELECT model, input_tokens, cached_tokens, output_tokens, cost_micros, outcome FROM calls")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), reqs.len(), "one call row per request");
    let mut total = 0i64;
    for (model, input, cached, output, cost, outcome) in &rows {
        assert_eq!(outcome, "ok");
        let m = catalog.get(model).unwrap();
        assert_eq!(m.provider, c.provider);
        assert_eq!(
            (*input, *cached, *output),
            (100, 40, 20),
            "normalised usage for {model}"
        );
        assert_eq!(*cost, m.cost(100, 40, 20).0, "{model}");
        total += cost;
    }
    let reported = (v["total_cost_usd"].as_f64().unwrap() * 1e6).round() as i64;
    assert_eq!(reported, total);
    assert_eq!(v["calls"].as_u64().unwrap() as usize, reqs.len());
}

#[test]
fn anthropic_project_over_http() {
    run_case(&Case {
        provider: "anthropic",
        env_key: "ANTHROPIC_API_KEY",
        format: Format::Anthropic,
        auth_header: "x-api-key",
    });
}

#[test]
fn openai_project_over_http() {
    run_case(&Case {
        provider: "openai",
        env_key: "OPENAI_API_KEY",
        format: Format::OpenAi,
        auth_header: "authorization",
    });
}

#[test]
fn gemini_project_over_http() {
    run_case(&Case {
        provider: "google",
        env_key: "GEMINI_API_KEY",
        format: Format::Gemini,
        auth_header: "x-goog-api-key",
    });
}
