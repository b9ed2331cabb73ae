//! What a call is charged, from what the provider reported. Usage is the provider's word, so it
//! is checked against what the request allowed before it is priced, and a call is never charged
//! more than the worst case held for it: nothing a server says can push spend past a cap.
//!
//! - Usage the request could not have produced (more output than `max_tokens`, plus the
//!   reasoning a server does not count inside it, `ChatRequest::max_billed_output`; more input than
//!   the prompt could hold, counts that are not non-negative integers) is `malformed_usage`: the
//!   answer is refused as a transient fault (the breaker counts it, the call is retried or falls
//!   back), and the call is charged its held worst case, since the provider did serve it.
//! - An answer refused after it was produced (a body over the size limit) is charged the same.
//! - Plausible usage that costs more than was held (a tokenizer counting above our estimate) is
//!   charged the held amount, with a warning.

use crate::config::ModelInfo;
use crate::domain::{CallOutcome, Micros};
use crate::providers::{ChatRequest, ChatResponse, INVALID_COUNT, ProviderError, Usage};

/// The outcome recorded for a call whose reported usage is impossible.
pub const MALFORMED_USAGE: CallOutcome = CallOutcome::MalformedUsage;

/// Input tokens a provider may count, as a multiple of our estimate. Why 4 is a bound and not a
/// guess: the estimate counts at least one token per 4 bytes of ASCII and one per 2 bytes of
/// anything else (`providers::estimate_tokens`), and a byte-level tokenizer (BPE, or
/// SentencePiece with byte fallback) never produces more tokens than bytes. So 4 times the
/// estimate is more than any tokenizer can count for the text we sent.
pub const INPUT_FACTOR: u64 = 4;
/// Tokens a server may add around the text we sent: chat-template and role markers, a system
/// prompt of its own. Real templates add tens; 1024 leaves room for verbose ones.
pub const INPUT_SLACK: u64 = 1024;

/// Reported usage the request could not have produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    #[error("an impossible token count ({INVALID_COUNT}, or not a non-negative integer)")]
    ImpossibleCount,
    #[error("{output} output tokens for a request allowing at most {max_tokens}")]
    Output { output: u64, max_tokens: u32 },
    #[error(
        "{output} answer and {reasoning} reasoning tokens for a request allowing at most \
         {max_tokens} + {outside} reasoning tokens beyond max_tokens"
    )]
    Reasoning {
        output: u64,
        reasoning: u64,
        max_tokens: u32,
        outside: u32,
    },
    #[error("{input} input tokens for a prompt estimated at {estimate} (at most {bound} possible)")]
    Input {
        input: u64,
        estimate: u64,
        bound: u64,
    },
}

/// Why `u` is outside what `req` allowed, if it is.
pub fn check(u: &Usage, req: &ChatRequest) -> Result<(), UsageError> {
    if [
        u.input,
        u.cached_input,
        u.cache_write,
        u.output,
        u.reasoning,
    ]
    .contains(&INVALID_COUNT)
    {
        // INVALID_COUNT is also what a server sending u64::MAX itself decodes to.
        return Err(UsageError::ImpossibleCount);
    }
    let output = u.billed_output();
    // Reasoning a server does not count inside max_tokens may use `outside` more tokens, exactly
    // what was held; not more. (The answer alone is not bounded separately: a server that
    // reports no reasoning count gives answer and chain of thought as one number.)
    if output > u64::from(req.max_billed_output()) {
        let outside = req.reasoning.outside_max_tokens;
        return Err(if outside == 0 {
            UsageError::Output {
                output,
                max_tokens: req.max_tokens,
            }
        } else {
            UsageError::Reasoning {
                output: u.output,
                reasoning: u.reasoning,
                max_tokens: req.max_tokens,
                outside,
            }
        });
    }
    let input = u.total_input();
    let estimate = req.estimated_input_tokens();
    let bound = estimate
        .saturating_mul(INPUT_FACTOR)
        .saturating_add(INPUT_SLACK);
    if input > bound {
        return Err(UsageError::Input {
            input,
            estimate,
            bound,
        });
    }
    Ok(())
}

/// What a call is charged and recorded as.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    /// Charged to the budget and recorded on the call; never above the held worst case.
    pub cost: Micros,
    /// Token counts recorded on the call: the reported ones, or the held worst case's when
    /// that is what was charged.
    pub usage: Usage,
    /// Recorded instead of the error's class (`malformed_usage`).
    pub outcome: Option<CallOutcome>,
    pub warning: Option<String>,
    /// What caching saved on the call (input at the full rate minus its cache reads and writes
    /// as priced); zero unless the reported usage is what was charged.
    pub saving: Micros,
}

/// Price a call's `result`. `held_input` and `worst` are the input tokens and the amount held
/// for it. Impossible usage turns `result` into a transient error.
pub fn assess(
    model: &ModelInfo,
    req: &ChatRequest,
    held_input: u64,
    worst: Micros,
    result: &mut Result<ChatResponse, ProviderError>,
) -> Charge {
    let held = Usage {
        input: held_input,
        cached_input: 0,
        cache_write: 0,
        output: u64::from(req.max_tokens),
        reasoning: u64::from(req.reasoning.outside_max_tokens),
    };
    let charge_held = |outcome, why: String| Charge {
        cost: worst,
        usage: held,
        outcome,
        warning: Some(format!(
            "{}: {why}; charged the ${:.6} held for the call",
            model.id,
            worst.usd()
        )),
        saving: Micros::ZERO,
    };
    let reported = match result {
        Err(e) if e.billed() => return charge_held(None, e.to_string()),
        Err(_) => {
            return Charge {
                cost: Micros::ZERO,
                usage: Usage::default(),
                outcome: None,
                warning: None,
                saving: Micros::ZERO,
            };
        }
        Ok(r) => r.usage,
    };
    if let Err(why) = check(&reported, req) {
        let message = format!("malformed usage: {why}");
        let charge = charge_held(Some(MALFORMED_USAGE), message.clone());
        *result = Err(ProviderError::Transient {
            status: None,
            message,
        });
        return charge;
    }
    // Cache reads at the cached rate, writes at the write rate, reasoning at the output rate.
    let cost = model.try_cost_with_cache_write(
        reported.input,
        reported.cached_input,
        reported.cache_write,
        reported.billed_output(),
    );
    match cost {
        Err(e) => Charge {
            usage: reported,
            ..charge_held(None, format!("cannot price the reported usage ({e})"))
        },
        Ok(cost) if cost > worst => Charge {
            cost: worst,
            usage: reported,
            outcome: None,
            // Only the input can be above the hold (output was checked against what was held).
            warning: Some(format!(
                "{} cost ${:.6}, above the ${:.6} held for it: the provider counted more input \
                 tokens than estimated; charged the held amount",
                model.id,
                cost.usd(),
                worst.usd()
            )),
            saving: Micros::ZERO,
        },
        Ok(cost) => Charge {
            cost,
            usage: reported,
            outcome: None,
            warning: None,
            saving: model
                .try_cache_saving(reported.input, reported.cached_input, reported.cache_write)
                .unwrap_or(Micros::ZERO),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CallRole;
    use crate::providers::Message;

    fn model() -> ModelInfo {
        let mut m = crate::config::Catalog::embedded()
            .unwrap()
            .get("claude-sonnet-4-6")
            .unwrap()
            .clone();
        (m.input, m.cached_input, m.output) = (1.0, 0.5, 2.0);
        m
    }

    /// A 400-byte ASCII prompt: estimated at 100 + 8 tokens.
    fn req() -> ChatRequest {
        ChatRequest {
            model: "m".into(),
            system: None,
            messages: vec![Message {
                role: "user".into(),
                content: "word ".repeat(80),
            }],
            max_tokens: 500,
            temperature: None,
            role: CallRole::Generate,
            task_type: None,
            attempt: 1,
            schema: None,
            shared_prefix: 0,
            reasoning: Default::default(),
        }
    }

    fn usage(input: u64, output: u64) -> Usage {
        Usage {
            input,
            cached_input: 0,
            cache_write: 0,
            output,
            reasoning: 0,
        }
    }

    fn answer(u: Usage) -> Result<ChatResponse, ProviderError> {
        Ok(ChatResponse {
            text: "ok".into(),
            usage: u,
            finish_reason: Some("stop".into()),
            ttft: None,
        })
    }

    const HELD_IN: u64 = 135;

    fn worst() -> Micros {
        model().worst_case(HELD_IN, req().max_tokens)
    }

    #[test]
    fn check_accepts_what_the_request_allowed() {
        let r = req();
        assert_eq!(r.estimated_input_tokens(), 108);
        assert_eq!(check(&usage(108, 500), &r), Ok(()));
        // Up to 4x the estimate plus the template slack.
        assert_eq!(check(&usage(4 * 108 + 1024, 0), &r), Ok(()));
        let split = Usage {
            input: 300,
            cached_input: 100,
            cache_write: 0,
            output: 200,
            reasoning: 300,
        };
        assert_eq!(check(&split, &r), Ok(()));
    }

    #[test]
    fn check_refuses_usage_the_request_could_not_produce() {
        let r = req();
        let e = check(&usage(10, 501), &r).unwrap_err().to_string();
        assert!(
            e.contains("501 output tokens") && e.contains("at most 500"),
            "{e}"
        );
        let reasoning_over = Usage {
            output: 200,
            reasoning: 301,
            ..usage(10, 0)
        };
        assert!(check(&reasoning_over, &r).is_err());
        let e = check(&usage(4 * 108 + 1025, 1), &r)
            .unwrap_err()
            .to_string();
        assert!(e.contains("input tokens"), "{e}");
        // Cached input counts as input.
        let cached = Usage {
            cached_input: 2000,
            ..usage(0, 1)
        };
        assert!(check(&cached, &r).is_err());
        // 10^12 and u64::MAX, and sums that would overflow u64.
        assert!(check(&usage(1_000_000_000_000, 1), &r).is_err());
        assert!(check(&usage(u64::MAX - 1, u64::MAX - 1), &r).is_err());
        let wrap = Usage {
            input: u64::MAX - 1,
            cached_input: 2,
            cache_write: 0,
            output: u64::MAX - 1,
            reasoning: 2,
        };
        assert!(check(&wrap, &r).is_err());
        // Cache writes count as input, and an impossible write count is refused.
        let writes = Usage {
            cache_write: 4 * 108 + 1024,
            ..usage(1, 1)
        };
        assert!(check(&writes, &r).is_err());
        let bad_write = Usage {
            cache_write: INVALID_COUNT,
            ..usage(1, 1)
        };
        assert_eq!(check(&bad_write, &r), Err(UsageError::ImpossibleCount));
        // A negative count decodes as INVALID_COUNT.
        let e = check(&usage(INVALID_COUNT, 1), &r).unwrap_err().to_string();
        assert!(e.contains("not a non-negative integer"), "{e}");
    }

    #[test]
    fn reasoning_outside_max_tokens_is_allowed_up_to_what_was_held() {
        let mut r = req();
        r.reasoning.outside_max_tokens = 1000;
        let thought = |output, reasoning| Usage {
            output,
            reasoning,
            ..usage(10, 0)
        };
        // 500 answer tokens and 1000 reasoning tokens beyond them: what the request allowed.
        assert_eq!(check(&thought(500, 1000), &r), Ok(()));
        assert_eq!(check(&thought(100, 1400), &r), Ok(()));
        let e = check(&thought(500, 1001), &r).unwrap_err().to_string();
        assert!(
            e.contains("500 answer and 1001 reasoning")
                && e.contains("1000 reasoning tokens beyond"),
            "{e}"
        );
        // Where reasoning counts inside max_tokens, the same answer is impossible.
        assert!(check(&thought(500, 1000), &req()).is_err());
        // The hold records the reasoning it covered.
        let m = model();
        let worst = m.worst_case(HELD_IN, r.max_billed_output());
        let mut res = answer(thought(600, 2000));
        let c = assess(&m, &r, HELD_IN, worst, &mut res);
        assert_eq!(c.outcome, Some(MALFORMED_USAGE));
        assert_eq!(
            (c.cost, c.usage.output, c.usage.reasoning),
            (worst, 500, 1000)
        );
        let mut res = answer(thought(400, 1000));
        let c = assess(&m, &r, HELD_IN, worst, &mut res);
        assert_eq!((c.cost, c.outcome), (Micros(10 + 2 * 1400), None));
    }

    #[test]
    fn plausible_usage_is_charged_at_its_price() {
        let mut res = answer(usage(100, 50));
        let c = assess(&model(), &req(), HELD_IN, worst(), &mut res);
        assert_eq!(c.cost, Micros(100 + 100));
        assert_eq!(c.usage, usage(100, 50));
        assert_eq!((c.outcome, c.warning), (None, None));
        assert_eq!(c.saving, Micros::ZERO);
        assert!(res.is_ok());
    }

    #[test]
    fn cache_reads_writes_and_reasoning_are_priced_at_their_rates() {
        // $1 input, $0.50 cached, $2 output (model()), $1.25 cache write.
        let m = ModelInfo {
            cache_write: Some(1.25),
            ..model()
        };
        let u = Usage {
            input: 10,
            cached_input: 40,
            cache_write: 20,
            output: 30,
            reasoning: 100,
        };
        let worst = m
            .try_worst_case_caching(HELD_IN, req().max_tokens, true)
            .unwrap();
        // The hold prices every input token at the write rate: 135 x 1.25 + 500 x 2.
        assert_eq!(worst, Micros(169 + 1000));
        let mut res = answer(u);
        let c = assess(&m, &req(), HELD_IN, worst, &mut res);
        // 10 x 1 + 40 x 0.5 + 20 x 1.25 + (30 + 100) x 2, each rounded up.
        assert_eq!(c.cost, Micros(10 + 20 + 25 + 260));
        assert_eq!(c.usage, u);
        // At the full input rate the 60 cached tokens cost 60; they cost 20 + 25.
        assert_eq!(c.saving, Micros(60 - 45));
        assert_eq!(c.warning, None);
    }

    #[test]
    fn malformed_usage_is_a_transient_fault_charged_the_held_worst_case() {
        for bad in [
            usage(u64::MAX, u64::MAX),
            usage(1_000_000_000_000, 10),
            usage(10, 501),
        ] {
            let mut res = answer(bad);
            let c = assess(&model(), &req(), HELD_IN, worst(), &mut res);
            assert_eq!(c.cost, worst(), "{bad:?}");
            assert!(c.cost > Micros::ZERO);
            assert_eq!(c.outcome, Some(MALFORMED_USAGE));
            assert_eq!(
                c.usage,
                usage(HELD_IN, 500),
                "the tokens charged are recorded"
            );
            let w = c.warning.unwrap();
            assert!(w.starts_with("claude-sonnet-4-6: malformed usage: "), "{w}");
            assert!(w.contains("charged the $"), "{w}");
            match res {
                Err(ProviderError::Transient {
                    status: None,
                    message,
                }) => {
                    assert!(message.starts_with("malformed usage: "), "{message}")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn cache_writes_above_a_plain_hold_are_charged_the_hold() {
        // The hold priced input at $1 (no breakpoint was asked for); the server reports every
        // input token written at $10: plausible counts, dearer than held.
        let m = ModelInfo {
            cache_write: Some(10.0),
            ..model()
        };
        let writes = Usage {
            cache_write: 300,
            ..usage(0, 500)
        };
        let mut res = answer(writes);
        let c = assess(&m, &req(), HELD_IN, worst(), &mut res);
        assert_eq!(c.cost, worst());
        assert_eq!(c.usage, writes);
        assert_eq!(c.saving, Micros::ZERO);
        assert!(c.warning.unwrap().contains("above the"));
        assert!(res.is_ok());
    }

    #[test]
    fn a_cost_above_the_hold_is_charged_the_hold() {
        // 400 input tokens: plausible (below 4x108+1024), but above the 135 held.
        let mut res = answer(usage(400, 500));
        let c = assess(&model(), &req(), HELD_IN, worst(), &mut res);
        assert_eq!(c.cost, worst());
        assert_eq!(c.usage, usage(400, 500));
        assert_eq!(c.outcome, None);
        let w = c.warning.unwrap();
        assert!(
            w.starts_with("claude-sonnet-4-6 cost $0.001400, above the $0.001135"),
            "{w}"
        );
        assert!(res.is_ok());
    }

    #[test]
    fn billed_errors_are_charged_the_hold_and_others_nothing() {
        let mut res = Err(ProviderError::Oversized {
            message: "streamed response body exceeded the size limit of 64 MiB".into(),
        });
        let c = assess(&model(), &req(), HELD_IN, worst(), &mut res);
        assert_eq!((c.cost, c.outcome), (worst(), None));
        assert!(c.warning.unwrap().contains("size limit"));
        let mut res = Err(ProviderError::Transient {
            status: Some(503),
            message: "overloaded".into(),
        });
        let c = assess(&model(), &req(), HELD_IN, worst(), &mut res);
        assert_eq!(
            (c.cost, c.usage, c.warning),
            (Micros::ZERO, Usage::default(), None)
        );
    }

    #[test]
    fn a_price_that_cannot_be_applied_charges_the_hold() {
        let mut m = model();
        m.cached_input = -1.0;
        let cached = Usage {
            cached_input: 50,
            ..usage(10, 10)
        };
        let mut res = answer(cached);
        let c = assess(&m, &req(), HELD_IN, worst(), &mut res);
        assert_eq!(c.cost, worst());
        assert!(c.warning.unwrap().contains("cannot price"));
        assert!(res.is_ok());
    }
}
