//! Hosted OpenAI-compatible presets (issue 17 §3) against the loopback server: OpenRouter's and
//! Azure OpenAI's request shapes (URL, headers), and an OpenRouter model without a price that is
//! never called while a priced one is charged usage x its price.

use crate::support::binary::{BIN, code};
use crate::support::loopback::{MockProvider, MockUsage, Reply};
use orchestrator_tui::config::Config;
use orchestrator_tui::providers::http;
use orchestrator_tui::providers::{ChatRequest, Message};
use serde_json::Value;
use std::process::{Command, Output};
use tokio_util::sync::CancellationToken;

const KEY: &str = "sk-or-test-7c1d9e0b2a4f";

fn load(config: &str) -> (tempfile::TempDir, Config) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).unwrap();
    let cfg = Config::load(Some(&path)).unwrap();
    (dir, cfg)
}

fn req(model: &str) -> ChatRequest {
    ChatRequest {
        model: model.into(),
        system: None,
        messages: vec![Message {
            role: "user".into(),
            content: "hi".into(),
        }],
        max_tokens: 64,
        temperature: None,
        role: orchestrator_tui::domain::CallRole::Generate,
        task_type: None,
        attempt: 1,
        schema: None,
        shared_prefix: 0,
        reasoning: Default::default(),
    }
}

async fn call_once(cfg: &Config, name: &str, model: &str) {
    let p = http::build(name, &cfg.providers[name], Some(KEY.into()), cfg).unwrap();
    p.chat(&req(model), &CancellationToken::new())
        .await
        .unwrap();
}

#[tokio::test]
async fn openrouter_preset_sends_bearer_key_and_attribution_headers() {
    let server = MockProvider::start().await;
    server.set_default(Reply::text("ok"));
    let (_d, cfg) = load(&format!(
        "[providers.openrouter]\nbase_url = \"{}\"\n",
        server.openai_base_url()
    ));
    let p = &cfg.providers["openrouter"];
    assert_eq!(p.api_key_env.as_deref(), Some("OPENROUTER_API_KEY"));
    call_once(&cfg, "openrouter", "anthropic/claude-opus-4-5").await;
    let r = server.last_request();
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(r.query, None);
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(
        r.header("http-referer"),
        Some("https://github.com/orchestrator-tui/orchestrator-tui")
    );
    assert_eq!(r.header("x-title"), Some("orchestrator-tui"));
    assert_eq!(r.model.as_deref(), Some("anthropic/claude-opus-4-5"));
}

#[tokio::test]
async fn azure_preset_posts_to_the_deployment_with_api_version_and_api_key_header() {
    let server = MockProvider::start().await;
    server.set_default(Reply::text("ok"));
    let (_d, cfg) = load(&format!(
        "[providers.work]\npreset = \"azure\"\nbase_url = \"{}/openai/deployments/gpt-5-prod\"\n\
         headers = {{ \"X-Team\" = \"research\" }}\n",
        server.base_url()
    ));
    call_once(&cfg, "work", "gpt-5").await;
    let r = server.last_request();
    assert_eq!(r.path, "/openai/deployments/gpt-5-prod/chat/completions");
    assert_eq!(r.query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(r.header("api-key"), Some(KEY));
    assert_eq!(
        r.header("authorization"),
        None,
        "Azure takes the key as api-key only"
    );
    assert_eq!(r.header("x-team"), Some("research"));
}

#[test]
fn a_credential_in_headers_is_refused_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        "[providers.groq]\nheaders = { \"Authorization\" = \"Bearer gsk-secret-value\" }\n",
    )
    .unwrap();
    let e = Config::load(Some(&path)).unwrap_err().to_string();
    assert!(e.contains("providers.groq.headers"), "{e}");
    assert!(!e.contains("gsk-secret"), "{e}");
}

const USAGE: MockUsage = MockUsage {
    input: 40,
    cached: 10,
    output: 150,
    reasoning: 0,
};

fn cmd(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    for k in crate::support::binary::CLEARED_ENV {
        c.env_remove(k);
    }
    c.env("OPENROUTER_API_KEY", KEY)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(dir.join("config.toml"))
        .args(args);
    c
}

async fn output(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().expect("run binary"))
        .await
        .unwrap()
}

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpriced_openrouter_model_is_never_called_and_a_priced_one_is_charged() {
    let server = MockProvider::start().await;
    server.set_default(Reply::text(r#"{"score": 0.95, "reason": "ok"}"#).usage(USAGE));
    let dir = tempfile::tempdir().unwrap();
    // The unpriced model has the best prior it could have: only its missing price keeps it out.
    let config = format!(
        "[providers.openrouter]\nbase_url = \"{}\"\nmodels = [\"vendor/unpriced\", \"vendor/priced\"]\n\
         [retry]\nbackoff_base_ms = 1\nbackoff_cap_ms = 2\n[routing]\nexplore_rate = 0.0\n\
         [[models]]\nid = \"vendor/priced\"\nprovider = \"openrouter\"\ninput = 2.0\ncached_input = 0.5\noutput = 8.0\nquality = 0.9\n",
        server.openai_base_url()
    );
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    let plan = dir.path().join("plan.json");
    std::fs::write(
        &plan,
        r#"[{"id": "a", "type": "summarization", "prompt": "Summarise A", "max_iterations": 1}]"#,
    )
    .unwrap();
    let out = output(cmd(
        dir.path(),
        &[
            "run",
            "--plan",
            plan.to_str().unwrap(),
            "--budget",
            "1",
            "--json",
        ],
    ))
    .await;
    assert!(
        matches!(code(&out), 0 | 4),
        "exit {}: {}",
        code(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    let reqs = server.requests();
    assert!(!reqs.is_empty());
    assert!(
        reqs.iter()
            .all(|r| r.model.as_deref() == Some("vendor/priced")),
        "{:?}",
        reqs.iter().map(|r| r.model.clone()).collect::<Vec<_>>()
    );
    // Charged usage x the configured price, like any catalog model: 40 x $2 + 10 x $0.50 +
    // 150 x $8 per million = 80 + 5 + 1200 micro-dollars a call.
    let id = v["id"].as_str().unwrap().to_string();
    let show = json_of(&output(cmd(dir.path(), &["show", &id, "--json"])).await);
    let calls = show["calls"].as_u64().unwrap();
    assert_eq!(calls as usize, reqs.len());
    let total = show["total_cost_usd"].as_f64().unwrap();
    assert!(
        (total - calls as f64 * 1285e-6).abs() < 1e-9,
        "{total} for {calls} calls"
    );
    let models = json_of(&output(cmd(dir.path(), &["models", "--json"])).await);
    let row = |id: &str| {
        models["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not listed"))
    };
    let unpriced = row("vendor/unpriced");
    assert_eq!(unpriced["available"], false);
    let reason = unpriced["unavailable_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("no price: import LiteLLM's map"),
        "{reason}"
    );
    let priced = row("vendor/priced");
    assert_eq!(priced["available"], true);
    assert_eq!(priced["price_source"], "config");
    // Naming the unpriced model where a model is required is an error (exit 2), with the reason.
    let reset = output(cmd(dir.path(), &["models", "reset", "vendor/unpriced"])).await;
    assert_eq!(code(&reset), 2);
    assert!(String::from_utf8_lossy(&reset.stderr).contains("no price"));
}
