//! `json` (with an optional JSON Schema) and `length` validators.

use orchestrator_tui::validators::{ValidatorSpec, ValidatorsConfig, Verdict, run_all};
use serde_json::json;

fn run(spec: serde_json::Value, output: &str) -> (Verdict, String) {
    let spec = ValidatorSpec::from_json(&spec).expect("valid spec");
    let r = run_all(&[spec], output, &ValidatorsConfig::default());
    (r[0].result, r[0].reason.clone().unwrap_or_default())
}

#[test]
fn json_without_schema() {
    assert_eq!(
        run(json!("json"), "```json\n{\"a\": 1}\n```").0,
        Verdict::Pass
    );
    let (v, why) = run(json!("json"), "```json\n{\n  \"a\": 1,\n}\n```");
    assert_eq!(v, Verdict::Fail);
    assert!(why.contains("line 3"), "{why}");
}

#[test]
fn json_with_schema() {
    let schema = json!({"json": {"schema": {
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {"type": "array", "items": {"type": "object", "required": ["name"],
                "properties": {"name": {"type": "string"}, "value": {"type": "integer"}}}},
            "source": {"enum": ["simulated", "real"]}
        }
    }}});
    let ok = "```json\n{\"items\": [{\"name\": \"example\", \"value\": 1}], \"source\": \"simulated\"}\n```\n";
    assert_eq!(run(schema.clone(), ok).0, Verdict::Pass);

    let (v, why) = run(
        schema.clone(),
        "{\"items\": [{\"value\": \"x\"}], \"source\": \"other\"}",
    );
    assert_eq!(v, Verdict::Fail);
    assert!(why.contains("schema"), "{why}");
    assert!(why.contains("/items/0"), "{why}");

    let (v, why) = run(schema, "{\"source\": \"real\"}");
    assert_eq!(v, Verdict::Fail);
    assert!(why.contains("items"), "{why}");
}

#[test]
fn invalid_schema_is_skipped_not_passed() {
    let (v, why) = run(json!({"json": {"schema": {"type": 12}}}), "{}");
    assert_eq!(v, Verdict::Skipped);
    assert!(why.contains("schema"), "{why}");
    // A remote reference is not fetched: with nothing else to check, that is not a pass.
    let (v, why) = run(
        json!({"json": {"schema": {"$ref": "https://example.invalid/schema.json"}}}),
        "{}",
    );
    assert_eq!(v, Verdict::Skipped, "{why}");
}

#[test]
fn unchecked_schema_keywords_are_named_in_a_pass() {
    let (v, why) = run(
        json!({"json": {"schema": {"type": "object", "properties": {"e": {"type": "string", "format": "email", "pattern": "@"}}}}}),
        "{\"e\": \"a@b.c\"}",
    );
    assert_eq!(v, Verdict::Pass);
    assert!(why.contains("format") && why.contains("pattern"), "{why}");
    let (v, why) = run(
        json!({"json": {"schema": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1, "maximum": 9}}, "additionalProperties": false}}}),
        "{\"n\": 10, \"x\": 1}",
    );
    assert_eq!(v, Verdict::Fail);
    assert!(
        why.contains("/n") && why.contains("greater than 9") && why.contains("`x` is not allowed"),
        "{why}"
    );
}

#[test]
fn length_bounds_and_units() {
    let text = "one two three four five";
    assert_eq!(
        run(json!({"length": {"min": 5, "max": 100}}), text).0,
        Verdict::Pass
    );
    let (v, why) = run(json!({"length": {"min": 200}}), text);
    assert_eq!(v, Verdict::Fail);
    assert!(
        why.contains("23 characters") && why.contains("200"),
        "{why}"
    );
    let (v, why) = run(json!({"length": {"max": 10}}), text);
    assert_eq!(v, Verdict::Fail);
    assert!(why.contains("more than"), "{why}");
    assert_eq!(
        run(
            json!({"length": {"min": 5, "max": 5, "unit": "words"}}),
            text
        )
        .0,
        Verdict::Pass
    );
    assert_eq!(
        run(json!({"length": {"min": 2, "unit": "lines"}}), text).0,
        Verdict::Fail
    );
    // Plain `length`: at least one character.
    assert_eq!(run(json!("length"), "   ").0, Verdict::Fail);
    assert_eq!(run(json!("length"), "x").0, Verdict::Pass);
}

#[test]
fn invalid_length_params_are_skipped() {
    for p in [
        json!({"length": {"min": 10, "max": 5}}),
        json!({"length": {"min": "ten"}}),
        json!({"length": {"min": -1}}),
        json!({"length": {"unit": "pages"}}),
    ] {
        let (v, why) = run(p.clone(), "some output");
        assert_eq!(v, Verdict::Skipped, "{p}: {why}");
    }
}
