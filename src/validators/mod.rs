//! Deterministic validators: checks of a task's output that do not depend on a model's opinion.
//! A validator that cannot run (unknown name, missing tool) reports `skipped`, never `pass`.

use serde::{Deserialize, Serialize};

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

    pub fn from_json(v: &serde_json::Value) -> Result<Self, String> {
        match v {
            serde_json::Value::String(s) if !s.trim().is_empty() => Ok(Self::named(s.trim())),
            serde_json::Value::Object(m) if m.len() == 1 => {
                let (k, p) = m.iter().next().ok_or("empty validator object")?;
                Ok(ValidatorSpec {
                    name: k.clone(),
                    params: p.clone(),
                })
            }
            serde_json::Value::Object(m) if m.contains_key("name") => Ok(ValidatorSpec {
                name: m["name"].as_str().unwrap_or_default().to_string(),
                params: serde_json::Value::Object(m.clone()),
            }),
            other => Err(format!("invalid validator spec {other}")),
        }
    }
}

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

/// `[validators]` config (command validators are added by the validators issue).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidatorsConfig {}

/// Run every validator of a task on its output.
pub fn run_all(
    specs: &[ValidatorSpec],
    output: &str,
    _cfg: &ValidatorsConfig,
) -> Vec<ValidatorResult> {
    specs.iter().map(|s| run_one(s, output)).collect()
}

fn run_one(spec: &ValidatorSpec, output: &str) -> ValidatorResult {
    let (result, reason) = match spec.name.as_str() {
        "length" => length(&spec.params, output),
        "json" => json(output),
        other => (
            Verdict::Skipped,
            Some(format!("validator `{other}` is not available")),
        ),
    };
    ValidatorResult {
        name: spec.name.clone(),
        result,
        reason,
    }
}

fn length(p: &serde_json::Value, output: &str) -> (Verdict, Option<String>) {
    let n = output.trim().chars().count() as u64;
    let min = p.get("min").and_then(|v| v.as_u64()).unwrap_or(1);
    let max = p.get("max").and_then(|v| v.as_u64()).unwrap_or(u64::MAX);
    if n < min {
        (
            Verdict::Fail,
            Some(format!("output has {n} characters, fewer than {min}")),
        )
    } else if n > max {
        (
            Verdict::Fail,
            Some(format!("output has {n} characters, more than {max}")),
        )
    } else {
        (Verdict::Pass, None)
    }
}

fn json(output: &str) -> (Verdict, Option<String>) {
    let body = fenced(output, "json").unwrap_or(output.trim());
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(_) => (Verdict::Pass, None),
        Err(e) => (
            Verdict::Fail,
            Some(format!("invalid JSON at line {}: {e}", e.line())),
        ),
    }
}

/// The first fenced block tagged `lang`, if any.
pub fn fenced<'a>(output: &'a str, lang: &str) -> Option<&'a str> {
    let tag = format!("```{lang}");
    let start = output.find(&tag)? + tag.len();
    let rest = &output[start..];
    let nl = rest.find('\n')? + 1;
    let end = rest[nl..].find("```")? + nl;
    Some(&rest[nl..end])
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
        assert_eq!(serde_json::to_string(&b).unwrap(), r#"{"length":{"min":5}}"#);
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
