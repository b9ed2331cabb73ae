//! Defensive parsing of a model's (or a `--plan` file's) task list: fences, trailing commas, prose
//! around the JSON, an object wrapping the list, truncation. Only `id`, `type` and `prompt` are
//! required; malformed items are dropped with a warning.

use crate::config::Config;
use crate::domain::{TaskSpec, TaskType};
use crate::validators::ValidatorSpec;
use serde_json::Value;

/// Most tasks a decomposition may produce (product.md §2).
pub const MAX_TASKS: usize = 50;
/// Most tasks a `--plan` file may hold (large scripted pipelines and benchmarks).
pub const MAX_PLAN_TASKS: usize = 100_000;

#[derive(Debug, Default)]
pub struct ParsedPlan {
    pub tasks: Vec<TaskSpec>,
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    #[error("no JSON task list found")]
    NoJson,
    #[error("the task list is empty or no item is valid")]
    Empty,
}

/// Parse a decomposition answer, applying task-type defaults from `cfg`.
pub fn parse_plan(text: &str, cfg: &Config) -> Result<ParsedPlan, PlanError> {
    parse_plan_limited(text, cfg, MAX_TASKS)
}

/// Parse a task list keeping at most `max` tasks.
pub fn parse_plan_limited(text: &str, cfg: &Config, max: usize) -> Result<ParsedPlan, PlanError> {
    let value = extract_json(text).ok_or(PlanError::NoJson)?;
    let items = match value {
        Value::Array(a) => a,
        Value::Object(mut o) => {
            // An object wrapping the list: {"tasks": [...]} or any single array field.
            let key = ["tasks", "plan", "items", "steps"]
                .iter()
                .find(|k| o.get(**k).is_some_and(Value::is_array))
                .map(|k| k.to_string())
                .or_else(|| o.iter().find(|(_, v)| v.is_array()).map(|(k, _)| k.clone()));
            match key.and_then(|k| o.remove(&k)) {
                Some(Value::Array(a)) => a,
                _ => return Err(PlanError::NoJson),
            }
        }
        _ => return Err(PlanError::NoJson),
    };
    let mut out = ParsedPlan::default();
    let mut seen = std::collections::HashSet::new();
    for (i, item) in items.into_iter().enumerate() {
        if out.tasks.len() >= max {
            out.warnings
                .push(format!("more than {max} tasks: the rest were dropped"));
            break;
        }
        match task_from_value(&item, cfg) {
            Ok(t) => {
                if !seen.insert(t.id.clone()) {
                    out.warnings
                        .push(format!("item {}: duplicate id `{}` dropped", i + 1, t.id));
                } else {
                    out.tasks.push(t);
                }
            }
            Err(e) => out.warnings.push(format!("item {}: {e}; dropped", i + 1)),
        }
    }
    if out.tasks.is_empty() {
        return Err(PlanError::Empty);
    }
    // Dependencies on tasks that do not exist cannot be satisfied: drop them, loudly.
    for t in &mut out.tasks {
        let tid = t.id.clone();
        let (kept, dropped): (Vec<String>, Vec<String>) = std::mem::take(&mut t.dependencies)
            .into_iter()
            .partition(|d| seen.contains(d) && *d != tid);
        t.dependencies = kept;
        if !dropped.is_empty() {
            let names: Vec<String> = dropped
                .iter()
                .take(5)
                .map(|d| format!("`{}`", d.chars().take(64).collect::<String>()))
                .collect();
            out.warnings.push(format!(
                "task `{}`: unknown or self dependency {} dropped",
                t.id,
                names.join(", ")
            ));
        }
    }
    Ok(out)
}

/// The run as one task when no valid plan came back: the description is its prompt, its type
/// inferred from it (defaults of that type from `cfg`).
pub fn single_task(description: &str, criteria: &str, cfg: &Config) -> TaskSpec {
    let task_type = infer_task_type(description);
    let (threshold, max_iterations, max_output_tokens) = cfg.task_defaults(task_type);
    let mut prompt = description.trim().to_string();
    if !criteria.trim().is_empty() {
        prompt.push_str("\n\nSuccess criteria: ");
        prompt.push_str(criteria.trim());
    }
    TaskSpec {
        id: "t1".into(),
        task_type,
        prompt,
        dependencies: vec![],
        threshold,
        max_iterations,
        max_output_tokens,
        validators: vec![],
    }
}

/// What a description asks for, by its words: code when it asks to write, fix or review code
/// (or names a programming language), else extraction, summary or prose; reasoning otherwise.
pub fn infer_task_type(text: &str) -> TaskType {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != '+' && c != '#')
        .filter(|w| !w.is_empty())
        .collect();
    let has = |set: &[&str]| words.iter().any(|w| set.contains(w));
    const CODE: &[&str] = &[
        "code",
        "function",
        "functions",
        "script",
        "program",
        "class",
        "method",
        "api",
        "endpoint",
        "cli",
        "library",
        "module",
        "implement",
        "implementation",
        "refactor",
        "bug",
        "compile",
        "unit",
        "test",
        "tests",
        "python",
        "rust",
        "javascript",
        "typescript",
        "java",
        "golang",
        "c++",
        "c#",
        "ruby",
        "php",
        "sql",
        "bash",
        "shell",
        "html",
        "css",
        "regex",
        "algorithm",
        "app",
        "application",
        "server",
        "website",
        "frontend",
        "backend",
    ];
    const REVIEW: &[&str] = &["review", "audit", "critique"];
    const EXTRACT: &[&str] = &["extract", "parse", "csv", "fields", "entities"];
    const SUMMARY: &[&str] = &[
        "summarize",
        "summarise",
        "summary",
        "tl",
        "tldr",
        "condense",
    ];
    const CREATIVE: &[&str] = &[
        "story", "poem", "essay", "haiku", "lyrics", "novel", "blog", "slogan", "tagline",
    ];
    if has(REVIEW) && has(CODE) {
        TaskType::CodeReview
    } else if has(CODE) {
        TaskType::CodeGeneration
    } else if has(EXTRACT) {
        TaskType::DataExtraction
    } else if has(SUMMARY) {
        TaskType::Summarization
    } else if has(CREATIVE) {
        TaskType::CreativeWriting
    } else {
        TaskType::ComplexReasoning
    }
}

/// Why one item of a plan was dropped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ItemError {
    #[error("not an object")]
    NotObject,
    #[error("missing `{0}`")]
    Missing(&'static str),
    /// Too long, or with control characters or path separators (shown cut to 64 characters).
    #[error("invalid id `{0}`")]
    BadId(String),
    #[error(transparent)]
    Type(#[from] crate::domain::UnknownTaskType),
}

fn task_from_value(v: &Value, cfg: &Config) -> Result<TaskSpec, ItemError> {
    let o = v.as_object().ok_or(ItemError::NotObject)?;
    let id = match o.get("id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(Value::Number(n)) => format!("t{n}"),
        _ => return Err(ItemError::Missing("id")),
    };
    if id.len() > 64 || id.chars().any(|c| c.is_control() || c == '/' || c == '\\') {
        return Err(ItemError::BadId(id.chars().take(64).collect()));
    }
    let ty: TaskType = o
        .get("type")
        .or_else(|| o.get("task_type"))
        .and_then(Value::as_str)
        .ok_or(ItemError::Missing("type"))?
        .parse()?;
    let prompt = o
        .get("prompt")
        .or_else(|| o.get("description"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(ItemError::Missing("prompt"))?
        .to_string();
    let dependencies = match o.get("dependencies").or_else(|| o.get("depends_on")) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|d| match d {
                Value::String(s) => Some(s.trim().to_string()),
                Value::Number(n) => Some(format!("t{n}")),
                _ => None,
            })
            .collect(),
        _ => vec![],
    };
    let validators = match o.get("validators") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| ValidatorSpec::from_json(x).ok())
            .collect(),
        _ => vec![],
    };
    let (th, it, mt) = cfg.task_defaults(ty);
    let threshold = o
        .get("threshold")
        .or_else(|| o.get("acceptance_threshold"))
        .and_then(Value::as_f64)
        .filter(|x| (0.0..=1.0).contains(x))
        .unwrap_or(th);
    let max_iterations = o
        .get("max_iterations")
        .and_then(Value::as_u64)
        .filter(|x| (1..=20).contains(x))
        .map(|x| x as u32)
        .unwrap_or(it);
    let max_output_tokens = o
        .get("max_output_tokens")
        .and_then(Value::as_u64)
        .filter(|x| (16..=1_000_000).contains(x))
        .map(|x| x as u32)
        .unwrap_or(mt);
    Ok(TaskSpec {
        id,
        task_type: ty,
        prompt,
        dependencies,
        threshold,
        max_iterations,
        max_output_tokens,
        validators,
    })
}

/// Find the JSON in a model answer: a fenced block, else the outermost brackets, repaired.
pub fn extract_json(text: &str) -> Option<Value> {
    let mut candidates: Vec<String> = Vec::new();
    // Fenced blocks first (```json or plain ```).
    let mut rest = text;
    while let Some(s) = rest.find("```") {
        let after = &rest[s + 3..];
        let body_start = after.find('\n').map(|i| i + 1).unwrap_or(after.len());
        let body = &after[body_start..];
        match body.find("```") {
            Some(e) => {
                candidates.push(body[..e].to_string());
                rest = &body[e + 3..];
            }
            None => {
                candidates.push(body.to_string());
                break;
            }
        }
    }
    candidates.push(text.to_string());
    for c in &candidates {
        if let Some(v) = parse_lenient(c) {
            return Some(v);
        }
    }
    None
}

fn parse_lenient(s: &str) -> Option<Value> {
    let start = s.find(['[', '{'])?;
    let body = &s[start..];
    if let Ok(v) = serde_json::from_str::<Value>(body.trim()) {
        return Some(v);
    }
    // Cut at the matching close bracket (ignores prose after), then repair.
    let cut = balanced_prefix(body);
    let repaired = repair(cut);
    serde_json::from_str::<Value>(&repaired).ok()
}

/// The prefix up to the bracket that closes the first one, or everything if it never closes.
fn balanced_prefix(s: &str) -> &str {
    let mut depth = 0i32;
    let mut in_str = false;
    let mut esc = false;
    for (i, ch) in s.char_indices() {
        if in_str {
            match (esc, ch) {
                (true, _) => esc = false,
                (false, '\\') => esc = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match ch {
            '"' => in_str = true,
            '[' | '{' => depth += 1,
            ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return &s[..=i];
                }
            }
            _ => {}
        }
    }
    s
}

/// Remove trailing commas; close a truncated list after its last complete item.
fn repair(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    let mut stack: Vec<char> = Vec::new();
    let mut in_str = false;
    let mut esc = false;
    // Byte length of `out` after the last complete top-level array item.
    let mut last_item_end: Option<usize> = None;
    for ch in s.chars() {
        if in_str {
            out.push(ch);
            match (esc, ch) {
                (true, _) => esc = false,
                (false, '\\') => esc = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match ch {
            '"' => {
                in_str = true;
                out.push(ch);
            }
            '[' | '{' => {
                stack.push(ch);
                out.push(ch);
            }
            ']' | '}' => {
                let trimmed = out.trim_end().len();
                out.truncate(trimmed);
                if out.ends_with(',') {
                    out.pop();
                }
                stack.pop();
                out.push(ch);
                if stack.len() == 1 && stack[0] == '[' {
                    last_item_end = Some(out.len());
                }
            }
            _ => out.push(ch),
        }
    }
    if !stack.is_empty() {
        // Truncated: keep the complete items of the outer list only.
        if stack[0] == '[' {
            if let Some(end) = last_item_end {
                out.truncate(end);
            } else {
                return String::new();
            }
            out.push(']');
        } else {
            return String::new();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config::defaults()
    }

    const ITEM1: &str = r#"{"id": "t1", "type": "code_generation", "prompt": "write it"}"#;
    const ITEM2: &str =
        r#"{"id": "t2", "type": "code_review", "prompt": "review it", "dependencies": ["t1"]}"#;

    fn ids(p: &ParsedPlan) -> Vec<&str> {
        p.tasks.iter().map(|t| t.id.as_str()).collect()
    }

    #[test]
    fn unknown_dependencies_are_dropped_by_name_and_the_task_kept() {
        let plan = r#"{"tasks": [{"id": "t1", "type": "code_generation", "prompt": "a",
            "dependencies": ["t0", "t1"]}, {"id": "t2", "type": "summarization", "prompt": "b",
            "dependencies": ["t1", "t9"]}]}"#;
        let p = parse_plan(plan, &cfg()).unwrap();
        assert_eq!(ids(&p), ["t1", "t2"]);
        assert!(p.tasks[0].dependencies.is_empty());
        assert_eq!(p.tasks[1].dependencies, ["t1"]);
        assert_eq!(
            p.warnings,
            [
                "task `t1`: unknown or self dependency `t0`, `t1` dropped",
                "task `t2`: unknown or self dependency `t9` dropped"
            ]
        );
    }

    #[test]
    fn a_description_runs_as_one_task_of_the_type_it_asks_for() {
        let cases = [
            (
                "Write a Python function that reverses a string, with a test",
                TaskType::CodeGeneration,
            ),
            ("Build a todo app", TaskType::CodeGeneration),
            ("Review this Rust module for bugs", TaskType::CodeReview),
            (
                "Extract the invoice fields as JSON",
                TaskType::DataExtraction,
            ),
            ("Summarize the meeting notes", TaskType::Summarization),
            ("A short poem about autumn", TaskType::CreativeWriting),
            (
                "Should we expand to Europe next year?",
                TaskType::ComplexReasoning,
            ),
        ];
        for (d, want) in cases {
            assert_eq!(infer_task_type(d), want, "{d}");
        }
        let t = single_task("Write a Python function", "it has tests", &cfg());
        assert_eq!(t.id, "t1");
        assert_eq!(t.task_type, TaskType::CodeGeneration);
        assert!(t.dependencies.is_empty() && t.validators.is_empty());
        assert!(t.prompt.starts_with("Write a Python function"));
        assert!(t.prompt.ends_with("Success criteria: it has tests"));
        assert_eq!(t.threshold, cfg().task_defaults(TaskType::CodeGeneration).0);
    }

    #[test]
    fn plain_array_with_defaults() {
        let p = parse_plan(&format!("[{ITEM1}, {ITEM2}]"), &cfg()).unwrap();
        assert_eq!(ids(&p), ["t1", "t2"]);
        assert_eq!(p.tasks[0].threshold, 0.85);
        assert_eq!(p.tasks[0].max_iterations, 3);
        assert_eq!(p.tasks[1].max_iterations, 4);
        assert_eq!(p.tasks[1].dependencies, ["t1"]);
    }

    #[test]
    fn fenced_block() {
        let text = format!("Sure!\n```json\n[{ITEM1}]\n```\nHope that helps.");
        assert_eq!(ids(&parse_plan(&text, &cfg()).unwrap()), ["t1"]);
    }

    #[test]
    fn trailing_commas() {
        let text = format!(
            "[{ITEM1}, {{\"id\": \"t2\", \"type\": \"summarization\", \"prompt\": \"s\", \"dependencies\": [\"t1\",],}},]"
        );
        assert_eq!(ids(&parse_plan(&text, &cfg()).unwrap()), ["t1", "t2"]);
    }

    #[test]
    fn prose_wrapped() {
        let text = format!("Here is the plan you asked for: [{ITEM1}] Let me know [if] anything.");
        assert_eq!(ids(&parse_plan(&text, &cfg()).unwrap()), ["t1"]);
    }

    #[test]
    fn object_wrapped() {
        let text = format!("{{\"tasks\": [{ITEM1}, {ITEM2}]}}");
        assert_eq!(ids(&parse_plan(&text, &cfg()).unwrap()), ["t1", "t2"]);
        let text = format!("{{\"project\": \"x\", \"work\": [{ITEM1}]}}");
        assert_eq!(ids(&parse_plan(&text, &cfg()).unwrap()), ["t1"]);
    }

    #[test]
    fn truncated_keeps_complete_items() {
        let text = format!("```json\n[{ITEM1}, {ITEM2}, {{\"id\": \"t3\", \"type\": \"summ");
        assert_eq!(ids(&parse_plan(&text, &cfg()).unwrap()), ["t1", "t2"]);
    }

    #[test]
    fn garbage_is_an_error() {
        assert_eq!(
            parse_plan("no json here", &cfg()).unwrap_err(),
            PlanError::NoJson
        );
        assert!(parse_plan("[1, 2, 3]", &cfg()).is_err());
        assert!(parse_plan("{\"a\": 1}", &cfg()).is_err());
        assert!(
            parse_plan(
                "[{\"id\": \"t1\", \"type\": \"poetry\", \"prompt\": \"x\"}]",
                &cfg()
            )
            .is_err()
        );
        assert!(parse_plan("", &cfg()).is_err());
    }

    #[test]
    fn malformed_items_dropped_with_warning() {
        let text = format!(
            "[{ITEM1}, {{\"id\": \"t2\", \"prompt\": \"no type\"}}, {{\"type\": \"summarization\", \"prompt\": \"no id\"}}, {ITEM1}]"
        );
        let p = parse_plan(&text, &cfg()).unwrap();
        assert_eq!(ids(&p), ["t1"]);
        assert_eq!(p.warnings.len(), 3, "{:?}", p.warnings);
    }

    #[test]
    fn unknown_dependencies_dropped() {
        let text =
            r#"[{"id": "a", "type": "summarization", "prompt": "x", "dependencies": ["zz", "a"]}]"#;
        let p = parse_plan(text, &cfg()).unwrap();
        assert!(p.tasks[0].dependencies.is_empty());
        assert_eq!(p.warnings.len(), 1);
    }

    #[test]
    fn caps_at_fifty() {
        let items: Vec<String> = (0..60)
            .map(|i| format!(r#"{{"id": "t{i}", "type": "summarization", "prompt": "p"}}"#))
            .collect();
        let p = parse_plan(&format!("[{}]", items.join(",")), &cfg()).unwrap();
        assert_eq!(p.tasks.len(), MAX_TASKS);
    }
}
