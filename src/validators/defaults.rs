//! Validators every task of a type gets without a plan naming them (`[validators.defaults]`),
//! and `syntax`, the default check of code tasks: every fenced block is parsed as its declared or
//! detected language.
//!
//! `syntax` gives one result per language (`syntax:python`, `syntax:go`), not one per block: the
//! names stay the same from one attempt to the next however the model splits its code, the task
//! detail and the JSON stay short, and a failure still names its block (`code block 3 (fence at
//! line 20 of the output)`) and says how many blocks of that language failed.

use super::syntax::{self, SyntaxLanguage};
use super::{ValidatorResult, ValidatorsConfig, Verdict};
use crate::model_output::{detect, extract};

/// Blocks checked in one output; a longer answer is checked up to here (and says so).
const MAX_BLOCKS: usize = 200;
/// Results for tags without a checker; the rest are folded into `syntax:other`.
const MAX_UNCHECKED: usize = 8;

/// Built-in defaults of a task type (`code_generation`, ...), used when `[validators.defaults]`
/// does not name it. Task types are plain names here: `domain` depends on this module, not the
/// other way round.
pub fn builtin(task_type: &str) -> &'static [&'static str] {
    match normalise(task_type).as_str() {
        "code_generation" | "code_review" => &["syntax"],
        "data_extraction" => &["json"],
        _ => &[],
    }
}

/// `Code-Review` -> `code_review`, as task types are compared everywhere.
fn normalise(task_type: &str) -> String {
    task_type
        .trim()
        .to_ascii_lowercase()
        .replace(['-', ' '], "_")
}

impl ValidatorsConfig {
    /// The default validators of a task type: the configured list, else the built-in one.
    pub fn defaults_for(&self, task_type: &str) -> Vec<String> {
        match self.defaults.get(&normalise(task_type)) {
            Some(names) => names.iter().map(|n| n.trim().to_string()).collect(),
            None => builtin(task_type).iter().map(|n| n.to_string()).collect(),
        }
    }

    /// `[validators.defaults]`: each key one of `task_types`, each name a validator that exists
    /// (`syntax`, `json`, `length`, a `<lang>_syntax` name or a configured command).
    pub fn check(&self, task_types: &[&str]) -> Result<(), String> {
        for (key, names) in &self.defaults {
            if !task_types.contains(&key.as_str()) {
                return Err(format!(
                    "key `validators.defaults.{key}`: unknown task type (one of {})",
                    task_types.join(", ")
                ));
            }
            for n in names {
                if !self.is_known(n.trim()) {
                    return Err(format!(
                        "key `validators.defaults.{key}`: unknown validator `{}` (known: syntax, \
                         json, length, <language>_syntax, or a [validators.commands] name)",
                        crate::text_safe::clean_line(n)
                            .chars()
                            .take(60)
                            .collect::<String>()
                    ));
                }
            }
        }
        Ok(())
    }

    fn is_known(&self, name: &str) -> bool {
        matches!(name, "syntax" | "json" | "length")
            || SyntaxLanguage::from_validator_name(name).is_some()
            || self.commands.contains_key(name)
    }
}

/// Whether two validator names run the same check (`python_syntax` and `syntax:py`).
pub fn same_check(a: &str, b: &str) -> bool {
    a == b
        || matches!(
            (
                SyntaxLanguage::from_validator_name(a),
                SyntaxLanguage::from_validator_name(b)
            ),
            (Some(x), Some(y)) if x == y
        )
}

/// A group of blocks that share one result.
struct Group<'o> {
    name: String,
    lang: Option<SyntaxLanguage>,
    /// (1-based block number, fence line, code)
    blocks: Vec<(usize, usize, std::borrow::Cow<'o, str>)>,
}

/// The `syntax` validator: one result per language found in `output`, except the languages a
/// validator named by the plan already checks (`covered`).
pub fn syntax_all(output: &str, covered: &[SyntaxLanguage]) -> Vec<ValidatorResult> {
    let blocks = extract::code_blocks(output);
    if blocks.is_empty() {
        return bare_output(output, covered);
    }
    let is_covered = |l: SyntaxLanguage| {
        covered
            .iter()
            .any(|c| *c == l || (*c == SyntaxLanguage::TypeScript && l == SyntaxLanguage::Tsx))
    };
    let mut groups: Vec<Group<'_>> = Vec::new();
    let mut untagged_unknown: Vec<(usize, usize)> = Vec::new();
    let (mut code_blocks, mut covered_blocks) = (0usize, 0usize);
    let mut unchecked_groups = 0usize;
    for (i, b) in blocks.iter().enumerate().take(MAX_BLOCKS) {
        if b.code.trim().is_empty() {
            continue;
        }
        let (name, lang) = match extract::block_language(b) {
            Some(l) if !extract::is_code_language(l) => continue,
            Some(l) => match SyntaxLanguage::from_language(l) {
                Some(s) => (s.result_name(), Some(s)),
                None => (format!("syntax:{l}"), None),
            },
            None => match &b.tag {
                Some(t) => (format!("syntax:{}", tag_name(t)), None),
                None => {
                    untagged_unknown.push((i + 1, b.fence_line));
                    continue;
                }
            },
        };
        code_blocks += 1;
        if lang.is_some_and(is_covered) {
            covered_blocks += 1;
            continue;
        }
        let pos = match groups.iter().position(|g| g.name == name) {
            Some(p) => p,
            None if lang.is_none() && unchecked_groups >= MAX_UNCHECKED => {
                match groups.iter().position(|g| g.name == "syntax:other") {
                    Some(p) => p,
                    None => {
                        groups.push(Group {
                            name: "syntax:other".into(),
                            lang: None,
                            blocks: Vec::new(),
                        });
                        groups.len() - 1
                    }
                }
            }
            None => {
                unchecked_groups += usize::from(lang.is_none());
                groups.push(Group {
                    name,
                    lang,
                    blocks: Vec::new(),
                });
                groups.len() - 1
            }
        };
        groups[pos]
            .blocks
            .push((i + 1, b.fence_line, b.code.clone()));
    }
    let several = blocks.len() > 1;
    let mut out: Vec<ValidatorResult> = groups.iter().map(|g| group_result(g, several)).collect();
    if out.is_empty() && covered_blocks == 0 {
        out.push(match untagged_unknown.first() {
            Some((n, line)) => skipped(
                "syntax:unknown",
                format!(
                    "code block {n} (fence at line {line} of the output) has no language tag and \
                     its language was not recognised{}",
                    more(untagged_unknown.len() - 1, "untagged block")
                ),
            ),
            None if code_blocks == 0 => skipped(
                "syntax",
                "no code to check: the output's fenced blocks are text, console output or empty"
                    .into(),
            ),
            None => return out,
        });
    }
    if blocks.len() > MAX_BLOCKS
        && let Some(last) = out.last_mut()
    {
        let note = format!(
            "only the first {MAX_BLOCKS} of {} blocks were checked",
            blocks.len()
        );
        last.reason = Some(match last.reason.take() {
            Some(r) => format!("{r}; {note}"),
            None => note,
        });
    }
    out
}

/// An answer without fences: checked whole when it is clearly code of a checked language.
fn bare_output(output: &str, covered: &[SyntaxLanguage]) -> Vec<ValidatorResult> {
    match detect::code_language(output) {
        Some(l) => match SyntaxLanguage::from_language(l) {
            Some(s) if covered.contains(&s) => Vec::new(),
            Some(s) => vec![match syntax::check(s, output) {
                Ok(()) => ValidatorResult {
                    name: s.result_name(),
                    result: Verdict::Pass,
                    reason: Some("the whole output, which has no fenced block".into()),
                },
                Err(e) => ValidatorResult {
                    name: s.result_name(),
                    result: Verdict::Fail,
                    reason: Some(format!("the output (no fenced block): {e}")),
                },
            }],
            None => vec![skipped(
                &format!("syntax:{l}"),
                format!("no syntax checker for {l}"),
            )],
        },
        None => vec![skipped(
            "syntax",
            "no fenced code block in the output, and it does not read as code".into(),
        )],
    }
}

fn group_result(g: &Group<'_>, several: bool) -> ValidatorResult {
    let which = |n: usize, line: usize| {
        if several {
            format!("code block {n} (fence at line {line} of the output): ")
        } else {
            String::new()
        }
    };
    let Some(lang) = g.lang else {
        let lang = g.name.trim_start_matches("syntax:");
        let list = g
            .blocks
            .iter()
            .take(5)
            .map(|(n, _, _)| n.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let blocks = if g.blocks.len() > 5 {
            format!("{list}, ...")
        } else {
            list
        };
        return skipped(
            &g.name,
            format!("no syntax checker for `{lang}` (code block {blocks})"),
        );
    };
    let mut first: Option<String> = None;
    let mut failed = 0usize;
    for (n, line, code) in &g.blocks {
        // A `typescript` block written as TSX is accepted by the TypeScript check itself.
        if let Err(e) = syntax::check(lang, &dedent(code)) {
            failed += 1;
            if first.is_none() {
                first = Some(format!("{}{e}", which(*n, *line)));
            }
        }
    }
    match first {
        None => ValidatorResult {
            name: g.name.clone(),
            result: Verdict::Pass,
            reason: (g.blocks.len() > 1).then(|| format!("{} blocks parsed", g.blocks.len())),
        },
        Some(r) => ValidatorResult {
            name: g.name.clone(),
            result: Verdict::Fail,
            reason: Some(format!(
                "{r}{}",
                more(failed - 1, &format!("failing {} block", lang.label()))
            )),
        },
    }
}

/// Code without the indentation all its lines share: a method quoted from its class (common in
/// reviews) parses as it reads. Line numbers are unchanged.
fn dedent(code: &str) -> std::borrow::Cow<'_, str> {
    let common = code
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    if common == 0 {
        return std::borrow::Cow::Borrowed(code);
    }
    let mut out = String::with_capacity(code.len());
    for line in code.split_inclusive('\n') {
        let n = line
            .bytes()
            .take(common)
            .take_while(|b| *b == b' ' || *b == b'\t')
            .count();
        out.push_str(&line[n..]);
    }
    std::borrow::Cow::Owned(out)
}

/// `" (and 2 more untagged blocks)"`, or nothing.
fn more(n: usize, what: &str) -> String {
    match n {
        0 => String::new(),
        1 => format!(" (and 1 more {what})"),
        n => format!(" (and {n} more {what}s)"),
    }
}

/// A model-written tag as part of a result name: short and plain, else `other`.
fn tag_name(tag: &str) -> String {
    let ok = !tag.is_empty()
        && tag.len() <= 24
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '#' | '-' | '_'));
    if ok { tag.to_string() } else { "other".into() }
}

fn skipped(name: &str, reason: String) -> ValidatorResult {
    ValidatorResult {
        name: name.to_string(),
        result: Verdict::Skipped,
        reason: Some(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validators::{ValidatorSpec, run_all, validators_for};

    const TYPES: &[&str] = &["code_generation", "code_review", "summarization"];

    fn names(specs: &[ValidatorSpec]) -> Vec<&str> {
        specs.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn builtin_defaults_by_task_type() {
        let cfg = ValidatorsConfig::default();
        assert_eq!(
            names(&validators_for("code_generation", &[], &cfg)),
            ["syntax"]
        );
        assert_eq!(names(&validators_for("code-review", &[], &cfg)), ["syntax"]);
        assert_eq!(
            names(&validators_for("data_extraction", &[], &cfg)),
            ["json"]
        );
        assert!(validators_for("summarization", &[], &cfg).is_empty());
        assert!(validators_for("not a type", &[], &cfg).is_empty());
    }

    #[test]
    fn configured_defaults_replace_or_turn_off_and_named_ones_are_not_doubled() {
        let mut cfg = ValidatorsConfig::default();
        cfg.defaults.insert("code_generation".into(), vec![]);
        cfg.defaults
            .insert("summarization".into(), vec!["length".into(), "json".into()]);
        cfg.defaults
            .insert("code_review".into(), vec!["python_syntax".into()]);
        assert!(validators_for("code_generation", &[], &cfg).is_empty());
        assert_eq!(
            names(&validators_for("summarization", &[], &cfg)),
            ["length", "json"]
        );
        let plan = [ValidatorSpec::named("syntax_py")];
        assert_eq!(
            names(&validators_for("code_review", &plan, &cfg)),
            ["syntax_py"]
        );
        let plan = [ValidatorSpec::named("json")];
        assert_eq!(
            names(&validators_for("data_extraction", &plan, &cfg)),
            ["json"]
        );
    }

    #[test]
    fn config_check_names_the_key() {
        let mut cfg = ValidatorsConfig::default();
        cfg.defaults.insert(
            "code_generation".into(),
            vec!["syntax".into(), "nope".into()],
        );
        let e = cfg.check(TYPES).unwrap_err();
        assert!(
            e.contains("`validators.defaults.code_generation`") && e.contains("`nope`"),
            "{e}"
        );
        let mut cfg = ValidatorsConfig::default();
        cfg.defaults.insert("poetry".into(), vec![]);
        assert!(
            cfg.check(TYPES)
                .unwrap_err()
                .contains("`validators.defaults.poetry`")
        );
        let mut cfg = ValidatorsConfig::default();
        cfg.defaults.insert(
            "code_generation".into(),
            vec!["syntax".into(), "go_syntax".into(), "pytest".into()],
        );
        assert!(cfg.check(TYPES).unwrap_err().contains("`pytest`"));
        cfg.commands.insert(
            "pytest".into(),
            crate::validators::CommandValidator::new(&["true"]),
        );
        assert_eq!(cfg.check(TYPES), Ok(()));
        // Keys are written as the task type names.
        cfg.defaults.insert("Code-Review".into(), vec![]);
        assert!(
            cfg.check(TYPES)
                .unwrap_err()
                .contains("`validators.defaults.Code-Review`")
        );
    }

    fn syntax(output: &str) -> Vec<(String, Verdict, String)> {
        syntax_all(output, &[])
            .into_iter()
            .map(|r| (r.name, r.result, r.reason.unwrap_or_default()))
            .collect()
    }

    #[test]
    fn one_result_per_language_naming_the_failing_block() {
        let out = "```python\nx = 1\n```\ntext\n```go\npackage main\nfunc main() {\n```\n\
                   ```py\ndef f(:\n    pass\n```\n```python\ny = (\n```\n";
        let r = syntax(out);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!((r[0].0.as_str(), r[0].1), ("syntax:python", Verdict::Fail));
        assert!(
            r[0].2.starts_with("code block 3 (fence at line 9"),
            "{}",
            r[0].2
        );
        assert!(
            r[0].2.contains("(and 1 more failing Python block)"),
            "{}",
            r[0].2
        );
        assert_eq!((r[1].0.as_str(), r[1].1), ("syntax:go", Verdict::Fail));
    }

    #[test]
    fn untagged_blocks_are_detected_and_unknown_ones_skipped() {
        let r = syntax("```\ndef f(x):\n    return x\n\nprint(f(1))\n```\n");
        assert_eq!(r, [("syntax:python".into(), Verdict::Pass, String::new())]);
        let r = syntax("```cobol\nDISPLAY 'HI'.\n```\n```sql\nSELECT 1;\n```\n");
        assert_eq!(r.len(), 2);
        assert!(r.iter().all(|x| x.1 == Verdict::Skipped), "{r:?}");
        assert_eq!(r[0].0, "syntax:cobol");
        assert!(
            r[0].2.contains("no syntax checker for `cobol`"),
            "{}",
            r[0].2
        );
        assert_eq!(r[1].0, "syntax:sql");
        let r = syntax("```\nhello there\n```\n");
        assert_eq!(r[0].0, "syntax:unknown");
        assert_eq!(r[0].1, Verdict::Skipped);
        // Output samples next to checked code add no noise.
        let r = syntax("```rust\nfn main() {}\n```\nOutput:\n```\n42\n```\n```console\n$ x\n```\n");
        assert_eq!(r, [("syntax:rust".into(), Verdict::Pass, String::new())]);
    }

    #[test]
    fn bare_answers_and_prose() {
        let r = syntax("package main\n\nfunc main() {\n\tx := \n}\n");
        assert_eq!((r[0].0.as_str(), r[0].1), ("syntax:go", Verdict::Fail));
        let r = syntax("Just an explanation, no code.");
        assert_eq!((r[0].0.as_str(), r[0].1), ("syntax", Verdict::Skipped));
        let r = syntax("Try:\n```text\nhello\n```\n");
        assert_eq!((r[0].0.as_str(), r[0].1), ("syntax", Verdict::Skipped));
    }

    #[test]
    fn languages_a_plan_names_are_left_to_its_validator() {
        let cfg = ValidatorsConfig::default();
        let out = "```python\ndef f(:\n```\n```bash\necho hi\n```\n";
        let specs = [
            ValidatorSpec::named("python_syntax"),
            ValidatorSpec::named("syntax"),
        ];
        let r = run_all(&specs, out, &cfg);
        let got: Vec<(&str, Verdict)> = r.iter().map(|r| (r.name.as_str(), r.result)).collect();
        assert_eq!(
            got,
            [
                ("python_syntax", Verdict::Fail),
                ("syntax:bash", Verdict::Pass)
            ]
        );
        // Only covered code: nothing more to say.
        let r = run_all(&specs, "```python\nx = 1\n```\n", &cfg);
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn odd_tags_and_many_languages_stay_bounded() {
        let mut out = String::new();
        for i in 0..30 {
            out.push_str(&format!("```lang{i}\nx\n```\n"));
        }
        out.push_str("```a/b?c\nx\n```\n");
        let r = syntax(&out);
        assert_eq!(r.len(), MAX_UNCHECKED + 1);
        assert_eq!(r.last().unwrap().0, "syntax:other");
    }

    #[test]
    fn messy_outputs_never_panic_and_always_say_something() {
        let long = "```python\nx = 1\n```\n".repeat(MAX_BLOCKS + 5);
        for out in [
            "",
            "```",
            "```\n",
            "~~~~\n```python\n",
            "```python\r\ndef f():\r\n    return 1\r\n```\r\n",
            "```\u{0}\u{1b}[31m\n\u{fffd}\n```",
            "```é\nλ = 1\n```",
            "```python\n   \n```\n```go\n```\n",
            long.as_str(),
        ] {
            let r = run_all(
                &[ValidatorSpec::named("syntax")],
                out,
                &ValidatorsConfig::default(),
            );
            assert!(!r.is_empty(), "{out:?}");
            assert!(r.iter().all(|v| v.name.starts_with("syntax")), "{r:?}");
        }
        let r = syntax(&long);
        assert_eq!(r[0].1, Verdict::Pass);
        assert!(
            r[0].2.contains("only the first 200 of 205 blocks"),
            "{}",
            r[0].2
        );
    }

    #[test]
    fn quoted_indented_code_is_checked_as_it_reads() {
        let out = "In `class A`:\n```python\n    def f(self):\n        return 1\n```\n";
        assert_eq!(
            syntax(out),
            [("syntax:python".into(), Verdict::Pass, String::new())]
        );
        let out = "```python\n    def f(self):\n        return (1\n```\n";
        let r = syntax(out);
        assert_eq!(r[0].1, Verdict::Fail);
        assert!(r[0].2.contains("line 2"), "{}", r[0].2);
    }
}
