//! The analyzer's model seam over the engine: `orchestrator-tui analyze` and the TUI's Analysis
//! pane ask the model through the same call path as runs.

use super::EngineHandle;
use super::calls::CallSpec;
use crate::analysis::SemanticModel;
use crate::domain::{CallRole, TaskType};

/// Tokens the model may answer with in the semantic stage.
const SEMANTIC_MAX_TOKENS: u32 = 2048;

/// The analyzer's model seam over the engine: routing, breakers, budget and retries apply, and the
/// call is recorded like any other (role `analyze`, no run).
pub struct EngineModel(pub EngineHandle);

#[async_trait::async_trait]
impl SemanticModel for EngineModel {
    async fn complete(&self, system: &str, prompt: &str) -> Result<String, String> {
        let mut spec = CallSpec::new(CallRole::Analyze, prompt.to_string(), SEMANTIC_MAX_TOKENS);
        spec.system = Some(system.to_string());
        spec.task_type = Some(TaskType::CodeReview);
        spec.prefer_cheap = true;
        spec.schema = Some(crate::prompts::schemas::semantic());
        self.0
            .call(None, &spec)
            .await
            .map(|ok| ok.response.text)
            .map_err(|e| e.to_string())
    }
}
