//! `models import-litellm` (issue 17 §2) on LiteLLM's real map (tests/fixtures/litellm): known
//! rows land in the overlay with their prices per million, `models --json` says where each price
//! comes from, a malformed map names the bad entry, --dry-run writes nothing and a re-import
//! changes nothing.

use crate::support::binary::{Env, code};
use serde_json::Value;
use std::path::PathBuf;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/litellm/litellm-model-prices-1.106.2.json")
}

const SOURCE: &str = "litellm:litellm-model-prices-1.106.2.json";

fn rows(env: &Env) -> Vec<Value> {
    let (v, out) = env.json(&["models", "--json"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    v["models"].as_array().unwrap().clone()
}

fn find<'a>(rows: &'a [Value], id: &str, provider: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["id"] == id && r["provider"] == provider)
        .unwrap_or_else(|| panic!("{provider}/{id} not listed"))
}

#[test]
fn importing_litellms_map_prices_known_rows() {
    // gpt-5-nano is not in the built-in catalog: the import prices it once a provider lists it.
    let env = Env::new("[providers.openai]\nmodels = [\"gpt-5-nano\"]\n");
    let f = fixture();
    let (report, out) = env.json(&["models", "import-litellm", f.to_str().unwrap(), "--json"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(report["added"].as_array().unwrap().len() > 100, "{report}");
    assert!(report["skipped"]["no_price"].as_u64().unwrap() > 0);
    assert!(report["skipped"]["not_chat"].as_u64().unwrap() > 1000);
    let providers: Vec<&str> = report["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(
        providers,
        ["anthropic", "deepseek", "google", "kimi", "openai"]
    );
    assert!(env.dir.path().join("models.imported.toml").is_file());
    let r = rows(&env);
    // (id, provider, input, output, cached input) in USD per million, as in the file.
    let known: [(&str, &str, f64, f64, f64); 12] = [
        ("claude-opus-4-5", "anthropic", 5.0, 25.0, 0.5),
        ("claude-opus-4-7", "anthropic", 5.0, 25.0, 0.5),
        ("claude-sonnet-4-6", "anthropic", 3.0, 15.0, 0.3),
        ("claude-haiku-4-5", "anthropic", 1.0, 5.0, 0.1),
        ("gpt-5", "openai", 1.25, 10.0, 0.125),
        ("gpt-5-mini", "openai", 0.25, 2.0, 0.025),
        ("gpt-5-nano", "openai", 0.05, 0.4, 0.005),
        ("gpt-5.4", "openai", 2.5, 15.0, 0.25),
        ("gemini-2.5-pro", "google", 1.25, 10.0, 0.125),
        ("gemini-3.1-pro-preview", "google", 2.0, 12.0, 0.2),
        ("deepseek-chat", "deepseek", 0.28, 0.42, 0.028),
        ("kimi-k2.6", "kimi", 0.95, 4.0, 0.16),
    ];
    for (id, p, i, o, c) in known {
        let m = find(&r, id, p);
        assert_eq!(m["price_input_per_mtok"].as_f64(), Some(i), "{id}");
        assert_eq!(m["price_output_per_mtok"].as_f64(), Some(o), "{id}");
        assert_eq!(m["price_cached_input_per_mtok"].as_f64(), Some(c), "{id}");
        assert_eq!(m["price_source"], SOURCE, "{id}");
    }
    let opus = find(&r, "claude-opus-4-5", "anthropic");
    assert_eq!(opus["price_cache_write_per_mtok"].as_f64(), Some(6.25));
    let gem = find(&r, "gemini-2.5-pro", "google");
    assert_eq!(gem["long_context_above"].as_u64(), Some(200_000));
    assert_eq!(gem["price_input_long_per_mtok"].as_f64(), Some(2.5));
    assert_eq!(gem["price_output_long_per_mtok"].as_f64(), Some(15.0));
    let g54 = find(&r, "gpt-5.4", "openai");
    assert_eq!(g54["long_context_above"].as_u64(), Some(272_000));
    // Imported rows nobody lists stay price data: never candidates for routing.
    assert!(!r.iter().any(|m| m["id"] == "claude-mythos-5"));
    let overlay = std::fs::read_to_string(env.dir.path().join("models.imported.toml")).unwrap();
    assert!(overlay.contains("id = \"claude-mythos-5\""));
    // A row the map does not have keeps the catalog's price and says so.
    assert_eq!(
        find(&r, "claude-opus-4-1", "anthropic")["price_source"],
        "catalog"
    );

    // Re-importing the same file changes nothing.
    let before = std::fs::read(env.dir.path().join("models.imported.toml")).unwrap();
    let (again, out) = env.json(&["models", "import-litellm", f.to_str().unwrap(), "--json"]);
    assert_eq!(code(&out), 0);
    assert_eq!(again["added"].as_array().unwrap().len(), 0, "{again}");
    assert_eq!(again["changed"].as_array().unwrap().len(), 0, "{again}");
    assert_eq!(
        again["unchanged"].as_u64(),
        Some(report["added"].as_array().unwrap().len() as u64)
    );
    let after = std::fs::read(env.dir.path().join("models.imported.toml")).unwrap();
    assert_eq!(before, after);
}

#[test]
fn dry_run_writes_nothing_and_providers_filter() {
    let env = Env::new("");
    let f = fixture();
    let out = env.run(&[
        "models",
        "import-litellm",
        f.to_str().unwrap(),
        "--providers",
        "google,kimi",
        "--dry-run",
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("would import"), "{text}");
    assert!(text.contains("google/gemini-3.1-pro-preview"), "{text}");
    assert!(!text.contains("anthropic/"), "{text}");
    assert!(!env.dir.path().join("models.imported.toml").exists());
    // The real map has no `openrouter` rows: the report says so instead of a bare "0 added".
    let out = env.run(&[
        "models",
        "import-litellm",
        f.to_str().unwrap(),
        "--providers",
        "openrouter,groq",
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["providers_without_rows"],
        serde_json::json!(["openrouter"])
    );
    assert!(
        v["added"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a.as_str().unwrap().starts_with("groq/")),
        "{v}"
    );
    let out = env.run(&[
        "models",
        "import-litellm",
        f.to_str().unwrap(),
        "--providers",
        "openrouter",
        "--dry-run",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("no priced chat rows in this file for: openrouter"),
        "{text}"
    );
    let out = env.run(&[
        "models",
        "import-litellm",
        f.to_str().unwrap(),
        "--providers",
        "bedrock",
    ]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown provider `bedrock`"));
}

#[test]
fn a_malformed_map_names_the_bad_entry_and_writes_nothing() {
    let env = Env::new("");
    let bad = env.write(
        "bad.json",
        r#"{"fine": {"litellm_provider": "openai", "mode": "chat",
              "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06},
            "gpt-broken": {"litellm_provider": "openai", "mode": "chat",
              "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06,
              "max_output_tokens": "lots"}}"#,
    );
    let out = env.run(&["models", "import-litellm", bad.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gpt-broken") && err.contains("max_output_tokens"),
        "{err}"
    );
    assert!(!env.dir.path().join("models.imported.toml").exists());
    let not_json = env.write("nope.json", "{ not json");
    let out = env.run(&["models", "import-litellm", not_json.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
}
