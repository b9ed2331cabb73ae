//! The binary on the org-wide PostgreSQL store (issue 19): two data dirs stand for two
//! machines sharing one store. The PostgreSQL tests read `ORCHESTRATOR_TEST_PG_URL` and use a
//! schema of their own (dropped at the end); without it they skip with a notice.

use crate::support::binary::*;
use orchestrator_tui::domain::Micros;
use orchestrator_tui::store::NewRun;
use orchestrator_tui::store::pg::{self, PgConn, liveness};

#[test]
fn an_unreachable_server_is_exit_9_naming_host_and_database_never_the_password() {
    let env = Env::new("");
    let out = env
        .cmd()
        .env(
            "ORCHESTRATOR_STORE_URL",
            "postgres://carol:hunter2pw@127.0.0.1:1/teamdb?connect_timeout=2",
        )
        .args(["runs", "--json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 9, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("127.0.0.1:1/teamdb"), "{err}");
    assert!(!err.contains("hunter2pw"), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("hunter2pw"));
}

#[test]
fn a_bad_store_url_is_bad_input() {
    let env = Env::new("[store]\nurl = \"mysql://x\"\n");
    let out = env.run(&["budget"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("[store] url"), "{}", stderr(&out));
}

use crate::support::pg::PgSchema as Shared;

fn shared(tag: &str) -> Option<Shared> {
    Shared::new(tag)
}

fn machine(s: &Shared) -> Env {
    Env::new(&s.store_config())
}

#[test]
fn budgets_and_runs_are_shared_by_two_machines() {
    let Some(s) = shared("cli") else { return };
    let (a, b) = (machine(&s), machine(&s));
    let out = a.run(&["budget", "set-org", "5"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = b.run(&["budget", "set-team", "web", "2"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for m in [&a, &b] {
        let (v, _) = m.json(&["budget", "--json"]);
        assert_eq!(v["org"]["cap_usd"], 5.0, "{v}");
        assert_eq!(v["teams"][0]["name"], "web", "{v}");
        assert_eq!(v["teams"][0]["cap_usd"], 2.0, "{v}");
    }

    // A run driven from "machine A" (its lock held by a session), one left by a dead driver.
    let target = s.target.clone();
    let conn = PgConn::open(&target).unwrap();
    let run = |id: &str| NewRun {
        id: id.into(),
        description: format!("build {id}"),
        criteria: String::new(),
        team: None,
        strategy: "quality".into(),
        budget: Micros(1_000_000),
        time_limit_secs: 60,
        concurrency: 1,
        output_dir: "/tmp/unused".into(),
        plan: None,
        simulated: true,
    };
    conn.tx(|t| {
        pg::runs::insert_run(t, &run("r-live"))?;
        pg::runs::insert_run(t, &run("r-dead"))
    })
    .unwrap();
    let mut driver = liveness::Session::open(&target).unwrap();
    driver.claim_run("r-live").unwrap();
    let me = orchestrator_tui::store::owner::Owner::current();
    for m in [&a, &b] {
        let (v, out) = m.json(&["runs", "--json"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let rows = v.as_array().unwrap();
        assert_eq!(rows.len(), 2, "{v}");
        for r in rows {
            assert_eq!(r["host"], me.host.as_str(), "{r}");
            assert_eq!(r["user"], orchestrator_tui::store::owner::os_user(), "{r}");
            let want = if r["id"] == "r-live" {
                "running"
            } else {
                "interrupted"
            };
            assert_eq!(r["status"], want, "{r}");
        }
        // The text listing names who started each run.
        let text = String::from_utf8_lossy(&m.run(&["runs"]).stdout).to_string();
        assert!(text.contains(&me.host), "{text}");
    }
    // The engine's commands work on it too.
    let out = a.run(&["models"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn store_status_names_backend_version_and_connection() {
    let env = Env::new("");
    let (v, out) = env.json(&["store", "status", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(v["backend"], "sqlite");
    let known = orchestrator_tui::store::migrations::MIGRATIONS.len() as u64;
    assert_eq!(v["schema_version"], known);
    assert!(
        v["connection"]
            .as_str()
            .unwrap()
            .ends_with("orchestrator.db")
    );
    let Some(s) = shared("status") else { return };
    let m = machine(&s);
    let (v, out) = m.json(&["store", "status", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(v["backend"], "postgres");
    assert_eq!(v["schema"], s.name());
    assert_eq!(v["schema_version"], known);
    let conn = v["connection"].as_str().unwrap();
    assert!(
        conn.starts_with("postgres://") && conn.contains(s.name()),
        "{v}"
    );
}
