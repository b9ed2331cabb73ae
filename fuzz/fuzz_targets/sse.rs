//! The SSE parser: never panics, and the events do not depend on how the bytes are chunked.
//! The first byte of the input chooses a chunk size; the rest is the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orchestrator_tui::providers::sse::{SseEvent, SseParser};

fn parse(bytes: &[u8], chunk: usize) -> Vec<SseEvent> {
    let mut p = SseParser::new();
    let mut out = Vec::new();
    for c in bytes.chunks(chunk.max(1)) {
        p.feed(c, &mut out).expect("no line is over the limit in a fuzz input");
    }
    out.extend(p.finish());
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&k, stream)) = data.split_first() else {
        return;
    };
    let whole = parse(stream, stream.len());
    assert_eq!(parse(stream, k as usize % 7 + 1), whole);
    assert_eq!(parse(stream, 1), whole);
});
