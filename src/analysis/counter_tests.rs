use super::*;
use crate::analysis::languages::*;

/// Expected figures: tokei 15 on the same text (per-file totals including embedded blocks).
#[test]
fn tokei_parity_a_rs() {
    let text = r##"//! Crate docs
//!
//! More.

use std::fmt; // trailing

/// Doc one
///
/// ```
/// let x = 1;
/// ```
///
pub fn f() -> &'static str {
    let s = "a
b

c";
    /* block

       comment */
    let r = r#"raw "quoted"
    "#;
    s
}
const X: &str = "x";
/// next doc

/// after gap
struct S;

/* nested /* inner */
still */
fn g() {} /// trailing doc
"##;
    let c = count_text(RUST, text.as_bytes());
    assert_eq!((c.code, c.comments, c.blanks), (11, 14, 5));
}

/// Expected figures: tokei 15 on the same text (per-file totals including embedded blocks).
#[test]
fn tokei_parity_b_py() {
    let text = r##"#!/usr/bin/env python3
"""Module docstring.

More text.
"""

import os  # comment

def f():
    '''Doc.

    Body.
    '''
    s = "a # not comment"
    return s  # c


# only comment
x = 'it''s'
"##;
    let c = count_text(PYTHON, text.as_bytes());
    assert_eq!((c.code, c.comments, c.blanks), (13, 2, 4));
}

/// Expected figures: tokei 15 on the same text (per-file totals including embedded blocks).
#[test]
fn tokei_parity_c_html() {
    let text = r##"<!doctype html>
<html>
<!-- a comment

still -->
<script>
  var x = 'a';

  // it's a comment
</script>
<style>
  body { color: red; }
</style>
<p>hi</p>
<script>inline()</script>
</html>
"##;
    let c = count_text(HTML, text.as_bytes());
    assert_eq!((c.code, c.comments, c.blanks), (13, 4, 1));
}

/// Expected figures: tokei 15 on the same text (per-file totals including embedded blocks).
#[test]
fn tokei_parity_e_c() {
    let text = r##"/* header
 * lines
 */
#include <stdio.h>

int main(void) { // hi
    printf("%s\n", "/* not */");
    return 0; /* end */
}
"##;
    let c = count_text(C, text.as_bytes());
    assert_eq!((c.code, c.comments, c.blanks), (5, 3, 1));
}
#[test]
fn markdown_prose_is_comment_and_fenced_code_is_code() {
    let text = "# Title\n\nSome text.\n\n```rust\nfn main() {\n\n}\n```\n\n- list\n";
    let c = count_text(MARKDOWN, text.as_bytes());
    // tokei: 2 code, 5 comments, 4 blanks.
    assert_eq!((c.code, c.comments, c.blanks), (2, 5, 4));
}

#[test]
fn edge_cases_empty_crlf_and_no_trailing_newline() {
    assert_eq!(count_text(RUST, b""), Counts::default());
    let c = count_text(RUST, b"fn a() {}\r\n\r\n// x\r\nfn b() {}");
    assert_eq!((c.code, c.comments, c.blanks), (2, 1, 1));
    let c = count_text(JSON, b"{\n\n  \"a\": 1\n}\n");
    assert_eq!((c.code, c.comments, c.blanks), (3, 0, 1));
    // Non-UTF-8 bytes are just bytes.
    let c = count_text(C, b"int x; /* \xff\xfe */\n\xc3\x28\n");
    assert_eq!(c.lines(), 2);
}

#[test]
fn unterminated_string_does_not_hang_or_leak_across_files() {
    let c = count_text(PYTHON, b"x = \"\"\"never closed\n\nstill\n");
    assert_eq!((c.code, c.comments, c.blanks), (3, 0, 0));
    let c = count_text(PYTHON, b"\n");
    assert_eq!(c.blanks, 1);
}

#[test]
fn trim_uses_ascii_whitespace_with_form_feed() {
    assert_eq!(trim(b" \x0c\tab \r"), b"ab");
    assert_eq!(trim(b"  "), b"");
}

#[test]
fn quotes_are_tried_longest_first_like_tokei() {
    // tokei 15: `'''x'y'''` is one string (blank after is blank); `''''` leaves a string open.
    let c = count_text(TOML, b"a = '''x'y'''\nb = 1\n\nc = 2\n");
    assert_eq!((c.code, c.blanks), (3, 1));
    let c = count_text(TOML, b"a = ''''\nb = 1\n\nc = 2\n");
    assert_eq!((c.code, c.blanks), (4, 0));
}

#[test]
fn thousands_of_inline_scripts_on_one_line_do_not_overflow() {
    let line = "<script>a()</script>".repeat(20_000);
    let c = count_text(HTML, line.as_bytes());
    assert!(c.code >= 1);
}
