//! Path-annotated files in model output: a fenced block whose file path is named
//!
//! 1. in its info string: ```` ```py:src/app.py ````, ```` ```python title="src/app.py" ````;
//! 2. on the line before it (one blank line allowed): `File: src/app.py`, `### src/app.py`,
//!    `**src/app.py**`, `` `src/app.py`: ``, `Create `src/app.py`:`;
//! 3. or in a first-line comment: `# path: app.py`, `// src/main.rs`, `<!-- file: index.html -->`.
//!
//! Paths are returned as written (`../x` included) so unsafe ones can be refused and reported
//! by the artifact writer rather than silently dropped.

use super::extract::{self, CodeBlock};
use serde::Serialize;

/// A path-annotated fenced block of model output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtractedFile {
    pub path: String,
    pub language: Option<String>,
    pub content: String,
}

/// Labels that introduce a path (`File: x`), compared lowercase.
const LABELS: &[&str] = &[
    "file",
    "filename",
    "file name",
    "filepath",
    "file path",
    "path",
    "save as",
];

/// File names without an extension that are still files.
const BARE_NAMES: &[&str] = &[
    "makefile",
    "dockerfile",
    "containerfile",
    "procfile",
    "gemfile",
    "rakefile",
    "justfile",
    "license",
    "readme",
    "cargo.lock",
];

/// `X.js` names that are frameworks, not files, when they stand alone in a heading.
const NOT_FILES: &[&str] = &[
    "node.js",
    "vue.js",
    "next.js",
    "nuxt.js",
    "express.js",
    "react.js",
    "three.js",
    "d3.js",
    "chart.js",
    "angular.js",
    "ember.js",
    "backbone.js",
    "alpine.js",
    "socket.io",
    "asp.net",
];

/// Every fenced block annotated with a path; a path given twice keeps the last block.
pub fn extract_files(output: &str) -> Vec<ExtractedFile> {
    let blocks = extract::code_blocks(output);
    let lines: Vec<&str> = output.lines().collect();
    let mut files: Vec<ExtractedFile> = Vec::new();
    let mut prev_end_line = 0usize; // 1-based line of the previous block's closing fence
    for b in &blocks {
        let from_info = info_path(b);
        let from_line = || preceding_path(&lines, b.fence_line, prev_end_line, b);
        let (path, strip_first) = match from_info.or_else(from_line) {
            Some(p) => (Some(p), false),
            None => match comment_path(b) {
                Some(p) => (Some(p), b.language == Some("json")),
                None => (None, false),
            },
        };
        prev_end_line = b.fence_line + b.code.lines().count() + usize::from(b.closed);
        let Some(path) = path else { continue };
        let mut content = b.code.to_string();
        if strip_first {
            content = content
                .split_once('\n')
                .map(|(_, rest)| rest.to_string())
                .unwrap_or_default();
        }
        let language = b
            .language
            .map(str::to_string)
            .or_else(|| b.tag.clone())
            .or_else(|| extract::language_of_path(&path).map(str::to_string))
            .or_else(|| extract::block_language(b).map(str::to_string));
        files.retain(|f| f.path != path);
        files.push(ExtractedFile {
            path,
            language,
            content,
        });
    }
    files
}

/// A path in the info string: `lang:path`, `title=path`, `file="path"`, or a path-like word.
fn info_path(b: &CodeBlock<'_>) -> Option<String> {
    let info = b.info;
    for key in ["title=", "file=", "filename=", "path=", "name="] {
        if let Some(i) = info.to_ascii_lowercase().find(key) {
            let rest = &info[i + key.len()..];
            let v = match rest.chars().next() {
                Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or(""),
                _ => rest.split_whitespace().next().unwrap_or(""),
            };
            if let Some(p) = labelled_candidate(v) {
                return Some(p);
            }
        }
    }
    let first = info.split_whitespace().next().unwrap_or("");
    if let Some((_, p)) = first.split_once(':')
        && let Some(p) = clean_candidate(p)
    {
        return Some(p);
    }
    if b.language.is_none() && (first.contains('/') || first.contains('.')) {
        return clean_candidate(first);
    }
    None
}

/// A path on the line(s) just before the fence (at most one blank line in between).
fn preceding_path(
    lines: &[&str],
    fence_line: usize,
    prev_end_line: usize,
    b: &CodeBlock<'_>,
) -> Option<String> {
    let mut idx = fence_line.checked_sub(1)?; // 1-based line before the fence
    let mut blanks = 0;
    while idx > prev_end_line {
        let line = lines.get(idx - 1)?.trim();
        if line.is_empty() {
            blanks += 1;
            if blanks > 1 {
                return None;
            }
            idx -= 1;
            continue;
        }
        return line_path(line, b);
    }
    None
}

/// The path a prose line names, if it names one.
fn line_path(line: &str, b: &CodeBlock<'_>) -> Option<String> {
    if line.chars().count() > 200 {
        return None;
    }
    let s = strip_decoration(line);
    // `File: x`, `**File:** x`, `Path - x`
    let lower = s.to_ascii_lowercase();
    for label in LABELS {
        let Some(rest) = lower.strip_prefix(label) else {
            continue;
        };
        let r = s[s.len() - rest.len()..]
            .trim_start_matches(['*', '_'])
            .trim_start();
        if let Some(r) = r.strip_prefix(':').or_else(|| r.strip_prefix('-'))
            && let Some(p) = after_label(r.trim_start_matches(['*', '_']).trim())
        {
            return Some(p);
        }
    }
    // The whole line is the path: `### src/app.py`, `**app.py**`, `` `app.py`: ``.
    if let Some(p) = clean_candidate(&s)
        && plausible_bare(&p, b)
    {
        return Some(p);
    }
    // A single code span ending the line: "Then create `src/app.py`:".
    let spans: Vec<&str> = s.split('`').collect();
    if spans.len() == 3 && spans[2].trim_matches([':', '.', ' ', '*', ')']).is_empty() {
        return clean_candidate(spans[1]).filter(|p| plausible_bare(p, b));
    }
    None
}

/// A path in a first-line comment: `# path: x.py`, `// src/main.rs`, `<!-- file: a.html -->`.
fn comment_path(b: &CodeBlock<'_>) -> Option<String> {
    let first = b.code.lines().next()?.trim();
    let body = ["#", "//", "--", "/*", "<!--", ";", "%"]
        .iter()
        .find_map(|m| first.strip_prefix(m))?;
    let body = body
        .trim()
        .trim_end_matches("-->")
        .trim_end_matches("*/")
        .trim();
    let lower = body.to_ascii_lowercase();
    for label in ["path:", "file:", "filename:", "file name:", "filepath:"] {
        if let Some(rest) = lower.strip_prefix(label) {
            return after_label(body[body.len() - rest.len()..].trim());
        }
    }
    let p = clean_candidate(body)?;
    plausible_bare(&p, b).then_some(p)
}

/// Remove heading marks, list bullets, emphasis and a trailing colon.
fn strip_decoration(line: &str) -> String {
    let mut s = line.trim().trim_start_matches('#').trim();
    for bullet in ["- ", "* ", "+ ", "> "] {
        if let Some(r) = s.strip_prefix(bullet) {
            s = r.trim_start();
        }
    }
    // "1. " / "2) " numbering
    let digits = s.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 && digits < 4 {
        let rest = &s[digits..];
        if let Some(r) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            s = r.trim_start();
        }
    }
    let s = s.trim_end_matches(':').trim();
    let s = s.strip_prefix("**").unwrap_or(s);
    let s = s.strip_suffix("**").unwrap_or(s);
    let s = s.strip_prefix("__").unwrap_or(s);
    let s = s.strip_suffix("__").unwrap_or(s);
    s.trim().trim_end_matches(':').trim().to_string()
}

/// Trim quotes, backticks and emphasis; accept it when it looks like a file path.
fn clean_candidate(raw: &str) -> Option<String> {
    let c = trim_candidate(raw);
    looks_like_path(c).then(|| c.to_string())
}

/// After an explicit label (`File:`, `path=`) any single word with a name is taken as a path,
/// `passwd` and `../../etc/passwd` included.
fn labelled_candidate(raw: &str) -> Option<String> {
    let c = trim_candidate(raw);
    let ok = !c.is_empty()
        && !c.chars().any(char::is_whitespace)
        && !c.contains("://")
        && c.chars().any(|ch| ch.is_alphanumeric());
    ok.then(|| c.to_string())
}

/// The path after a label: the whole rest when it is one word, else a code span or a first word
/// that looks like a file path (`src/app.py (entry point)`).
fn after_label(rest: &str) -> Option<String> {
    if let Some(p) = labelled_candidate(rest) {
        return Some(p);
    }
    let spans: Vec<&str> = rest.split('`').collect();
    if spans.len() >= 3 && spans[0].trim().is_empty() {
        return labelled_candidate(spans[1]);
    }
    clean_candidate(rest.split_whitespace().next()?)
}

fn trim_candidate(raw: &str) -> &str {
    let t = raw
        .trim()
        .trim_matches(|c: char| matches!(c, '`' | '"' | '\'' | '*'))
        .trim_end_matches([':', ','])
        .trim();
    // `(src/app.py)` and `[src/app.py]` are unwrapped; `api.get()` stays and is not a path.
    t.strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .or_else(|| t.strip_prefix('[').and_then(|x| x.strip_suffix(']')))
        .unwrap_or(t)
        .trim()
}

/// One word ending in a file name: `x.py`, `dir/Makefile`, `.gitignore` (unsafe forms included).
fn looks_like_path(c: &str) -> bool {
    if c.is_empty() || c.chars().any(char::is_whitespace) || c.contains("://") {
        return false;
    }
    if c.chars().any(|ch| {
        matches!(
            ch,
            '<' | '>' | '|' | '"' | '?' | '*' | '`' | '(' | ')' | '[' | ']' | '=' | ','
        )
    }) {
        return false;
    }
    let name = c.rsplit(['/', '\\']).next().unwrap_or(c);
    if BARE_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
        return true;
    }
    if let Some(dot) = name.strip_prefix('.') {
        // dotfiles: `.gitignore`, `.env.example`
        return !dot.is_empty()
            && dot
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '.' || ch == '_' || ch == '-');
    }
    match name.rsplit_once('.') {
        Some((stem, ext)) => {
            !stem.is_empty()
                && (1..=10).contains(&ext.len())
                && ext.chars().all(|ch| ch.is_ascii_alphanumeric())
                && ext.chars().any(|ch| ch.is_ascii_alphabetic())
        }
        None => false,
    }
}

/// A bare heading or comment path is accepted when it has a directory part, or its extension
/// fits the block's language (or the block is untagged), and it is not a framework name.
fn plausible_bare(p: &str, b: &CodeBlock<'_>) -> bool {
    if NOT_FILES.contains(&p.to_ascii_lowercase().as_str()) {
        return false;
    }
    let name = p.rsplit(['/', '\\']).next().unwrap_or(p);
    if p.contains('/') || p.contains('\\') || name.starts_with('.') {
        return true;
    }
    match (b.language, extract::language_of_path(p)) {
        (None, _) => true,
        (Some(bl), Some(pl)) => bl == pl || (bl == "typescript" && pl == "tsx"),
        (Some(_), None) => BARE_NAMES.contains(&p.to_ascii_lowercase().as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(out: &str) -> Vec<String> {
        extract_files(out).into_iter().map(|f| f.path).collect()
    }

    #[test]
    fn heading_forms() {
        assert_eq!(paths("File: src/app.py\n```python\nx\n```"), ["src/app.py"]);
        assert_eq!(
            paths("**File:** `src/app.py`\n\n```python\nx\n```"),
            ["src/app.py"]
        );
        assert_eq!(paths("### src/app.py\n```python\nx\n```"), ["src/app.py"]);
        assert_eq!(
            paths("**path/x.rs**\n```rust\nfn f(){}\n```"),
            ["path/x.rs"]
        );
        assert_eq!(
            paths("`lib/util.go`:\n```go\npackage x\n```"),
            ["lib/util.go"]
        );
        assert_eq!(
            paths("1. Create `app/main.ts`:\n```ts\nlet x = 1\n```"),
            ["app/main.ts"]
        );
        assert_eq!(
            paths("## Filename: Makefile\n```make\nall:\n```"),
            ["Makefile"]
        );
    }

    #[test]
    fn comment_and_info_forms() {
        let f = extract_files("```python\n# path: x.py\nprint(1)\n```");
        assert_eq!(f[0].path, "x.py");
        assert!(f[0].content.starts_with("# path: x.py\n"));
        assert_eq!(
            paths("```rust\n// src/main.rs\nfn main(){}\n```"),
            ["src/main.rs"]
        );
        assert_eq!(paths("```py:src/a.py\nx\n```"), ["src/a.py"]);
        assert_eq!(paths("```python title=\"b/c.py\"\nx\n```"), ["b/c.py"]);
        let j = extract_files("```json\n// path: conf/a.json\n{\"a\": 1}\n```");
        assert_eq!(j[0].content, "{\"a\": 1}\n");
    }

    #[test]
    fn unsafe_paths_are_extracted_for_refusal() {
        assert_eq!(
            paths("File: ../../etc/passwd\n```\nx\n```"),
            ["../../etc/passwd"]
        );
        assert_eq!(paths("File: /tmp/x.sh\n```bash\nx\n```"), ["/tmp/x.sh"]);
        assert_eq!(
            paths("File: ..\\..\\evil.bat\n```\nx\n```"),
            ["..\\..\\evil.bat"]
        );
        assert_eq!(
            paths("File: `a/b.py` (entry point)\n```\nx\n```"),
            ["a/b.py"]
        );
        assert_eq!(
            paths("File: main.rs - the binary\n```\nx\n```"),
            ["main.rs"]
        );
        assert!(paths("File: The main module\n```\nx\n```").is_empty());
    }

    #[test]
    fn prose_is_not_a_path() {
        assert!(paths("### Usage\n```bash\nls\n```").is_empty());
        assert!(paths("### Node.js\n```js\nx\n```").is_empty());
        assert!(paths("Run `python main.py`:\n```bash\npython main.py\n```").is_empty());
        assert!(paths("Version 1.2 notes\n```\nx\n```").is_empty());
        assert!(paths("Call `api.get()`:\n```python\nx\n```").is_empty());
        assert!(paths("Use `console.log`:\n```js\nx\n```").is_empty());
        assert!(paths("We use `Array.prototype.map`:\n```js\nx\n```").is_empty());
        assert_eq!(paths("Save as `.env`:\n```bash\nA=1\n```"), [".env"]);
        assert_eq!(
            paths("### (app/main.py)\n```python\nx\n```"),
            ["app/main.py"]
        );
        assert!(paths("```python\n# compute the sum.\nx\n```").is_empty());
        // A label two blank lines up or before another block does not count.
        assert!(paths("File: a.py\n\n\n```python\nx\n```").is_empty());
    }

    #[test]
    fn later_block_with_same_path_wins_and_languages_are_kept() {
        let f = extract_files("File: a.py\n```python\nold\n```\nFile: a.py\n```python\nnew\n```");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].content, "new\n");
        assert_eq!(f[0].language.as_deref(), Some("python"));
        let g = extract_files("File: conf.yml\n```\na: 1\n```");
        assert_eq!(g[0].language.as_deref(), Some("yaml"));
    }
}
