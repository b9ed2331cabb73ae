//! A small JSON Schema subset for the `json` validator (the `jsonschema` crate alone took about
//! 100 s of a clean build here, so it is not used).
//!
//! Checked keywords: `type` (one or a list; `integer` included), `enum`, `const`, `required`,
//! `properties`, `additionalProperties` (boolean or schema), `items` (one schema), `minItems`,
//! `maxItems`, `uniqueItems`, `minLength`, `maxLength`, `minimum`, `maximum`,
//! `exclusiveMinimum`, `exclusiveMaximum`, `allOf`, `anyOf`, `oneOf`, `not`, and local `$ref`s
//! (`#/definitions/x`, `#/$defs/x`). Other keywords (`pattern`, `format`, remote `$ref`, ...) are
//! not checked; they are listed so the result can say so.

use serde_json::Value;

/// Keywords that carry no constraint (annotations) and are silently accepted.
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "definitions",
    "$defs",
    "readOnly",
    "writeOnly",
    "deprecated",
];

const CHECKED: &[&str] = &[
    "type",
    "enum",
    "const",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "$ref",
];

/// Most errors reported for one instance.
const MAX_ERRORS: usize = 3;
/// Deepest schema nesting followed (guards `$ref` cycles).
const MAX_DEPTH: usize = 64;
/// Most schema checks made for one instance (guards combinator blow-ups).
const MAX_STEPS: usize = 200_000;

/// (keyword, whether a value violates it, words for the reason).
type NumberLimit = (&'static str, fn(f64, f64) -> bool, &'static str);

struct Ctx<'a> {
    root: &'a Value,
    steps: usize,
}

/// A JSON schema this subset cannot use (values shown as JSON).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("`type` {0} is not a JSON type")]
    UnknownType(String),
    #[error("a schema must be an object, not {0}")]
    NotObject(String),
}

/// Whether `schema` itself is usable: an object (or boolean) whose `type` names known types.
pub fn check_schema(schema: &Value) -> Result<(), SchemaError> {
    match schema {
        Value::Bool(_) => Ok(()),
        Value::Object(m) => {
            if let Some(t) = m.get("type") {
                let names: Vec<&Value> = match t {
                    Value::Array(a) => a.iter().collect(),
                    other => vec![other],
                };
                for n in names {
                    match n.as_str() {
                        Some(
                            "object" | "array" | "string" | "number" | "integer" | "boolean"
                            | "null",
                        ) => {}
                        _ => return Err(SchemaError::UnknownType(n.to_string())),
                    }
                }
            }
            Ok(())
        }
        other => Err(SchemaError::NotObject(other.to_string())),
    }
}

/// Keywords of `schema` (at any depth) that this subset does not check, sorted and deduplicated.
pub fn unchecked_keywords(schema: &Value) -> Vec<String> {
    coverage(schema).1
}

/// How many constraint keywords of `schema` are checked, and which are not.
pub fn coverage(schema: &Value) -> (usize, Vec<String>) {
    let mut out = Vec::new();
    let mut checked = 0;
    collect_unchecked(schema, &mut out, &mut checked, 0);
    out.sort();
    out.dedup();
    (checked, out)
}

fn collect_unchecked(schema: &Value, out: &mut Vec<String>, checked: &mut usize, depth: usize) {
    let Value::Object(m) = schema else { return };
    if depth > MAX_DEPTH {
        return;
    }
    for (k, v) in m {
        if k == "$ref" && !v.as_str().is_some_and(|r| r.starts_with('#')) {
            out.push(format!("$ref {v}"));
        } else if CHECKED.contains(&k.as_str()) {
            *checked += 1;
        } else if !ANNOTATIONS.contains(&k.as_str()) {
            out.push(k.clone());
        }
        match (k.as_str(), v) {
            ("properties" | "definitions" | "$defs", Value::Object(p)) => {
                p.values()
                    .for_each(|s| collect_unchecked(s, out, checked, depth + 1));
            }
            ("allOf" | "anyOf" | "oneOf", Value::Array(a)) => {
                a.iter()
                    .for_each(|s| collect_unchecked(s, out, checked, depth + 1));
            }
            ("items" | "additionalProperties" | "not", s) => {
                collect_unchecked(s, out, checked, depth + 1)
            }
            _ => {}
        }
    }
}

/// Validate `instance` against `schema` (`root` resolves `$ref`s); errors name the JSON pointer.
pub fn validate(root: &Value, instance: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let mut ctx = Ctx { root, steps: 0 };
    check(&mut ctx, root, instance, "", &mut errors, 0);
    errors.truncate(MAX_ERRORS);
    errors
}

fn check(
    ctx: &mut Ctx<'_>,
    schema: &Value,
    v: &Value,
    at: &str,
    errs: &mut Vec<String>,
    depth: usize,
) {
    if errs.len() >= MAX_ERRORS {
        return;
    }
    ctx.steps += 1;
    if ctx.steps > MAX_STEPS {
        errs.push("the schema is too complex to check".into());
        return;
    }
    let here = if at.is_empty() { "/" } else { at };
    let m = match schema {
        Value::Bool(true) => return,
        Value::Bool(false) => {
            errs.push(format!("at `{here}`: no value is allowed here"));
            return;
        }
        Value::Object(m) => m,
        _ => return,
    };
    if depth > MAX_DEPTH {
        errs.push(format!(
            "at `{here}`: schema nesting too deep (a `$ref` cycle?)"
        ));
        return;
    }
    if let Some(r) = m.get("$ref").and_then(Value::as_str)
        && let Some(target) = resolve(ctx.root, r)
    {
        check(ctx, target, v, at, errs, depth + 1);
    }
    if let Some(t) = m.get("type") {
        let names: Vec<&str> = match t {
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            other => other.as_str().into_iter().collect(),
        };
        if !names.is_empty() && !names.iter().any(|n| is_type(v, n)) {
            errs.push(format!(
                "at `{here}`: expected {}, found {}",
                names.join(" or "),
                type_name(v)
            ));
            return;
        }
    }
    if let Some(Value::Array(options)) = m.get("enum")
        && !options.contains(v)
    {
        errs.push(format!(
            "at `{here}`: {} is not one of {}",
            short(v),
            short(&Value::Array(options.clone()))
        ));
    }
    if let Some(c) = m.get("const")
        && c != v
    {
        errs.push(format!("at `{here}`: expected {}", short(c)));
    }
    match v {
        Value::Object(obj) => {
            if let Some(Value::Array(req)) = m.get("required") {
                for k in req.iter().filter_map(Value::as_str) {
                    if !obj.contains_key(k) {
                        errs.push(format!("at `{here}`: missing required property `{k}`"));
                    }
                }
            }
            let props = m.get("properties").and_then(Value::as_object);
            for (k, val) in obj {
                let child = format!("{at}/{}", escape_pointer(k));
                match props.and_then(|p| p.get(k)) {
                    Some(s) => check(ctx, s, val, &child, errs, depth + 1),
                    None => match m.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            errs.push(format!("at `{here}`: property `{k}` is not allowed"));
                        }
                        Some(s @ Value::Object(_)) => check(ctx, s, val, &child, errs, depth + 1),
                        _ => {}
                    },
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = m.get("items").filter(|s| s.is_object() || s.is_boolean()) {
                for (i, item) in items.iter().enumerate() {
                    check(ctx, s, item, &format!("{at}/{i}"), errs, depth + 1);
                }
            }
            bound(
                m,
                "minItems",
                items.len(),
                |n, b| n < b,
                "fewer than",
                "items",
                here,
                errs,
            );
            bound(
                m,
                "maxItems",
                items.len(),
                |n, b| n > b,
                "more than",
                "items",
                here,
                errs,
            );
            if m.get("uniqueItems") == Some(&Value::Bool(true)) {
                let dup = items
                    .iter()
                    .enumerate()
                    .any(|(i, x)| items[..i].contains(x));
                if dup {
                    errs.push(format!("at `{here}`: items are not unique"));
                }
            }
        }
        Value::String(s) => {
            let n = s.chars().count();
            bound(
                m,
                "minLength",
                n,
                |n, b| n < b,
                "shorter than",
                "characters",
                here,
                errs,
            );
            bound(
                m,
                "maxLength",
                n,
                |n, b| n > b,
                "longer than",
                "characters",
                here,
                errs,
            );
        }
        Value::Number(num) => {
            if let Some(x) = num.as_f64() {
                let limits: [NumberLimit; 4] = [
                    ("minimum", |x, b| x < b, "less than"),
                    ("maximum", |x, b| x > b, "greater than"),
                    ("exclusiveMinimum", |x, b| x <= b, "not greater than"),
                    ("exclusiveMaximum", |x, b| x >= b, "not less than"),
                ];
                for (k, violates, words) in limits {
                    if let Some(b) = m.get(k).and_then(Value::as_f64)
                        && violates(x, b)
                    {
                        errs.push(format!("at `{here}`: {num} is {words} {b}"));
                    }
                }
            }
        }
        _ => {}
    }
    combinators(ctx, m, v, at, here, errs, depth);
}

fn combinators(
    ctx: &mut Ctx<'_>,
    m: &serde_json::Map<String, Value>,
    v: &Value,
    at: &str,
    here: &str,
    errs: &mut Vec<String>,
    depth: usize,
) {
    let passes = |ctx: &mut Ctx<'_>, s: &Value| {
        let mut e = Vec::new();
        check(ctx, s, v, at, &mut e, depth + 1);
        e.is_empty()
    };
    if let Some(Value::Array(all)) = m.get("allOf") {
        for s in all {
            check(ctx, s, v, at, errs, depth + 1);
        }
    }
    if let Some(Value::Array(any)) = m.get("anyOf")
        && !any.iter().any(|s| passes(ctx, s))
    {
        errs.push(format!("at `{here}`: matches none of the `anyOf` schemas"));
    }
    if let Some(Value::Array(one)) = m.get("oneOf") {
        let n = one.iter().filter(|s| passes(ctx, s)).count();
        if n != 1 {
            errs.push(format!(
                "at `{here}`: matches {n} of the `oneOf` schemas, not exactly 1"
            ));
        }
    }
    if let Some(not) = m.get("not")
        && passes(ctx, not)
    {
        errs.push(format!("at `{here}`: matches a `not` schema"));
    }
}

#[allow(clippy::too_many_arguments)]
fn bound(
    m: &serde_json::Map<String, Value>,
    key: &str,
    n: usize,
    violates: fn(u64, u64) -> bool,
    words: &str,
    unit: &str,
    here: &str,
    errs: &mut Vec<String>,
) {
    if let Some(b) = m.get(key).and_then(Value::as_u64)
        && violates(n as u64, b)
    {
        errs.push(format!("at `{here}`: {n} {unit}, {words} {b}"));
    }
}

fn resolve<'a>(root: &'a Value, r: &str) -> Option<&'a Value> {
    let pointer = r.strip_prefix('#')?;
    root.pointer(pointer)
}

fn is_type(v: &Value, name: &str) -> bool {
    match name {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => {
            v.as_i64().is_some()
                || v.as_u64().is_some()
                || v.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => true,
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn escape_pointer(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

/// A value for a reason, cut to 60 characters.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types_required_and_nested_paths() {
        let s = json!({"type": "object", "required": ["a"], "properties": {
            "a": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "b": {"type": ["string", "null"], "maxLength": 3}
        }});
        assert!(validate(&s, &json!({"a": [1, 2], "b": null})).is_empty());
        let e = validate(&s, &json!({"a": [1, -2, "x"], "b": "long"}));
        assert!(
            e.iter()
                .any(|e| e.contains("/a/1") && e.contains("less than 0")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|e| e.contains("/a/2") && e.contains("expected integer")),
            "{e:?}"
        );
        assert!(validate(&s, &json!({}))[0].contains("missing required property `a`"));
    }

    #[test]
    fn enum_const_additional_and_combinators() {
        let s = json!({"properties": {"k": {"enum": ["x", "y"]}, "c": {"const": 1}},
            "additionalProperties": false,
            "anyOf": [{"required": ["k"]}, {"required": ["c"]}]});
        assert!(validate(&s, &json!({"k": "x"})).is_empty());
        assert!(!validate(&s, &json!({"k": "z"})).is_empty());
        assert!(!validate(&s, &json!({"c": 2})).is_empty());
        assert!(validate(&s, &json!({"k": "x", "other": 1}))[0].contains("not allowed"));
        assert!(validate(&s, &json!({}))[0].contains("anyOf"));
        let one = json!({"oneOf": [{"type": "integer"}, {"type": "number"}]});
        assert!(!validate(&one, &json!(1)).is_empty());
        assert!(validate(&one, &json!(1.5)).is_empty());
    }

    #[test]
    fn refs_and_cycles() {
        let s = json!({"$defs": {"n": {"type": "object", "properties": {"next": {"$ref": "#/$defs/n"}}}},
            "$ref": "#/$defs/n"});
        assert!(validate(&s, &json!({"next": {"next": {}}})).is_empty());
        assert!(!validate(&s, &json!({"next": 3})).is_empty());
        let cyc = json!({"$ref": "#"});
        assert!(!validate(&cyc, &json!(1)).is_empty());
    }

    #[test]
    fn schema_checks_and_unchecked_keywords() {
        assert!(check_schema(&json!({"type": 12})).is_err());
        assert!(check_schema(&json!({"type": "strnig"})).is_err());
        assert!(check_schema(&json!([1])).is_err());
        assert!(check_schema(&json!({"type": ["string", "null"]})).is_ok());
        let s = json!({"title": "x", "properties": {"a": {"pattern": "^a", "format": "email"}},
            "$ref": "https://example.com/s.json"});
        assert_eq!(
            unchecked_keywords(&s),
            ["$ref \"https://example.com/s.json\"", "format", "pattern"]
        );
        assert_eq!(coverage(&s).0, 1); // `properties`
        assert_eq!(coverage(&json!({"$ref": "#/$defs/x"})).0, 1);
    }
}
