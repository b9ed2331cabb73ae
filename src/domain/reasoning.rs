//! Reasoning controls asked of a model for one call (issue 17 §6): OpenAI's `reasoning_effort`
//! and a thinking budget (Anthropic extended thinking, Gemini `thinkingBudget`). Configured per
//! task type (`[task_types.NAME] reasoning_effort / thinking_budget`); each wire format sends the
//! part it understands.

use serde::{Deserialize, Serialize};

/// OpenAI `reasoning_effort` on chat completions (and OpenAI-compatible servers that take it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningEffort {
    Minimal,
    Low,
    Medium,
    High,
}

impl ReasoningEffort {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasoningEffort::Minimal => "minimal",
            ReasoningEffort::Low => "low",
            ReasoningEffort::Medium => "medium",
            ReasoningEffort::High => "high",
        }
    }
}

/// Smallest thinking budget Anthropic accepts (`budget_tokens` >= 1024).
pub const MIN_THINKING_BUDGET: u32 = 1024;

/// What a request asks of a reasoning model; `Default` asks nothing (the model's own default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reasoning {
    pub effort: Option<ReasoningEffort>,
    /// Tokens the model may spend thinking, inside `max_tokens` (Anthropic requires
    /// `MIN_THINKING_BUDGET <= budget < max_tokens`; the engine raises `max_tokens` to fit it).
    pub thinking_budget: Option<u32>,
    /// Reasoning tokens the provider may produce and bill beyond `max_tokens` (a server that
    /// does not count the chain of thought inside it: `providers::reasoning::outside_max_tokens`).
    /// Not sent: the engine holds them and `engine::usage::check` allows exactly them. 0 where
    /// reasoning counts inside `max_tokens`.
    pub outside_max_tokens: u32,
}

impl Reasoning {
    /// No control is asked of the model (`outside_max_tokens` is the server's rule, not a control).
    pub fn is_none(&self) -> bool {
        self.effort.is_none() && self.thinking_budget.is_none()
    }
}
