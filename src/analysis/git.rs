//! Commit counts per file for hotspots, from `git log` when the root holds a `.git`. Runs while
//! the walk does; bounded in commits and time, and optional (no git, no hotspots).

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

/// Commits looked at.
pub const MAX_COMMITS: u32 = 1000;

pub struct GitLog {
    child: Child,
    rx: Receiver<HashMap<String, u32>>,
}

/// Start `git log` in the background if `root/.git` exists and git runs.
pub fn spawn(root: &Path) -> Option<GitLog> {
    if !root.join(".git").exists() {
        return None;
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "-c",
            "core.quotepath=off",
            "--no-pager",
            "log",
            "--no-merges",
            "--no-renames",
            "--relative",
        ])
        .arg(format!("--max-count={MAX_COMMITS}"))
        .args(["--name-only", "--format="])
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut out = child.stdout.take()?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        let _ = tx.send(parse(&String::from_utf8_lossy(&buf)));
    });
    Some(GitLog { child, rx })
}

fn parse(out: &str) -> HashMap<String, u32> {
    let mut counts = HashMap::new();
    for l in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
        *counts.entry(l.to_string()).or_insert(0) += 1;
    }
    counts
}

impl GitLog {
    /// The counts, or empty if git is slower than `timeout` (then it is stopped).
    pub fn collect(mut self, timeout: Duration) -> HashMap<String, u32> {
        let r = self.rx.recv_timeout(timeout);
        if r.is_err() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        r.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_paths() {
        let c = parse("src/a.rs\nsrc/b.rs\n\nsrc/a.rs\n");
        assert_eq!(c.get("src/a.rs"), Some(&2));
        assert_eq!(c.get("src/b.rs"), Some(&1));
    }

    #[test]
    fn no_repository_no_log() {
        let dir = std::env::temp_dir();
        assert!(spawn(&dir.join("definitely-not-a-repo-here")).is_none());
    }
}
