//! Byte-slice helpers (tokei's whitespace and trimming, short-pattern matching) and the
//! per-language byte tables the line classifier uses to skip uninteresting bytes.

use std::sync::OnceLock;

use super::languages::{self, Embed, LangId};

/// tokei's whitespace: space and 0x09..=0x0D.
#[inline]
pub fn is_ws(b: u8) -> bool {
    b == b' ' || (0x09..=0x0d).contains(&b)
}

#[inline]
pub fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_ws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !is_ws(b)).map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

/// `w.starts_with(p)` without a `memcmp` call: patterns are a few bytes long.
#[inline]
pub(crate) fn starts(w: &[u8], p: &[u8]) -> bool {
    w.len() >= p.len() && w.iter().zip(p).all(|(a, b)| a == b)
}

#[inline]
pub(crate) fn ends(w: &[u8], p: &[u8]) -> bool {
    w.len() >= p.len() && w[w.len() - p.len()..].iter().zip(p).all(|(a, b)| a == b)
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// Bytes that can start or end any token of a language: others are skipped without a look.
pub(crate) fn interesting(id: LangId) -> &'static [bool; 256] {
    static TABLES: OnceLock<Vec<[bool; 256]>> = OnceLock::new();
    let tables = TABLES.get_or_init(|| {
        languages::LANGS
            .iter()
            .map(|l| {
                let mut t = [false; 256];
                let mut mark = |s: &str| {
                    if let Some(&b) = s.as_bytes().first() {
                        t[b as usize] = true;
                    }
                };
                for p in [l.quotes, l.doc_quotes, l.multi_line, l.nested_comments] {
                    for (s, e) in p {
                        mark(s);
                        mark(e);
                    }
                }
                // Verbatim openers that start with a letter (`r#"`, `R"(`) are found from their
                // second byte (see `scan`), so ordinary letters stay uninteresting.
                for (s, e) in l.verbatim_quotes {
                    let b = s.as_bytes();
                    if b.len() > 1 && b[0].is_ascii_alphabetic() {
                        mark(&s[1..]);
                    } else {
                        mark(s);
                    }
                    mark(e);
                }
                for c in l.line_comments {
                    mark(c);
                }
                mark("\\");
                if l.embed == Embed::RustDoc {
                    mark("/");
                }
                t
            })
            .collect()
    });
    &tables[id as usize]
}

/// Distinct first bytes of a language's block-comment openers.
pub(crate) fn comment_first_bytes(id: LangId) -> &'static [u8] {
    static FIRST: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    let all = FIRST.get_or_init(|| {
        languages::LANGS
            .iter()
            .map(|l| {
                let mut v: Vec<u8> = l
                    .multi_line
                    .iter()
                    .chain(l.nested_comments)
                    .map(|(s, _)| s.as_bytes()[0])
                    .collect();
                v.sort_unstable();
                v.dedup();
                v
            })
            .collect()
    });
    &all[id as usize]
}

/// End (after `>`) of an opening tag, as tokei's `<script(?:.*type="(.*)")?.*?>` matches it: the
/// greedy optional attribute may reach the last `type="` of the line.
pub(crate) fn tag_end(after: &[u8], attr: &[u8]) -> Option<usize> {
    let mut starts: Vec<usize> = memchr::memmem::find_iter(after, attr).collect();
    while let Some(t) = starts.pop() {
        let region = &after[t + attr.len()..];
        let Some(last_gt) = memchr::memrchr(b'>', region) else {
            continue;
        };
        if let Some(q) = memchr::memrchr(b'"', &region[..last_gt]) {
            let gt = memchr::memchr(b'>', &region[q + 1..])?;
            return Some(t + attr.len() + q + 1 + gt + 1);
        }
    }
    memchr::memchr(b'>', after).map(|g| g + 1)
}
