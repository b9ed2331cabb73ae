//! The shape of a structured answer, shared by the code that asks for it (`model_output`) and
//! the wire formats that carry it (`providers`).

/// A JSON schema an answer must follow (structured output). Written in the subset every wire
/// format can carry: objects list all their properties in `required` and set
/// `additionalProperties: false` (OpenAI's strict mode); each wire format adapts it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputSchema {
    /// Short identifier (`task_list`, `evaluation`, ...): OpenAI's `json_schema.name`, the
    /// Anthropic tool's name.
    pub name: &'static str,
    /// What the answer is, for the Anthropic tool's description.
    pub description: &'static str,
    pub schema: serde_json::Value,
}
