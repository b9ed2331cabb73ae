//! Asking a local server how large a model's context window is, when neither the catalog nor the
//! config says: llama.cpp `GET /props` (`default_generation_settings.n_ctx`, the per-slot window a
//! request gets), vLLM `GET /v1/models` (`data[].max_model_len`), Ollama `POST /api/show`
//! (`num_ctx` in `parameters`, else `model_info.<arch>.context_length` capped at its default
//! serving window). Bounded (short timeouts, small bodies, no redirects, no proxy, no key sent)
//! and never an error: a server that does not answer leaves the window unknown.

use serde_json::Value;
use std::net::IpAddr;
use std::time::Duration;

/// Windows believed from a server; anything else is ignored.
pub const SANE: std::ops::RangeInclusive<u64> = super::overflow::SANE_WINDOW;
/// Largest discovery answer read (llama.cpp's `/props` carries the chat template: a few KiB).
const MAX_BODY: usize = 256 * 1024;
/// Each discovery request, connect included.
const TIMEOUT: Duration = Duration::from_secs(3);
/// The window Ollama serves a model with when nothing sets `num_ctx` (its OpenAI endpoint cuts
/// longer prompts silently instead of refusing them, so a larger training length would mislead).
const OLLAMA_DEFAULT_CTX: u64 = 4096;

/// True for a base URL on this machine or a private network (`localhost`, loopback, RFC 1918,
/// IPv6 unique-local or link-local): the servers worth asking. Remote APIs are never probed.
pub fn is_local(base_url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(base_url) else {
        return false;
    };
    let Some(host) = url.host_str() else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") || host.ends_with(".localhost") {
        return true;
    }
    let ip: Option<IpAddr> = host.trim_matches(['[', ']']).parse().ok();
    match ip {
        Some(IpAddr::V4(v4)) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        Some(IpAddr::V6(v6)) => {
            let first = v6.segments()[0];
            v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
        None => false,
    }
}

/// The server root of an OpenAI-format base URL: without a trailing `/v1` (llama.cpp's `/props`
/// and Ollama's `/api/show` are at the root).
pub fn server_root(base_url: &str) -> String {
    let b = base_url.trim_end_matches('/');
    b.strip_suffix("/v1").unwrap_or(b).to_string()
}

/// A window value from untrusted JSON: a non-negative integer within [`SANE`].
fn window(v: Option<&Value>) -> Option<u64> {
    let n = v?.as_u64()?;
    SANE.contains(&n).then_some(n)
}

/// llama.cpp `/props`: `default_generation_settings.n_ctx` (per slot).
pub fn parse_llama_props(v: &Value) -> Option<u64> {
    window(v.get("default_generation_settings")?.get("n_ctx"))
}

/// vLLM `/v1/models`: `max_model_len` of the entry with this id (or of the only entry).
pub fn parse_vllm_models(v: &Value, model: &str) -> Option<u64> {
    let data = v.get("data")?.as_array()?;
    let entry = data
        .iter()
        .find(|e| e.get("id").and_then(Value::as_str) == Some(model))
        .or_else(|| (data.len() == 1).then(|| &data[0]))?;
    window(entry.get("max_model_len"))
}

/// Ollama `/api/show`: `num_ctx` from the `parameters` text when set, else the model's
/// `<arch>.context_length` capped at Ollama's default serving window.
pub fn parse_ollama_show(v: &Value) -> Option<u64> {
    let num_ctx = v
        .get("parameters")
        .and_then(Value::as_str)
        .and_then(|p| {
            p.lines().find_map(|l| {
                let mut it = l.split_whitespace();
                (it.next() == Some("num_ctx"))
                    .then(|| it.next()?.parse::<u64>().ok())
                    .flatten()
            })
        })
        .filter(|n| SANE.contains(n));
    if num_ctx.is_some() {
        return num_ctx;
    }
    let info = v.get("model_info")?.as_object()?;
    let arch = info.get("general.architecture").and_then(Value::as_str);
    let trained = match arch {
        Some(a) => window(info.get(&format!("{a}.context_length"))),
        None => None,
    }
    .or_else(|| {
        info.iter()
            .filter(|(k, _)| k.ends_with(".context_length"))
            .find_map(|(_, v)| window(Some(v)))
    })?;
    Some(trained.min(OLLAMA_DEFAULT_CTX))
}

/// Ask the server behind `base_url` (an OpenAI-format base, `/v1` included) for `model`'s
/// window: llama.cpp, then vLLM, then Ollama. `None` when none answers usefully.
pub async fn discover(base_url: &str, model: &str) -> Option<u64> {
    // The same certificate authorities as the calls (a local server behind a private CA).
    let trust = super::tls::Trust::from_env().ok()?;
    let client = trust
        .apply(reqwest::Client::builder())
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .ok()?;
    let root = server_root(base_url);
    let base = base_url.trim_end_matches('/');
    if let Some(v) = get_json(client.get(format!("{root}/props"))).await
        && let Some(n) = parse_llama_props(&v)
    {
        return Some(n);
    }
    if let Some(v) = get_json(client.get(format!("{base}/models"))).await
        && let Some(n) = parse_vllm_models(&v, model)
    {
        return Some(n);
    }
    let show = client
        .post(format!("{root}/api/show"))
        .json(&serde_json::json!({ "model": model }));
    get_json(show).await.and_then(|v| parse_ollama_show(&v))
}

/// The JSON of a 200 answer no larger than [`MAX_BODY`], else `None`.
async fn get_json(req: reqwest::RequestBuilder) -> Option<Value> {
    let mut resp = req.send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return None;
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.ok()? {
        if body.len() + chunk.len() > MAX_BODY {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn local_means_this_machine_or_a_private_network() {
        for u in [
            "http://127.0.0.1:8080/v1",
            "http://localhost:11434/v1",
            "http://[::1]:8000/v1",
            "http://192.168.1.20:8080",
            "http://10.0.0.5/v1",
            "http://172.16.3.4:8000/v1",
            "http://[fd00::1]:8080",
        ] {
            assert!(is_local(u), "{u}");
        }
        for u in [
            "https://api.openai.com/v1",
            "https://8.8.8.8/v1",
            "http://172.32.0.1/v1",
            "not a url",
            "http://[2001:db8::1]/v1",
        ] {
            assert!(!is_local(u), "{u}");
        }
        assert_eq!(server_root("http://h:1/v1/"), "http://h:1");
        assert_eq!(server_root("http://h:1/v1"), "http://h:1");
        assert_eq!(server_root("http://h:1"), "http://h:1");
    }

    #[test]
    fn each_servers_answer_is_read() {
        let llama = json!({"default_generation_settings": {"n_ctx": 8192, "params": {}}, "total_slots": 4, "chat_template": "..."});
        assert_eq!(parse_llama_props(&llama), Some(8192));
        let vllm = json!({"object": "list", "data": [
            {"id": "other", "max_model_len": 32768},
            {"id": "qwen", "max_model_len": 4096}]});
        assert_eq!(parse_vllm_models(&vllm, "qwen"), Some(4096));
        assert_eq!(parse_vllm_models(&vllm, "missing"), None);
        let one = json!({"data": [{"id": "served-name", "max_model_len": 2048}]});
        assert_eq!(parse_vllm_models(&one, "alias"), Some(2048));
        // llama.cpp's /v1/models has no max_model_len: not read as a window.
        let llama_models = json!({"data": [{"id": "smollm2", "meta": {"n_ctx_train": 8192}}]});
        assert_eq!(parse_vllm_models(&llama_models, "smollm2"), None);
        let ollama = json!({"parameters": "stop \"<|im_end|>\"\nnum_ctx 8192",
            "model_info": {"general.architecture": "llama", "llama.context_length": 131072}});
        assert_eq!(parse_ollama_show(&ollama), Some(8192));
        let ollama =
            json!({"model_info": {"general.architecture": "qwen2", "qwen2.context_length": 2048}});
        assert_eq!(parse_ollama_show(&ollama), Some(2048));
        let ollama = json!({"model_info": {"general.architecture": "llama", "llama.context_length": 131072}});
        assert_eq!(parse_ollama_show(&ollama), Some(OLLAMA_DEFAULT_CTX));
    }

    #[test]
    fn hostile_values_leave_the_window_unknown() {
        for bad in [
            json!(-1),
            json!(0),
            json!(12),
            json!(1.5e12),
            json!("8192"),
            json!(null),
            json!(u64::MAX),
            json!([8192]),
        ] {
            let props = json!({"default_generation_settings": {"n_ctx": bad.clone()}});
            assert_eq!(parse_llama_props(&props), None, "{bad}");
            let vllm = json!({"data": [{"id": "m", "max_model_len": bad.clone()}]});
            assert_eq!(parse_vllm_models(&vllm, "m"), None, "{bad}");
            let ollama = json!({"model_info": {"general.architecture": "x", "x.context_length": bad.clone()}});
            assert_eq!(parse_ollama_show(&ollama), None, "{bad}");
        }
        assert_eq!(parse_llama_props(&json!([])), None);
        assert_eq!(parse_vllm_models(&json!({"data": "x"}), "m"), None);
        let p = json!({"parameters": "num_ctx 99999999999999999999\nnum_ctx abc"});
        assert_eq!(parse_ollama_show(&p), None);
    }
}
