//! Shared helpers for end-to-end tests of the real binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_orchestrator-tui");

/// A fresh data dir plus a config with fast simulated providers.
/// Variables of the developer's or CI's environment that would change what a test binary run
/// does: keys, config and data locations, and proxies and CAs (loopback is not exempt from
/// `HTTPS_PROXY`, so a set proxy would carry the loopback tests).
pub const CLEARED_ENV: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "MOONSHOT_API_KEY",
    "KIMI_API_KEY",
    "DEEPSEEK_API_KEY",
    "ORCHESTRATOR_CONFIG",
    "ORCHESTRATOR_DATA_DIR",
    "ORCHESTRATOR_STORE_URL",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    /// Variables set for every command of this environment.
    pub vars: Vec<(String, String)>,
}

impl Env {
    pub fn new(extra_config: &str) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("config.toml");
        // No exploration: routing is deterministic unless a test asks for it.
        let base = "[simulated]\nlatency_ms_min = 0\nlatency_ms_max = 3\n[retry]\nbackoff_base_ms = 1\nbackoff_cap_ms = 2\n[routing]\nexplore_rate = 0.0\n";
        std::fs::write(&config, merge(base, extra_config)).expect("write config");
        Env {
            dir,
            config,
            vars: Vec::new(),
        }
    }

    /// This environment with `key=value` set for its commands.
    pub fn with_var(mut self, key: &str, value: &str) -> Env {
        self.vars.push((key.into(), value.into()));
        self
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--data-dir")
            .arg(self.data())
            .arg("--config")
            .arg(&self.config);
        for k in CLEARED_ENV {
            c.env_remove(k);
        }
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run binary")
    }

    pub fn json(&self, args: &[&str]) -> (serde_json::Value, Output) {
        let out = self.run(args);
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}); stdout={} stderr={}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (v, out)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write file");
        p
    }
}

/// Naive TOML merge by section: extra sections are appended; duplicate keys in the same section
/// are avoided by putting overrides first in their section.
fn merge(base: &str, extra: &str) -> String {
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    for text in [extra, base] {
        let mut current = String::new();
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with('[') {
                current = t.to_string();
                if !sections.iter().any(|(s, _)| s == &current) || t.starts_with("[[") {
                    sections.push((current.clone(), vec![]));
                }
                continue;
            }
            if t.is_empty() {
                continue;
            }
            let key = t.split('=').next().unwrap_or("").trim().to_string();
            let sec = sections.iter_mut().rev().find(|(s, _)| s == &current);
            let sec = match sec {
                Some(s) => s,
                None => {
                    sections.push((current.clone(), vec![]));
                    sections.last_mut().unwrap()
                }
            };
            if !sec
                .1
                .iter()
                .any(|l| l.split('=').next().unwrap_or("").trim() == key)
            {
                sec.1.push(t.to_string());
            }
        }
    }
    let mut out = String::new();
    for (s, lines) in sections {
        if !s.is_empty() {
            out.push_str(&s);
            out.push('\n');
        }
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
    }
    out
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Row counts of every table, to prove a failed command changed nothing.
pub fn table_counts(data: &Path) -> Vec<(String, i64)> {
    let db = data.join("orchestrator.db");
    if !db.exists() {
        return vec![];
    }
    let c = rusqlite::Connection::open(db).expect("open db");
    let names: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    names
        .into_iter()
        .map(|n| {
            let k: i64 = c
                .query_row(&format!("SELECT COUNT(*) FROM \"{n}\""), [], |r| r.get(0))
                .unwrap();
            (n, k)
        })
        .collect()
}

/// A plan of `n` independent summarization tasks.
pub fn flat_plan(n: usize) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"id": "t{i}", "type": "summarization", "prompt": "Summarise item {i}", "max_iterations": 1}}"#
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// A successful call row costing `cost` micros (ledger tests record calls as the engine does).
pub fn call_record(run_id: Option<&str>, cost: i64) -> orchestrator_tui::store::CallRecord {
    orchestrator_tui::store::CallRecord {
        run_id: run_id.map(String::from),
        task_id: None,
        attempt: None,
        role: "generate".into(),
        provider: "p".into(),
        model: "m".into(),
        simulated: true,
        input_tokens: 1,
        cached_tokens: 0,
        cache_write_tokens: 0,
        output_tokens: 1,
        reasoning_tokens: 0,
        cost: orchestrator_tui::domain::Micros(cost),
        cache_saving: orchestrator_tui::domain::Micros::ZERO,
        latency_ms: 1,
        ttft_ms: None,
        outcome: orchestrator_tui::domain::CallOutcome::Ok,
        error: None,
        retry: 0,
        breaker_after: None,
        at: orchestrator_tui::store::now_rfc3339(),
    }
}
