//! Fenced code blocks in model output: parsing, language tags and the code a validator checks.
//!
//! Fences follow CommonMark loosely (model output is not always tidy): an opening line of three or
//! more backticks or tildes (any indentation) with an optional info string, closed by a line of
//! the same character at least as long. An unclosed fence runs to the end of the output (a
//! truncated answer), so its code is still checked.

use std::borrow::Cow;
use std::ops::Range;

/// One fenced block of the output.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeBlock<'a> {
    /// The whole info string after the fence, trimmed (`python title="app.py"`).
    pub info: &'a str,
    /// The first word of the info string, lowercased (`python`, `py`, `tsx`), if any.
    pub tag: Option<String>,
    /// The canonical language of the tag (`python` for `py`), if the tag is known.
    pub language: Option<&'static str>,
    /// The code, de-indented by the fence's own indentation.
    pub code: Cow<'a, str>,
    /// Byte range of the raw code in the output.
    pub range: Range<usize>,
    /// 1-based line of the opening fence in the output.
    pub fence_line: usize,
    /// Whether a closing fence was found.
    pub closed: bool,
}

/// Language aliases: (canonical name, tags accepted for it, file extension).
const LANGUAGES: &[(&str, &[&str], &str)] = &[
    ("python", &["python", "py", "python3", "py3", "pyi"], "py"),
    (
        "javascript",
        &["javascript", "js", "jsx", "mjs", "cjs", "node", "nodejs"],
        "js",
    ),
    ("typescript", &["typescript", "ts", "mts", "cts"], "ts"),
    ("tsx", &["tsx"], "tsx"),
    ("rust", &["rust", "rs"], "rs"),
    ("go", &["go", "golang"], "go"),
    ("json", &["json", "json5", "jsonc", "geojson"], "json"),
    ("toml", &["toml"], "toml"),
    ("yaml", &["yaml", "yml"], "yaml"),
    ("shell", &["bash", "sh", "shell", "zsh", "ksh"], "sh"),
    // Terminal transcripts (`$ cmd` and its output): shown, not run or parsed as a script.
    ("console", &["console", "shell-session", "terminal"], "txt"),
    ("html", &["html", "htm", "xhtml"], "html"),
    ("css", &["css"], "css"),
    ("scss", &["scss", "sass"], "scss"),
    (
        "sql",
        &["sql", "postgresql", "psql", "mysql", "sqlite"],
        "sql",
    ),
    ("c", &["c", "h"], "c"),
    ("cpp", &["cpp", "c++", "cxx", "cc", "hpp"], "cpp"),
    ("csharp", &["csharp", "cs", "c#"], "cs"),
    ("java", &["java"], "java"),
    ("kotlin", &["kotlin", "kt", "kts"], "kt"),
    ("swift", &["swift"], "swift"),
    ("ruby", &["ruby", "rb"], "rb"),
    ("php", &["php"], "php"),
    ("markdown", &["markdown", "md"], "md"),
    ("xml", &["xml", "svg"], "xml"),
    ("dockerfile", &["dockerfile", "docker"], "dockerfile"),
    ("makefile", &["makefile", "make"], "mk"),
    ("csv", &["csv"], "csv"),
    ("ini", &["ini", "cfg", "conf"], "ini"),
    (
        "text",
        &["text", "txt", "plaintext", "plain", "output", "log"],
        "txt",
    ),
    ("diff", &["diff", "patch"], "diff"),
    ("lua", &["lua"], "lua"),
    ("r", &["r"], "r"),
    ("haskell", &["haskell", "hs"], "hs"),
    ("elixir", &["elixir", "ex", "exs"], "ex"),
    ("scala", &["scala"], "scala"),
    ("powershell", &["powershell", "ps1", "pwsh"], "ps1"),
];

/// The canonical language for a tag or language name (`py` → `python`), case-insensitive.
pub fn canonical_language(tag: &str) -> Option<&'static str> {
    let t = tag.trim().to_ascii_lowercase();
    LANGUAGES
        .iter()
        .find(|(name, tags, _)| *name == t || tags.contains(&t.as_str()))
        .map(|(name, _, _)| *name)
}

/// The file extension of a language (`python` → `py`); `None` for unknown languages.
pub fn extension_for(language: &str) -> Option<&'static str> {
    let canon = canonical_language(language)?;
    LANGUAGES
        .iter()
        .find(|(name, _, _)| *name == canon)
        .map(|(_, _, ext)| *ext)
}

/// The canonical language of a file name's extension (`app.py` → `python`).
pub fn language_of_path(path: &str) -> Option<&'static str> {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let (_, ext) = name.rsplit_once('.')?;
    let ext = ext.to_ascii_lowercase();
    LANGUAGES
        .iter()
        .find(|(_, tags, e)| *e == ext || tags.contains(&ext.as_str()))
        .map(|(name, _, _)| *name)
}

/// Whether a language counts as code to extract (not prose or terminal output).
pub fn is_code_language(language: &str) -> bool {
    !matches!(language, "text" | "markdown" | "diff" | "console")
}

/// A block's language: its tag's canonical language, or for an untagged block the language
/// detected from its code (`detect::code_language`). `None`: an unknown tag, or no clear signal.
pub fn block_language(b: &CodeBlock<'_>) -> Option<&'static str> {
    match (&b.tag, b.language) {
        (_, Some(l)) => Some(l),
        (None, None) => super::detect::code_language(&b.code),
        (Some(_), None) => None,
    }
}

/// All fenced blocks of `output`, in order.
pub fn code_blocks(output: &str) -> Vec<CodeBlock<'_>> {
    let mut blocks = Vec::new();
    let mut open: Option<OpenFence<'_>> = None;
    let mut offset = 0usize;
    for (idx, raw_line) in output.split_inclusive('\n').enumerate() {
        let line_start = offset;
        offset += raw_line.len();
        let line = raw_line.trim_end_matches(['\n', '\r']);
        match &open {
            None => {
                if let Some(f) = opening_fence(line) {
                    open = Some(OpenFence {
                        fence: f,
                        body_start: offset,
                        line: idx + 1,
                    });
                }
            }
            Some(o) => {
                if is_closing_fence(line, o.fence.ch, o.fence.len) {
                    blocks.push(o.finish(output, line_start, true));
                    open = None;
                }
            }
        }
    }
    if let Some(o) = open {
        blocks.push(o.finish(output, output.len(), false));
    }
    blocks
}

/// The code of the first fenced block tagged `lang` (or an alias of it, e.g. `py` for `python`).
pub fn fenced<'a>(output: &'a str, lang: &str) -> Option<&'a str> {
    let want = canonical_language(lang);
    let want_tag = lang.trim().to_ascii_lowercase();
    code_blocks(output)
        .into_iter()
        .find(|b| match (want, b.language) {
            (Some(w), Some(l)) => w == l,
            _ => b.tag.as_deref() == Some(want_tag.as_str()),
        })
        .map(|b| &output[b.range])
}

/// Where a piece of code to check came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Snippet<'a> {
    pub code: Cow<'a, str>,
    /// "code block 2 (line 14 of the output)" or "the output"; used in reasons when several.
    pub origin: String,
}

/// The outcome of looking for code of one language.
#[derive(Debug, Clone, PartialEq)]
pub enum Extraction<'a> {
    /// Snippets to check: the blocks tagged with the language, else the untagged blocks, else the
    /// whole output when it has no fences at all.
    Found(Vec<Snippet<'a>>),
    /// The output has fenced blocks but none of this language (their tags are listed).
    OtherLanguages(Vec<String>),
}

/// The code of `language` in `output` (see [`Extraction`]).
pub fn extract_code<'a>(output: &'a str, language: &str) -> Extraction<'a> {
    let want = canonical_language(language).unwrap_or("");
    let blocks = code_blocks(output);
    let matches = |b: &CodeBlock<'_>| match b.language {
        Some(l) => l == want || (want == "typescript" && l == "tsx"),
        None => b.tag.as_deref() == Some(language),
    };
    let tagged: Vec<&CodeBlock<'_>> = blocks.iter().filter(|b| matches(b)).collect();
    let chosen: Vec<&CodeBlock<'_>> = if !tagged.is_empty() {
        tagged
    } else {
        blocks.iter().filter(|b| b.tag.is_none()).collect()
    };
    if chosen.is_empty() {
        if blocks.is_empty() {
            return Extraction::Found(vec![Snippet {
                code: Cow::Borrowed(output.trim_matches(['\n', '\r'])),
                origin: "the output".into(),
            }]);
        }
        let mut tags: Vec<String> = Vec::new();
        for t in blocks.iter().filter_map(|b| b.tag.clone()) {
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        return Extraction::OtherLanguages(tags);
    }
    let several = chosen.len() > 1;
    Extraction::Found(
        chosen
            .into_iter()
            .map(|b| Snippet {
                code: b.code.clone(),
                origin: if several {
                    let n = blocks.iter().position(|x| x.range == b.range).unwrap_or(0) + 1;
                    format!(
                        "code block {n} (fence at line {} of the output)",
                        b.fence_line
                    )
                } else {
                    String::new()
                },
            })
            .collect(),
    )
}

/// All code of `language` joined into one file (blocks separated by a blank line), or `None`
/// when the output has fences but none of this language.
pub fn joined_code(output: &str, language: &str) -> Option<String> {
    match extract_code(output, language) {
        Extraction::Found(s) => {
            let parts: Vec<&str> = s.iter().map(|s| s.code.as_ref()).collect();
            Some(parts.join("\n\n"))
        }
        Extraction::OtherLanguages(_) => None,
    }
}

struct Fence<'a> {
    ch: char,
    len: usize,
    indent: usize,
    info: &'a str,
}

struct OpenFence<'a> {
    fence: Fence<'a>,
    body_start: usize,
    line: usize,
}

impl<'a> OpenFence<'a> {
    fn finish(&self, output: &'a str, body_end: usize, closed: bool) -> CodeBlock<'a> {
        let start = self.body_start.min(body_end);
        let raw = &output[start..body_end];
        let tag = info_tag(self.fence.info);
        CodeBlock {
            info: self.fence.info,
            language: tag.as_deref().and_then(canonical_language),
            tag,
            code: dedent(raw, self.fence.indent),
            range: start..body_end,
            fence_line: self.line,
            closed,
        }
    }
}

fn opening_fence(line: &str) -> Option<Fence<'_>> {
    let trimmed = line.trim_start_matches([' ', '\t']);
    let indent = line.len() - trimmed.len();
    let ch = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = trimmed.chars().take_while(|c| *c == ch).count();
    if len < 3 {
        return None;
    }
    let info = trimmed[len..].trim();
    if ch == '`' && info.contains('`') {
        return None; // inline code such as ```a``` on one line
    }
    Some(Fence {
        ch,
        len,
        indent,
        info,
    })
}

fn is_closing_fence(line: &str, ch: char, len: usize) -> bool {
    let t = line.trim();
    t.chars().take_while(|c| *c == ch).count() >= len && t.chars().all(|c| c == ch)
}

/// The language word of an info string: `python`, `py:src/app.py` → `py`, `{.rust}` → `rust`.
fn info_tag(info: &str) -> Option<String> {
    let s = info.trim_start_matches(['{', '.']);
    let word: String = s
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | ':' | '{' | '}' | '='))
        .collect();
    if word.is_empty() {
        None
    } else {
        Some(word.to_ascii_lowercase())
    }
}

fn dedent(raw: &str, indent: usize) -> Cow<'_, str> {
    if indent == 0 {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    for line in raw.split_inclusive('\n') {
        let strip = line
            .bytes()
            .take(indent)
            .take_while(|b| *b == b' ' || *b == b'\t')
            .count();
        out.push_str(&line[strip..]);
    }
    Cow::Owned(out)
}

/// The 1-based line and column (in characters) of a byte offset in `text`.
pub fn line_col(text: &str, byte: usize) -> (usize, usize) {
    let mut b = byte.min(text.len());
    while b > 0 && !text.is_char_boundary(b) {
        b -= 1;
    }
    let before = &text[..b];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (line, before[line_start..].chars().count() + 1)
}

/// The text of 1-based `line`, trimmed and cut to `max` characters, for reasons.
pub fn line_excerpt(text: &str, line: usize, max: usize) -> String {
    let l = text
        .lines()
        .nth(line.saturating_sub(1))
        .unwrap_or("")
        .trim();
    if l.chars().count() > max {
        let cut: String = l.chars().take(max).collect();
        format!("{cut}…")
    } else {
        l.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_blocks_with_tags_and_positions() {
        let out =
            "Intro\n```py title=a.py\nx = 1\n```\ntext\n~~~\nplain\n~~~\n```rust\nfn f() {}\n";
        let b = code_blocks(out);
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].tag.as_deref(), Some("py"));
        assert_eq!(b[0].language, Some("python"));
        assert_eq!(b[0].info, "py title=a.py");
        assert_eq!(b[0].code, "x = 1\n");
        assert_eq!(b[0].fence_line, 2);
        assert!(b[1].tag.is_none());
        assert_eq!(b[1].code, "plain\n");
        assert!(!b[2].closed);
        assert_eq!(b[2].code, "fn f() {}\n");
    }

    #[test]
    fn longer_fences_nest_and_indented_fences_dedent() {
        let out = "````markdown\n```python\nx\n```\n````\n  ```json\n  {\"a\": 1}\n  ```\n";
        let b = code_blocks(out);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].code, "```python\nx\n```\n");
        assert_eq!(b[1].code, "{\"a\": 1}\n");
    }

    #[test]
    fn fenced_matches_aliases_and_exact_words() {
        let out = "```jsonl\n{}\n```\n```JSON\n[1]\n```\n";
        assert_eq!(fenced(out, "json"), Some("[1]\n"));
        assert_eq!(fenced("```yml\na: 1\n```", "yaml"), Some("a: 1\n"));
        assert_eq!(fenced("no fences", "json"), None);
    }

    #[test]
    fn extraction_prefers_tagged_then_untagged_then_whole() {
        match extract_code("```python\na\n```\n```\nb\n```", "python") {
            Extraction::Found(s) => assert_eq!(s.len(), 1),
            other => panic!("{other:?}"),
        }
        match extract_code("```\nb\n```", "python") {
            Extraction::Found(s) => assert_eq!(s[0].code, "b\n"),
            other => panic!("{other:?}"),
        }
        match extract_code("x = 1\n", "python") {
            Extraction::Found(s) => assert_eq!(s[0].code, "x = 1"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            extract_code("```bash\nls\n```", "python"),
            Extraction::OtherLanguages(vec!["bash".into()])
        );
    }

    #[test]
    fn languages_and_positions() {
        assert_eq!(extension_for("Python"), Some("py"));
        assert_eq!(extension_for("yml"), Some("yaml"));
        assert_eq!(extension_for("klingon"), None);
        assert_eq!(language_of_path("src/app.tsx"), Some("tsx"));
        assert_eq!(line_col("ab\ncdé\nf", 7), (2, 4));
        assert_eq!(line_excerpt("a\n  bcd  \n", 2, 2), "bc…");
    }

    #[test]
    fn block_language_is_declared_or_detected() {
        let out = "```py\nx\n```\n```\nimport os\ndef f():\n    pass\n```\n```cobol\nX.\n```\n\
                   ```\nhello\n```\n```console\n$ ls\n```\n";
        let langs: Vec<_> = code_blocks(out).iter().map(block_language).collect();
        assert_eq!(
            langs,
            [Some("python"), Some("python"), None, None, Some("console")]
        );
        assert!(!is_code_language("console"));
        assert_eq!(canonical_language("sh"), Some("shell"));
    }
}
