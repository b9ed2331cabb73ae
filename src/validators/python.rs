//! Python's indentation rules, which the tree-sitter grammar tolerates: an indented line must
//! follow a block header (a logical line ending in `:`), a header must be followed by an indented
//! block, and a dedent must return to an enclosing level. Mirrors CPython's tokenizer closely
//! enough for model output (strings, comments, brackets and `\` continuations are honoured; a tab
//! advances to the next multiple of 8).

/// A problem found: 1-based line and a message in CPython's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndentError {
    pub line: usize,
    pub message: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Str {
    None,
    Single(u8),
    Triple(u8),
}

/// Check the indentation of `code`.
pub fn check_indentation(code: &str) -> Result<(), IndentError> {
    let mut stack: Vec<usize> = vec![0];
    let mut depth = 0usize;
    let mut string = Str::None;
    let mut continuation = false;
    let mut expect_indent: Option<usize> = None; // line of the pending block header
    let mut last_line = 0;
    for (i, line) in code.lines().enumerate() {
        let lineno = i + 1;
        let logical_start = string == Str::None && depth == 0 && !continuation;
        let mut last_sig: Option<u8> = None;
        if logical_start {
            let (width, rest) = indent_width(line);
            let body = rest.trim();
            if body.is_empty() || body.starts_with('#') {
                continue;
            }
            last_line = lineno;
            let top = stack.last().copied().unwrap_or(0);
            if width > top {
                if expect_indent.is_none() {
                    return Err(err(lineno, "unexpected indent"));
                }
                stack.push(width);
            } else {
                if let Some(h) = expect_indent {
                    return Err(err(
                        lineno,
                        &format!("expected an indented block after the header on line {h}"),
                    ));
                }
                while stack.len() > 1 && width < stack.last().copied().unwrap_or(0) {
                    stack.pop();
                }
                if width != stack.last().copied().unwrap_or(0) {
                    return Err(err(
                        lineno,
                        "unindent does not match any outer indentation level",
                    ));
                }
            }
            expect_indent = None;
        }
        continuation = false;
        let mut continued_string = false;
        let b = line.as_bytes();
        let mut j = 0;
        while j < b.len() {
            let c = b[j];
            match string {
                Str::Single(q) => {
                    if c == b'\\' && j + 1 == b.len() {
                        continued_string = true; // `\` at the end of the line continues it
                    } else if c == b'\\' {
                        j += 1;
                    } else if c == q {
                        string = Str::None;
                    }
                }
                Str::Triple(q) => {
                    if c == b'\\' {
                        j += 1;
                    } else if c == q && b.get(j + 1) == Some(&q) && b.get(j + 2) == Some(&q) {
                        string = Str::None;
                        j += 2;
                    }
                }
                Str::None => match c {
                    b'#' => break,
                    b'\'' | b'"' => {
                        if b.get(j + 1) == Some(&c) && b.get(j + 2) == Some(&c) {
                            string = Str::Triple(c);
                            j += 2;
                        } else {
                            string = Str::Single(c);
                        }
                        last_sig = Some(c);
                    }
                    b'(' | b'[' | b'{' => {
                        depth += 1;
                        last_sig = Some(c);
                    }
                    b')' | b']' | b'}' => {
                        depth = depth.saturating_sub(1);
                        last_sig = Some(c);
                    }
                    b'\\' if b[j + 1..].iter().all(|x| x.is_ascii_whitespace()) => {
                        continuation = true;
                        break;
                    }
                    c if c.is_ascii_whitespace() => {}
                    c => last_sig = Some(c),
                },
            }
            j += 1;
        }
        if let Str::Single(_) = string
            && !continued_string
        {
            string = Str::None; // unterminated; the grammar check reports it
        }
        if string == Str::None && depth == 0 && !continuation && last_sig == Some(b':') {
            expect_indent = Some(lineno);
        }
    }
    match expect_indent {
        Some(h) if string == Str::None => Err(err(
            h.max(last_line),
            &format!("expected an indented block after the header on line {h}"),
        )),
        _ => Ok(()),
    }
}

fn err(line: usize, message: &str) -> IndentError {
    IndentError {
        line,
        message: message.to_string(),
    }
}

/// The width of a line's indentation (tabs to the next multiple of 8) and the rest.
fn indent_width(line: &str) -> (usize, &str) {
    let mut w = 0;
    for (i, c) in line.char_indices() {
        match c {
            ' ' => w += 1,
            '\t' => w = (w / 8 + 1) * 8,
            '\x0c' => w = 0,
            _ => return (w, &line[i..]),
        }
    }
    (w, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_of(code: &str) -> Option<usize> {
        check_indentation(code).err().map(|e| e.line)
    }

    #[test]
    fn valid_code_passes() {
        let ok = "import os\n\n\nclass A:\n    \"\"\"Doc\n  with odd indent\"\"\"\n\n    def m(self, x=(1,\n            2)):\n        if x:  # c\n            return [\n    1]\n        else:\n            pass\n        s = 'a:' \\\n            'b'\n        return s\n\n\ndef f(): return 1\nx = {\n  'a': 1,\n}\n";
        assert_eq!(check_indentation(ok), Ok(()));
        assert_eq!(check_indentation("if x:\n\tpass\nelse:\n\tpass\n"), Ok(()));
        let continued = "def f():\n    s = 'a \\\n  b'\n    t = \"x\\\n        y\"\n    return s\n";
        assert_eq!(check_indentation(continued), Ok(()));
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(line_of("def f():\n    x = 1\n      y = 2\n"), Some(3));
        assert_eq!(line_of("def f():\nreturn 1\n"), Some(2));
        assert_eq!(line_of("if x:\n    a\n  b\n"), Some(3));
        assert_eq!(line_of("x = 1\n  y = 2\n"), Some(2));
        assert_eq!(line_of("def f():\n    # only a comment\n"), Some(1));
        let e = check_indentation("for i in x:\nprint(i)\n").err();
        assert!(e.is_some_and(|e| e.message.contains("line 1")));
    }
}
