//! The evaluator's score parser must never panic and only return scores within 0..=1.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orchestrator_tui::engine::feedback::parse_score;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some((score, _reason)) = parse_score(&text) {
        assert!((0.0..=1.0).contains(&score), "{score}");
    }
});
