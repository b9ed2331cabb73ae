//! The store failing under the real binary (issue 14 §3 and §7): a full disk, a schema newer than
//! the binary, a corrupt file. Each ends with exit 9 (cli-contract.md) and a message naming the
//! database file; a full disk stops the run resumable with every answered call recorded.
//!
//! The full-disk test mounts a 2 MiB tmpfs as the data dir, as a user on a small partition would
//! meet it; it needs root (CI containers run as root) and skips with a notice when the mount is
//! refused. tests/engine/store_unwritable.rs covers the same rule in process without privileges.

use crate::support::binary::*;
use crate::support::loopback::{MockProvider, MockUsage, Reply};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "sk-test-store-faults-0c1d";
const REPLY: &str = r#"{"score": 0.95, "reason": "ok"}"#;
const USAGE: MockUsage = MockUsage {
    input: 100,
    cached: 0,
    output: 20,
    reasoning: 0,
};

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Kills (SIGKILL) and reaps the child if the test fails before it exits.
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Write zeros into `path` until the file system says it is full.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).expect("create filler");
    let block = vec![0u8; 64 * 1024];
    while f.write_all(&block).is_ok() {}
    let small = [0u8; 512];
    while f.write_all(&small).is_ok() {}
    let _ = f.sync_all();
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count(db: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db)
        .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_the_run_resumable_and_no_answer_goes_unrecorded() {
    let env = Env::new("");
    // 16 MiB: a 100-task run keeps routing records and events per call (issue 18), more than
    // the 2 MiB this test began with; the filler fills whatever the size.
    let Some(mnt) = Tmpfs::mount(&env.dir.path().join("small-disk"), "16m") else {
        eprintln!(
            "SKIPPED: cannot mount a tmpfs here (needs root); the in-process variant is tests/engine/store_unwritable.rs"
        );
        return;
    };
    let server = MockProvider::start().await;
    server.set_default(
        Reply::text(REPLY)
            .usage(USAGE)
            .first_byte_delay(Duration::from_millis(40)),
    );
    let config = env.write(
        "openai.toml",
        &format!(
            "[providers.openai]\nbase_url = \"{}\"\n[retry]\nbackoff_base_ms = 1\nbackoff_cap_ms = 2\n[routing]\nexplore_rate = 0.0\n",
            server.openai_base_url()
        ),
    );
    let data = mnt.0.join("data");
    let db = data.join("orchestrator.db");
    let plan = env.write("plan.json", &flat_plan(100));
    let out = env.dir.path().join("out");
    let cmd = |args: &[&str]| {
        let mut c = env.cmd();
        c.arg("--data-dir")
            .arg(&data)
            .arg("--config")
            .arg(&config)
            .env("OPENAI_API_KEY", KEY)
            .args(args);
        c
    };
    let err_path = env.dir.path().join("run.err");
    let out_path = env.dir.path().join("run.out");
    let child = cmd(&[
        "run",
        "--plan",
        plan.to_str().unwrap(),
        "--json",
        "--out",
        out.to_str().unwrap(),
    ])
    .stdout(std::fs::File::create(&out_path).unwrap())
    .stderr(std::fs::File::create(&err_path).unwrap())
    .spawn()
    .expect("spawn");
    let mut guard = KillOnDrop(Some(child));
    wait_for("some recorded calls", || {
        count(&db, "SELECT COUNT(*) FROM calls") >= 12
    });
    // The disk fills up under the running engine.
    let filler = mnt.0.join("filler");
    fill(&filler);
    let stderr_now = || std::fs::read_to_string(&err_path).unwrap_or_default();
    wait_for("the run to notice", || {
        stderr_now().contains("no new call starts")
    });
    // Space comes back while the engine retries the answers it could not record.
    std::fs::remove_file(&filler).unwrap();
    let mut child = guard.0.take().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let err = stderr_now();
    assert_eq!(status.code(), Some(9), "{err}");
    assert!(
        err.contains(&format!(
            "database {} is not writable: disk full",
            db.display()
        )),
        "{err}"
    );
    assert!(err.contains("every answered call was recorded"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out_path).unwrap())
        .expect("one JSON document");
    assert_eq!(v["status"], "interrupted", "{v}");
    assert_eq!(v["resumable"], true);
    let id = v["id"].as_str().unwrap().to_string();
    // Each answer the provider gave is recorded: none was paid for and lost.
    let served = server.requests().len() as i64;
    assert!(
        served < 4 * 100,
        "the engine stopped calling ({served} requests)"
    );
    assert_eq!(served, count(&db, "SELECT COUNT(*) FROM calls"));

    // It resumes to the end, and nothing was paid twice for lack of a record.
    let mut resume = cmd(&["resume", &id, "--json"]);
    let r = tokio::task::spawn_blocking(move || resume.output().unwrap())
        .await
        .unwrap();
    assert!(matches!(code(&r), 0 | 4), "{}", stderr(&r));
    assert_eq!(
        server.requests().len() as i64,
        count(&db, "SELECT COUNT(*) FROM calls")
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM tasks WHERE status IN ('completed', 'degraded')"
        ),
        100
    );
    assert_eq!(
        count(
            &db,
            "SELECT spent_micros FROM budget_levels WHERE level = 'org'"
        ),
        count(&db, "SELECT SUM(cost_micros) FROM calls")
    );
}

#[test]
fn a_database_newer_than_the_binary_is_refused_with_exit_9() {
    let env = Env::new("");
    assert_eq!(code(&env.run(&["runs", "--json"])), 0);
    let db = env.data().join("orchestrator.db");
    let c = rusqlite::Connection::open(&db).unwrap();
    c.pragma_update(None, "user_version", 4242).unwrap();
    drop(c);
    let before = table_counts(&env.data());
    for args in [
        vec!["runs"],
        vec!["budget", "--json"],
        vec!["run", "x", "--json"],
    ] {
        let out = env.run(&args);
        assert_eq!(code(&out), 9, "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&db.display().to_string()) && err.contains("newer"),
            "{args:?}: {err}"
        );
        assert_eq!(
            table_counts(&env.data()),
            before,
            "{args:?} changed the database"
        );
    }
    // --json: one document on stdout even so.
    let (v, _) = env.json(&["run", "x", "--json"]);
    assert_eq!(v["error"], "store_unavailable");
}

#[test]
fn a_corrupt_database_is_named_in_the_error_with_exit_9() {
    let env = Env::new("");
    let plan = env.write("plan.json", &flat_plan(6));
    let out = env.run(&["run", "--plan", plan.to_str().unwrap(), "--json"]);
    assert!(matches!(code(&out), 0 | 4), "{}", stderr(&out));
    let db = env.data().join("orchestrator.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    }
    // Garble every page but the first (the header and the start of the schema).
    let mut bytes = std::fs::read(&db).unwrap();
    let page = u16::from_be_bytes([bytes[16], bytes[17]]) as usize;
    for (i, b) in bytes.iter_mut().enumerate().skip(page) {
        *b = (i % 251) as u8;
    }
    std::fs::write(&db, bytes).unwrap();
    for args in [vec!["runs", "--json"], vec!["show", "r-000000"]] {
        let out = env.run(&args);
        let err = stderr(&out);
        assert_eq!(code(&out), 9, "{args:?}: {err}");
        assert!(err.contains(&db.display().to_string()), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}
