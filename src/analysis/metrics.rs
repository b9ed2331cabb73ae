//! Per-file code metrics from the line stream: branch keywords, nesting depth, function lengths
//! (brace or indentation heuristics) and sampled windows of normalised lines for duplication.

use super::counter::{LineKind, trim};
use super::languages::{self, Family, LangId};

/// Lines per duplication window, and the sampling mask (keep windows whose hash & MASK == 0).
pub const WINDOW: usize = 6;
pub const SAMPLE_MASK: u64 = 7;
/// Functions at least this long are kept as evidence.
pub const LONG_FN: u32 = 80;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FnSpan {
    pub name: String,
    pub line: u32,
    pub len: u32,
}

#[derive(Clone, Debug, Default)]
pub struct Metrics {
    pub branches: u32,
    pub max_depth: u32,
    pub deepest_line: u32,
    pub functions: u32,
    /// The longest function first; only functions of `LONG_FN` lines or more, at most 5.
    pub long_fns: Vec<FnSpan>,
    pub longest_fn: u32,
}

struct Open {
    name: String,
    line: u32,
    /// Brace depth before the signature, or its indentation.
    base: i64,
}

pub struct MetricsBuilder {
    lang: LangId,
    family: Family,
    m: Metrics,
    depth: i64,
    open: Vec<Open>,
    /// A brace-language signature whose `{` has not come yet: (name, line, depth), lines waited.
    pending_sig: Option<(String, u32, i64, u8)>,
    last_code_line: u32,
    ring: [u64; WINDOW],
    ring_len: usize,
    ring_line: [u32; WINDOW],
    pub windows: Vec<(u64, u32)>,
}

fn is_branch_word(w: &[u8]) -> bool {
    match w.len() {
        2 => w == b"if",
        3 => w == b"for",
        4 => matches!(w, b"elif" | b"case" | b"when"),
        5 => matches!(w, b"elsif" | b"while" | b"until" | b"catch"),
        6 => matches!(w, b"except" | b"rescue" | b"unless"),
        7 => w == b"foreach",
        _ => false,
    }
}

/// `kw` in `t` at a word start.
fn find_word(t: &[u8], kw: &[u8]) -> Option<usize> {
    memchr::memchr_iter(kw[0], t).find(|&p| t[p..].starts_with(kw) && (p == 0 || !ident(t[p - 1])))
}

const CONTROL: &[&[u8]] = &[
    b"if",
    b"for",
    b"while",
    b"switch",
    b"catch",
    b"else",
    b"do",
    b"try",
    b"return",
    b"match",
    b"loop",
    b"unsafe",
    b"new",
    b"sizeof",
    b"foreach",
    b"using",
    b"lock",
    b"synchronized",
];

pub fn fast_hash(data: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15 ^ data.len() as u64;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h.rotate_left(5) ^ v).wrapping_mul(K);
    }
    for &b in chunks.remainder() {
        h = (h.rotate_left(5) ^ b as u64).wrapping_mul(K);
    }
    h ^ (h >> 29)
}

const ALPHA: u8 = 1;
const DIGIT: u8 = 2;
const WORD: u8 = ALPHA | DIGIT;
const OP: u8 = 4;

/// Byte classes for the keyword scan: letters and `_`, digits, `&` and `|`.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphabetic() || c == b'_' {
            ALPHA
        } else if c.is_ascii_digit() {
            DIGIT
        } else if c == b'&' || c == b'|' {
            OP
        } else {
            0
        };
        b += 1;
    }
    t
};

fn ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn first_ident(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| ident_start(b)).unwrap_or(s.len());
    let len = s[start..].iter().take_while(|&&b| ident(b)).count();
    &s[start..start + len]
}

fn indent_width(raw: &[u8]) -> i64 {
    let mut w = 0;
    for &b in raw {
        match b {
            b' ' => w += 1,
            b'\t' => w += 4,
            _ => break,
        }
    }
    w
}

impl MetricsBuilder {
    pub fn new(lang: LangId) -> Self {
        Self {
            lang,
            family: languages::get(lang).family,
            m: Metrics::default(),
            depth: 0,
            open: Vec::new(),
            pending_sig: None,
            last_code_line: 0,
            ring: [0; WINDOW],
            ring_len: 0,
            ring_line: [0; WINDOW],
            windows: Vec::new(),
        }
    }

    pub fn line(&mut self, raw: &[u8], kind: LineKind, line_no: u32) {
        if kind != LineKind::Code {
            return;
        }
        let t = trim(raw);
        self.branches(t);
        self.window(t, line_no);
        match self.family {
            Family::Brace | Family::Shell => self.brace_line(t, line_no),
            Family::Indent | Family::End => self.indent_line(raw, t, line_no),
            Family::Flat => {}
        }
        self.last_code_line = line_no;
    }

    fn branches(&mut self, t: &[u8]) {
        let (mut i, n) = (0, t.len());
        while i < n {
            let c = CLASS[t[i] as usize];
            if c == 0 {
                i += 1;
            } else if c == OP {
                if i + 1 < n && t[i + 1] == t[i] {
                    self.m.branches += 1;
                    i += 1;
                }
                i += 1;
            } else {
                let s = i;
                i += 1;
                while i < n && CLASS[t[i] as usize] & WORD != 0 {
                    i += 1;
                }
                if c == ALPHA && i - s <= 7 && is_branch_word(&t[s..i]) {
                    self.m.branches += 1;
                }
            }
        }
    }

    fn window(&mut self, t: &[u8], line_no: u32) {
        if t.len() < 6
            || t.iter()
                .filter(|b| b.is_ascii_alphanumeric())
                .take(3)
                .count()
                < 3
        {
            return;
        }
        self.ring.copy_within(1.., 0);
        self.ring_line.copy_within(1.., 0);
        self.ring[WINDOW - 1] = fast_hash(t);
        self.ring_line[WINDOW - 1] = line_no;
        self.ring_len = (self.ring_len + 1).min(WINDOW);
        if self.ring_len == WINDOW {
            let mut h: u64 = 0;
            for v in self.ring {
                h = (h.rotate_left(17) ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            }
            if h & SAMPLE_MASK == 0 {
                self.windows.push((h, self.ring_line[0]));
            }
        }
    }

    fn signature_name(&self, t: &[u8]) -> Option<String> {
        let paren = memchr::memchr(b'(', t)?;
        let kw: &[&[u8]] = match self.lang {
            languages::RUST | languages::ZIG => &[b"fn "],
            languages::GO | languages::SWIFT => &[b"func "],
            languages::KOTLIN => &[b"fun "],
            languages::PERL => &[b"sub "],
            languages::SCALA | languages::GROOVY => &[b"def "],
            languages::JAVA_SCRIPT
            | languages::TYPE_SCRIPT
            | languages::JSX
            | languages::TSX
            | languages::PHP
            | languages::SOLIDITY
            | languages::POWER_SHELL
            | languages::SH
            | languages::BASH
            | languages::ZSH => &[b"function "],
            _ => &[],
        };
        for k in kw {
            if let Some(p) = find_word(t, k) {
                let name = first_ident(&t[p + k.len()..]);
                return Some(String::from_utf8_lossy(name).into_owned());
            }
        }
        if matches!(
            self.lang,
            languages::RUST
                | languages::ZIG
                | languages::GO
                | languages::SWIFT
                | languages::KOTLIN
                | languages::PERL
        ) {
            return None;
        }
        // C-like methods and shell `name() {`: `ident ... name(args) [...] {`
        let head = &t[..paren];
        let name_start = head.iter().rposition(|&b| !ident(b)).map_or(0, |p| p + 1);
        let name = &head[name_start..];
        let first = first_ident(t);
        let after_args = memchr::memrchr(b')', t).map_or(&t[..0], |p| &t[p..]);
        if name.is_empty()
            || after_args.contains(&b'=')
            || CONTROL.contains(&first)
            || CONTROL.contains(&name)
            || head.contains(&b'=')
            || head.contains(&b'.')
            || t.ends_with(b";")
            || !(t.ends_with(b"{") || t.ends_with(b")") || self.lang == languages::SH)
        {
            return None;
        }
        if matches!(self.family, Family::Shell) && !t.contains(&b'{') {
            return None;
        }
        let arrow_fn = find_word(t, b"=> {").is_some();
        (!arrow_fn).then(|| String::from_utf8_lossy(name).into_owned())
    }

    fn brace_line(&mut self, t: &[u8], line_no: u32) {
        let before = self.depth;
        let (mut opens, mut closes, mut peak) = (0i64, 0i64, before);
        for p in memchr::memchr2_iter(b'{', b'}', t) {
            // `'{'` and `"}"` are characters, not blocks.
            if p > 0 && matches!(t[p - 1], b'\'' | b'"') && t.get(p + 1) == Some(&t[p - 1]) {
                continue;
            }
            if t[p] == b'{' {
                opens += 1;
                peak = peak.max(before + opens - closes);
            } else {
                closes += 1;
            }
        }
        if let Some(name) = self.signature_name(t) {
            if opens > 0 {
                self.open.push(Open {
                    name,
                    line: line_no,
                    base: before,
                });
            } else {
                self.pending_sig = Some((name, line_no, before, 0));
            }
        } else if let Some((name, line, base, waited)) = self.pending_sig.take() {
            if opens > 0 {
                self.open.push(Open { name, line, base });
            } else if !t.ends_with(b";") && waited < 8 {
                self.pending_sig = Some((name, line, base, waited + 1));
            }
        }
        self.depth = (before + opens - closes).max(0);
        if peak > self.m.max_depth as i64 {
            self.m.max_depth = peak as u32;
            self.m.deepest_line = line_no;
        }
        while let Some(top) = self.open.last() {
            if self.depth <= top.base && (closes > 0 || opens > 0) {
                let f = self.open.pop().map(|o| (o.name, o.line));
                if let Some((name, line)) = f {
                    self.close_fn(name, line, line_no);
                }
            } else {
                break;
            }
        }
    }

    fn indent_line(&mut self, raw: &[u8], t: &[u8], line_no: u32) {
        let indent = indent_width(raw);
        let unit = if self.family == Family::Indent { 4 } else { 2 };
        // Only lines that open a block count (continuation lines may be indented anywhere).
        let opens = if self.family == Family::Indent {
            t.ends_with(b":")
        } else {
            const KW: &[&[u8]] = &[
                b"if",
                b"unless",
                b"while",
                b"until",
                b"for",
                b"def",
                b"class",
                b"module",
                b"case",
                b"begin",
                b"function",
            ];
            KW.contains(&first_ident(t))
                || t.ends_with(b" do")
                || memchr::memmem::find(t, b" do |").is_some()
        };
        let level = (indent / unit) as u32 + 1;
        if opens && level > self.m.max_depth {
            self.m.max_depth = level;
            self.m.deepest_line = line_no;
        }
        while let Some(top) = self.open.last() {
            if indent <= top.base {
                let is_end = t == b"end" || t.starts_with(b"end ");
                let end = if is_end && indent == top.base {
                    line_no
                } else {
                    self.last_code_line
                };
                if let Some(o) = self.open.pop() {
                    self.close_fn(o.name, o.line, end);
                }
            } else {
                break;
            }
        }
        let def = t.strip_prefix(b"async ").unwrap_or(t);
        let kw: &[u8] = if self.family == Family::Indent {
            b"def "
        } else {
            b"function "
        };
        let def = def.strip_prefix(kw).or_else(|| {
            (self.family == Family::End)
                .then(|| def.strip_prefix(b"def "))
                .flatten()
        });
        if let Some(rest) = def {
            let name = String::from_utf8_lossy(first_ident(rest)).into_owned();
            self.open.push(Open {
                name,
                line: line_no,
                base: indent,
            });
        }
    }

    fn close_fn(&mut self, name: String, start: u32, end: u32) {
        let len = end.saturating_sub(start) + 1;
        self.m.functions += 1;
        self.m.longest_fn = self.m.longest_fn.max(len);
        if len >= LONG_FN {
            self.m.long_fns.push(FnSpan {
                name,
                line: start,
                len,
            });
            self.m.long_fns.sort_by_key(|f| std::cmp::Reverse(f.len));
            self.m.long_fns.truncate(5);
        }
    }

    /// Close what is still open at the end of the file.
    pub fn finish(mut self) -> (Metrics, Vec<(u64, u32)>) {
        let last = self.last_code_line;
        while let Some(o) = self.open.pop() {
            if matches!(self.family, Family::Indent | Family::End) {
                self.close_fn(o.name, o.line, last);
            }
        }
        (self.m, self.windows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::counter::LineCounter;

    fn run(lang: LangId, text: &str) -> Metrics {
        let mut c = LineCounter::new(lang);
        let mut b = MetricsBuilder::new(lang);
        for (i, l) in text.lines().enumerate() {
            let k = c.line(l.as_bytes());
            b.line(l.as_bytes(), k, i as u32 + 1);
        }
        b.finish().0
    }

    #[test]
    fn rust_functions_branches_and_depth() {
        let mut src = String::from("pub fn long(\n    a: u32,\n) -> u32 {\n");
        for i in 0..90 {
            src.push_str(&format!("    if a > {i} && a < 100 {{ return {i}; }}\n"));
        }
        src.push_str("    0\n}\n\nfn short() {}\n");
        let m = run(languages::RUST, &src);
        assert_eq!(m.functions, 2);
        assert_eq!(m.long_fns.len(), 1);
        assert_eq!(m.long_fns[0].name, "long");
        assert_eq!(m.long_fns[0].line, 1);
        assert_eq!(m.long_fns[0].len, 95);
        assert_eq!(m.branches, 180);
        assert_eq!(m.max_depth, 2);
    }

    #[test]
    fn python_functions_by_indentation() {
        let mut src = String::from("import os\n\ndef f(x):\n    if x:\n        return 1\n");
        for _ in 0..85 {
            src.push_str("    x += 1\n");
        }
        src.push_str("    return x\n\n\nclass A:\n    def g(self):\n        pass\n");
        let m = run(languages::PYTHON, &src);
        assert_eq!(m.functions, 2);
        assert_eq!(m.long_fns[0].name, "f");
        assert_eq!(m.long_fns[0].len, 89);
        assert_eq!(m.branches, 1);
        assert_eq!(m.max_depth, 2, "def, then if");
    }

    #[test]
    fn c_style_methods_and_declarations() {
        let src = "int add(int a, int b);\nint add(int a, int b)\n{\n    return a + b;\n}\nstatic void run(void) {\n    while (1) { if (x) { break; } }\n}\n";
        let m = run(languages::C, src);
        assert_eq!(m.functions, 2);
        assert_eq!(m.branches, 2);
        assert_eq!(m.max_depth, 3);
    }

    #[test]
    fn hash_is_stable_and_discriminating() {
        assert_eq!(fast_hash(b"hello world"), fast_hash(b"hello world"));
        assert_ne!(fast_hash(b"hello world"), fast_hash(b"hello worle"));
        assert_ne!(fast_hash(b""), fast_hash(b"\0"));
    }
}
