//! The semantic stage with the simulated providers: its result shows in the JSON report; with
//! `--no-llm` or when every provider fails, the static result is complete and says why.

use crate::support::repo::*;
use orchestrator_tui::analysis::{SemanticModel, semantic_stage};
use orchestrator_tui::config::{Catalog, SimulatedConfig};
use orchestrator_tui::domain::CallRole;
use orchestrator_tui::providers::simulated::SimulatedProvider;
use orchestrator_tui::providers::{ChatRequest, Message, Provider};
use tokio_util::sync::CancellationToken;

/// The engine-independent seam wired to the built-in simulator, as the engine will wire providers.
struct Simulated {
    provider: SimulatedProvider,
    model: String,
}

#[async_trait::async_trait]
impl SemanticModel for Simulated {
    async fn complete(&self, system: &str, prompt: &str) -> Result<String, String> {
        let req = ChatRequest {
            model: self.model.clone(),
            system: Some(system.to_string()),
            messages: vec![Message {
                role: "user".into(),
                content: prompt.to_string(),
            }],
            max_tokens: 2000,
            temperature: Some(0.0),
            role: CallRole::Analyze,
            task_type: None,
            attempt: 1,
            schema: None,
            shared_prefix: 0,
            reasoning: Default::default(),
        };
        self.provider
            .chat(&req, &CancellationToken::new())
            .await
            .map(|r| r.text)
            .map_err(|e| e.to_string())
    }
}

fn simulated(failing: bool) -> Simulated {
    let model = "claude-sonnet-4-6".to_string();
    let cfg = SimulatedConfig {
        latency_ms_min: 0,
        latency_ms_max: 0,
        failing_models: if failing { vec![model.clone()] } else { vec![] },
        ..SimulatedConfig::default()
    };
    let catalog = Catalog::embedded().expect("catalog");
    Simulated {
        provider: SimulatedProvider::new("anthropic", cfg, catalog),
        model,
    }
}

#[tokio::test]
async fn simulated_model_enriches_the_json_report() {
    let r = clean_rust();
    r.remove("LICENSE").file(
        "Cargo.toml",
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\n",
    );
    let mut rep = r.analyze();
    let statics = rep.findings.len();
    let model = simulated(false);
    semantic_stage(&mut rep, r.path(), Some(&model), None).await;
    let json = serde_json::to_value(&rep).expect("json");
    assert_eq!(
        json["semantic"]["purpose"],
        "A rust project (simulated analysis)"
    );
    assert_eq!(json["semantic"]["primary_patterns"][0], "modular layout");
    assert_eq!(json["semantic"]["test_coverage"], "some tests present");
    assert!(json["semantic_note"].is_null());
    assert_eq!(rep.findings.len(), statics + 1);
    let llm = rep
        .findings
        .iter()
        .find(|f| f.source == "llm")
        .expect("suggestion");
    assert!(
        llm.description.contains("missing-license"),
        "{}",
        llm.description
    );
    assert_eq!(
        rep.findings[0].id, "missing-license",
        "static HIGH stays ahead of the MEDIUM suggestion"
    );
}

#[tokio::test]
async fn failing_providers_and_no_llm_keep_the_static_result() {
    let r = clean_rust();
    r.remove("README.md");
    let base = r.analyze();

    let mut rep = base.clone();
    semantic_stage(&mut rep, r.path(), Some(&simulated(true)), None).await;
    let json = serde_json::to_value(&rep).expect("json");
    assert!(json["semantic"].is_null());
    let note = json["semantic_note"].as_str().expect("note");
    assert!(
        note.contains("model call failed") && note.contains("simulated"),
        "{note}"
    );
    assert_eq!(rep.findings, base.findings);

    let mut rep = base.clone();
    semantic_stage(&mut rep, r.path(), None, Some("--no-llm")).await;
    let json = serde_json::to_value(&rep).expect("json");
    assert!(json["semantic"].is_null());
    assert_eq!(json["semantic_note"], "semantic stage skipped: --no-llm");
    assert_eq!(rep.findings, base.findings);

    let mut rep = base.clone();
    semantic_stage(
        &mut rep,
        r.path(),
        None,
        Some("every provider failed: anthropic: HTTP 500; openai: timeout"),
    )
    .await;
    assert!(
        rep.semantic_note
            .as_deref()
            .unwrap_or("")
            .contains("every provider failed")
    );
}

#[test]
fn json_keeps_the_cli_contract_field_names() {
    let rep = clean_rust().analyze();
    let v = serde_json::to_value(&rep).expect("json");
    for k in [
        "path",
        "files",
        "lines",
        "languages",
        "project_types",
        "has_tests",
        "has_ci",
        "has_docs",
        "findings",
        "semantic",
        "semantic_note",
        "duration_ms",
    ] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    for k in ["code", "comments", "blanks"] {
        assert!(v["lines"][k].is_u64(), "lines.{k}");
    }
    let lang = &v["languages"][0];
    for k in ["name", "files", "code", "comments", "blanks"] {
        assert!(lang.get(k).is_some(), "languages[].{k}");
    }
    let r = clean_rust();
    r.remove("LICENSE")
        .file("Cargo.toml", "[package]\nname = \"demo\"\n");
    let v = serde_json::to_value(r.analyze()).expect("json");
    let f = &v["findings"][0];
    for k in [
        "id",
        "title",
        "description",
        "impact",
        "priority",
        "category",
        "effort_hours",
        "confidence",
        "evidence",
    ] {
        assert!(f.get(k).is_some(), "findings[].{k}");
    }
    assert_eq!(f["priority"], "HIGH");
    assert_eq!(f["category"], "docs");
}

#[test]
fn analysis_round_trips_through_the_store() {
    let conn = rusqlite::Connection::open_in_memory().expect("db");
    conn.execute_batch(orchestrator_tui::store::analyses::MIGRATION_SQL)
        .expect("migrate");
    let r = clean_rust();
    r.remove("README.md");
    let rep = r.analyze();
    orchestrator_tui::store::analyses::save(&conn, &rep).expect("save");
    assert_eq!(
        orchestrator_tui::store::analyses::load_latest(&conn).expect("load"),
        Some(rep)
    );
}
