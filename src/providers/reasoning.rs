//! Which models take reasoning controls (`domain::Reasoning`): sending `reasoning_effort` or a
//! thinking budget to a model without them is a 400, so the engine asks only these.

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
}
