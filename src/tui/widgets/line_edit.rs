//! A one-line text field that edits like a shell line: cursor left/right, Home/End (Ctrl-A/E),
//! word motions (Alt-B/F, Ctrl-←/→), Backspace/Delete, Ctrl-U (delete to the start), Ctrl-W
//! (delete the word before the cursor), and paste at the cursor. The buffer and its
//! grapheme-aware motions are `tui-input`'s `Input` (core only: it brings no second ratatui or
//! crossterm); which key does what is decided here and in the keymap, not by the crate.

use tui_input::{Input, InputRequest};
use unicode_width::UnicodeWidthChar;

/// An editing command (what the keymap's form bindings ask for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    Left,
    Right,
    Home,
    End,
    WordLeft,
    WordRight,
    Backspace,
    Delete,
    /// Ctrl-U: everything before the cursor.
    KillToStart,
    /// Ctrl-W: the word before the cursor.
    KillWord,
}

#[derive(Debug, Clone, Default)]
pub struct LineEdit {
    input: Input,
}

impl PartialEq for LineEdit {
    fn eq(&self, other: &Self) -> bool {
        self.value() == other.value() && self.cursor() == other.cursor()
    }
}

impl PartialEq<&str> for LineEdit {
    fn eq(&self, other: &&str) -> bool {
        self.value() == *other
    }
}

impl PartialEq<str> for LineEdit {
    fn eq(&self, other: &str) -> bool {
        self.value() == other
    }
}

impl From<&str> for LineEdit {
    fn from(s: &str) -> Self {
        LineEdit::new(s)
    }
}

impl From<String> for LineEdit {
    fn from(s: String) -> Self {
        LineEdit::new(s)
    }
}

impl LineEdit {
    /// A field holding `value`, the cursor at its end.
    pub fn new(value: impl Into<String>) -> LineEdit {
        LineEdit {
            input: Input::new(value.into()),
        }
    }

    pub fn value(&self) -> &str {
        self.input.value()
    }

    pub fn is_empty(&self) -> bool {
        self.value().is_empty()
    }

    /// Empty the field.
    pub fn clear(&mut self) {
        self.input.reset();
    }

    /// The cursor, in characters from the start.
    pub fn cursor(&self) -> usize {
        self.input.cursor()
    }

    /// Replace the text (cursor at the end).
    pub fn set(&mut self, value: impl Into<String>) {
        self.input = Input::new(value.into());
    }

    pub fn insert(&mut self, c: char) {
        self.input.handle(InputRequest::InsertChar(c));
    }

    /// Insert text at the cursor in one step (a paste of 100,000 characters is one copy, not
    /// one per character).
    pub fn insert_str(&mut self, text: &str) {
        let at = self.cursor();
        let v = self.value();
        let byte = v.char_indices().nth(at).map_or(v.len(), |(b, _)| b);
        let mut s = String::with_capacity(v.len() + text.len());
        s.push_str(&v[..byte]);
        s.push_str(text);
        s.push_str(&v[byte..]);
        self.input = Input::new(s).with_cursor(at + text.chars().count());
    }

    pub fn edit(&mut self, e: Edit) {
        let req = match e {
            Edit::Left => InputRequest::GoToPrevChar,
            Edit::Right => InputRequest::GoToNextChar,
            Edit::Home => InputRequest::GoToStart,
            Edit::End => InputRequest::GoToEnd,
            Edit::WordLeft => InputRequest::GoToPrevWord,
            Edit::WordRight => InputRequest::GoToNextWord,
            Edit::Backspace => InputRequest::DeletePrevChar,
            Edit::Delete => InputRequest::DeleteNextChar,
            Edit::KillToStart => InputRequest::DeleteFromStart,
            Edit::KillWord => InputRequest::DeletePrevWord,
        };
        self.input.handle(req);
    }

    /// What fits in `width` columns with the cursor in view: (shown text, cursor column). The
    /// view scrolls only as far as the cursor needs (long values show their end while typing).
    pub fn window(&self, width: usize) -> (String, usize) {
        let chars: Vec<char> = self.value().chars().collect();
        let cur = self.cursor().min(chars.len());
        let w = |c: &char| c.width().unwrap_or(0);
        // Room for the cursor cell itself.
        let room = width.saturating_sub(1);
        let mut start = 0;
        let mut before: usize = chars[..cur].iter().map(w).sum();
        while before > room && start < cur {
            before -= w(&chars[start]);
            start += 1;
        }
        let mut shown = String::new();
        let mut used = 0;
        for c in &chars[start..] {
            if used + w(c) > width {
                break;
            }
            used += w(c);
            shown.push(*c);
        }
        (shown, before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(s: &str) -> LineEdit {
        let mut l = LineEdit::default();
        for c in s.chars() {
            l.insert(c);
        }
        l
    }

    #[test]
    fn moves_and_inserts_at_the_cursor() {
        let mut l = typed("helo");
        l.edit(Edit::Left);
        l.insert('l');
        assert_eq!(l.value(), "hello");
        assert_eq!(l.cursor(), 4);
        l.edit(Edit::Home);
        l.insert('>');
        l.edit(Edit::End);
        l.insert('!');
        assert_eq!(l.value(), ">hello!");
        l.edit(Edit::Right);
        assert_eq!(l.cursor(), 7, "right at the end stays");
    }

    #[test]
    fn words_move_and_delete_like_a_shell() {
        let mut l = typed("build a todo app");
        l.edit(Edit::WordLeft);
        assert_eq!(l.cursor(), 13);
        l.edit(Edit::WordLeft);
        assert_eq!(l.cursor(), 8);
        l.edit(Edit::WordRight);
        assert!(l.cursor() > 8);
        l.edit(Edit::End);
        l.edit(Edit::KillWord);
        assert_eq!(l.value(), "build a todo ");
        l.edit(Edit::WordLeft);
        l.edit(Edit::KillToStart);
        assert_eq!(l.value(), "todo ");
        assert_eq!(l.cursor(), 0);
    }

    #[test]
    fn backspace_and_delete_take_whole_characters() {
        let mut l = typed("naïve 日本");
        l.edit(Edit::Backspace);
        assert_eq!(l.value(), "naïve 日");
        l.edit(Edit::Home);
        l.edit(Edit::Right);
        l.edit(Edit::Right);
        l.edit(Edit::Delete);
        assert_eq!(l.value(), "nave 日");
        l.edit(Edit::Home);
        l.edit(Edit::Backspace);
        assert_eq!(l.value(), "nave 日", "backspace at the start does nothing");
    }

    #[test]
    fn paste_goes_in_at_the_cursor() {
        let mut l = typed("a  b");
        l.edit(Edit::Left);
        l.edit(Edit::Left);
        l.insert_str("pasted ünï");
        assert_eq!(l.value(), "a pasted ünï b");
        assert_eq!(l.cursor(), 12);
        let mut big = LineEdit::default();
        big.insert_str(&"x".repeat(100_000));
        assert_eq!(big.cursor(), 100_000);
    }

    #[test]
    fn window_keeps_the_cursor_in_view() {
        let mut l = typed("0123456789");
        assert_eq!(l.window(20), ("0123456789".into(), 10));
        let (shown, col) = l.window(5);
        assert_eq!((shown.as_str(), col), ("6789", 4));
        l.edit(Edit::Home);
        assert_eq!(l.window(5), ("01234".into(), 0));
        let wide = typed("日本語");
        assert_eq!(wide.window(10), ("日本語".into(), 6));
    }
}
