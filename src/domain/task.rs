//! A task of a run as planned: what to do, its dependencies and acceptance rules.

use super::TaskType;
use crate::validators::ValidatorSpec;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub id: String,
    #[serde(rename = "type")]
    pub task_type: TaskType,
    pub prompt: String,
    #[serde(default)]
    pub dependencies: Vec<String>,
    pub threshold: f64,
    pub max_iterations: u32,
    pub max_output_tokens: u32,
    #[serde(default)]
    pub validators: Vec<ValidatorSpec>,
}
