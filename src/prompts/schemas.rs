//! The JSON shapes the engine parses out of model answers, sent as structured output (each wire
//! format carries them its own way, `providers/`): the task list, an evaluation, a critique's
//! verdict and the analyzer's semantic summary. The parsers stay lenient: a server that ignores
//! the schema, or a fallback to the prompt alone, still gets its answer read.
//!
//! Written in the strict subset (every object lists all its properties in `required` and sets
//! `additionalProperties: false`), which OpenAI's strict mode demands and the others accept.

use crate::domain::{OutputSchema, TaskType};
use serde_json::{Value, json};
use std::sync::{Arc, LazyLock};

fn object(properties: Value) -> Value {
    let required: Vec<Value> = properties
        .as_object()
        .map(|o| o.keys().map(|k| Value::String(k.clone())).collect())
        .unwrap_or_default();
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn strings() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

static TASK_LIST: LazyLock<Arc<OutputSchema>> = LazyLock::new(|| {
    let types: Vec<&str> = TaskType::ALL.iter().map(|t| t.as_str()).collect();
    let task = object(json!({
        "id": {"type": "string"},
        "type": {"type": "string", "enum": types},
        "prompt": {"type": "string"},
        "dependencies": strings(),
        "validators": strings(),
    }));
    Arc::new(OutputSchema {
        name: "task_list",
        description: "The project split into atomic tasks.",
        schema: object(json!({"tasks": {"type": "array", "items": task}})),
    })
});

static EVALUATION: LazyLock<Arc<OutputSchema>> = LazyLock::new(|| {
    Arc::new(OutputSchema {
        name: "evaluation",
        description: "A score from 0.0 to 1.0 of how well the output fulfils the task, and why.",
        schema: object(json!({
            "score": {"type": "number"},
            "reason": {"type": "string"},
        })),
    })
});

static CRITIQUE: LazyLock<Arc<OutputSchema>> = LazyLock::new(|| {
    Arc::new(OutputSchema {
        name: "critique",
        description: "The review verdict (accept or revise) and the concrete defects found.",
        schema: object(json!({
            "verdict": {"type": "string", "enum": ["accept", "revise"]},
            "defects": strings(),
        })),
    })
});

static SEMANTIC: LazyLock<Arc<OutputSchema>> = LazyLock::new(|| {
    let evidence = object(json!({
        "path": {"type": "string"},
        "line": {"type": ["integer", "null"]},
        "note": {"type": "string"},
    }));
    let suggestion = object(json!({
        "title": {"type": "string"},
        "description": {"type": "string"},
        "impact": {"type": "string"},
        "priority": {"type": "string", "enum": ["HIGH", "MEDIUM", "LOW"]},
        "category": {"type": "string", "enum": [
            "security", "testing", "ci", "docs", "dependencies", "maintainability", "hygiene",
            "performance"
        ]},
        "effort_hours": {"type": "number"},
        "confidence": {"type": "number"},
        "evidence": {"type": "array", "items": evidence},
    }));
    Arc::new(OutputSchema {
        name: "repository_review",
        description: "The repository's purpose, patterns and suggested improvements.",
        schema: object(json!({
            "purpose": {"type": "string"},
            "primary_patterns": strings(),
            "anti_patterns": strings(),
            "test_coverage": {"type": "string"},
            "documentation": {"type": "string"},
            "suggestions": {"type": "array", "items": suggestion},
        })),
    })
});

/// The decomposition's answer: `{"tasks": [{id, type, prompt, dependencies, validators}]}`.
pub fn task_list() -> Arc<OutputSchema> {
    TASK_LIST.clone()
}

/// An evaluation: `{"score": number, "reason": string}`.
pub fn evaluation() -> Arc<OutputSchema> {
    EVALUATION.clone()
}

/// A critique: `{"verdict": "accept" | "revise", "defects": [string]}`.
pub fn critique() -> Arc<OutputSchema> {
    CRITIQUE.clone()
}

/// The analyzer's semantic stage (the object `analysis::semantic::SYSTEM` describes).
pub fn semantic() -> Arc<OutputSchema> {
    SEMANTIC.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every object of a strict schema requires all its properties and forbids others.
    fn assert_strict(v: &Value, at: &str) {
        if let Some(props) = v.get("properties").and_then(Value::as_object) {
            let required: Vec<&str> = v["required"]
                .as_array()
                .expect("required")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            for k in props.keys() {
                assert!(required.contains(&k.as_str()), "{at}.{k} not required");
            }
            assert_eq!(v["additionalProperties"], json!(false), "{at}");
            for (k, p) in props {
                assert_strict(p, &format!("{at}.{k}"));
            }
        }
        if let Some(items) = v.get("items") {
            assert_strict(items, &format!("{at}[]"));
        }
    }

    #[test]
    fn every_schema_is_strict_and_an_object_at_the_top() {
        for s in [task_list(), evaluation(), critique(), semantic()] {
            assert_eq!(s.schema["type"], json!("object"), "{}", s.name);
            assert_strict(&s.schema, s.name);
        }
    }

    #[test]
    fn the_task_list_names_every_task_type() {
        let s = task_list();
        let types = &s.schema["properties"]["tasks"]["items"]["properties"]["type"]["enum"];
        assert_eq!(types.as_array().map(Vec::len), Some(TaskType::ALL.len()));
        assert!(
            types
                .as_array()
                .unwrap()
                .contains(&json!("code_generation"))
        );
    }
}
