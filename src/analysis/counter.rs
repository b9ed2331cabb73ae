//! Line classifier: code, comment or blank, one line at a time (so huge files stream).
//!
//! It follows tokei 15's state machine so totals are comparable: strings and block comments carry
//! over lines, a blank line inside a block comment is a comment and inside a multi-line string
//! (a Python docstring) is code. Conventions, as tokei's per-language totals including embedded
//! text: Python docstrings are code; Rust doc comments (`///`, `//!`) are comments, and an empty
//! doc line is blank (tokei parses doc blocks as Markdown); Markdown and plain text prose are
//! comments; `<script>`/`<style>` blocks in HTML, Vue and Svelte are counted with JavaScript/CSS
//! syntax inside the file's own language.

use super::bytes::{comment_first_bytes, ends, find, interesting, starts, tag_end};
pub use super::bytes::{is_ws, trim};
use super::languages::{self, Embed, Lang, LangId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    Blank,
    Code,
    Comment,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub code: u64,
    pub comments: u64,
    pub blanks: u64,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.code += o.code;
        self.comments += o.comments;
        self.blanks += o.blanks;
    }
    pub fn lines(&self) -> u64 {
        self.code + self.comments + self.blanks
    }
}

struct DocBlock {
    marker: &'static [u8],
    started: bool,
    blank_docs: u64,
    gap: u64,
}

struct Pending {
    kind: LineKind,
    gap: u64,
}

struct Child {
    counter: LineCounter,
    close: &'static [u8],
}

enum Scan {
    End,
    LineComment,
    DocAt(usize),
}

/// Per-file classifier state.
pub struct LineCounter {
    lang: &'static Lang,
    table: &'static [bool; 256],
    comment_first: &'static [u8],
    quote: Option<&'static str>,
    quote_verbatim: bool,
    stack: Vec<&'static str>,
    pub counts: Counts,
    doc: Option<DocBlock>,
    pending: Option<Pending>,
    child: Option<Box<Child>>,
    /// Markdown only: inside a fenced block that names its language (its lines are code).
    fence: Option<bool>,
    /// Inline `<script>...</script>` blocks handled on the current line.
    html_depth: u32,
}

const MAX_INLINE_TAGS: u32 = 64;

impl LineCounter {
    pub fn new(id: LangId) -> Self {
        Self {
            lang: languages::get(id),
            table: interesting(id),
            comment_first: comment_first_bytes(id),
            quote: None,
            quote_verbatim: false,
            stack: Vec::new(),
            counts: Counts::default(),
            doc: None,
            pending: None,
            child: None,
            fence: None,
            html_depth: 0,
        }
    }

    fn count(&mut self, k: LineKind) {
        match k {
            LineKind::Blank => self.counts.blanks += 1,
            LineKind::Code => self.counts.code += 1,
            LineKind::Comment => self.counts.comments += 1,
        }
    }

    fn plain(&self) -> bool {
        self.quote.is_none() && self.stack.is_empty()
    }

    /// Classify one line (without its `\n`). Counts may be settled a line or two later (Rust doc
    /// blocks), so read them after [`finish`](Self::finish); the returned kind is final for checks.
    pub fn line(&mut self, raw: &[u8]) -> LineKind {
        let t = trim(raw);
        if self.child.is_some() {
            return self.child_line(raw);
        }
        if let Some(doc) = self.doc.as_mut() {
            if t.is_empty() {
                doc.gap += 1;
                return LineKind::Blank;
            }
            if starts(t, doc.marker) {
                doc.gap = 0; // blank lines inside a doc block vanish, as in tokei
                return self.doc_line(t);
            }
            let gap = doc.gap;
            self.doc = None;
            self.counts.blanks += gap;
        }
        if let Some(p) = self.pending.as_mut() {
            if t.is_empty() {
                p.gap += 1;
                return LineKind::Blank;
            }
            let (kind, gap) = (p.kind, p.gap);
            self.pending = None;
            if t.starts_with(b"///") || t.starts_with(b"//!") {
                // tokei folds the previous line (and the blanks) into the doc block: not counted.
                return self.start_doc(t);
            }
            self.count(kind);
            self.counts.blanks += gap;
        }
        self.normal_line(raw, t)
    }

    fn normal_line(&mut self, raw: &[u8], t: &[u8]) -> LineKind {
        let started_plain = self.plain();
        if started_plain {
            if t.is_empty() {
                self.counts.blanks += 1;
                return LineKind::Blank;
            }
            if self.lang.embed == Embed::Html
                && let Some(k) = self.html_context(raw)
            {
                return k;
            }
        }
        if self.lang.literate {
            let kind = self.literate(t);
            self.track_fence(t);
            self.count(kind);
            return kind;
        }
        let started_in_comments = !self.stack.is_empty();
        match self.scan(raw) {
            Scan::DocAt(i) => self.start_doc(trim(&raw[i..])),
            scan => {
                let kind = self.classify(t, started_in_comments);
                if self.lang.embed == Embed::RustDoc
                    && !matches!(scan, Scan::LineComment)
                    && self.plain()
                    && (!started_plain || self.has_important(t))
                {
                    // A following doc comment would swallow this line in tokei: decide later.
                    self.pending = Some(Pending { kind, gap: 0 });
                } else {
                    self.count(kind);
                }
                kind
            }
        }
    }

    fn start_doc(&mut self, s: &[u8]) -> LineKind {
        let marker: &'static [u8] = if s.starts_with(b"///") {
            b"///"
        } else {
            b"//!"
        };
        self.doc = Some(DocBlock {
            marker,
            started: false,
            blank_docs: 0,
            gap: 0,
        });
        self.doc_line(s)
    }

    /// One line of a doc block (`s` starts with the marker). Leading and trailing empty doc lines
    /// of a block are dropped, as tokei trims the Markdown it extracts.
    fn doc_line(&mut self, s: &[u8]) -> LineKind {
        let empty = trim(&s[3.min(s.len())..]).is_empty();
        let mut add_blanks = 0;
        let kind = match self.doc.as_mut() {
            Some(doc) if empty => {
                if doc.started {
                    doc.blank_docs += 1;
                }
                LineKind::Blank
            }
            Some(doc) => {
                if doc.started {
                    add_blanks = doc.blank_docs;
                }
                doc.blank_docs = 0;
                doc.started = true;
                LineKind::Comment
            }
            None => LineKind::Comment,
        };
        self.counts.blanks += add_blanks;
        if kind == LineKind::Comment {
            self.counts.comments += 1;
        }
        kind
    }

    fn has_important(&self, t: &[u8]) -> bool {
        let l = self.lang;
        if l.embed == Embed::RustDoc {
            // Rust: `"`, `#"`, `/*`, `///`, `//!` (doc lines never get here).
            return memchr::memchr(b'"', t).is_some()
                || memchr::memchr_iter(b'*', t).any(|p| p > 0 && t[p - 1] == b'/');
        }
        l.quotes
            .iter()
            .chain(l.doc_quotes)
            .chain(l.multi_line)
            .chain(l.nested_comments)
            .any(|(s, _)| find(t, s.as_bytes()).is_some())
            || l.important.iter().any(|s| find(t, s.as_bytes()).is_some())
    }

    /// Next position at or after `i` where something can happen in the current mode: inside a
    /// string only its end or a backslash, inside a comment only its end, a backslash or a nested
    /// start (SIMD searches); otherwise any interesting byte.
    #[inline]
    fn next_interesting(&self, raw: &[u8], i: usize) -> Option<usize> {
        let rest = &raw[i..];
        if let Some(q) = self.quote {
            return memchr::memchr2(q.as_bytes()[0], b'\\', rest).map(|p| i + p);
        }
        if let Some(top) = self.stack.last() {
            let starts = self.comment_first;
            let t0 = top.as_bytes()[0];
            match starts {
                [] => return memchr::memchr2(t0, b'\\', rest).map(|p| i + p),
                [a] => return memchr::memchr3(t0, b'\\', *a, rest).map(|p| i + p),
                _ => {}
            }
        }
        rest.iter()
            .position(|&b| self.table[b as usize])
            .map(|p| i + p)
    }

    fn scan(&mut self, raw: &[u8]) -> Scan {
        let lang = self.lang;
        let mut i = 0;
        while i < raw.len() {
            let Some(at) = self.next_interesting(raw, i) else {
                break;
            };
            i = at;
            let b = raw[i];
            let w = &raw[i..];
            if let Some(q) = self.quote
                && starts(w, q.as_bytes())
            {
                self.quote = None;
                i += q.len();
                continue;
            }
            if !self.quote_verbatim
                && b == b'\\'
                && (w.get(1) == Some(&b'\\')
                    || lang
                        .quotes
                        .iter()
                        .any(|(s, _)| starts(&w[1..], s.as_bytes())))
            {
                i += 2;
                continue;
            }
            if let Some(top) = self.stack.last()
                && starts(w, top.as_bytes())
            {
                i += top.len();
                self.stack.pop();
                continue;
            }
            if self.quote.is_some() {
                i += 1;
                continue;
            }
            let plain = self.stack.is_empty();
            if plain {
                if lang.embed == Embed::RustDoc
                    && b == b'/'
                    && (starts(w, b"///") || starts(w, b"//!"))
                {
                    return Scan::DocAt(i);
                }
                if i > 0
                    && raw[i - 1].is_ascii_alphabetic()
                    && let Some((s, e)) = lang
                        .verbatim_quotes
                        .iter()
                        .find(|(s, _)| starts(&raw[i - 1..], s.as_bytes()))
                {
                    self.quote = Some(e);
                    self.quote_verbatim = true;
                    i += s.len() - 1;
                    continue;
                }
                if let Some(n) = self.start_quote(w) {
                    i += n;
                    continue;
                }
            }
            if let Some(n) = self.start_comment(w) {
                i += n;
                continue;
            }
            if plain && lang.line_comments.iter().any(|c| starts(w, c.as_bytes())) {
                return Scan::LineComment;
            }
            i += 1;
        }
        Scan::End
    }

    fn start_quote(&mut self, w: &[u8]) -> Option<usize> {
        let lang = self.lang;
        for (list, verbatim) in [
            (lang.doc_quotes, false),
            (lang.verbatim_quotes, true),
            (lang.quotes, false),
        ] {
            if let Some((s, e)) = list.iter().find(|(s, _)| starts(w, s.as_bytes())) {
                self.quote = Some(e);
                self.quote_verbatim = verbatim;
                return Some(s.len());
            }
        }
        None
    }

    fn start_comment(&mut self, w: &[u8]) -> Option<usize> {
        let lang = self.lang;
        for pair @ (s, e) in lang.multi_line.iter().chain(lang.nested_comments) {
            if starts(w, s.as_bytes()) {
                if self.stack.is_empty()
                    || lang.allows_nested
                    || lang.nested_comments.contains(pair)
                {
                    self.stack.push(e);
                }
                return Some(s.len());
            }
        }
        None
    }

    /// tokei's `line_is_comment`, on the trimmed line after scanning it.
    fn classify(&self, t: &[u8], started_in_comments: bool) -> LineKind {
        let l = self.lang;
        if l.literate {
            return self.literate(t);
        }
        // tokei's order: inside a string it is code; a line that starts a comment, continues one
        // or closes a docstring in a comment is a comment.
        let whole_line = || {
            l.line_comments.iter().any(|c| starts(t, c.as_bytes()))
                || l.multi_line
                    .iter()
                    .chain(l.nested_comments)
                    .any(|(s, e)| starts(t, s.as_bytes()) && ends(t, e.as_bytes()))
        };
        let opens_block = || {
            self.stack.last().is_some_and(|top| {
                l.multi_line
                    .iter()
                    .chain(l.nested_comments)
                    .any(|(s, e)| e == top && starts(t, s.as_bytes()))
            })
        };
        let comment =
            self.quote.is_none() && (started_in_comments || whole_line() || opens_block());
        if comment {
            LineKind::Comment
        } else {
            LineKind::Code
        }
    }

    /// Markdown and plain text: prose is comment; fenced code with a language tag is code.
    fn literate(&self, t: &[u8]) -> LineKind {
        if self.fence == Some(true) && !t.starts_with(b"```") {
            LineKind::Code
        } else {
            LineKind::Comment
        }
    }

    fn track_fence(&mut self, t: &[u8]) {
        if let Some(tag) = t.strip_prefix(b"```") {
            self.fence = match self.fence {
                Some(_) => None,
                None => Some(!trim(tag).is_empty()),
            };
        }
    }

    /// `<script>`, `<style>` and `<template>` blocks of HTML-like files.
    fn html_context(&mut self, raw: &[u8]) -> Option<LineKind> {
        // Inline blocks recurse on the rest of the line; a minified page may hold thousands.
        if self.html_depth >= MAX_INLINE_TAGS {
            return None;
        }
        type Tag = (&'static [u8], &'static [u8], &'static [u8], LangId);
        const TAGS: [Tag; 3] = [
            (b"<script", b"type=\"", b"</script>", languages::JAVA_SCRIPT),
            (b"<style", b"lang=\"", b"</style>", languages::CSS),
            (b"<template", b"lang=\"", b"</template>", languages::HTML),
        ];
        for (open, attr, close, child) in TAGS {
            let Some(p) = find(raw, open) else { continue };
            let start = p + open.len() + tag_end(&raw[p + open.len()..], attr)?;
            let rest = &raw[start..];
            if let Some(c) = find(rest, close) {
                if trim(&rest[..c]).is_empty() {
                    return None;
                }
                // Inline block: tokei counts the tag line, the content and the closing part.
                self.counts.code += 1;
                let mut inner = LineCounter::new(child);
                inner.line(&rest[..c]);
                inner.finish();
                self.counts.add(&inner.counts);
                let tail = &rest[c..];
                self.html_depth += 1;
                self.normal_line(tail, trim(tail));
                self.html_depth -= 1;
                return Some(LineKind::Code);
            }
            self.counts.code += 1;
            let mut counter = LineCounter::new(child);
            if !trim(rest).is_empty() {
                counter.line(rest);
            }
            self.child = Some(Box::new(Child { counter, close }));
            return Some(LineKind::Code);
        }
        None
    }

    fn child_line(&mut self, raw: &[u8]) -> LineKind {
        let Some(child) = self.child.as_mut() else {
            return LineKind::Blank;
        };
        let Some(c) = find(raw, child.close) else {
            return child.counter.line(raw);
        };
        let before = &raw[..c];
        let mut kind = LineKind::Blank;
        if !trim(before).is_empty() {
            kind = child.counter.line(before);
        }
        if let Some(mut child) = self.child.take() {
            child.counter.finish();
            self.counts.add(&child.counter.counts);
        }
        let tail = &raw[c..];
        let k = self.normal_line(tail, trim(tail));
        if kind == LineKind::Blank { k } else { kind }
    }

    /// Settle what is still pending at the end of the file.
    pub fn finish(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.counter.finish();
            self.counts.add(&child.counter.counts);
        }
        if let Some(doc) = self.doc.take() {
            self.counts.blanks += doc.gap;
        }
        if let Some(p) = self.pending.take() {
            self.count(p.kind);
            self.counts.blanks += p.gap;
        }
    }
}

/// Count a whole text (tests and small inputs).
pub fn count_text(id: LangId, text: &[u8]) -> Counts {
    let mut c = LineCounter::new(id);
    let mut rest = text;
    while !rest.is_empty() {
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        c.line(line);
        rest = next;
    }
    c.finish();
    c.counts
}

#[cfg(test)]
#[path = "counter_tests.rs"]
mod tests;
