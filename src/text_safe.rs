//! Terminal-safe text and the process's stdout/stderr writes.
//!
//! Text output shows data the program does not control: provider error bodies, run descriptions,
//! team names, repository file names, model answers. Printed raw, an escape sequence in any of them
//! (`ESC ]0;title BEL`, `ESC [2J`, OSC 52 clipboard writes...) acts on the user's terminal. Every
//! human-readable document goes through [`clean`] (or [`clean_line`]) at the point it is written,
//! terminal or not (a redirected file is `cat` later). JSON is left to serde, which escapes
//! control characters.
//!
//! Writes never panic and never kill the process: a closed pipe (`| head`) means "stop printing";
//! another write failure is remembered so the process can exit 10 (cli-contract.md).

use std::borrow::Cow;
use std::io::{ErrorKind, Write};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

/// Text with escape sequences, control characters and bidirectional overrides removed; newlines
/// and tabs are kept. Borrowed when there was nothing to remove.
pub fn clean(s: &str) -> Cow<'_, str> {
    sanitize(s, true)
}

/// [`clean`] for a single line: newlines and tabs become spaces too, so one value cannot forge
/// further lines (a progress line, a table cell).
pub fn clean_line(s: &str) -> Cow<'_, str> {
    sanitize(s, false)
}

/// Whether `c` has to be looked at (fast path: most text has none of these).
fn special(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// Embeddings, overrides and isolates reorder what is displayed ("Trojan source"); marks
/// (U+200E/U+200F) are harmless and kept.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// How a control string (OSC, DCS, SOS, PM, APC) ends: BEL (OSC only, but accepted for all as
/// xterm does), ST as `ESC \`, or the C1 ST.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{07}' | '\u{9C}' => return,
            '\u{1B}' => {
                // `ESC \` ends it; any other ESC also ends it (and starts a sequence the caller
                // does not see: dropping it is the safe side).
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                return;
            }
            _ => {}
        }
    }
}

/// CSI: parameters 0x30-0x3F, intermediates 0x20-0x2F, one final byte 0x40-0x7E. Anything else
/// ends the sequence without being consumed (it is handled as ordinary text or control).
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(&c) = chars.peek() {
        match c {
            '\u{30}'..='\u{3F}' | '\u{20}'..='\u{2F}' => {
                chars.next();
            }
            '\u{40}'..='\u{7E}' => {
                chars.next();
                return;
            }
            _ => return,
        }
    }
}

fn sanitize(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    let kept = |c: char| keep_newlines && (c == '\n' || c == '\t');
    let Some(first) = s.find(|c| special(c) && !kept(c)) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..first]);
    let mut chars = s[first..].chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' if keep_newlines => out.push(c),
            '\n' | '\t' => out.push(' '),
            '\u{1B}' => match chars.peek().copied() {
                Some('[') => {
                    chars.next();
                    skip_csi(&mut chars);
                }
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    chars.next();
                    skip_string(&mut chars);
                }
                // nF sequences (`ESC ( B`): intermediates, then one final byte.
                Some('\u{20}'..='\u{2F}') => {
                    while chars
                        .next_if(|c| ('\u{20}'..='\u{2F}').contains(c))
                        .is_some()
                    {}
                    chars.next_if(|c| ('\u{30}'..='\u{7E}').contains(c));
                }
                // Two-character sequences: `ESC c` (reset), `ESC 7`, `ESC M`...
                Some('\u{30}'..='\u{7E}') => {
                    chars.next();
                }
                _ => {}
            },
            // C1 introducers, as 8-bit controls some terminals still honour.
            '\u{9B}' => skip_csi(&mut chars),
            '\u{9D}' | '\u{90}' | '\u{98}' | '\u{9E}' | '\u{9F}' => skip_string(&mut chars),
            c if special(c) => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

// ---- writes ----------------------------------------------------------------------------------

const OK: u8 = 0;
/// The reader went away (EPIPE): stop printing, not an error of the command.
const CLOSED: u8 = 1;
/// Any other failure (disk full, terminal gone): stop printing, exit 10.
const FAILED: u8 = 2;

static STDOUT: AtomicU8 = AtomicU8::new(OK);
static STDERR: AtomicU8 = AtomicU8::new(OK);
/// Why stdout failed (the first failure), for the one-line error at exit.
static STDOUT_ERROR: OnceLock<String> = OnceLock::new();

fn write_to(state: &AtomicU8, w: &mut dyn Write, bytes: &[u8]) -> Option<std::io::Error> {
    if state.load(Ordering::Relaxed) != OK {
        return None;
    }
    let e = w.write_all(bytes).and_then(|_| w.flush()).err()?;
    let s = if e.kind() == ErrorKind::BrokenPipe {
        CLOSED
    } else {
        FAILED
    };
    state.store(s, Ordering::Relaxed);
    (s == FAILED).then_some(e)
}

fn write_stdout(bytes: &[u8]) {
    if let Some(e) = write_to(&STDOUT, &mut std::io::stdout().lock(), bytes) {
        let _ = STDOUT_ERROR.set(e.to_string());
    }
}

/// Human text on stdout, cleaned.
pub fn out(text: &str) {
    write_stdout(clean(text).as_bytes());
}

/// Machine output (JSON from serde) on stdout, as is.
pub fn out_raw(text: &str) {
    write_stdout(text.as_bytes());
}

/// A JSON document on stdout (pretty, one trailing newline).
pub fn out_json(v: &serde_json::Value) {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    out_raw(&s);
}

/// Human text on stderr, cleaned.
pub fn err(text: &str) {
    let t = clean(text);
    let _ = write_to(&STDERR, &mut std::io::stderr().lock(), t.as_bytes());
}

/// One line on stderr: cleaned as a single line, then a newline.
pub fn err_line(line: &str) {
    let mut t = clean_line(line).into_owned();
    t.push('\n');
    let _ = write_to(&STDERR, &mut std::io::stderr().lock(), t.as_bytes());
}

/// Why writing to stdout failed, when it failed for a reason other than a closed pipe.
pub fn stdout_failure() -> Option<&'static str> {
    STDOUT_ERROR.get().map(String::as_str)
}

/// `println!` through [`out`].
#[macro_export]
macro_rules! outln {
    () => { $crate::text_safe::out("\n") };
    ($($arg:tt)*) => { $crate::text_safe::out(&format!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` through [`err`].
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => { $crate::text_safe::err(&format!("{}\n", format_args!($($arg)*))) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let s = "run r-1  success\ncost $0.01\tcalls 3 · ü 漢字 ✓";
        assert!(matches!(clean(s), Cow::Borrowed(_)));
        assert_eq!(clean(s), s);
    }

    #[test]
    fn osc_title_and_clear_screen_are_removed_whole() {
        let s = "rate limited \u{1b}]0;pwned\u{07}\u{1b}[2J\u{1b}[1;1Hdone";
        assert_eq!(clean(s), "rate limited done");
        // ST-terminated OSC (and OSC 52, a clipboard write), 8-bit CSI and OSC.
        assert_eq!(clean("a\u{1b}]52;c;ZXZpbA==\u{1b}\\b"), "ab");
        assert_eq!(clean("a\u{9b}31mred\u{9d}0;t\u{9c}b"), "aredb");
        assert_eq!(clean("x\u{1b}P1$r\u{1b}\\y"), "xy");
    }

    #[test]
    fn other_sequences_and_controls_are_removed() {
        assert_eq!(clean("\u{1b}[31mred\u{1b}[0m"), "red");
        assert_eq!(clean("a\u{1b}cb"), "ab", "ESC c resets the terminal");
        assert_eq!(clean("a\u{1b}(Bb"), "ab");
        assert_eq!(clean("a\rb\u{8}c\u{7f}d\u{0}e\u{85}f"), "abcdef");
        assert_eq!(clean("a\u{202E}evil\u{2066}b"), "aevilb");
        // A lone or cut ESC, and an unterminated string that would swallow the terminal.
        assert_eq!(clean("end\u{1b}"), "end");
        assert_eq!(clean("a\u{1b}[12"), "a");
        assert_eq!(clean("a\u{1b}]0;never ends"), "a");
        // CSI cut by a non-ASCII character keeps that character.
        assert_eq!(clean("a\u{1b}[1é"), "aé");
    }

    #[test]
    fn newlines_kept_or_flattened() {
        assert_eq!(clean("a\nb\tc"), "a\nb\tc");
        assert_eq!(clean_line("a\nb\tc\r\nd"), "a b c d");
    }

    #[test]
    fn cleaning_is_idempotent() {
        for s in [
            "\u{1b}\u{1b}[2J]0;x",
            "a\u{1b}]0;t\u{1b}[2Jb",
            "\u{1b}[\u{1b}]\u{07}",
            "\u{9b}\u{9b}1m",
        ] {
            let once = clean(s).into_owned();
            assert_eq!(clean(&once), once, "{s:?}");
            assert!(
                !once
                    .chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\t')
            );
        }
    }
}
