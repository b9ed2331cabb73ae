//! Networks people actually have (issue 17 §5): HTTPS to a server whose certificate only a
//! private CA vouches for (what an inspecting corporate proxy does), reached when `SSL_CERT_FILE`
//! or `SSL_CERT_DIR` names the CA and refused without it; `HTTPS_PROXY` / `HTTP_PROXY` through a
//! loopback proxy and `NO_PROXY` around it; per-provider `timeout_secs` and `headers`; and the
//! key in no error, log, stored file or proxy-visible header on any of these paths.
//!
//! Environment variables are set on the child binary only (tests share this process), or the
//! trust is passed to the client directly.

use crate::support::binary::{BIN, code};
use crate::support::loopback::proxy::ConnectProxy;
use crate::support::loopback::tls::{TestCa, TlsFront};
use crate::support::loopback::{MockProvider, Reply};
use orchestrator_tui::config::{Config, ProviderConfig, ProviderKind};
use orchestrator_tui::providers::tls::Trust;
use orchestrator_tui::providers::{
    ChatRequest, HttpOptions, HttpProvider, Message, Provider, ProviderError,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const KEY: &str = "sk-net-test-4e8a1c9d7b2f6035";
const KEY_VAR: &str = "ORCH_NET_TEST_KEY";

fn req(model: &str) -> ChatRequest {
    ChatRequest {
        model: model.into(),
        system: None,
        messages: vec![Message {
            role: "user".into(),
            content: "hi".into(),
        }],
        max_tokens: 64,
        temperature: None,
        role: orchestrator_tui::domain::CallRole::Generate,
        task_type: None,
        attempt: 1,
        schema: None,
        shared_prefix: 0,
        reasoning: Default::default(),
    }
}

/// The key, or any 8+ character piece of its secret part, in `text`.
fn leaks(text: &str) -> bool {
    let secret = &KEY["sk-net-".len()..];
    text.contains(KEY) || (0..=secret.len() - 8).any(|i| text.contains(&secret[i..i + 8]))
}

/// Every file under `dir` (logs, the database and its WAL, artifacts): none holds the key.
fn assert_no_key_under(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                let text = String::from_utf8_lossy(&bytes);
                assert!(!leaks(&text), "the key is in {}", p.display());
            }
        }
    }
}

/// A temp dir with a one-task plan and a config whose provider `corp` (OpenAI format, key
/// from `KEY_VAR`) is at `base_url`.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(base_url: &str, extra: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "[providers.corp]\nkind = \"openai\"\nbase_url = \"{base_url}\"\napi_key_env = \"{KEY_VAR}\"\n\
             models = [\"corp-model\"]\n{extra}\n\
             [retry]\nmax_retries = 1\nbackoff_base_ms = 1\nbackoff_cap_ms = 2\n[routing]\nexplore_rate = 0.0\n"
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        std::fs::write(
            dir.path().join("plan.json"),
            r#"[{"id": "a", "type": "summarization", "prompt": "Summarise A", "max_iterations": 1}]"#,
        )
        .unwrap();
        Setup { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `run` of the plan, with `env` set on the child (and no proxy or CA variable inherited).
    fn run(&self, env: &[(&str, &str)]) -> Command {
        let mut c = Command::new(BIN);
        let extra = ["SSL_CERT_FILE", "SSL_CERT_DIR", "REQUEST_METHOD"];
        for k in crate::support::binary::CLEARED_ENV.iter().chain(&extra) {
            c.env_remove(k);
        }
        c.env(KEY_VAR, KEY)
            .arg("--data-dir")
            .arg(self.path("data"))
            .arg("--config")
            .arg(self.path("config.toml"))
            .args(["run", "--plan"])
            .arg(self.path("plan.json"))
            .args(["--budget", "1", "--json"]);
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }
}

async fn output(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().expect("run binary"))
        .await
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {}\nstdout: {}\nstderr: {}",
        code(o),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The run made its calls (exit 0, or 4 when the mock's answer scored below the threshold)
/// and nothing anywhere holds the key.
fn assert_done(s: &Setup, o: &Output) {
    let all = text(o);
    assert!(matches!(code(o), 0 | 4), "{all}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON result");
    assert!(v["calls_ok"].as_u64().unwrap_or(0) >= 1, "{all}");
    assert!(!leaks(&all), "{all}");
    assert_no_key_under(&s.path("data"));
}

/// The run failed on the provider and nothing anywhere holds the key.
fn assert_failed(s: &Setup, o: &Output) -> String {
    let all = text(o);
    assert!(!matches!(code(o), 0 | 4), "{all}");
    assert!(!leaks(&all), "{all}");
    assert_no_key_under(&s.path("data"));
    all
}

/// The error messages the run recorded for its calls (`show --json`) and its log file.
fn recorded_errors(s: &Setup) -> String {
    let mut out = String::new();
    let logs = s.path("data").join("logs");
    if let Ok(entries) = std::fs::read_dir(&logs) {
        for e in entries.flatten() {
            out.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    let db = rusqlite::Connection::open(s.path("data").join("orchestrator.db")).unwrap();
    let mut q = db.prepare("SELECT COALESCE(error, '') FROM calls").unwrap();
    for e in q.query_map([], |r| r.get::<_, String>(0)).unwrap() {
        out.push_str(&e.unwrap());
        out.push('\n');
    }
    out
}

async fn https_server() -> (MockProvider, TestCa, TlsFront) {
    let server = MockProvider::start().await;
    server.set_default(Reply::text("summary over https"));
    let ca = TestCa::new();
    let front = TlsFront::start(&ca, server.addr()).await;
    (server, ca, front)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_private_ca_is_reached_with_ssl_cert_file_and_refused_without() {
    let (server, ca, front) = https_server().await;

    // Without the CA: refused at the handshake, the request never sent, a TLS error that says
    // which provider and host and what to do.
    let s = Setup::new(&front.openai_base_url(), "");
    let o = output(s.run(&[])).await;
    let all = assert_failed(&s, &o);
    assert!(front.refused() >= 1, "no handshake was refused: {all}");
    assert_eq!(front.handshakes(), 0);
    assert!(server.requests().is_empty());
    let errors = recorded_errors(&s);
    let host = front.addr().to_string();
    assert!(
        errors.contains(&format!(
            "TLS: provider `corp`: the certificate of {host} is not trusted"
        )) && errors.contains("SSL_CERT_FILE"),
        "{errors}"
    );
    assert!(
        all.contains(&format!(
            "TLS: provider `corp`: the certificate of {host} is not trusted (UnknownIssuer)"
        )),
        "the person running it is told: {all}"
    );
    // A transient fault, retried a bounded number of times (max_retries = 1: 2 handshakes
    // per candidate call, never an endless loop).
    assert!(front.refused() <= 8, "{} handshakes", front.refused());

    // With SSL_CERT_FILE naming the CA: reached, the key sent as the bearer token.
    let s = Setup::new(&front.openai_base_url(), "");
    let pem = ca.write_pem(s.dir.path(), "corp-ca.pem");
    let o = output(s.run(&[("SSL_CERT_FILE", pem.to_str().unwrap())])).await;
    assert_done(&s, &o);
    assert!(front.handshakes() >= 1);
    let r = server.last_request();
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_cert_dir_is_trusted_too_and_a_bad_ssl_cert_file_is_named() {
    let (server, ca, front) = https_server().await;
    let s = Setup::new(&front.openai_base_url(), "");
    let dir = s.path("certs");
    std::fs::create_dir(&dir).unwrap();
    ca.write_pem(&dir, "corp.pem");
    let o = output(s.run(&[("SSL_CERT_DIR", dir.to_str().unwrap())])).await;
    assert_done(&s, &o);
    assert!(!server.requests().is_empty());

    // A file that is not there: exit 2 before any call, naming the variable and the path.
    let missing = s.path("nope.pem");
    let o = output(s.run(&[("SSL_CERT_FILE", missing.to_str().unwrap())])).await;
    let all = text(&o);
    assert_eq!(code(&o), 2, "{all}");
    assert!(
        all.contains(&format!(
            "TLS trust: SSL_CERT_FILE={}: cannot read it",
            missing.display()
        )),
        "{all}"
    );
    assert!(!leaks(&all), "{all}");
    // A file with no certificate in it.
    let junk = s.path("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let o = output(s.run(&[("SSL_CERT_FILE", junk.to_str().unwrap())])).await;
    let all = text(&o);
    assert_eq!(code(&o), 2, "{all}");
    assert!(
        all.contains(&format!(
            "SSL_CERT_FILE={}: no PEM certificate",
            junk.display()
        )),
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_proxy_tunnels_with_connect_and_no_proxy_goes_around_it() {
    let (server, ca, front) = https_server().await;
    let proxy = ConnectProxy::start().await;
    let s = Setup::new(&front.openai_base_url(), "");
    let pem = ca.write_pem(s.dir.path(), "corp-ca.pem");
    let pem = pem.to_str().unwrap();

    // Through the proxy: a CONNECT tunnel to the server, which still sees the key (inside TLS);
    // the proxy never does.
    let o = output(s.run(&[("SSL_CERT_FILE", pem), ("HTTPS_PROXY", &proxy.url())])).await;
    assert_done(&s, &o);
    assert!(proxy.tunnels() >= 1, "no tunnel: {}", text(&o));
    let host = front.addr().to_string();
    assert!(
        proxy.targets().iter().all(|t| t == &host),
        "{:?}",
        proxy.targets()
    );
    let heads = proxy.heads().join("");
    assert!(heads.starts_with(&format!("CONNECT {host} ")), "{heads}");
    assert!(!leaks(&heads), "{heads}");
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("authorization").is_some())
    );

    // NO_PROXY naming the host: straight there, no new tunnel. (No loopback bypass is built
    // in: 127.0.0.1 goes through HTTPS_PROXY unless NO_PROXY lists it.)
    let tunnels = proxy.tunnels();
    let served = server.requests().len();
    let s2 = Setup::new(&front.openai_base_url(), "");
    let o = output(s2.run(&[
        ("SSL_CERT_FILE", pem),
        ("HTTPS_PROXY", &proxy.url()),
        ("NO_PROXY", "localhost,127.0.0.1"),
    ]))
    .await;
    assert_done(&s2, &o);
    assert_eq!(proxy.tunnels(), tunnels, "NO_PROXY was not honoured");
    assert!(server.requests().len() > served);

    // A proxy that is down: the run fails without reaching the server, and says nothing of
    // the key or of the proxy's credentials.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let served = server.requests().len();
    let s3 = Setup::new(&front.openai_base_url(), "");
    let o = output(s3.run(&[
        ("SSL_CERT_FILE", pem),
        (
            "HTTPS_PROXY",
            &format!("http://corp-user:proxy-pass-5150@{dead}"),
        ),
    ]))
    .await;
    let all = assert_failed(&s3, &o);
    // Nor of the proxy's password.
    assert!(!all.contains("proxy-pass-5150"), "{all}");
    assert!(!recorded_errors(&s3).contains("proxy-pass-5150"));
    assert_eq!(server.requests().len(), served);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_proxy_forwards_plain_http() {
    let server = MockProvider::start().await;
    server.set_default(Reply::text("summary over http"));
    let proxy = ConnectProxy::start().await;
    let s = Setup::new(&server.openai_base_url(), "");
    let o = output(s.run(&[("HTTP_PROXY", &proxy.url())])).await;
    assert_done(&s, &o);
    assert!(proxy.forwarded() >= 1, "{}", text(&o));
    assert_eq!(proxy.tunnels(), 0);
    assert_eq!(
        proxy.targets().first().map(String::as_str),
        Some(server.addr().to_string().as_str())
    );
    // Plain HTTP: the proxy sees the request, path included (the reason to use https).
    assert!(
        proxy.heads()[0].starts_with(&format!(
            "POST {}/chat/completions HTTP/1.1",
            server.openai_base_url()
        )),
        "{:?}",
        proxy.heads()
    );
}

/// In-process: the trust passed to the client (no environment involved).
fn tls_client(front: &TlsFront, trust: Trust) -> HttpProvider {
    let mut o = HttpOptions::new(
        "corp",
        orchestrator_tui::providers::classify::WireFormat::OpenAi,
        &front.openai_base_url(),
        Some(KEY.into()),
    );
    o.trust = Some(Arc::new(trust));
    HttpProvider::new(o).unwrap()
}

#[tokio::test]
async fn the_trust_given_to_a_client_decides_and_the_error_is_transient() {
    let (server, ca, front) = https_server().await;
    let dir = tempfile::tempdir().unwrap();
    let pem = ca.write_pem(dir.path(), "ca.pem");
    let ok = tls_client(&front, Trust::load(Some(&pem), &[], false).unwrap());
    let r = ok
        .chat(&req("corp-model"), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(r.text, "summary over https");

    let refused = tls_client(&front, Trust::webpki_only());
    let e = refused
        .chat(&req("corp-model"), &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::Transient { .. }), "{e:?}");
    let m = e.to_string();
    assert!(
        m.contains(&format!(
            "TLS: provider `corp`: the certificate of {} is not trusted (UnknownIssuer)",
            front.addr()
        )),
        "{m}"
    );
    assert!(!leaks(&m), "{m}");
    assert_eq!(server.requests().len(), 1, "the refused call sent nothing");
}

fn config(text: &str) -> Result<Config, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(Some(&path)).map_err(|e| e.to_string())
}

fn provider_at(cfg: &Config, name: &str) -> Arc<dyn Provider> {
    orchestrator_tui::providers::http::build(name, &cfg.providers[name], Some(KEY.into()), cfg)
        .unwrap()
}

#[tokio::test]
async fn timeout_secs_is_the_providers_own_call_limit() {
    let server = MockProvider::start().await;
    // Stalls 2 s before its first byte.
    server.script(
        "slow-model",
        [Reply::text("late").first_byte_delay(Duration::from_secs(2))],
    );
    let base = server.openai_base_url();
    // `tight` gives up after 1 s although [timeouts] allows 300; `patient` waits 30 s
    // although [timeouts] total_secs is 1.
    let cfg = config(&format!(
        "[timeouts]\ntotal_secs = 1\n\
         [providers.tight]\nkind = \"openai\"\nbase_url = \"{base}\"\ntimeout_secs = 1\n\
         [providers.patient]\nkind = \"openai\"\nbase_url = \"{base}\"\ntimeout_secs = 30\n\
         [providers.global]\nkind = \"openai\"\nbase_url = \"{base}\"\n"
    ))
    .unwrap();
    assert_eq!(cfg.providers["tight"].timeout_secs, Some(1));
    let cancel = CancellationToken::new();
    let e = provider_at(&cfg, "tight")
        .chat(&req("slow-model"), &cancel)
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::Transient { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("timeout: the total timeout elapsed (1 s)"),
        "{e}"
    );
    assert!(!leaks(&e.to_string()));
    let e = provider_at(&cfg, "global")
        .chat(&req("slow-model"), &cancel)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("total timeout"), "{e}");
    let r = provider_at(&cfg, "patient")
        .chat(&req("slow-model"), &cancel)
        .await
        .unwrap();
    assert_eq!(r.text, "late");
}

#[test]
fn timeout_secs_must_be_positive_and_sane() {
    for bad in ["0", "86401"] {
        let e = config(&format!(
            "[providers.local]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\ntimeout_secs = {bad}\n"
        ))
        .unwrap_err();
        assert!(e.contains("providers.local.timeout_secs"), "{e}");
        assert!(e.contains("between 1 and 86400"), "{e}");
    }
    let e = config("[providers.local]\ntimeout_secs = \"soon\"\n").unwrap_err();
    assert!(e.contains("timeout_secs"), "{e}");
}

#[tokio::test]
async fn extra_headers_reach_every_format_and_stay_out_of_dumps() {
    let server = MockProvider::start().await;
    server.set_default(Reply::text("ok"));
    for (kind, base, model) in [
        ("openai", server.openai_base_url(), "m1"),
        ("anthropic", server.base_url(), "claude-x"),
        ("gemini", server.base_url(), "gemini-x"),
    ] {
        let pc = ProviderConfig {
            kind: Some(match kind {
                "openai" => ProviderKind::Openai,
                "anthropic" => ProviderKind::Anthropic,
                _ => ProviderKind::Gemini,
            }),
            base_url: Some(base),
            headers: [("X-Project".to_string(), "proj-hdr-value-91".to_string())].into(),
            ..Default::default()
        };
        let p = orchestrator_tui::providers::http::build(
            "corp",
            &pc,
            Some(KEY.into()),
            &Config::default(),
        )
        .unwrap();
        p.chat(&req(model), &CancellationToken::new())
            .await
            .unwrap();
        let r = server.last_request();
        assert_eq!(r.header("x-project"), Some("proj-hdr-value-91"), "{kind}");
        assert_eq!(
            r.header("user-agent")
                .map(|u| u.starts_with("orchestrator-tui/")),
            Some(true)
        );
    }
    // Debug output of the options names the header but shows neither its value nor the key.
    let mut o = HttpOptions::new(
        "corp",
        orchestrator_tui::providers::classify::WireFormat::OpenAi,
        &server.openai_base_url(),
        Some(KEY.into()),
    );
    o.headers = vec![("X-Project".into(), "proj-hdr-value-91".into())];
    let dump = format!("{o:?}");
    assert!(dump.contains("X-Project"), "{dump}");
    assert!(
        !dump.contains("proj-hdr-value-91") && !leaks(&dump),
        "{dump}"
    );
    // A header that would carry a credential is refused, naming it, never its value.
    for name in [
        "Authorization",
        "x-api-key",
        "X-Goog-Api-Key",
        "api-key",
        "Proxy-Authorization",
    ] {
        let e = config(&format!(
            "[providers.corp]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n\
             headers = {{ \"{name}\" = \"{KEY}\" }}\n"
        ))
        .unwrap_err();
        assert!(e.contains(name) && e.contains("api_key_env"), "{e}");
        assert!(!leaks(&e), "{e}");
    }
}
