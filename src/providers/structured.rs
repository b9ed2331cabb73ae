//! Structured output: the modes a wire format can carry a schema in, the order they are tried,
//! how a 400 that rejects the structured parameter is recognised, and the memory of which mode
//! each (provider, model) accepts. The memory is shared by every client of a registry; the engine
//! seeds it from the store at start and persists what is learned (providers/ never touch the
//! store: learned modes leave through a callback).

use super::classify::WireFormat;
use crate::config::StructuredOutput;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// How the schema of a request travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StructuredMode {
    /// The schema itself: OpenAI `response_format: json_schema`, an Anthropic forced tool call,
    /// Gemini `responseSchema`.
    JsonSchema,
    /// JSON without a schema: OpenAI `response_format: json_object`, Gemini
    /// `responseMimeType` alone. Anthropic has no such mode.
    JsonObject,
    /// No structured parameter: the prompt alone asks for the JSON.
    Off,
}

impl StructuredMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StructuredMode::JsonSchema => "json_schema",
            StructuredMode::JsonObject => "json_object",
            StructuredMode::Off => "off",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "json_schema" => Some(StructuredMode::JsonSchema),
            "json_object" => Some(StructuredMode::JsonObject),
            "off" => Some(StructuredMode::Off),
            _ => None,
        }
    }

    /// 0 is the richest; a lower mode has a higher rank.
    fn rank(self) -> u8 {
        match self {
            StructuredMode::JsonSchema => 0,
            StructuredMode::JsonObject => 1,
            StructuredMode::Off => 2,
        }
    }

    /// The richest mode `format` has.
    pub fn richest(_format: WireFormat) -> Self {
        StructuredMode::JsonSchema
    }

    /// The mode tried after this one was rejected (`None` at the bottom). Anthropic goes from
    /// the tool call straight to the prompt alone.
    pub fn next(self, format: WireFormat) -> Option<Self> {
        match (self, format) {
            (StructuredMode::JsonSchema, WireFormat::Anthropic) => Some(StructuredMode::Off),
            (StructuredMode::JsonSchema, _) => Some(StructuredMode::JsonObject),
            (StructuredMode::JsonObject, _) => Some(StructuredMode::Off),
            (StructuredMode::Off, _) => None,
        }
    }

    /// Every mode of `format`, richest first.
    pub fn chain(format: WireFormat) -> Vec<Self> {
        let mut out = vec![Self::richest(format)];
        while let Some(n) = out.last().and_then(|m| m.next(format)) {
            out.push(n);
        }
        out
    }

    /// The mode a forced setting means for `format` (`None` for auto). A forced `json_object`
    /// on Anthropic, which has none, sends nothing (config validation refuses it where it can).
    pub fn forced(setting: StructuredOutput, format: WireFormat) -> Option<Self> {
        match setting {
            StructuredOutput::Auto => None,
            StructuredOutput::JsonSchema => Some(StructuredMode::JsonSchema),
            StructuredOutput::JsonObject if format == WireFormat::Anthropic => {
                Some(StructuredMode::Off)
            }
            StructuredOutput::JsonObject => Some(StructuredMode::JsonObject),
            StructuredOutput::Off => Some(StructuredMode::Off),
        }
    }
}

/// Words that show a 400/422 is about the structured-output parameter (lowercase).
const NAMES: &[&str] = &[
    "response_format",
    "json_schema",
    "json_object",
    "tool_choice",
    "tool_use",
    "tools",
    "responseschema",
    "response_schema",
    "responsemimetype",
    "response_mime_type",
    "responsejsonschema",
    "response_json_schema",
    "structured",
    "schema",
    "grammar",
    // vLLM's guided decoding (`guided_json`, `guided_decoding_backend`).
    "guided",
];

/// Does this refusal reject the structured-output parameter (so the next mode down may pass)?
/// Only 400 and 422 count, and only when the message names the parameter. A message about the
/// context window is never one: shrinking the prompt is the cure there, not a poorer mode.
pub fn rejects_structured(status: Option<u16>, message: &str) -> bool {
    if !matches!(status, Some(400 | 422)) {
        return false;
    }
    let m = message.to_ascii_lowercase();
    let context = m.contains("context")
        && ["exceed", "too long", "maximum", "length", "size"]
            .iter()
            .any(|w| m.contains(w));
    if context {
        return false;
    }
    if NAMES.iter().any(|n| m.contains(n)) {
        return true;
    }
    // Gemini names the field path; a bad temperature there is not about structured output.
    (m.contains("generationconfig") || m.contains("generation_config"))
        && (m.contains("response") || m.contains("mime"))
}

/// A mode learned for one model of one provider at one base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Learned {
    pub provider: String,
    pub model: String,
    /// The server it was learned from: another base URL starts from the richest mode again.
    pub base_url: String,
    pub mode: StructuredMode,
}

type Sink = Box<dyn Fn(&Learned) + Send + Sync>;

/// The modes learned per (provider, model), shared by a registry's clients.
#[derive(Default)]
pub struct StructuredMemory {
    modes: RwLock<HashMap<(String, String), (String, StructuredMode)>>,
    sink: RwLock<Option<Sink>>,
}

impl std::fmt::Debug for StructuredMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StructuredMemory")
            .field("learned", &self.snapshot().len())
            .finish_non_exhaustive()
    }
}

impl StructuredMemory {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The mode learned for `model` of `provider` at `base_url`, if any.
    pub fn get(&self, provider: &str, model: &str, base_url: &str) -> Option<StructuredMode> {
        let modes = self.modes.read().unwrap_or_else(|e| e.into_inner());
        modes
            .get(&(provider.to_string(), model.to_string()))
            .filter(|(url, _)| url == base_url)
            .map(|(_, m)| *m)
    }

    /// Load modes persisted earlier (the sink is not told).
    pub fn seed(&self, rows: impl IntoIterator<Item = Learned>) {
        let mut modes = self.modes.write().unwrap_or_else(|e| e.into_inner());
        for l in rows {
            modes.insert((l.provider, l.model), (l.base_url, l.mode));
        }
    }

    /// Record a mode just learned and hand it to the sink. A mode is only ever lowered for the
    /// same server (two calls rejected at once may report in any order).
    pub fn learn(&self, l: Learned) {
        {
            let mut modes = self.modes.write().unwrap_or_else(|e| e.into_inner());
            let key = (l.provider.clone(), l.model.clone());
            if let Some((url, m)) = modes.get(&key)
                && *url == l.base_url
                && m.rank() >= l.mode.rank()
            {
                return;
            }
            modes.insert(key, (l.base_url.clone(), l.mode));
        }
        let sink = self.sink.read().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = sink.as_ref() {
            f(&l);
        }
    }

    /// Where learned modes go (the engine persists them).
    pub fn set_sink(&self, f: impl Fn(&Learned) + Send + Sync + 'static) {
        *self.sink.write().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(f));
    }

    /// Every mode known, for diagnostics and tests.
    pub fn snapshot(&self) -> Vec<Learned> {
        let modes = self.modes.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<Learned> = modes
            .iter()
            .map(|((p, m), (url, mode))| Learned {
                provider: p.clone(),
                model: m.clone(),
                base_url: url.clone(),
                mode: *mode,
            })
            .collect();
        out.sort_by(|a, b| (&a.provider, &a.model).cmp(&(&b.provider, &b.model)));
        out
    }
}

/// A schema of the strict subset for the wire formats' unit tests: a verdict enum, a list of
/// objects, and a nullable integer.
#[cfg(test)]
pub(crate) fn sample_schema() -> Arc<super::OutputSchema> {
    let item = serde_json::json!({
        "type": "object",
        "properties": {"path": {"type": "string"}, "line": {"type": ["integer", "null"]}},
        "required": ["path", "line"],
        "additionalProperties": false,
    });
    Arc::new(super::OutputSchema {
        name: "critique",
        description: "The verdict and the defects found.",
        schema: serde_json::json!({
            "type": "object",
            "properties": {
                "verdict": {"type": "string", "enum": ["accept", "revise"]},
                "defects": {"type": "array", "items": item},
            },
            "required": ["verdict", "defects"],
            "additionalProperties": false,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn chains_per_format() {
        use StructuredMode::*;
        assert_eq!(
            StructuredMode::chain(WireFormat::OpenAi),
            vec![JsonSchema, JsonObject, Off]
        );
        assert_eq!(
            StructuredMode::chain(WireFormat::Gemini),
            vec![JsonSchema, JsonObject, Off]
        );
        assert_eq!(
            StructuredMode::chain(WireFormat::Anthropic),
            vec![JsonSchema, Off]
        );
        for m in [JsonSchema, JsonObject, Off] {
            assert_eq!(StructuredMode::parse(m.as_str()), Some(m));
        }
        assert_eq!(StructuredMode::parse("auto"), None);
        assert_eq!(
            StructuredMode::forced(StructuredOutput::JsonObject, WireFormat::Anthropic),
            Some(Off)
        );
        assert_eq!(
            StructuredMode::forced(StructuredOutput::JsonObject, WireFormat::OpenAi),
            Some(JsonObject)
        );
        assert_eq!(
            StructuredMode::forced(StructuredOutput::Auto, WireFormat::OpenAi),
            None
        );
    }

    #[test]
    fn refusals_naming_the_parameter_are_recognised() {
        let yes = [
            (
                400,
                "'response_format' of type 'json_schema' is not supported with this model",
            ),
            (400, "This response_format type is unavailable now"),
            (
                400,
                "Invalid schema for response_format 'task_list': 'required' is required",
            ),
            (422, "json_schema: field required"),
            (400, "tool_choice: forced tool use is not supported"),
            (
                400,
                "Thinking may not be enabled when tool_choice forces tool use.",
            ),
            (400, "tools.0.input_schema: JSON schema is invalid"),
            (
                400,
                "Invalid JSON payload received. Unknown name \"responseSchema\" at 'generation_config': Cannot find field.",
            ),
            (
                400,
                "Unknown name \"additionalProperties\" at 'generation_config.response_schema.properties[0]'",
            ),
            (400, "Failed to parse grammar"),
            (400, "guided_json: unsupported construct"),
            // llama.cpp's llama-server, verbatim.
            (
                400,
                "Unable to generate parser for this template. Automatic parser generation failed: JSON schema error at #/properties/a: cannot resolve $ref #/definitions/nope, definitions not found",
            ),
            (
                400,
                "response_format type must be one of \"text\" or \"json_object\", but got: bogus_mode",
            ),
            (400, "structured outputs are not supported"),
            (400, "GenerationConfig.responseMimeType: invalid"),
        ];
        for (s, m) in yes {
            assert!(rejects_structured(Some(s), m), "{s} {m}");
        }
        let no = [
            (
                400,
                "max_tokens is too large: 100000. This model supports at most 4096 completion tokens",
            ),
            (
                400,
                "request (4145 tokens) exceeds the available context size (4096 tokens)",
            ),
            (
                400,
                "This model's maximum context length is 4096 tokens; the json_schema and messages use 5000",
            ),
            (
                400,
                "Invalid value at 'generation_config.temperature' (TYPE_FLOAT), 3",
            ),
            (400, "messages: roles must alternate"),
            (401, "invalid response_format key"),
            (500, "response_format crashed the server"),
            (429, "schema rate limit"),
        ];
        for (s, m) in no {
            assert!(!rejects_structured(Some(s), m), "{s} {m}");
        }
        assert!(!rejects_structured(None, "response_format"));
    }

    fn learned(model: &str, url: &str, mode: StructuredMode) -> Learned {
        Learned {
            provider: "local".into(),
            model: model.into(),
            base_url: url.into(),
            mode,
        }
    }

    #[test]
    fn memory_lowers_only_tells_the_sink_and_is_per_server() {
        let mem = StructuredMemory::new();
        let told = Arc::new(Mutex::new(Vec::new()));
        let t = told.clone();
        mem.set_sink(move |l| t.lock().unwrap().push(l.clone()));
        mem.seed([learned("a", "http://h/v1", StructuredMode::JsonObject)]);
        assert!(told.lock().unwrap().is_empty(), "seeding is not learning");
        assert_eq!(
            mem.get("local", "a", "http://h/v1"),
            Some(StructuredMode::JsonObject)
        );
        assert_eq!(mem.get("local", "a", "http://other/v1"), None);
        assert_eq!(mem.get("local", "b", "http://h/v1"), None);
        // Raising is refused, lowering is kept and told.
        mem.learn(learned("a", "http://h/v1", StructuredMode::JsonSchema));
        assert_eq!(
            mem.get("local", "a", "http://h/v1"),
            Some(StructuredMode::JsonObject)
        );
        mem.learn(learned("a", "http://h/v1", StructuredMode::Off));
        assert_eq!(
            mem.get("local", "a", "http://h/v1"),
            Some(StructuredMode::Off)
        );
        // Another server replaces what was known.
        mem.learn(learned("a", "http://new/v1", StructuredMode::JsonObject));
        assert_eq!(
            mem.get("local", "a", "http://new/v1"),
            Some(StructuredMode::JsonObject)
        );
        let told = told.lock().unwrap();
        assert_eq!(told.len(), 2);
        assert_eq!(told[0].mode, StructuredMode::Off);
        assert_eq!(told[1].base_url, "http://new/v1");
        assert_eq!(mem.snapshot().len(), 1);
    }
}
