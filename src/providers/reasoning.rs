//! Which models take reasoning controls (`domain::Reasoning`): sending `reasoning_effort` or a
//! thinking budget to a model without them is a 400, so the engine asks only these. And where a
//! provider's reasoning is bounded: inside `max_tokens` for OpenAI (`max_completion_tokens`
//! includes reasoning tokens), Anthropic (`budget_tokens` < `max_tokens`), Gemini (thoughts and
//! answer share `maxOutputTokens`; `thinkingBudget` is only guidance), DeepSeek's current API
//! (`max_tokens` includes the chain of thought, up to 64K), Kimi and llama.cpp-style local
//! servers (`completion_tokens` counts every generated token); outside it for DeepSeek R1 as
//! first served (`max_tokens` bounds only the final answer, the chain of thought runs up to 32K).

use super::openai::is_openai_reasoning_model;
use crate::config::ModelInfo;

fn bare(model: &str) -> String {
    model
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .to_ascii_lowercase()
}

/// Claude models with extended thinking: 3.7 Sonnet and every 4.x and later model.
pub fn anthropic_thinking(model: &str) -> bool {
    let m = bare(model);
    m.starts_with("claude")
        && ![
            "claude-2",
            "claude-instant",
            "claude-3-opus",
            "claude-3-sonnet",
            "claude-3-haiku",
            "claude-3-5",
        ]
        .iter()
        .any(|p| m.starts_with(p))
}

/// Gemini models with a thinking budget: 2.5 and later.
pub fn gemini_thinking(model: &str) -> bool {
    let m = bare(model);
    m.strip_prefix("gemini-")
        .and_then(|r| r.split(['-', '.']).next())
        .and_then(|v| v.parse::<u32>().ok())
        .is_some_and(|major| major >= 3 || m.starts_with("gemini-2.5"))
}

/// Chain-of-thought tokens DeepSeek R1 may produce beyond `max_tokens` where the server bounds
/// only the final answer with it (DeepSeek's R1 API guide of 2025-01: "the CoT output can reach
/// up to 32K tokens"; hosts serving R1 with a decoupled budget document the same 32768).
pub const DEEPSEEK_R1_MAX_COT: u32 = 32_768;

/// Reasoning tokens `m`'s server may bill beyond a request's `max_tokens`: the model's
/// configured `reasoning_outside_max_tokens`, else 32768 for DeepSeek R1 ids (`deepseek-r1`,
/// `deepseek-ai/DeepSeek-R1-0528`, distills: a server may bound only the answer), else 0: every
/// other provider counts reasoning inside the limit. No request parameter bounds R1's chain of
/// thought, so the engine holds this many more output tokens and the usage check allows them.
pub fn outside_max_tokens(m: &ModelInfo) -> u32 {
    m.reasoning_outside_max_tokens.unwrap_or_else(|| {
        if bare(&m.id).starts_with("deepseek-r1") {
            DEEPSEEK_R1_MAX_COT
        } else {
            0
        }
    })
}

/// The model takes reasoning controls: marked `reasoning = true` in the catalog or config, an
/// OpenAI reasoning model (o-series, gpt-5), a thinking Claude or a thinking Gemini.
pub fn supports_reasoning(m: &ModelInfo) -> bool {
    m.reasoning
        || is_openai_reasoning_model(&m.id)
        || anthropic_thinking(&m.id)
        || gemini_thinking(&m.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_models_think() {
        for m in [
            "claude-sonnet-4-6",
            "claude-opus-4-1",
            "claude-haiku-4-5",
            "claude-3-7-sonnet-latest",
        ] {
            assert!(anthropic_thinking(m), "{m}");
        }
        for m in [
            "claude-3-5-haiku-20241022",
            "claude-3-opus-20240229",
            "gpt-4o",
        ] {
            assert!(!anthropic_thinking(m), "{m}");
        }
        for m in [
            "gemini-2.5-pro",
            "gemini-2.5-flash",
            "gemini-3-flash-preview",
            "gemini-3.1-pro-preview",
        ] {
            assert!(gemini_thinking(m), "{m}");
        }
        for m in ["gemini-2.0-flash", "gemini-1.5-pro", "gemma-3"] {
            assert!(!gemini_thinking(m), "{m}");
        }
        let plain = ModelInfo {
            id: "llama3.2".into(),
            ..Default::default()
        };
        assert!(!supports_reasoning(&plain));
        assert!(supports_reasoning(&ModelInfo {
            reasoning: true,
            ..plain
        }));
    }

    #[test]
    fn reasoning_outside_max_tokens_per_model() {
        let catalog = crate::config::Catalog::embedded().unwrap();
        // Every catalog model counts its reasoning inside max_tokens (deepseek-reasoner is
        // DeepSeek's current API: max_tokens includes the chain of thought).
        for m in &catalog.models {
            assert_eq!(outside_max_tokens(m), 0, "{}", m.id);
        }
        let r1 = |id: &str| ModelInfo {
            id: id.into(),
            ..Default::default()
        };
        for id in [
            "deepseek-r1",
            "deepseek-ai/DeepSeek-R1",
            "DeepSeek-R1-Distill-Qwen-32B",
        ] {
            assert_eq!(outside_max_tokens(&r1(id)), DEEPSEEK_R1_MAX_COT, "{id}");
        }
        // The configured value wins, either way.
        let declared = ModelInfo {
            reasoning_outside_max_tokens: Some(5000),
            ..r1("thinker")
        };
        assert_eq!(outside_max_tokens(&declared), 5000);
        let inside = ModelInfo {
            reasoning_outside_max_tokens: Some(0),
            ..r1("deepseek-r1")
        };
        assert_eq!(outside_max_tokens(&inside), 0);
    }
}
