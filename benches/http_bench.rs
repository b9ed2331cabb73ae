//! Client overhead benchmark: the loopback provider server (tests/support/loopback) answering instantly,
//! called through our `HttpProvider` and through a bare reqwest request with the same URL,
//! headers and body (the bare call only reads the bytes; ours encodes, parses SSE/JSON and
//! normalises usage).
//!
//! `cargo bench --bench http_bench [-- --requests N --concurrency C --secs S]`
//!
//! Prints one JSON document: per format and mode, p50/p90/p99 latency of both paths measured
//! interleaved (sequential, one request at a time), the per-pair added latency percentiles, and
//! the requests/s both paths reach with C concurrent callers for S seconds.

#[path = "../tests/support/loopback/mod.rs"]
mod support;

use orchestrator_tui::domain::CallRole;
use orchestrator_tui::providers::{
    ChatRequest, HttpOptions, HttpProvider, Message, Provider, Timeouts, WireFormat,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::{MockProvider, MockUsage, Reply};
use tokio_util::sync::CancellationToken;

const KEY: &str = "bench-key";

struct Args {
    requests: usize,
    concurrency: usize,
    secs: f64,
}

fn args() -> Args {
    let mut a = Args {
        requests: 3000,
        concurrency: 16,
        secs: 2.0,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    for w in v.windows(2) {
        match w[0].as_str() {
            "--requests" => a.requests = w[1].parse().unwrap_or(a.requests),
            "--concurrency" => a.concurrency = w[1].parse().unwrap_or(a.concurrency),
            "--secs" => a.secs = w[1].parse().unwrap_or(a.secs),
            _ => {}
        }
    }
    a
}

fn request() -> ChatRequest {
    ChatRequest {
        model: "bench-model".into(),
        system: Some("You are a benchmark.".into()),
        messages: vec![Message {
            role: "user".into(),
            content: "Reply with a short sentence about latency.".into(),
        }],
        max_tokens: 64,
        temperature: Some(0.2),
        role: CallRole::Generate,
        task_type: None,
        attempt: 1,
        schema: None,
        shared_prefix: 0,
        reasoning: Default::default(),
    }
}

/// The bare request: same URL, headers and body, body read as bytes and dropped.
struct Raw {
    client: reqwest::Client,
    url: String,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Raw {
    fn new(p: &HttpProvider, format: WireFormat, stream: bool, req: &ChatRequest) -> Raw {
        let mut headers = reqwest::header::HeaderMap::new();
        let hv = |s: &str| reqwest::header::HeaderValue::from_str(s).expect("header");
        match format {
            WireFormat::Anthropic => {
                headers.insert("x-api-key", hv(KEY));
                headers.insert("anthropic-version", hv("2023-06-01"));
            }
            WireFormat::OpenAi => {
                headers.insert("authorization", hv(&format!("Bearer {KEY}")));
            }
            WireFormat::Gemini => {
                headers.insert("x-goog-api-key", hv(KEY));
            }
        }
        headers.insert("content-type", hv("application/json"));
        Raw {
            client: reqwest::Client::builder()
                .tcp_nodelay(true)
                .build()
                .expect("client"),
            url: p.endpoint(&req.model, stream),
            headers,
            body: serde_json::to_vec(&p.request_body(req, stream)).expect("body"),
        }
    }

    async fn call(&self) -> bool {
        let r = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .body(self.body.clone())
            .send()
            .await;
        match r {
            Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
            _ => false,
        }
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(mut v: Vec<f64>) -> Value {
    v.sort_by(|a, b| a.total_cmp(b));
    let r = |x: f64| (x * 1000.0).round() / 1000.0;
    json!({"p50_us": r(pct(&v, 0.5)), "p90_us": r(pct(&v, 0.9)), "p99_us": r(pct(&v, 0.99))})
}

async fn throughput<F, Fut>(concurrency: usize, secs: f64, f: F) -> (f64, u64)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let f = Arc::new(f);
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (f, ok, errors, stop) = (f.clone(), ok.clone(), errors.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if f().await {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let n = ok.load(Ordering::Relaxed);
    (
        n as f64 / start.elapsed().as_secs_f64(),
        errors.load(Ordering::Relaxed),
    )
}

async fn bench_one(server: &MockProvider, format: WireFormat, stream: bool, a: &Args) -> Value {
    let base = match format {
        WireFormat::OpenAi => server.openai_base_url(),
        _ => server.base_url(),
    };
    let mut o = HttpOptions::new("bench", format, &base, Some(KEY.into()));
    o.stream = stream;
    o.timeouts = Timeouts {
        connect: Duration::from_secs(5),
        first_byte: Duration::from_secs(10),
        idle: Duration::from_secs(10),
        total: Duration::from_secs(30),
    };
    let ours = Arc::new(HttpProvider::new(o).expect("client"));
    let req = Arc::new(request());
    let raw = Arc::new(Raw::new(&ours, format, stream, &req));
    let cancel = CancellationToken::new();

    // Warm up both pools.
    for _ in 0..200 {
        let _ = ours.chat(&req, &cancel).await;
        raw.call().await;
    }
    let (mut t_ours, mut t_raw, mut added) = (Vec::new(), Vec::new(), Vec::new());
    let mut errors = 0u64;
    for i in 0..a.requests {
        // Alternate which goes first so neither path always gets the warmer cache.
        let mut pair = [0.0f64; 2];
        for k in 0..2 {
            let which = (i + k) % 2;
            let t = Instant::now();
            let ok = if which == 0 {
                ours.chat(&req, &cancel).await.is_ok()
            } else {
                raw.call().await
            };
            pair[which] = t.elapsed().as_secs_f64() * 1e6;
            errors += u64::from(!ok);
        }
        t_ours.push(pair[0]);
        t_raw.push(pair[1]);
        added.push(pair[0] - pair[1]);
    }
    let (rps_ours, err_ours) = {
        let (p, r, c) = (ours.clone(), req.clone(), cancel.clone());
        throughput(a.concurrency, a.secs, move || {
            let (p, r, c) = (p.clone(), r.clone(), c.clone());
            async move { p.chat(&r, &c).await.is_ok() }
        })
        .await
    };
    let (rps_raw, err_raw) = {
        let raw = raw.clone();
        throughput(a.concurrency, a.secs, move || {
            let raw = raw.clone();
            async move { raw.call().await }
        })
        .await
    };
    json!({
        "format": format.as_str(),
        "stream": stream,
        "sequential_requests": a.requests,
        "latency_ours": summary(t_ours),
        "latency_raw": summary(t_raw),
        "added_per_pair": summary(added),
        "errors_sequential": errors,
        "throughput": {
            "concurrency": a.concurrency,
            "secs": a.secs,
            "ours_rps": rps_ours.round(),
            "raw_rps": rps_raw.round(),
            "ours_errors": err_ours,
            "raw_errors": err_raw,
        },
    })
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let server = MockProvider::start().await;
        server.set_recording(false);
        server.set_default(
            Reply::text("Latency is the time between asking and hearing back.")
                .chunks(6)
                .usage(MockUsage {
                    input: 20,
                    cached: 8,
                    output: 12,
                    reasoning: 0,
                }),
        );
        let mut results = Vec::new();
        for format in [
            WireFormat::OpenAi,
            WireFormat::Anthropic,
            WireFormat::Gemini,
        ] {
            for stream in [true, false] {
                results.push(bench_one(&server, format, stream, &a).await);
            }
        }
        let out = json!({
            "bench": "http_client_overhead",
            "server": "tests/support loopback (HTTP/1.1 keep-alive, same process)",
            "runtime_workers": 2,
            "results": results,
            "connections_accepted": server.connections(),
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    });
}
