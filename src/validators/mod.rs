//! Deterministic validators: checks of a task's output that do not depend on a model's opinion.
//! A validator that cannot run (unknown name, missing tool) reports `skipped`, never `pass`.

pub mod command;
pub mod defaults;
pub mod python;
pub mod schema;
pub mod syntax;

use crate::model_output::extract::{self, Extraction};
pub use command::CommandValidator;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
pub use syntax::SyntaxLanguage;

/// A validator named in a plan: `"python_syntax"` or `{"length": {"min": 200}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatorSpec {
    pub name: String,
    pub params: serde_json::Value,
}

impl Serialize for ValidatorSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.params.is_null() {
            s.serialize_str(&self.name)
        } else {
            let mut m = serde_json::Map::new();
            m.insert(self.name.clone(), self.params.clone());
            serde_json::Value::Object(m).serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for ValidatorSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        ValidatorSpec::from_json(&v).map_err(serde::de::Error::custom)
    }
}

impl ValidatorSpec {
    pub fn named(name: &str) -> Self {
        ValidatorSpec {
            name: name.to_string(),
            params: serde_json::Value::Null,
        }
    }

    pub fn from_json(v: &serde_json::Value) -> Result<Self, InvalidSpec> {
        match v {
            serde_json::Value::String(s) if !s.trim().is_empty() => Ok(Self::named(s.trim())),
            serde_json::Value::Object(m) if m.len() == 1 => {
                let (k, p) = m.iter().next().ok_or_else(|| InvalidSpec(v.to_string()))?;
                Ok(ValidatorSpec {
                    name: k.clone(),
                    params: p.clone(),
                })
            }
            serde_json::Value::Object(m) if m.contains_key("name") => Ok(ValidatorSpec {
                name: m["name"].as_str().unwrap_or_default().to_string(),
                params: serde_json::Value::Object(m.clone()),
            }),
            other => Err(InvalidSpec(other.to_string())),
        }
    }
}

/// A plan's validator entry that is neither a name nor a one-key object (shown as JSON).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid validator spec {0}")]
pub struct InvalidSpec(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidatorResult {
    pub name: String,
    pub result: Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `[validators]` config: command validators by name, and the default validators of each task
/// type (`[validators.defaults]`, checked by [`ValidatorsConfig::check`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidatorsConfig {
    pub commands: BTreeMap<String, CommandValidator>,
    /// Task type -> validator names; a type not listed keeps [`defaults::builtin`].
    pub defaults: BTreeMap<String, Vec<String>>,
}

/// The validators of a task: those its plan names, then its type's defaults, then the configured
/// command validators that apply to its type (each check once).
pub fn validators_for(
    task_type: &str,
    explicit: &[ValidatorSpec],
    cfg: &ValidatorsConfig,
) -> Vec<ValidatorSpec> {
    let mut out = explicit.to_vec();
    for name in cfg.defaults_for(task_type) {
        if !name.is_empty() && !out.iter().any(|s| defaults::same_check(&s.name, &name)) {
            out.push(ValidatorSpec::named(&name));
        }
    }
    for (name, cv) in &cfg.commands {
        if cv.applies_to(task_type) && !out.iter().any(|s| &s.name == name) {
            out.push(ValidatorSpec::named(name));
        }
    }
    out
}

/// Run every validator of a task on its output. Command validators block (up to their timeout);
/// async callers use [`run_all_async`]. `syntax` gives one result per language of the output
/// (`syntax:python`, ...), leaving out languages that a named `<lang>_syntax` already checks.
pub fn run_all(
    specs: &[ValidatorSpec],
    output: &str,
    cfg: &ValidatorsConfig,
) -> Vec<ValidatorResult> {
    let covered: Vec<SyntaxLanguage> = specs
        .iter()
        .filter_map(|s| SyntaxLanguage::from_validator_name(&s.name))
        .collect();
    specs
        .iter()
        .flat_map(|s| {
            if s.name == "syntax" {
                defaults::syntax_all(output, &covered)
            } else {
                vec![run_one(s, output, cfg)]
            }
        })
        .collect()
}

/// [`run_all`] on tokio's blocking pool, so command validators do not stall the runtime.
pub async fn run_all_async(
    specs: &[ValidatorSpec],
    output: &str,
    cfg: &ValidatorsConfig,
) -> Vec<ValidatorResult> {
    let (s, o, c) = (specs.to_vec(), output.to_string(), cfg.clone());
    match tokio::task::spawn_blocking(move || run_all(&s, &o, &c)).await {
        Ok(r) => r,
        Err(e) => specs
            .iter()
            .map(|s| ValidatorResult {
                name: s.name.clone(),
                result: Verdict::Skipped,
                reason: Some(format!("validator did not finish: {e}")),
            })
            .collect(),
    }
}

/// Run one validator. Built-in names win over configured commands of the same name.
pub fn run_one(spec: &ValidatorSpec, output: &str, cfg: &ValidatorsConfig) -> ValidatorResult {
    let (result, reason) = if let Some(lang) = SyntaxLanguage::from_validator_name(&spec.name) {
        syntax_validator(lang, output)
    } else {
        match spec.name.as_str() {
            "length" => length(&spec.params, output),
            "json" => json(&spec.params, output),
            other => match cfg.commands.get(other) {
                Some(cv) => command::run(other, cv, output),
                None => (
                    Verdict::Skipped,
                    Some(format!("validator `{other}` is not available")),
                ),
            },
        }
    };
    ValidatorResult {
        name: spec.name.clone(),
        result,
        reason,
    }
}

type Outcome = (Verdict, Option<String>);

fn syntax_validator(lang: SyntaxLanguage, output: &str) -> Outcome {
    let label = lang.label();
    let snippets = match extract::extract_code(output, lang.language()) {
        Extraction::Found(s) => s,
        Extraction::OtherLanguages(tags) => {
            return (
                Verdict::Fail,
                Some(format!(
                    "no {label} code found: the output's fenced blocks are tagged {}",
                    tags.iter()
                        .map(|t| format!("`{t}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
        }
    };
    if snippets.iter().all(|s| s.code.trim().is_empty()) {
        return (
            Verdict::Fail,
            Some(format!("no {label} code found (empty)")),
        );
    }
    for s in &snippets {
        // A `tsx` block under typescript_syntax is parsed with the TSX grammar.
        let l = if lang == SyntaxLanguage::TypeScript && is_tsx(output, s) {
            SyntaxLanguage::Tsx
        } else {
            lang
        };
        if let Err(e) = syntax::check(l, &s.code) {
            let where_ = if s.origin.is_empty() {
                String::new()
            } else {
                format!(" in {}", s.origin)
            };
            return (Verdict::Fail, Some(format!("{label}{where_}: {e}")));
        }
    }
    (Verdict::Pass, None)
}

fn is_tsx(output: &str, s: &extract::Snippet<'_>) -> bool {
    extract::code_blocks(output)
        .iter()
        .any(|b| b.language == Some("tsx") && b.code == s.code)
}

/// `{"length": {"min": N, "max": M, "unit": "chars" | "words" | "lines"}}` on the trimmed output.
fn length(p: &serde_json::Value, output: &str) -> Outcome {
    let bound = |k: &str| -> Result<Option<u64>, String> {
        match p.get(k) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
                .map(Some)
                .ok_or_else(|| format!("`{k}` must be a non-negative number, got {v}")),
        }
    };
    let (min, max) = match (bound("min"), bound("max")) {
        (Ok(a), Ok(b)) => (a.unwrap_or(1), b.unwrap_or(u64::MAX)),
        (Err(e), _) | (_, Err(e)) => {
            return (
                Verdict::Skipped,
                Some(format!("invalid length bounds: {e}")),
            );
        }
    };
    if min > max {
        return (
            Verdict::Skipped,
            Some(format!("invalid length bounds: min {min} > max {max}")),
        );
    }
    let unit = p.get("unit").and_then(|u| u.as_str()).unwrap_or("chars");
    let t = output.trim();
    let (n, what) = match unit {
        "words" => (t.split_whitespace().count() as u64, "words"),
        "lines" => (t.lines().count() as u64, "lines"),
        "chars" | "characters" => (t.chars().count() as u64, "characters"),
        other => {
            return (
                Verdict::Skipped,
                Some(format!(
                    "invalid length unit `{other}` (chars, words or lines)"
                )),
            );
        }
    };
    if n < min {
        (
            Verdict::Fail,
            Some(format!(
                "output has {n} {what}, fewer than the minimum {min}"
            )),
        )
    } else if n > max {
        (
            Verdict::Fail,
            Some(format!(
                "output has {n} {what}, more than the maximum {max}"
            )),
        )
    } else {
        (Verdict::Pass, None)
    }
}

/// `json` / `{"json": {"schema": {...}}}`: the output's JSON parses and, given a schema, is valid.
fn json(p: &serde_json::Value, output: &str) -> Outcome {
    let snippets = match extract::extract_code(output, "json") {
        Extraction::Found(s) => s,
        Extraction::OtherLanguages(_) => vec![extract::Snippet {
            code: output.trim().into(),
            origin: String::new(),
        }],
    };
    let mut values = Vec::new();
    for s in &snippets {
        match syntax::json_check(&s.code) {
            Ok(v) => values.push(v),
            Err(e) if s.origin.is_empty() => return (Verdict::Fail, Some(e.to_string())),
            Err(e) => return (Verdict::Fail, Some(format!("{}: {e}", s.origin))),
        }
    }
    let Some(schema) = p.get("schema") else {
        return (Verdict::Pass, None);
    };
    if let Err(e) = schema::check_schema(schema) {
        return (
            Verdict::Skipped,
            Some(format!("the JSON parses, but its schema is invalid: {e}")),
        );
    }
    for v in &values {
        let errors = schema::validate(schema, v);
        if !errors.is_empty() {
            return (
                Verdict::Fail,
                Some(format!(
                    "JSON does not match the schema: {}",
                    errors.join("; ")
                )),
            );
        }
    }
    let (checked, unchecked) = schema::coverage(schema);
    if checked == 0 && !unchecked.is_empty() {
        return (
            Verdict::Skipped,
            Some(format!(
                "the JSON parses, but none of its schema's keywords can be checked here: {}",
                unchecked.join(", ")
            )),
        );
    }
    if unchecked.is_empty() {
        (Verdict::Pass, None)
    } else {
        (
            Verdict::Pass,
            Some(format!(
                "schema keywords not checked: {}",
                unchecked.join(", ")
            )),
        )
    }
}

/// The first fenced block tagged `lang` (or an alias of it), if any.
pub fn fenced<'a>(output: &'a str, lang: &str) -> Option<&'a str> {
    extract::fenced(output, lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_both_forms() {
        let a: ValidatorSpec = serde_json::from_str("\"python_syntax\"").unwrap();
        assert_eq!(a.name, "python_syntax");
        let b: ValidatorSpec = serde_json::from_str(r#"{"length": {"min": 5}}"#).unwrap();
        assert_eq!(b.name, "length");
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"length":{"min":5}}"#
        );
    }

    #[test]
    fn length_and_json() {
        let cfg = ValidatorsConfig::default();
        let r = run_all(
            &[
                ValidatorSpec::from_json(&serde_json::json!({"length": {"min": 10}})).unwrap(),
                ValidatorSpec::named("json"),
                ValidatorSpec::named("nope"),
            ],
            "```json\n{\"a\": 1,}\n```",
            &cfg,
        );
        assert_eq!(r[0].result, Verdict::Pass);
        assert_eq!(r[1].result, Verdict::Fail);
        assert!(r[1].reason.as_ref().unwrap().contains("line 1"));
        assert_eq!(r[2].result, Verdict::Skipped);
    }
}
