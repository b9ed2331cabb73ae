//! Core vocabulary shared by every layer: task types, statuses, money.

pub mod money;
pub mod outcome;
pub mod reasoning;
pub mod schema;
pub mod status;
pub mod task;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

pub use money::Micros;
pub use outcome::CallOutcome;
pub use reasoning::{Reasoning, ReasoningEffort};
pub use schema::OutputSchema;
pub use task::TaskSpec;

/// The kinds of work a task can be; each has its own defaults (product.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum TaskType {
    CodeGeneration,
    CodeReview,
    ComplexReasoning,
    CreativeWriting,
    DataExtraction,
    Summarization,
    Evaluation,
}

impl TaskType {
    pub const ALL: [TaskType; 7] = [
        TaskType::CodeGeneration,
        TaskType::CodeReview,
        TaskType::ComplexReasoning,
        TaskType::CreativeWriting,
        TaskType::DataExtraction,
        TaskType::Summarization,
        TaskType::Evaluation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskType::CodeGeneration => "code_generation",
            TaskType::CodeReview => "code_review",
            TaskType::ComplexReasoning => "complex_reasoning",
            TaskType::CreativeWriting => "creative_writing",
            TaskType::DataExtraction => "data_extraction",
            TaskType::Summarization => "summarization",
            TaskType::Evaluation => "evaluation",
        }
    }

    /// (threshold, max iterations, max output tokens) from product.md §1.
    pub fn defaults(self) -> (f64, u32, u32) {
        match self {
            TaskType::CodeGeneration => (0.85, 3, 8192),
            TaskType::CodeReview => (0.75, 4, 4096),
            TaskType::ComplexReasoning => (0.90, 3, 4096),
            TaskType::CreativeWriting => (0.80, 2, 4096),
            TaskType::DataExtraction => (0.90, 2, 2048),
            TaskType::Summarization => (0.80, 2, 1024),
            TaskType::Evaluation => (0.80, 2, 2048),
        }
    }
}

impl fmt::Display for TaskType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task type name that is none of [`TaskType::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown task type `{0}`")]
pub struct UnknownTaskType(pub String);

impl FromStr for TaskType {
    type Err = UnknownTaskType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        TaskType::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == norm)
            .ok_or_else(|| UnknownTaskType(s.to_string()))
    }
}

/// What a model call is for; every role feeds the same breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallRole {
    Decompose,
    Generate,
    Critique,
    Revise,
    Evaluate,
    Analyze,
}

impl CallRole {
    pub fn as_str(self) -> &'static str {
        match self {
            CallRole::Decompose => "decompose",
            CallRole::Generate => "generate",
            CallRole::Critique => "critique",
            CallRole::Revise => "revise",
            CallRole::Evaluate => "evaluate",
            CallRole::Analyze => "analyze",
        }
    }
}

impl fmt::Display for CallRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Short printable run id such as `r-7f3a9c`.
pub fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mix = splitmix64(nanos as u64 ^ ((std::process::id() as u64) << 32));
    format!("r-{:06x}", mix & 0xff_ffff)
}

/// Small, fast, deterministic mixer used for ids and the simulator's randomness.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a: stable across processes and Rust versions (unlike `DefaultHasher`).
pub fn stable_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.as_bytes() {
            h ^= *b as u64;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// Normalised description used to match a new run against a resumable one.
pub fn normalize_description(s: &str) -> String {
    s.split_whitespace()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end_matches(['.', '!'])
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_type_round_trip() {
        for t in TaskType::ALL {
            assert_eq!(t.as_str().parse::<TaskType>().unwrap(), t);
        }
        assert_eq!(
            "Code-Generation".parse::<TaskType>().unwrap(),
            TaskType::CodeGeneration
        );
        assert!("poetry".parse::<TaskType>().is_err());
    }

    #[test]
    fn run_ids_are_short_and_prefixed() {
        let id = new_run_id();
        assert!(id.starts_with("r-") && id.len() == 8, "{id}");
    }

    #[test]
    fn normalised_descriptions_match() {
        assert_eq!(
            normalize_description("  Build a  TODO app. "),
            normalize_description("build a todo app")
        );
    }
}
