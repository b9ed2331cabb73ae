//! Prompt caching where the wire format has explicit breakpoints (Anthropic `cache_control`).
//! A breakpoint caches the whole prefix before it (tools, system, messages), and only when that
//! prefix reaches the model's minimum cacheable length; below it Anthropic ignores the mark and
//! charges plain input, so none is placed there (and no cache-write price is held for it).
//! OpenAI, DeepSeek and Gemini cache long prefixes on their own and charge no write premium:
//! their reads are priced from the usage they report (`Usage::cached_input`).

use super::{ChatRequest, estimate_tokens};

/// Anthropic's limit on `cache_control` breakpoints in one request; we place at most 2.
pub const MAX_BREAKPOINTS: usize = 4;

/// Minimum cacheable prompt length (tokens) of an Anthropic model. Source: Anthropic's prompt
/// caching guide (platform.claude.com/docs/en/build-with-claude/prompt-caching, as quoted in
/// anthropics/anthropic-sdk-python#1194, 2026): 4096 for Opus 4.6/4.5 and Haiku 4.5; 1024 for
/// Sonnet 4.6/4.5/4/3.7 and Opus 4.1/4; 2048 for Haiku 3.5/3. Opus 4.7: 4096
/// (startdebugging.net, June 2026, checked against the same guide). Checked 2026-12-04.
/// Unknown ids get 1024: a mark below the real minimum is ignored by the API, never an error.
pub fn min_cacheable_tokens(model: &str) -> u64 {
    let m = model
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .to_ascii_lowercase();
    let has = |s: &str| m.contains(s);
    if has("opus-4-5") || has("opus-4-6") || has("opus-4-7") || has("haiku-4-5") {
        4096
    } else if has("haiku-3") || has("3-haiku") || has("3-5-haiku") {
        2048
    } else {
        1024
    }
}

/// Where a request's cache breakpoints go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Breakpoints {
    /// After the system prompt (tools and system are the prefix).
    pub system: bool,
    /// After the shared context at the start of the first user message.
    pub prefix: bool,
}

impl Breakpoints {
    pub fn any(&self) -> bool {
        self.system || self.prefix
    }

    pub fn count(&self) -> usize {
        usize::from(self.system) + usize::from(self.prefix)
    }
}

/// Estimated tokens of the tool a structured request sends ahead of the system prompt.
pub fn tool_tokens(req: &ChatRequest) -> u64 {
    req.schema.as_deref().map_or(0, |s| {
        estimate_tokens(&s.schema.to_string()) + estimate_tokens(s.description) + 16
    })
}

/// The breakpoints `req` gets, with `tools` tokens of tool definitions ahead of the system
/// prompt: each where the prefix up to it reaches the model's minimum.
pub fn breakpoints(req: &ChatRequest, tools: u64) -> Breakpoints {
    let min = min_cacheable_tokens(&req.model);
    let system = tools + req.system.as_deref().map_or(0, estimate_tokens);
    let shared = req
        .messages
        .iter()
        .find(|m| m.role != "system")
        .and_then(|m| m.content.get(..req.shared_prefix))
        .filter(|p| !p.is_empty())
        .map(estimate_tokens);
    Breakpoints {
        system: req.system.as_deref().is_some_and(|s| !s.is_empty()) && system >= min,
        prefix: shared.is_some_and(|p| system + p >= min),
    }
}

/// Whether a call may write its input to the provider's cache: its worst case is then priced
/// at the cache-write rate (dearer than input). Counts the tool as if sent (holds stay high).
pub fn may_write(req: &ChatRequest) -> bool {
    breakpoints(req, tool_tokens(req)).any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CallRole, Reasoning};
    use crate::providers::Message;

    fn req(model: &str, system: &str, prompt: &str, shared: usize) -> ChatRequest {
        ChatRequest {
            model: model.into(),
            system: Some(system.into()),
            messages: vec![Message {
                role: "user".into(),
                content: prompt.into(),
            }],
            max_tokens: 100,
            temperature: None,
            role: CallRole::Generate,
            task_type: None,
            attempt: 1,
            schema: None,
            shared_prefix: shared,
            reasoning: Reasoning::default(),
        }
    }

    #[test]
    fn minimums_per_model() {
        assert_eq!(min_cacheable_tokens("claude-sonnet-4-6"), 1024);
        assert_eq!(min_cacheable_tokens("claude-opus-4-1"), 1024);
        assert_eq!(min_cacheable_tokens("claude-opus-4-5"), 4096);
        assert_eq!(min_cacheable_tokens("claude-opus-4-7"), 4096);
        assert_eq!(min_cacheable_tokens("claude-haiku-4-5"), 4096);
        assert_eq!(min_cacheable_tokens("claude-3-5-haiku-20241022"), 2048);
        assert_eq!(min_cacheable_tokens("anthropic/claude-sonnet-4-5"), 1024);
    }

    #[test]
    fn breakpoints_only_where_the_prefix_reaches_the_minimum() {
        // 4 ASCII bytes a token: 4096 bytes = 1024 tokens.
        let big = "x".repeat(4096);
        let small = "y".repeat(400);
        let r = req("claude-sonnet-4-6", &big, "task", 0);
        assert_eq!(
            breakpoints(&r, 0),
            Breakpoints {
                system: true,
                prefix: false
            }
        );
        let r = req("claude-sonnet-4-6", &small, &format!("{big}Task: go"), 4096);
        assert_eq!(
            breakpoints(&r, 0),
            Breakpoints {
                system: false,
                prefix: true
            }
        );
        assert!(may_write(&r));
        // Just below: 1023 tokens of prefix in all.
        let r = req("claude-sonnet-4-6", "", &"z".repeat(4092 + 10), 4092);
        assert!(!breakpoints(&r, 0).any());
        assert!(
            breakpoints(&r, 1).prefix,
            "the tool counts toward the prefix"
        );
        // The same prompt on a 4096-token model: none.
        let r = req("claude-opus-4-5", &small, &format!("{big}Task: go"), 4096);
        assert!(!may_write(&r));
        // A shared prefix that is not on a char boundary is ignored rather than panicking.
        let r = req("claude-sonnet-4-6", "", &format!("é{big}"), 1);
        assert!(!breakpoints(&r, 0).prefix);
        assert!(breakpoints(&r, 0).count() <= MAX_BREAKPOINTS);
    }
}
