//! A Server-Sent Events parser (WHATWG "event stream interpretation") that accepts bytes in
//! arbitrary chunks: lines end in LF, CRLF or CR (a CR at the end of one chunk and the LF at the
//! start of the next are one line end), `data:` lines accumulate with `\n`, `:` lines are
//! comments (`: keep-alive`), a blank line dispatches the event. Lines are decoded as UTF-8 only
//! once complete, so a multi-byte character split across chunks is fine.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field; `None` means the default type `message`.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The last `id:` field seen, if any.
    pub id: Option<String>,
}

impl SseEvent {
    /// The event type, `message` when the stream gave none.
    pub fn kind(&self) -> &str {
        self.event.as_deref().unwrap_or("message")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("SSE line longer than {0} bytes")]
    LineTooLong(usize),
}

/// Incremental parser. Feed it chunks with [`SseParser::feed`]; call [`SseParser::finish`] at EOF.
#[derive(Debug)]
pub struct SseParser {
    /// Bytes of the current, incomplete line.
    line: Vec<u8>,
    /// The previous chunk ended in CR: a leading LF in the next chunk belongs to that line end.
    after_cr: bool,
    /// Still at the very start of the stream (a UTF-8 BOM is skipped there).
    at_start: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    last_id: Option<String>,
    max_line: usize,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl SseParser {
    /// Lines longer than this are refused (a broken or hostile server must not exhaust memory).
    pub const DEFAULT_MAX_LINE: usize = 8 * 1024 * 1024;

    pub fn new() -> Self {
        Self::with_max_line(Self::DEFAULT_MAX_LINE)
    }

    pub fn with_max_line(max_line: usize) -> Self {
        SseParser {
            line: Vec::new(),
            after_cr: false,
            at_start: true,
            event: None,
            data: String::new(),
            has_data: false,
            last_id: None,
            max_line,
        }
    }

    /// Parse one chunk, appending every event it completes to `out`.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.after_cr && !chunk.is_empty() {
            self.after_cr = false;
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
            }
        }
        while !chunk.is_empty() {
            match chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(i) => {
                    self.push_bytes(&chunk[..i])?;
                    let cr = chunk[i] == b'\r';
                    chunk = &chunk[i + 1..];
                    if cr {
                        match chunk.first() {
                            Some(b'\n') => chunk = &chunk[1..],
                            Some(_) => {}
                            None => self.after_cr = true,
                        }
                    }
                    self.end_line(out);
                }
                None => {
                    self.push_bytes(chunk)?;
                    break;
                }
            }
        }
        Ok(())
    }

    /// Parse one chunk and return the events it completes.
    pub fn feed_vec(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        let mut out = Vec::new();
        self.feed(chunk, &mut out)?;
        Ok(out)
    }

    /// End of stream. An event whose lines were all complete but which was never closed by a blank
    /// line is returned (lenient: some servers omit the final blank line); a partial last line is
    /// dropped, since it may be a truncated payload.
    pub fn finish(&mut self) -> Option<SseEvent> {
        self.line.clear();
        self.after_cr = false;
        if self.has_data {
            Some(self.take_event())
        } else {
            self.event = None;
            None
        }
    }

    /// True when bytes of an unfinished line or event are buffered.
    pub fn has_pending(&self) -> bool {
        !self.line.is_empty() || self.has_data
    }

    fn push_bytes(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        if self.line.len() + bytes.len() > self.max_line {
            return Err(SseError::LineTooLong(self.max_line));
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn take_event(&mut self) -> SseEvent {
        self.has_data = false;
        SseEvent {
            event: self.event.take(),
            data: std::mem::take(&mut self.data),
            id: self.last_id.clone(),
        }
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        let mut raw = std::mem::take(&mut self.line);
        if self.at_start {
            self.at_start = false;
            if raw.starts_with(&[0xEF, 0xBB, 0xBF]) {
                raw.drain(..3);
            }
        }
        if raw.is_empty() {
            if self.has_data {
                out.push(self.take_event());
            } else {
                self.event = None;
            }
            self.line = raw;
            return;
        }
        let text = String::from_utf8_lossy(&raw);
        if !text.starts_with(':') {
            let (field, value) = match text.find(':') {
                Some(i) => {
                    let v = &text[i + 1..];
                    (&text[..i], v.strip_prefix(' ').unwrap_or(v))
                }
                None => (&text[..], ""),
            };
            match field {
                "data" => {
                    if self.has_data {
                        self.data.push('\n');
                    }
                    self.data.push_str(value);
                    self.has_data = true;
                }
                "event" => self.event = Some(value.to_string()),
                "id" if !value.contains('\0') => self.last_id = Some(value.to_string()),
                _ => {} // `retry` and unknown fields are ignored
            }
        }
        raw.clear();
        self.line = raw;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, &mut out).unwrap();
        }
        out.extend(p.finish());
        out
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_string),
            data: data.to_string(),
            id: None,
        }
    }

    /// Every way of cutting `input` into two or three pieces gives the same events as one piece.
    fn assert_split_invariant(input: &[u8], expected: &[SseEvent]) {
        assert_eq!(parse_all(&[input]), expected, "whole input");
        for i in 0..=input.len() {
            let got = parse_all(&[&input[..i], &input[i..]]);
            assert_eq!(got, expected, "split at {i}");
        }
        for i in 0..=input.len() {
            for j in i..=input.len() {
                let got = parse_all(&[&input[..i], &input[i..j], &input[j..]]);
                assert_eq!(got, expected, "split at {i},{j}");
            }
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(parse_all(&bytes), expected, "byte by byte");
    }

    #[test]
    fn basic_events_with_types() {
        let input = b"event: message_start\ndata: {\"a\":1}\n\nevent: ping\ndata: {}\n\n";
        assert_split_invariant(
            input,
            &[
                ev(Some("message_start"), "{\"a\":1}"),
                ev(Some("ping"), "{}"),
            ],
        );
    }

    #[test]
    fn crlf_cr_and_lf_line_ends_mix() {
        let input = b"data: one\r\n\r\ndata: two\r\rdata: three\n\ndata: four\r\n\n";
        assert_split_invariant(
            input,
            &[
                ev(None, "one"),
                ev(None, "two"),
                ev(None, "three"),
                ev(None, "four"),
            ],
        );
    }

    #[test]
    fn multi_line_data_joins_with_newline() {
        let input = b"data: first\ndata:second\ndata:  third\n\n";
        assert_split_invariant(input, &[ev(None, "first\nsecond\n third")]);
    }

    #[test]
    fn comments_and_keep_alives_are_ignored() {
        let input = b": keep-alive\n\n: keep-alive\r\n\r\ndata: x\n: in between\ndata: y\n\n:\n\n";
        assert_split_invariant(input, &[ev(None, "x\ny")]);
    }

    #[test]
    fn openai_style_stream_with_done() {
        let input =
            b"data: {\"choices\":[{\"delta\":{\"content\":\"h\xc3\xa9\"}}]}\n\ndata: [DONE]\n\n";
        assert_split_invariant(
            input,
            &[
                ev(
                    None,
                    "{\"choices\":[{\"delta\":{\"content\":\"h\u{e9}\"}}]}",
                ),
                ev(None, "[DONE]"),
            ],
        );
    }

    #[test]
    fn event_without_data_is_not_dispatched_and_type_resets() {
        let input = b"event: lonely\n\ndata: after\n\n";
        assert_split_invariant(input, &[ev(None, "after")]);
    }

    #[test]
    fn empty_data_line_dispatches_empty_event() {
        let input = b"data\n\ndata:\n\n";
        assert_split_invariant(input, &[ev(None, ""), ev(None, "")]);
    }

    #[test]
    fn ids_persist_and_unknown_fields_ignored() {
        let mut p = SseParser::new();
        let out = p
            .feed_vec(b"id: 7\nretry: 100\nfoo: bar\ndata: a\n\ndata: b\n\n")
            .unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].id.as_deref(), Some("7"));
        assert_eq!(out[1].id.as_deref(), Some("7"));
        assert_eq!(out[0].kind(), "message");
    }

    #[test]
    fn bom_is_skipped_at_start_only() {
        let input = b"\xEF\xBB\xBFdata: a\n\n";
        assert_split_invariant(input, &[ev(None, "a")]);
    }

    #[test]
    fn missing_final_blank_line_is_tolerated_but_partial_line_is_dropped() {
        assert_eq!(parse_all(&[b"data: a\n"]), vec![ev(None, "a")]);
        assert_eq!(
            parse_all(&[b"data: a\n\ndata: {\"trunc"]),
            vec![ev(None, "a")]
        );
        let mut p = SseParser::new();
        p.feed_vec(b"data: x").unwrap();
        assert!(p.has_pending());
        assert_eq!(p.finish(), None);
    }

    #[test]
    fn overlong_lines_are_refused() {
        let mut p = SseParser::with_max_line(8);
        assert!(p.feed_vec(b"data: 1234").is_err());
        let mut p = SseParser::with_max_line(8);
        assert!(p.feed_vec(b"data: 12\n\n").is_ok());
    }

    #[test]
    fn anthropic_full_stream_every_split() {
        let input = concat!(
            "event: message_start\r\n",
            "data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5}}}\r\n\r\n",
            ": keep-alive\r\n\r\n",
            "event: content_block_delta\r\n",
            "data: {\"type\":\"content_block_delta\",\r\n",
            "data: \"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\r\n\r\n",
            "event: message_stop\r\n",
            "data: {\"type\":\"message_stop\"}\r\n\r\n"
        );
        assert_split_invariant(
            input.as_bytes(),
            &[
                ev(
                    Some("message_start"),
                    "{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5}}}",
                ),
                ev(
                    Some("content_block_delta"),
                    "{\"type\":\"content_block_delta\",\n\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}",
                ),
                ev(Some("message_stop"), "{\"type\":\"message_stop\"}"),
            ],
        );
    }
}
