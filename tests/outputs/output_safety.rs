//! Terminal injection and key leaks (issue 14 §5), on the real binary against the loopback
//! provider server (OpenAI format).
//!
//! - A provider error body, a run description, a team name and a folder name carrying
//!   `ESC ]0;title BEL` and `ESC [2J` reach no text output (stdout, stderr progress, `show`,
//!   `runs`, `budget`, `analyze` text and Markdown, the run's README.md) as escape sequences;
//!   JSON keeps the data, escaped.
//! - A key echoed in an error body where the 300-byte display cut falls inside it leaves no
//!   fragment of 8 or more of its characters anywhere: stdout, stderr, `show --json`, files of the
//!   data dir (database, logs, summary.json).

use crate::support::binary::{BIN, code, flat_plan, stderr};
use crate::support::loopback::{MockProvider, Reply};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const KEY_VARS: [&str; 9] = [
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "MOONSHOT_API_KEY",
    "KIMI_API_KEY",
    "DEEPSEEK_API_KEY",
    "ORCHESTRATOR_CONFIG",
    "ORCHESTRATOR_DATA_DIR",
];

/// Retitle the terminal, clear it, move home; as JSON string escapes (the server's body is JSON).
const HOSTILE_JSON: &str = r"\u001b]0;pwned\u0007\u001b[2J\u001b[H";
/// The same as raw characters (a description, a team name, a folder name).
const HOSTILE: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[H";

struct Loopback {
    dir: tempfile::TempDir,
    server: MockProvider,
    key: &'static str,
}

impl Loopback {
    async fn new(key: &'static str, reply: Reply) -> Loopback {
        let server = MockProvider::start().await;
        server.set_default(reply);
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "[providers.openai]\nbase_url = \"{}\"\n[retry]\nbackoff_base_ms = 1\nbackoff_cap_ms = 5\n",
            server.openai_base_url()
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        Loopback { dir, server, key }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut c = Command::new(BIN);
        for k in KEY_VARS {
            c.env_remove(k);
        }
        c.env("OPENAI_API_KEY", self.key)
            .arg("--data-dir")
            .arg(self.data())
            .arg("--config")
            .arg(self.dir.path().join("config.toml"))
            .args(args)
            .output()
            .expect("run binary")
    }

    fn plan(&self, n: usize) -> String {
        let p = self.dir.path().join("plan.json");
        std::fs::write(&p, flat_plan(n)).unwrap();
        p.display().to_string()
    }
}

/// No escape sequence introducer (7-bit ESC, 8-bit CSI/OSC as UTF-8) in `bytes`.
fn assert_no_escapes(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    assert!(
        !text.contains(['\u{1b}', '\u{9b}', '\u{9d}', '\u{7}']),
        "{what} carries escape sequences: {text:?}"
    );
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_reaches_no_text_output_as_escape_sequences() {
    let body = format!(r#"{{"error":{{"message":"boom{HOSTILE_JSON} upstream failed"}}}}"#);
    let lb = Loopback::new("sk-injection-test", Reply::status(500, &body)).await;
    let plan = lb.plan(1);
    let team = format!("web{HOSTILE}");
    let desc = format!("Summarise{HOSTILE} the notes");
    let out = lb.run(&["run", &desc, "--plan", &plan, "--team", &team, "--headless"]);
    // Every call fails: the task fails with the provider's message as its reason.
    assert_eq!(code(&out), 7, "{}", stderr(&out));
    assert_no_escapes("run stdout", &out.stdout);
    assert_no_escapes("run progress (stderr)", &out.stderr);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("boom upstream failed"), "{shown}");
    assert!(
        stderr(&out).contains("boom upstream failed"),
        "{}",
        stderr(&out)
    );

    let runs = lb.run(&["runs"]);
    assert_no_escapes("runs", &runs.stdout);
    assert!(String::from_utf8_lossy(&runs.stdout).contains("Summarise the notes"));
    let id = String::from_utf8_lossy(&runs.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    let show = lb.run(&["show", &id]);
    assert_no_escapes("show", &show.stdout);
    assert!(String::from_utf8_lossy(&show.stdout).contains("boom upstream failed"));
    let budget = lb.run(&["budget"]);
    assert_no_escapes("budget", &budget.stdout);
    assert!(String::from_utf8_lossy(&budget.stdout).contains("team:web"));

    // JSON keeps the data, escaped by serde.
    let json = lb.run(&["show", &id, "--json"]);
    assert!(!json.stdout.contains(&0x1b), "raw ESC in JSON");
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["description"], desc.as_str());
    assert_eq!(v["team"], team.as_str());
    let reasons = v["tasks"][0]["status_reason"].as_str().unwrap();
    assert!(reasons.contains(HOSTILE), "{reasons}");

    // The run's README.md shows the description without the sequences.
    let readme = Path::new(v["output_dir"].as_str().unwrap()).join("README.md");
    let md = std::fs::read(&readme).expect("README.md");
    assert_no_escapes("README.md", &md);

    // A repository folder whose name carries the sequences: analyze text and Markdown.
    let repo = lb.dir.path().join(format!("repo{HOSTILE}"));
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("main.py"), "print('hi')\n").unwrap();
    let repo = repo.to_str().unwrap();
    for args in [
        vec!["analyze", repo, "--no-llm"],
        vec!["analyze", repo, "--no-llm", "--markdown"],
    ] {
        let a = lb.run(&args);
        assert_eq!(code(&a), 0, "{}", stderr(&a));
        assert_no_escapes("analyze stdout", &a.stdout);
        assert_no_escapes("analyze stderr", &a.stderr);
        assert!(String::from_utf8_lossy(&a.stdout).contains("repo"));
    }
}

/// The key: 17 characters, echoed so that the 300-byte display cut falls after its 16th.
const KEY: &str = "sk-leak-abcdefghi";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_echoed_at_the_cut_point_leaks_nowhere() {
    assert_eq!(KEY.len(), 17);
    let message = format!("{}{KEY} is not a valid key", "x".repeat(300 - 16));
    let body = format!(r#"{{"error":{{"message":"{message}","type":"invalid_request_error"}}}}"#);
    let lb = Loopback::new(KEY, Reply::status(401, &body)).await;
    let plan = lb.plan(2);
    // The key is refused (401, key-scoped): one run sees it, later ones find the models disabled.
    let json = lb.run(&["run", "--plan", &plan, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stderr(&json)));
    let id = v["id"].as_str().unwrap();
    let text = lb.run(&["show", id]);
    let show = lb.run(&["show", id, "--json"]);
    assert!(!lb.server.requests().is_empty());
    let fragment = &KEY.as_bytes()[..8];
    let leaks = |what: &str, bytes: &[u8]| {
        assert!(
            !bytes.windows(fragment.len()).any(|w| w == fragment),
            "{what} holds part of the key: {}",
            String::from_utf8_lossy(bytes)
        );
    };
    for (what, o) in [
        ("run --json", &json),
        ("show", &text),
        ("show --json", &show),
    ] {
        leaks(&format!("{what} stdout"), &o.stdout);
        leaks(&format!("{what} stderr"), &o.stderr);
    }
    // The message is still there, only the key is not.
    let reason = v["tasks"][0]["status_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("xxxx"), "{v}");
    let files = files_under(&lb.data());
    assert!(
        files.iter().any(|f| f.ends_with("summary.json")),
        "{files:?}"
    );
    for f in files {
        leaks(&f.display().to_string(), &std::fs::read(&f).unwrap());
    }
}
