//! Client-side helpers for tests against the loopback server: HTTP clients with short timeouts
//! pointed at a [`MockProvider`], and a standard request.

use super::{MockProvider, MockUsage};
use orchestrator_tui::domain::CallRole;
use orchestrator_tui::providers::{
    ChatRequest, ChatResponse, HttpOptions, HttpProvider, Message, Provider, ProviderError,
    Timeouts, WireFormat,
};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const KEY: &str = "test-key-0123456789";

pub fn fast_timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        first_byte: Duration::from_secs(3),
        idle: Duration::from_secs(2),
        total: Duration::from_secs(10),
    }
}

pub fn client_with(
    server: &MockProvider,
    format: WireFormat,
    stream: bool,
    t: Timeouts,
) -> HttpProvider {
    let base = match format {
        WireFormat::OpenAi => server.openai_base_url(),
        _ => server.base_url(),
    };
    let mut o = HttpOptions::new("test", format, &format!("{base}/"), Some(KEY.into()));
    o.stream = stream;
    o.timeouts = t;
    HttpProvider::new(o).expect("client")
}

pub fn client(server: &MockProvider, format: WireFormat, stream: bool) -> HttpProvider {
    client_with(server, format, stream, fast_timeouts())
}

pub fn req(model: &str) -> ChatRequest {
    ChatRequest {
        model: model.into(),
        system: Some("You are terse.".into()),
        messages: vec![Message {
            role: "user".into(),
            content: "Say hello".into(),
        }],
        max_tokens: 128,
        temperature: Some(0.4),
        role: CallRole::Generate,
        task_type: None,
        attempt: 1,
        schema: None,
        shared_prefix: 0,
        reasoning: Default::default(),
    }
}

pub async fn chat(p: &HttpProvider, model: &str) -> Result<ChatResponse, ProviderError> {
    p.chat(&req(model), &CancellationToken::new()).await
}

pub const FORMATS: [WireFormat; 3] = [
    WireFormat::Anthropic,
    WireFormat::OpenAi,
    WireFormat::Gemini,
];

pub const USAGE: MockUsage = MockUsage {
    input: 40,
    cached: 60,
    output: 25,
    reasoning: 7,
};

pub fn short(idle_ms: u64, first_byte_ms: u64, total_ms: u64) -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        first_byte: Duration::from_millis(first_byte_ms),
        idle: Duration::from_millis(idle_ms),
        total: Duration::from_millis(total_ms),
    }
}
