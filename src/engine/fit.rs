//! Fitting a request into a model's context window, with room for the answer. Pure.
//!
//! The input is counted with [`fit_tokens`], not `providers::estimate_tokens` (4 ASCII bytes a
//! token, made for prices): small models' tokenizers split every digit and most punctuation into
//! a token of its own. Measured with SmolLM2's tokenizer (llama.cpp `/tokenize`), real tokens
//! against `estimate_tokens` / [`fit_tokens`]: Rust source 24901 vs 21172 / 32163, Python
//! 2998 vs 2508 / 3851, Markdown 4368 vs 3923 / 5276, TOML catalog 1678 vs 1036 / 1820, JSON with
//! numbers 9772 vs 3643 / 10671; only digits between spaces (19801 vs 4951 / 18302) stay under,
//! by 8%. The chat template adds 16 tokens (ChatML); [`TEMPLATE_TOKENS`] covers it and part of
//! the error. A request that still overflows is shrunk and retried by the call path.
//!
//! Order: (1) `max_tokens` is lowered toward a quarter of the window (never below what was
//! asked if that is smaller); (2) the framed sections of the prompt (dependency outputs,
//! previous-attempt feedback, critiques, candidate output: `prompts` markers; the analyzer's
//! repository files) are cut
//! head+tail, largest first, each keeping [`MIN_SECTION_CHARS`]; (3) `max_tokens` is lowered
//! down to [`OUTPUT_FLOOR`]; (4) otherwise it does not fit.

use crate::analysis::semantic::{FILE_END, FILE_START};
use crate::engine::feedback::head_tail;
use crate::prompts::{
    CONTEXT_END, CONTEXT_START, CRITIQUE_END, CRITIQUE_START, FEEDBACK_END, FEEDBACK_START,
    OUTPUT_END, OUTPUT_START,
};

/// Tokens added for the chat template (role tags, special tokens) and tokenizer variance.
pub const TEMPLATE_TOKENS: u64 = 64;
/// The least output a fitted call is left (unless less was asked).
pub const OUTPUT_FLOOR: u32 = 256;
/// What a cut section keeps at least (head and tail halves).
pub const MIN_SECTION_CHARS: usize = 400;

/// Tokens a real tokenizer may need for `system` + `prompt`, chat template included.
pub fn input_tokens(system: Option<&str>, prompt: &str) -> u64 {
    system.map_or(0, fit_tokens) + fit_tokens(prompt) + TEMPLATE_TOKENS
}

/// Tokens of `text` counted high for small-vocabulary tokenizers: each ASCII digit and
/// punctuation character one token, letters and whitespace four to a token, other characters
/// two tokens or their UTF-8 length if smaller.
pub fn fit_tokens(text: &str) -> u64 {
    let (mut single, mut words, mut other) = (0u64, 0u64, 0u64);
    for c in text.chars() {
        if c.is_ascii_alphabetic() || c.is_ascii_whitespace() {
            words += 1;
        } else if c.is_ascii() {
            single += 1;
        } else {
            other += c.len_utf8().min(2) as u64;
        }
    }
    single + words.div_ceil(4) + other
}

/// A request that fits.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    pub prompt: String,
    pub max_tokens: u32,
    /// Characters cut from framed sections.
    pub cut_chars: usize,
}

/// Even with every section at its minimum and the least output, the request needs `needed`
/// tokens of a `window`-token context.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("prompt exceeds context window ({needed} tokens needed, {window} available)")]
pub struct TooLarge {
    pub needed: u64,
    pub window: u64,
}

/// Fit `prompt` (with `system`) and `max_tokens` into `window` tokens.
pub fn fit(
    system: Option<&str>,
    prompt: &str,
    max_tokens: u32,
    window: u64,
) -> Result<Fitted, TooLarge> {
    let sys = system.map_or(0, fit_tokens);
    let input = |p: &str| input_tokens(None, p) + sys;
    let asked = max_tokens.max(1);
    let floor = asked.min(OUTPUT_FLOOR);
    let keep = asked.min(((window / 4) as u32).max(floor));
    let room = |inp: u64| window.saturating_sub(inp);
    let mut prompt = prompt.to_string();
    let mut cut_chars = 0;
    // (1) Less output, down to a quarter of the window.
    let mut inp = input(&prompt);
    if inp + asked as u64 <= window {
        return Ok(Fitted {
            prompt,
            max_tokens: asked,
            cut_chars,
        });
    }
    if inp + keep as u64 <= window {
        return Ok(Fitted {
            prompt,
            max_tokens: room(inp).min(asked as u64) as u32,
            cut_chars,
        });
    }
    // (2) Cut sections, largest first, until the input leaves `keep` for the output.
    for _ in 0..64 {
        let over = (inp + keep as u64).saturating_sub(window);
        if over == 0 {
            break;
        }
        let sections = sections(&prompt);
        let Some(s) = sections
            .iter()
            .filter(|s| s.chars > MIN_SECTION_CHARS)
            .max_by_key(|s| s.chars)
        else {
            break;
        };
        // Over by `over` tokens: at this section's characters a token, plus the omission line.
        let body = &prompt[s.start..s.end];
        let per_token = s.chars as f64 / fit_tokens(body).max(1) as f64;
        let cut = (over as f64 * per_token).ceil() as usize + 48;
        let target = s.chars.saturating_sub(cut).max(MIN_SECTION_CHARS);
        let shorter = head_tail(body, target);
        cut_chars += s.chars.saturating_sub(shorter.chars().count());
        prompt.replace_range(s.start..s.end, &shorter);
        inp = input(&prompt);
    }
    // (3) Whatever room is left for the output, down to the floor.
    let out = room(inp).min(asked as u64);
    if out >= floor as u64 {
        return Ok(Fitted {
            prompt,
            max_tokens: out as u32,
            cut_chars,
        });
    }
    Err(TooLarge {
        needed: inp + floor as u64,
        window,
    })
}

/// A framed section's content: byte range in the prompt and length in characters.
#[derive(Debug, Clone, Copy)]
struct Section {
    start: usize,
    end: usize,
    chars: usize,
}

/// The contents of every framed section (start marker line excluded, end marker excluded).
fn sections(prompt: &str) -> Vec<Section> {
    let pairs = [
        (CONTEXT_START, CONTEXT_END),
        (FEEDBACK_START, FEEDBACK_END),
        (CRITIQUE_START, CRITIQUE_END),
        (OUTPUT_START, OUTPUT_END),
        // The analyzer's repository files.
        (FILE_START, FILE_END),
    ];
    let mut out = Vec::new();
    for (start, end) in pairs {
        let mut from = 0;
        while let Some(i) = prompt[from..].find(start) {
            let marker = from + i;
            // The content starts after the marker's line (`<<<DEPENDENCY OUTPUT t1>>>`).
            let Some(nl) = prompt[marker..].find('\n') else {
                break;
            };
            let s = marker + nl + 1;
            let Some(j) = prompt[s..].find(end) else {
                break;
            };
            let e = s + j;
            out.push(Section {
                start: s,
                end: e,
                chars: prompt[s..e].chars().count(),
            });
            from = e + end.len();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(dep: &str, critique: &str) -> String {
        format!(
            "{CONTEXT_START} t1>>>\n{dep}\n{CONTEXT_END}\nTask:\nWrite it.\n\n{CRITIQUE_START}\n{critique}\n{CRITIQUE_END}\nDone."
        )
    }

    #[test]
    fn a_request_that_fits_is_unchanged() {
        let p = framed("short", "also short");
        let f = fit(Some("sys"), &p, 1000, 32_768).unwrap();
        assert_eq!(f.prompt, p);
        assert_eq!(f.max_tokens, 1000);
        assert_eq!(f.cut_chars, 0);
    }

    #[test]
    fn digits_and_punctuation_count_one_token_each() {
        assert_eq!(fit_tokens(""), 0);
        assert_eq!(fit_tokens("abcd efg"), 2);
        assert_eq!(fit_tokens("1234567890"), 10);
        assert_eq!(fit_tokens("{\"a\": 12}"), 7 + 1);
        assert_eq!(fit_tokens("预算"), 4);
        assert_eq!(fit_tokens("é"), 2);
        // Code: above 3 bytes a token (measured 3.4 for Rust source).
        let code = "fn a(x: i32) -> i32 { x + 1 }\n".repeat(100); // 3000 bytes
        assert!(input_tokens(None, &code) >= code.len() as u64 / 3 + 32);
        assert_eq!(input_tokens(Some("ab"), "cd"), 2 + TEMPLATE_TOKENS);
    }

    #[test]
    fn max_tokens_is_lowered_first_down_to_a_quarter_of_the_window() {
        let p = "x".repeat(8000); // 2000 tokens + the template
        let f = fit(None, &p, 4096, 4096).unwrap();
        assert_eq!(f.prompt, p, "no section to cut and none needed");
        assert_eq!(
            f.max_tokens as u64 + input_tokens(None, &p),
            4096,
            "the rest of the window"
        );
        assert!(f.max_tokens >= 1024);
    }

    #[test]
    fn the_analyzers_repository_files_are_cut_to_fit() {
        let file = format!("HEAD{}TAIL", "f".repeat(60_000));
        let p = format!("Summary\n{FILE_START} src/a.py>>>\n{file}\n{FILE_END}\nReturn the JSON.");
        let f = fit(Some("sys"), &p, 2048, 8192).unwrap();
        assert!(f.cut_chars > 0);
        assert!(input_tokens(Some("sys"), &f.prompt) + f.max_tokens as u64 <= 8192);
        assert!(f.prompt.contains("HEAD") && f.prompt.contains("TAIL"));
        assert!(f.prompt.ends_with("Return the JSON."));
    }

    #[test]
    fn the_largest_section_is_cut_head_and_tail_first() {
        let dep = format!("HEAD{}TAIL", "d".repeat(40_000));
        let critique = "c".repeat(2_000);
        let p = framed(&dep, &critique);
        let f = fit(Some("system"), &p, 4096, 4096).unwrap();
        assert!(input_tokens(Some("system"), &f.prompt) + f.max_tokens as u64 <= 4096);
        assert!(f.max_tokens >= 1024, "the output keeps a quarter");
        assert!(f.prompt.contains("HEAD") && f.prompt.contains("TAIL"));
        assert!(f.prompt.contains("characters omitted"));
        assert!(
            f.prompt.contains(&critique),
            "the smaller section is left whole"
        );
        assert!(f.cut_chars > 30_000);
        // The markers and the task survive.
        for m in [
            CONTEXT_END,
            CRITIQUE_START,
            CRITIQUE_END,
            "Task:\nWrite it.",
        ] {
            assert!(f.prompt.contains(m), "{m}");
        }
    }

    #[test]
    fn several_sections_are_cut_to_their_minimum_then_the_output_shrinks() {
        let p = framed(&"d".repeat(20_000), &"c".repeat(20_000));
        let f = fit(None, &p, 4096, 1024).unwrap();
        assert!(input_tokens(None, &f.prompt) + f.max_tokens as u64 <= 1024);
        assert!(f.max_tokens >= OUTPUT_FLOOR);
        for s in sections(&f.prompt) {
            assert!(s.chars >= MIN_SECTION_CHARS, "{}", s.chars);
        }
    }

    #[test]
    fn a_prompt_that_cannot_fit_says_how_many_tokens_it_needs() {
        // The task text itself is not a framed section: nothing can be cut.
        let p = format!("Task:\n{}", "t".repeat(20_000));
        let e = fit(None, &p, 2000, 2048).unwrap_err();
        assert_eq!(e.window, 2048);
        assert_eq!(
            e.needed,
            input_tokens(None, &p) + OUTPUT_FLOOR as u64,
            "{e}"
        );
        assert!(e.to_string().starts_with("prompt exceeds context window"));
        // A small max_tokens is its own floor.
        let p = "t".repeat(7_000);
        let f = fit(None, &p, 100, 2_500).unwrap();
        assert_eq!(f.max_tokens, 100);
    }

    #[test]
    fn non_ascii_sections_are_cut_on_character_boundaries() {
        let p = framed(&"预算".repeat(10_000), "ok");
        let f = fit(None, &p, 1024, 4096).unwrap();
        assert!(input_tokens(None, &f.prompt) + f.max_tokens as u64 <= 4096);
        assert!(f.prompt.contains("预算"));
    }
}
