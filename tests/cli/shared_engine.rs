//! The engine on the org-wide PostgreSQL store, through the real binary (issue 19): two data
//! dirs stand for two machines. A run made on one is shown (with its host) on the other; a run
//! SIGKILLed on one shows `interrupted` on the other and resumes there; 2 machines x 4
//! processes spend against one org cap (never above it, the org's spend equal to the recorded
//! call costs to the micro-dollar, nothing reserved after), again with processes SIGKILLed.
//! Each test has a schema of its own (`ORCHESTRATOR_TEST_PG_URL`; skipped without it).

use crate::support::binary::*;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use crate::support::pg::PgSchema as Shared;

fn shared(tag: &str) -> Option<Shared> {
    Shared::new(tag)
}

/// A "machine": its own data dir, the shared store, simulated calls taking `latency` ms.
fn machine(s: &Shared, latency: (u32, u32)) -> Env {
    Env::new(&format!(
        "[simulated]\nlatency_ms_min = {}\nlatency_ms_max = {}\n[store]\nurl = \"{}\"\nschema = \"{}\"\n",
        latency.0,
        latency.1,
        s.url,
        s.target.schema()
    ))
}

fn spawn_run(m: &Env, what: &str, budget: &str) -> Child {
    m.cmd()
        .args(["run", what, "--headless", "--json", "--budget", budget])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the binary")
}

fn one(s: &Shared, sql: &str) -> i64 {
    let mut c = s.target.connect().unwrap();
    c.query_one(sql, &[]).unwrap().get(0)
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(secs), "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The ledger after every process ended and another opened the store (settling the dead
/// ones' reservations): org spent equals the recorded call costs, nothing is reserved.
fn ledger_balances(s: &Shared, m: &Env) {
    let out = m.run(&["budget", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let spent = one(
        s,
        "SELECT spent_micros FROM budget_levels WHERE level = 'org'",
    );
    let calls = one(
        s,
        "SELECT CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) FROM calls",
    );
    assert_eq!(spent, calls, "org spent equals the recorded call costs");
    assert_eq!(
        one(s, "SELECT COUNT(*) FROM reservations"),
        0,
        "nothing reserved"
    );
    assert_eq!(
        one(
            s,
            "SELECT reserved_micros FROM budget_levels WHERE level = 'org'"
        ),
        0
    );
}

#[test]
fn a_run_killed_on_one_machine_is_interrupted_on_the_other_and_resumes_there() {
    let Some(s) = shared("eng_resume") else {
        return;
    };
    let (a, b) = (machine(&s, (0, 3)), machine(&s, (150, 300)));
    let host = orchestrator_tui::store::owner::Owner::current()
        .host
        .clone();

    // A run made on A, shown on B with where it ran.
    let (v, out) = a.json(&["run", "greet the user", "--headless", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let id = v["id"].as_str().unwrap().to_string();
    let (w, out) = b.json(&["show", &id, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(w["status"], "success", "{w}");
    assert_eq!(w["host"], host.as_str(), "{w}");
    assert_eq!(w["calls"], v["calls"], "{w}");

    // B drives a slow run; it is `running` on A while B's process lives...
    let mut child = spawn_run(&b, "build a small web service", "5");
    let mut run = String::new();
    wait_for("the run has recorded calls", 60, || {
        let (v, _) = a.json(&["runs", "--json"]);
        let row = v
            .as_array()
            .and_then(|r| r.iter().find(|r| r["id"] != id.as_str()));
        if let Some(r) = row {
            run = r["id"].as_str().unwrap_or_default().to_string();
            return r["status"] == "running"
                && one(
                    &s,
                    &format!("SELECT COUNT(*) FROM calls WHERE run_id = '{run}'"),
                ) > 2;
        }
        false
    });
    // ...and `interrupted` once it is SIGKILLed (its lock went with it).
    child.kill().unwrap();
    child.wait().unwrap();
    wait_for("A sees the run interrupted", 30, || {
        let (v, _) = a.json(&["show", &run, "--json"]);
        v["status"] == "interrupted" && v["resumable"] == true
    });
    // A resumes it and finishes it.
    let (v, out) = a.json(&["resume", &run, "--headless", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(v["status"], "success", "{v}");
    let (w, _) = b.json(&["show", &run, "--json"]);
    assert_eq!(w["status"], "success", "{w}");
    ledger_balances(&s, &b);
}

/// Run 2 machines x 4 processes against an org cap of `cap` USD; kill `kills` of them at
/// random moments. Spend plus reserved at org level is watched all along.
fn many_processes_against_one_cap(tag: &str, cap: &str, kills: usize) {
    let Some(s) = shared(tag) else {
        return;
    };
    let latency = if kills > 0 { (40, 120) } else { (0, 5) };
    let machines = [machine(&s, latency), machine(&s, latency)];
    let out = machines[0].run(&["budget", "set-org", cap]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let cap_micros = one(
        &s,
        "SELECT cap_micros FROM budget_levels WHERE level = 'org'",
    );

    let stop = Arc::new(AtomicBool::new(false));
    let worst = Arc::new(AtomicI64::new(0));
    let watcher = {
        let (stop, worst, target) = (stop.clone(), worst.clone(), s.target.clone());
        std::thread::spawn(move || {
            let mut c = target.connect().unwrap();
            while !stop.load(Ordering::Acquire) {
                let v: i64 = c
                    .query_one(
                        "SELECT spent_micros + reserved_micros FROM budget_levels
                         WHERE level = 'org'",
                        &[],
                    )
                    .unwrap()
                    .get(0);
                worst.fetch_max(v, Ordering::AcqRel);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let mut children: Vec<Child> = Vec::new();
    for i in 0..8 {
        let m = &machines[i % 2];
        children.push(spawn_run(m, &format!("build service number {i}"), "1"));
    }
    // Kill some at moments spread over the first seconds (a seed from the clock; printed).
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(7);
    eprintln!("seed {seed}");
    let mut r = seed;
    let mut next = || {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        r
    };
    let mut killed = Vec::new();
    for _ in 0..kills {
        std::thread::sleep(Duration::from_millis(300 + next() % 1500));
        let mut i = (next() % 8) as usize;
        while killed.contains(&i) {
            i = (i + 1) % 8;
        }
        let _ = children[i].kill();
        killed.push(i);
    }
    let mut codes = Vec::new();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        if !killed.contains(&i) {
            codes.push((code(&out), stderr(&out)));
        }
    }
    stop.store(true, Ordering::Release);
    watcher.join().unwrap();
    if codes.iter().any(|(c, _)| ![0, 3, 4, 5, 8].contains(c)) {
        for m in &machines {
            let log = std::fs::read_to_string(m.data().join("logs/orchestrator.log"));
            eprintln!("log of {}: {}", m.data().display(), log.unwrap_or_default());
        }
    }
    for (code, err) in &codes {
        // Success, or stopped by the cap (partial success, degraded, budget exhausted, or
        // refused before it started: exit 3, 4, 5, 8 by contract).
        assert!([0, 3, 4, 5, 8].contains(code), "exit {code}: {err}");
    }
    assert!(
        worst.load(Ordering::Acquire) <= cap_micros,
        "org spend plus reserved reached {} over a cap of {cap_micros}",
        worst.load(Ordering::Acquire)
    );
    ledger_balances(&s, &machines[1]);
    let spent = one(
        &s,
        "SELECT spent_micros FROM budget_levels WHERE level = 'org'",
    );
    assert!(
        spent <= cap_micros,
        "spent {spent} over the cap {cap_micros}"
    );
    assert!(spent > 0);
    let (v, _) = machines[0].json(&["runs", "--json"]);
    let interrupted = v.as_array().map_or(0, |r| {
        r.iter().filter(|r| r["status"] == "interrupted").count()
    });
    let estimated = one(
        &s,
        "SELECT estimated_micros FROM budget_levels WHERE level = 'org'",
    );
    eprintln!(
        "spent {spent} of {cap_micros}; {interrupted} runs interrupted; {estimated} charged as estimates"
    );
    if kills > 0 {
        assert!(
            interrupted > 0,
            "a killed process left its run interrupted: {v}"
        );
    }
}

#[test]
fn eight_processes_on_two_machines_never_pass_the_org_cap() {
    many_processes_against_one_cap("eng_cap", "0.25", 0);
}

#[test]
fn killed_processes_leave_the_shared_ledger_balanced() {
    many_processes_against_one_cap("eng_kill", "0.25", 3);
}

#[test]
fn a_run_resumed_on_another_machine_shows_where_each_machine_wrote_its_files() {
    let Some(s) = shared("eng_outputs") else {
        return;
    };
    // Two machines by name too (`ORCHESTRATOR_HOST`): files stay on the one that wrote them.
    let a = machine(&s, (0, 3)).with_var("ORCHESTRATOR_HOST", "machine-a");
    let b = machine(&s, (150, 300)).with_var("ORCHESTRATOR_HOST", "machine-b");
    let plan = b.write("plan.json", &flat_plan(6));
    // B drives a plan of 6 tasks one at a time, and is SIGKILLed once its first file is written.
    let mut child = b
        .cmd()
        .args([
            "run",
            "--plan",
            plan.to_str().unwrap(),
            "--headless",
            "--json",
        ])
        .args(["--concurrency", "1", "--budget", "5"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the binary");
    let mut conn = s.target.connect().unwrap();
    wait_for("B wrote a file", 60, || {
        // (An error until B's process has migrated the schema.)
        conn.query_one(
            "SELECT COUNT(*) FROM artifacts WHERE host = 'machine-b'",
            &[],
        )
        .is_ok_and(|r| r.get::<_, i64>(0) > 0)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let (v, _) = a.json(&["runs", "--json"]);
    let run = v[0]["id"].as_str().expect("the run").to_string();
    wait_for("A sees the run interrupted", 30, || {
        let (v, _) = a.json(&["show", &run, "--json"]);
        v["status"] == "interrupted"
    });
    let (v, out) = a.json(&["resume", &run, "--headless", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(v["status"], "success", "{v}");

    // Either machine's `show` says which machine has which files, and where.
    let (w, out) = b.json(&["show", &run, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let places = w["outputs"].as_array().expect("outputs").clone();
    let dir_of = |m: &Env| m.data().join("outputs").join(&run);
    assert_eq!(w["host"], "machine-b", "{w}");
    assert_eq!(w["output_dir"], dir_of(&b).to_str().unwrap(), "{w}");
    assert_eq!(places.len(), 2, "{w}");
    let mut total = 0;
    for (p, m, host) in [(&places[0], &b, "machine-b"), (&places[1], &a, "machine-a")] {
        // The starting machine's place first; each file is in that machine's data dir, in the
        // same layout.
        assert_eq!(p["host"], host, "{w}");
        assert_eq!(p["dir"], dir_of(m).to_str().unwrap(), "{w}");
        let files = p["files"].as_array().expect("files");
        assert!(!files.is_empty(), "{w}");
        for f in files {
            let f = f.as_str().unwrap();
            assert!(dir_of(m).join(f).is_file(), "{host} has {f}");
        }
        total += files.len();
    }
    let artifacts: usize = w["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["artifacts"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(total, artifacts, "every file is in one place: {w}");
    // The text says it too.
    let out = a.run(&["show", &run]);
    let text = String::from_utf8_lossy(&out.stdout);
    for (host, m) in [("machine-b", &b), ("machine-a", &a)] {
        let line = format!("output on {host}: {}", dir_of(m).display());
        assert!(text.contains(&line), "{line} in:\n{text}");
    }
}
