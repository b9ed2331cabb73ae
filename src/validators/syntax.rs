//! Syntax checks that need no interpreter: tree-sitter grammars (Python, JavaScript, TypeScript,
//! Go, Java, C, Bash), `syn` (Rust) and native parsers (JSON, TOML, YAML). Each check returns `Err(reason)` with
//! a 1-based line relative to the checked code.
//!
//! Tree-sitter grammars are error-tolerant parsers of a language's *grammar*; they catch
//! unbalanced brackets, missing tokens, stray operators and broken indentation, but not what a
//! compiler finds later (undefined names, `return` outside a function, Python 2's `print x`, which
//! the Python grammar still accepts).

use crate::model_output::extract::{self, line_col, line_excerpt};
use tree_sitter::{Language, Node, Parser};

/// Deepest bracket nesting accepted before parsing (recursive parsers could overflow the stack).
const MAX_NESTING: usize = 1000;

/// The languages with a syntax check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntaxLanguage {
    Python,
    JavaScript,
    TypeScript,
    Tsx,
    Rust,
    Go,
    Json,
    Toml,
    Yaml,
    Java,
    C,
    Bash,
}

impl SyntaxLanguage {
    /// The language checked by a validator name: `python_syntax`, `syntax_py`, `yaml_syntax`, ...
    pub fn from_validator_name(name: &str) -> Option<Self> {
        let n = name.trim().to_ascii_lowercase().replace('-', "_");
        let lang = n
            .strip_suffix("_syntax")
            .or_else(|| n.strip_prefix("syntax_"))
            .or_else(|| n.strip_prefix("syntax:"))?;
        Self::from_language(lang)
    }

    /// The checker of a language name or alias (`py`, `golang`, `yml`, ...).
    pub fn from_language(lang: &str) -> Option<Self> {
        Some(match extract::canonical_language(lang)? {
            "python" => Self::Python,
            "javascript" => Self::JavaScript,
            "typescript" => Self::TypeScript,
            "tsx" => Self::Tsx,
            "rust" => Self::Rust,
            "go" => Self::Go,
            "json" => Self::Json,
            "toml" => Self::Toml,
            "yaml" => Self::Yaml,
            "java" => Self::Java,
            "c" => Self::C,
            "shell" => Self::Bash,
            _ => return None,
        })
    }

    /// The canonical language name used to extract code (`tsx` blocks count as TypeScript).
    pub fn language(self) -> &'static str {
        match self {
            Self::Python => "python",
            Self::JavaScript => "javascript",
            Self::TypeScript | Self::Tsx => "typescript",
            Self::Rust => "rust",
            Self::Go => "go",
            Self::Json => "json",
            Self::Toml => "toml",
            Self::Yaml => "yaml",
            Self::Java => "java",
            Self::C => "c",
            Self::Bash => "shell",
        }
    }

    /// The name of its result among the default checks: `syntax:python`, `syntax:bash`.
    pub fn result_name(self) -> String {
        let lang = match self {
            Self::Tsx => "tsx",
            Self::Bash => "bash",
            other => other.language(),
        };
        format!("syntax:{lang}")
    }

    /// A human label for reasons.
    pub fn label(self) -> &'static str {
        match self {
            Self::Python => "Python",
            Self::JavaScript => "JavaScript",
            Self::TypeScript => "TypeScript",
            Self::Tsx => "TSX",
            Self::Rust => "Rust",
            Self::Go => "Go",
            Self::Json => "JSON",
            Self::Toml => "TOML",
            Self::Yaml => "YAML",
            Self::Java => "Java",
            Self::C => "C",
            Self::Bash => "Bash",
        }
    }
}

/// Why code does not parse: a reason naming the line (the validator's `reason`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SyntaxError(pub String);

/// Check `code` as `lang`; `Err` carries a reason naming the line.
pub fn check(lang: SyntaxLanguage, code: &str) -> Result<(), SyntaxError> {
    check_as(lang, code).map_err(SyntaxError)
}

fn check_as(lang: SyntaxLanguage, code: &str) -> Result<(), String> {
    match lang {
        SyntaxLanguage::Python => python_check(code),
        SyntaxLanguage::JavaScript => {
            tree_sitter_check(tree_sitter_javascript::LANGUAGE.into(), code, &[]).map_err(|e| e.0)
        }
        SyntaxLanguage::TypeScript => {
            let ts = tree_sitter_check(
                tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
                code,
                &[],
            );
            // Models often tag TSX as `typescript`: accept what the TSX grammar accepts.
            match ts {
                Err(e) if tsx_ok(code) => {
                    let _ = e;
                    Ok(())
                }
                other => other.map_err(|e| e.0),
            }
        }
        SyntaxLanguage::Tsx => {
            tree_sitter_check(tree_sitter_typescript::LANGUAGE_TSX.into(), code, &[])
                .map_err(|e| e.0)
        }
        SyntaxLanguage::Go => {
            tree_sitter_check(tree_sitter_go::LANGUAGE.into(), code, &[]).map_err(|e| e.0)
        }
        SyntaxLanguage::Java => {
            tree_sitter_check(tree_sitter_java::LANGUAGE.into(), code, &[]).map_err(|e| e.0)
        }
        SyntaxLanguage::C => {
            tree_sitter_check(tree_sitter_c::LANGUAGE.into(), code, &[]).map_err(|e| e.0)
        }
        SyntaxLanguage::Bash => {
            tree_sitter_check(tree_sitter_bash::LANGUAGE.into(), code, &[]).map_err(|e| e.0)
        }
        SyntaxLanguage::Rust => rust_check(code),
        SyntaxLanguage::Json => json_value(code).map(|_| ()),
        SyntaxLanguage::Toml => toml_check(code),
        SyntaxLanguage::Yaml => yaml_check(code),
    }
}

fn tsx_ok(code: &str) -> bool {
    tree_sitter_check(tree_sitter_typescript::LANGUAGE_TSX.into(), code, &[]).is_ok()
}

/// A grammar error: (reason, 1-based line).
struct GrammarError(String, usize);

/// The grammar check, then the indentation rules the grammar tolerates; the earlier line wins.
fn python_check(code: &str) -> Result<(), String> {
    let grammar = tree_sitter_check(
        tree_sitter_python::LANGUAGE.into(),
        code,
        &[
            (
                "print_statement",
                "Python 2 `print` statement; use print(...)",
            ),
            ("exec_statement", "Python 2 `exec` statement; use exec(...)"),
        ],
    );
    let indent = super::python::check_indentation(code);
    match (grammar, indent) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(g), Ok(())) => Err(g.0),
        (Err(g), Err(i)) if g.1 <= i.line => Err(g.0),
        (_, Err(i)) => Err(format!(
            "indentation error at line {}: {}{}",
            i.line,
            i.message,
            near(code, i.line, "in")
        )),
    }
}

fn tree_sitter_check(
    language: Language,
    code: &str,
    forbidden: &[(&str, &str)],
) -> Result<(), GrammarError> {
    let mut parser = Parser::new();
    parser
        .set_language(&language)
        .map_err(|e| GrammarError(format!("grammar could not be loaded: {e}"), 1))?;
    let tree = parser
        .parse(code, None)
        .ok_or_else(|| GrammarError("the parser gave up on this input".into(), 1))?;
    let root = tree.root_node();
    if root.has_error() {
        return Err(match first_error(root) {
            Some(node) => describe_error(code, node),
            None => GrammarError("syntax error (location unknown)".into(), 1),
        });
    }
    if !forbidden.is_empty()
        && let Some((node, why)) = first_of_kinds(root, forbidden)
    {
        let (line, col) = line_col(code, node.start_byte());
        return Err(GrammarError(
            format!(
                "syntax error at line {line}, column {col}: {why}{}",
                near(code, line, "in")
            ),
            line,
        ));
    }
    Ok(())
}

/// The first ERROR or MISSING node in document order, walking only subtrees that hold errors.
fn first_error(root: Node<'_>) -> Option<Node<'_>> {
    let mut cursor = root.walk();
    loop {
        let node = cursor.node();
        if node.is_error() || node.is_missing() {
            return Some(node);
        }
        if node.has_error() && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return None;
            }
        }
    }
}

/// The first node (document order) of one of `kinds`, with its message.
fn first_of_kinds<'t, 'k>(
    root: Node<'t>,
    kinds: &[(&str, &'k str)],
) -> Option<(Node<'t>, &'k str)> {
    let mut cursor = root.walk();
    loop {
        let node = cursor.node();
        // `print >> f, x` is valid Python 3 (a tuple), though the grammar calls it a statement.
        if let Some((_, why)) = kinds.iter().find(|(k, _)| *k == node.kind())
            && !(0..node.child_count())
                .filter_map(|i| node.child(i))
                .any(|c| c.kind() == "chevron")
        {
            return Some((node, why));
        }
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return None;
            }
        }
    }
}

fn describe_error(code: &str, node: Node<'_>) -> GrammarError {
    let (line, col) = line_col(code, node.start_byte());
    if node.is_missing() {
        let kind = node.kind();
        let what = if kind.chars().all(|c| c.is_ascii_punctuation()) {
            format!("`{kind}`")
        } else {
            kind.replace('_', " ")
        };
        return GrammarError(
            format!(
                "syntax error at line {line}, column {col}: missing {what}{}",
                near(code, line, "near")
            ),
            line,
        );
    }
    let end_line = line_col(code, node.end_byte()).0;
    let span = if end_line > line {
        format!(" (through line {end_line})")
    } else {
        String::new()
    };
    // An ERROR node of one token names it; a wider one names where parsing broke down.
    let start = node.start_byte().min(code.len());
    let end = node.end_byte().min(code.len()).max(start);
    let text = code.get(start..end).unwrap_or("");
    let msg = if node.child_count() <= 1 && !text.trim().is_empty() {
        let token: String = text.trim().chars().take(30).collect();
        format!(
            "syntax error at line {line}, column {col}: unexpected `{token}`{}",
            near(code, line, "in")
        )
    } else {
        format!(
            "syntax error at line {line}, column {col}{span}: cannot parse{}",
            near(code, line, "")
        )
    };
    GrammarError(msg, line)
}

/// `` in `excerpt` `` for a reason, or ` at the end of the input` past the last line.
fn near(code: &str, line: usize, word: &str) -> String {
    let ex = line_excerpt(code, line, 80);
    if ex.is_empty() {
        if line > code.lines().count() {
            " at the end of the input".into()
        } else {
            String::new()
        }
    } else if word.is_empty() {
        format!(" `{ex}`")
    } else {
        format!(" {word} `{ex}`")
    }
}

/// The deepest nesting of `(`, `[` and `{` (counting naively, strings included).
fn nesting_depth(code: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for b in code.bytes() {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

fn rust_check(code: &str) -> Result<(), String> {
    if nesting_depth(code) > MAX_NESTING {
        return Err(format!(
            "brackets nested more than {MAX_NESTING} deep; not parsed"
        ));
    }
    // syn recurses; a dedicated thread gets a large stack, and proc-macro2's per-thread source
    // map (which grows with every parse) is dropped with it.
    let owned = code.to_string();
    let handle = std::thread::Builder::new()
        .name("rust-syntax".into())
        .stack_size(64 * 1024 * 1024)
        .spawn(move || rust_parse(&owned))
        .map_err(|e| format!("could not start the Rust parser: {e}"))?;
    handle
        .join()
        .unwrap_or_else(|_| Err("the Rust parser failed on this input".into()))
}

fn rust_parse(code: &str) -> Result<(), String> {
    let err = match syn::parse_file(code) {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    // A snippet of statements (`let x = 1; println!("{x}");`) is accepted too.
    let wrapped = format!("{{{code}\n}}");
    if syn::parse_str::<syn::Block>(&wrapped).is_ok() {
        return Ok(());
    }
    let start = err.span().start();
    let line = start.line.max(1);
    let col = start.column + 1;
    let msg = err.to_string();
    let msg = if msg.contains("cannot parse string into token stream") {
        "unclosed or mismatched delimiter, or an unterminated literal".to_string()
    } else {
        msg
    };
    Err(format!(
        "syntax error at line {line}, column {col}: {msg}{}",
        near(code, line, "near")
    ))
}

/// Parse JSON, returning the value (for schema checks) or a reason naming the line.
pub fn json_check(code: &str) -> Result<serde_json::Value, SyntaxError> {
    json_value(code).map_err(SyntaxError)
}

fn json_value(code: &str) -> Result<serde_json::Value, String> {
    if code.trim().is_empty() {
        return Err("no JSON found (empty)".into());
    }
    serde_json::from_str::<serde_json::Value>(code).map_err(|e| {
        format!(
            "invalid JSON at line {}, column {}: {}{}",
            e.line(),
            e.column(),
            json_message(&e),
            near(code, e.line(), "near")
        )
    })
}

/// serde_json's message without its own " at line L column C" suffix.
fn json_message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn toml_check(code: &str) -> Result<(), String> {
    match code.parse::<toml::Table>() {
        Ok(_) => Ok(()),
        Err(e) => {
            let (line, col) = e.span().map(|s| line_col(code, s.start)).unwrap_or((1, 1));
            Err(format!(
                "invalid TOML at line {line}, column {col}: {}{}",
                e.message().trim(),
                near(code, line, "near")
            ))
        }
    }
}

fn yaml_check(code: &str) -> Result<(), String> {
    use serde::Deserialize;
    for doc in serde_yaml_ng::Deserializer::from_str(code) {
        if let Err(e) = serde_yaml_ng::Value::deserialize(doc) {
            let msg = e.to_string();
            let msg = match msg.find(" at line ") {
                Some(i) => msg[..i].to_string(),
                None => msg,
            };
            return Err(match e.location() {
                Some(loc) => {
                    format!(
                        "invalid YAML at line {}, column {}: {msg}{}",
                        loc.line(),
                        loc.column(),
                        near(code, loc.line(), "near")
                    )
                }
                None => format!("invalid YAML at line 1: {msg}"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_languages() {
        assert_eq!(
            SyntaxLanguage::from_validator_name("python_syntax"),
            Some(SyntaxLanguage::Python)
        );
        assert_eq!(
            SyntaxLanguage::from_validator_name("syntax-ts"),
            Some(SyntaxLanguage::TypeScript)
        );
        assert_eq!(
            SyntaxLanguage::from_validator_name("yml_syntax"),
            Some(SyntaxLanguage::Yaml)
        );
        assert_eq!(SyntaxLanguage::from_validator_name("cobol_syntax"), None);
        assert_eq!(SyntaxLanguage::from_validator_name("python"), None);
    }

    #[test]
    fn first_error_is_reported_with_line() {
        let e = check(SyntaxLanguage::Python, "x = 1\ny = (2 +\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
        let e = check(
            SyntaxLanguage::Go,
            "package main\n\nfunc main() {\n\tx := \n}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 4") || e.contains("line 5"), "{e}");
    }

    #[test]
    fn rust_accepts_files_and_statement_snippets() {
        assert!(check(SyntaxLanguage::Rust, "fn main() { println!(\"hi\"); }\n").is_ok());
        assert!(check(SyntaxLanguage::Rust, "let x = 1;\nprintln!(\"{x}\");\n").is_ok());
        let e = check(SyntaxLanguage::Rust, "fn main() {\n    let x = ;\n}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn deep_nesting_is_refused_without_overflow() {
        let code = format!(
            "fn f() {{ let x = {}1{}; }}",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        let e = check(SyntaxLanguage::Rust, &code).unwrap_err().to_string();
        assert!(e.contains("nested"), "{e}");
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        assert!(check(SyntaxLanguage::Json, &deep).is_err());
        assert!(check(SyntaxLanguage::Python, &format!("x = {deep}")).is_ok());
    }

    #[test]
    fn data_formats_report_lines() {
        let e = check(SyntaxLanguage::Toml, "a = 1\nb = \n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
        let e = check(SyntaxLanguage::Yaml, "a: 1\nb: [1, 2\nc: 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line "), "{e}");
        assert!(check(SyntaxLanguage::Yaml, "a: 1\n---\nb: 2\n").is_ok());
        let e = check(SyntaxLanguage::Json, "{\n  \"a\": 1,\n}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3"), "{e}");
    }

    #[test]
    fn java_c_and_bash_pass_and_fail_naming_the_line() {
        let ok = [
            (
                SyntaxLanguage::Java,
                "import java.util.List;\n\npublic class Main {\n    public static void main(String[] args) {\n        System.out.println(\"hi\");\n    }\n}\n",
            ),
            (
                SyntaxLanguage::C,
                "#include <stdio.h>\n\nint main(void) {\n    int a[3] = {1, 2, 3};\n    printf(\"%d\\n\", a[0]);\n    return 0;\n}\n",
            ),
            (
                SyntaxLanguage::Bash,
                "#!/bin/bash\nset -euo pipefail\nfor f in \"$@\"; do\n  if [ -f \"$f\" ]; then\n    echo \"$(wc -l < \"$f\")\"\n  fi\ndone\n",
            ),
        ];
        for (lang, code) in ok {
            assert_eq!(check(lang, code), Ok(()), "{lang:?}");
        }
        let bad = [
            (
                SyntaxLanguage::Java,
                "public class Main {\n    void f() {\n        int x = ;\n    }\n}\n",
                3,
            ),
            (
                SyntaxLanguage::C,
                "int main(void) {\n    int x = 1\n    return x;\n}\n",
                2,
            ),
            (
                SyntaxLanguage::Bash,
                "echo start\nif [ -f x ]; then\n  echo y\n",
                4, // `missing fi at the end of the input`
            ),
        ];
        for (lang, code, line) in bad {
            let e = check(lang, code).unwrap_err().to_string();
            assert!(e.contains(&format!("line {line},")), "{lang:?}: {e}");
        }
        assert_eq!(
            SyntaxLanguage::from_language("sh"),
            Some(SyntaxLanguage::Bash)
        );
        assert_eq!(SyntaxLanguage::Bash.result_name(), "syntax:bash");
        assert_eq!(
            SyntaxLanguage::from_validator_name("syntax:java"),
            Some(SyntaxLanguage::Java)
        );
        assert_eq!(SyntaxLanguage::from_language("h"), Some(SyntaxLanguage::C));
    }
}
