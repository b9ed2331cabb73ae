//! The language of code that carries no tag (an untagged fence, or a whole answer without fences),
//! guessed from strong signals: a shebang, JSON that parses, then line patterns scored per
//! language (`def`/`import` for Python, `package`/`func` for Go, `fn`/`let mut`/`use` for Rust,
//! `#include` for C, `public class` for Java, ...). Guesses only when one language clearly leads:
//! an unknown block stays unknown (`.md`, syntax check skipped) rather than checked as the wrong
//! language.

/// Lines looked at: enough for any real signal, bounded for huge answers.
const MAX_LINES: usize = 400;

/// The canonical language (as `extract::canonical_language` names it) of untagged `code`, if
/// the signals are clear.
pub fn code_language(code: &str) -> Option<&'static str> {
    let trimmed = code.trim();
    if trimmed.is_empty() {
        return None;
    }
    if let Some(l) = shebang(trimmed) {
        return Some(l);
    }
    // "Here is the solution:" before code: the text as a whole is not a program.
    if trimmed.lines().next().is_some_and(is_prose_line) {
        return None;
    }
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && serde_json::from_str::<serde_json::Value>(trimmed).is_ok()
    {
        return Some("json");
    }
    let s = Scores::of(trimmed);
    let ranked = s.ranked();
    let (best, score) = ranked[0];
    let second = ranked[1].1;
    // At least two signals, and clearly ahead of the runner-up.
    if score >= 2 && score > second {
        return Some(best);
    }
    data_format(trimmed)
}

/// A sentence: a capitalised first word, four words or more, none of the punctuation of code.
fn is_prose_line(line: &str) -> bool {
    let l = line.trim();
    l.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && l.split_whitespace().count() >= 4
        && !l.contains(['(', ')', '{', '}', '[', ']', '=', ';', '<', '>', '"', '`'])
}

fn shebang(code: &str) -> Option<&'static str> {
    let first = code.lines().next()?.trim();
    let rest = first.strip_prefix("#!")?;
    let interp = rest
        .split_whitespace()
        .map(|w| w.rsplit('/').next().unwrap_or(w))
        .find(|w| *w != "env" && !w.starts_with('-'))?;
    Some(match interp {
        w if w.starts_with("python") => "python",
        "node" | "nodejs" | "deno" | "bun" => "javascript",
        "bash" | "sh" | "zsh" | "dash" | "ksh" => "shell",
        w if w.starts_with("ruby") => "ruby",
        _ => return None,
    })
}

#[derive(Default)]
struct Scores {
    python: u32,
    javascript: u32,
    typescript: u32,
    go: u32,
    rust: u32,
    c: u32,
    cpp: u32,
    java: u32,
    shell: u32,
}

impl Scores {
    fn of(code: &str) -> Self {
        let mut s = Scores::default();
        for raw in code.lines().take(MAX_LINES) {
            let l = raw.trim();
            if l.is_empty() {
                continue;
            }
            s.line(l, raw);
        }
        // TypeScript is JavaScript with types: its own signals only count on top of JS ones.
        if s.typescript > 0 {
            s.typescript += s.javascript;
        }
        s
    }

    fn line(&mut self, l: &str, raw: &str) {
        let ends_colon = l.ends_with(':');
        // Python
        if (l.starts_with("def ") || l.starts_with("async def ")) && l.contains('(') && ends_colon {
            self.python += 2;
        }
        if l.starts_with("class ") && ends_colon {
            self.python += 2;
        }
        if l.starts_with("from ") && l.contains(" import ") && !l.ends_with(';') {
            self.python += 2;
        }
        if let Some(rest) = l.strip_prefix("import ")
            && !rest.contains(['"', '\'', ';', '{', '*'])
            && !rest.contains(" from ")
        {
            self.python += 1;
        }
        if l.starts_with("if __name__") || l.starts_with("elif ") || l.starts_with("print(") {
            self.python += 2;
        }
        if ends_colon
            && ["if ", "for ", "while ", "with ", "try", "except", "else"]
                .iter()
                .any(|k| l.starts_with(k))
            && !l.contains('{')
        {
            self.python += 1;
        }
        // JavaScript / TypeScript
        if l.starts_with("const ") || l.starts_with("let ") && !l.starts_with("let mut ") {
            if l.ends_with(';') || l.contains(" = ") {
                self.javascript += 1;
            }
            if l.contains("require(") {
                self.javascript += 1;
            }
        }
        if l.starts_with("function ") || l.starts_with("export ") || l.contains("=> {") {
            self.javascript += 2;
        }
        if l.contains("console.log(") || l.contains("module.exports") {
            self.javascript += 2;
        }
        if l.starts_with("import ") && l.contains(" from ") && l.contains(['"', '\'']) {
            self.javascript += 2;
        }
        if (l.starts_with("interface ") || l.starts_with("export interface ")) && l.ends_with('{')
            || l.starts_with("type ") && l.contains(" = ") && l.ends_with(';')
            || [": string", ": number", ": boolean", ": void"]
                .iter()
                .any(|t| l.contains(t))
        {
            self.typescript += 2;
        }
        // Go
        if l.starts_with("package ") && !l.ends_with(';') {
            self.go += 2;
        }
        if l.starts_with("func ") {
            self.go += 2;
        }
        if l.contains(" := ") || l.starts_with("import (") || l.starts_with("import \"") {
            self.go += 1;
        }
        // Rust
        if (l.starts_with("fn ") || l.starts_with("pub fn ") || l.starts_with("async fn "))
            && l.contains('(')
        {
            self.rust += 2;
        }
        if l.starts_with("let mut ") || l.starts_with("impl ") || l.starts_with("#[derive") {
            self.rust += 2;
        }
        if l.starts_with("use ") && l.contains("::") && l.ends_with(';') {
            self.rust += 2;
        }
        if l.contains("println!(") || l.starts_with("mod ") || l.contains("-> Result<") {
            self.rust += 1;
        }
        // C / C++
        if l.starts_with("#include") {
            if l.contains("<iostream>") || l.contains("<vector>") || l.contains("<string>") {
                self.cpp += 3;
            } else {
                self.c += 2;
            }
        }
        if l.contains("std::") || l.starts_with("namespace ") || l.starts_with("template<") {
            self.cpp += 2;
        }
        if l.starts_with("int main(") || l.contains("printf(") || l.contains("malloc(") {
            self.c += 1;
        }
        // Java
        if l.starts_with("public class ")
            || l.starts_with("public final class ")
            || l.starts_with("public interface ")
        {
            self.java += 3;
        }
        if l.starts_with("import java.") || l.contains("System.out.println(") {
            self.java += 2;
        }
        if l.contains("public static void main(String") {
            self.java += 2;
        }
        // Shell
        let first = l.split_whitespace().next().unwrap_or("");
        if matches!(first, "fi" | "done" | "esac" | "then" | "do")
            || l.starts_with("if [") && l.ends_with("then")
            || l.starts_with("set -e")
            || l.starts_with("echo ") && raw == raw.trim_start()
        {
            self.shell += 1;
        }
        if l.contains("$(") || l.contains("${") && !l.contains('`') {
            self.shell += 1;
        }
    }

    /// Languages by score, best first (ties keep this order, and then count as unclear).
    fn ranked(&self) -> Vec<(&'static str, u32)> {
        let mut v = vec![
            ("python", self.python),
            ("typescript", self.typescript),
            ("javascript", self.javascript),
            ("go", self.go),
            ("rust", self.rust),
            ("cpp", self.cpp),
            ("c", self.c),
            ("java", self.java),
            ("shell", self.shell),
        ];
        v.sort_by_key(|x| std::cmp::Reverse(x.1));
        v
    }
}

/// TOML or YAML: a document of several `key = value` / `key: value` lines that parses and is
/// not just prose.
fn data_format(code: &str) -> Option<&'static str> {
    let lines: Vec<&str> = code
        .lines()
        .take(MAX_LINES)
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    if lines.len() < 2 {
        return None;
    }
    let key = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '"'))
    };
    let toml_like = lines
        .iter()
        .filter(|l| {
            (l.starts_with('[') && l.ends_with(']'))
                || l.split_once(" = ").is_some_and(|(k, _)| key(k))
        })
        .count();
    // `x = 1` alone is as much Python as TOML: a `[table]` header decides.
    let has_table = lines.iter().any(|l| l.starts_with('[') && l.ends_with(']'));
    if has_table && toml_like * 10 >= lines.len() * 8 && code.parse::<toml::Table>().is_ok() {
        return Some("toml");
    }
    let yaml_like = lines
        .iter()
        .filter(|l| {
            l.starts_with("- ")
                || l.split_once(':')
                    .is_some_and(|(k, v)| key(k) && (v.is_empty() || v.starts_with(' ')))
        })
        .count();
    // "Input: abc / Output: cba" is a sample, not a document: nesting or three keys at least.
    let nested = code
        .lines()
        .any(|l| l.starts_with([' ', '\t']) && !l.trim().is_empty())
        || lines.iter().any(|l| l.starts_with("- "));
    if !(nested || yaml_like >= 3) {
        return None;
    }
    let parses = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(code)
        .is_ok_and(|v| v.is_mapping() || v.is_sequence());
    (yaml_like * 10 >= lines.len() * 8 && parses).then_some("yaml")
}

#[cfg(test)]
mod tests {
    use super::code_language;

    #[test]
    fn detects_each_language_from_typical_code() {
        let cases = [
            (
                "python",
                "import os\n\ndef reverse(s):\n    return s[::-1]\n\nprint(reverse('ab'))\n",
            ),
            ("python", "def test_x():\n    assert f(1) == 2\n"),
            ("python", "#!/usr/bin/env python3\nx = 1\n"),
            (
                "javascript",
                "const fs = require('fs');\nfunction read(p) {\n  return fs.readFileSync(p);\n}\n",
            ),
            (
                "typescript",
                "export function add(a: number, b: number): number {\n  return a + b;\n}\n",
            ),
            (
                "go",
                "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(1)\n}\n",
            ),
            (
                "rust",
                "use std::io;\n\nfn main() {\n    let mut s = String::new();\n}\n",
            ),
            (
                "c",
                "#include <stdio.h>\n\nint main(void) {\n    printf(\"hi\\n\");\n    return 0;\n}\n",
            ),
            (
                "cpp",
                "#include <iostream>\nint main() { std::cout << 1; }\n",
            ),
            (
                "java",
                "public class Main {\n    public static void main(String[] args) {\n        System.out.println(1);\n    }\n}\n",
            ),
            ("shell", "#!/bin/bash\nset -e\necho hi\n"),
            (
                "shell",
                "for f in *.txt; do\n  echo \"$f\"\ndone\nif [ -n \"$(ls)\" ]; then\n  echo ok\nfi\n",
            ),
            ("json", "{\"a\": [1, 2], \"b\": null}"),
            ("toml", "[package]\nname = \"x\"\nversion = \"0.1.0\"\n"),
            ("yaml", "name: ci\non:\n  push:\n    branches: [main]\n"),
        ];
        for (want, code) in cases {
            assert_eq!(code_language(code), Some(want), "{code}");
        }
    }

    #[test]
    fn prose_and_output_stay_unknown() {
        for text in [
            "",
            "hello world",
            "Output:\n3\n4\n",
            "This function reverses a string. Call it with any text.\nIt returns the reversed text.",
            "Note: this is a note.",
            "$ python main.py\nolleh\n",
            "{not json",
            "Input: hello\nOutput: olleh\n",
            "x = 1\ny = 2\n",
            "Here is the solution to the task:\ndef f(x):\n    return x\n\nprint(f(1))\n",
        ] {
            assert_eq!(code_language(text), None, "{text:?}");
        }
    }

    #[test]
    fn one_weak_signal_is_not_enough() {
        assert_eq!(code_language("import os\n"), None);
        assert_eq!(code_language("x := 1\n"), None);
    }
}
