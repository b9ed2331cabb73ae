//! `store migrate --to URL` (issue 19): one machine's SQLite history copied into the org-wide
//! PostgreSQL store, idempotently. Reads `ORCHESTRATOR_TEST_PG_URL` (skips without it); each test
//! uses a schema of its own, dropped at the end.

use crate::support::binary::*;
use orchestrator_tui::store::sql::Value;

use crate::support::pg::PgSchema as Schema;

trait One {
    fn one(&self, sql: &str) -> i64;
}

impl One for Schema {
    fn one(&self, sql: &str) -> i64 {
        let mut c = self.target.connect().unwrap();
        let v: Value = c.query_one(sql, &[]).unwrap().get(0);
        match v {
            Value::Int(i) => i,
            other => panic!("{sql}: {other:?}"),
        }
    }
}

fn migrate(env: &Env, s: &Schema, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "store",
        "migrate",
        "--to",
        &s.url,
        "--schema",
        s.name(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let (v, out) = env.json(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    v
}

#[test]
fn a_local_history_is_copied_once_with_its_spend() {
    let Some(s) = Schema::new("migrate") else {
        return;
    };
    let local = Env::new("");
    for args in [
        vec!["budget", "set-org", "20"],
        vec!["budget", "set-team", "web", "5"],
    ] {
        let out = local.run(&args);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let mut spent = 0i64;
    for (desc, team) in [
        ("Write a haiku about rust", None),
        ("Summarise a text", Some("web")),
    ] {
        let mut args = vec!["run", desc, "--budget", "1", "--json"];
        if let Some(t) = team {
            args.extend(["--team", t]);
        }
        let (v, out) = local.json(&args);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        spent += (v["total_cost_usd"].as_f64().unwrap() * 1e6).round() as i64;
    }
    let local_calls: i64 = {
        let c = rusqlite::Connection::open(local.data().join("orchestrator.db")).unwrap();
        c.query_row(
            "SELECT COUNT(*) FROM calls WHERE run_id IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };

    // A dry run reports and writes nothing.
    let v = migrate(&local, &s, &["--dry-run"]);
    assert_eq!(v["copied"]["runs"], 2, "{v}");
    assert_eq!(v["dry_run"], true);
    assert_eq!(s.one("SELECT COUNT(*) FROM runs"), 0);

    let v = migrate(&local, &s, &[]);
    assert_eq!(v["copied"]["runs"], 2, "{v}");
    assert_eq!(v["copied"]["calls"], local_calls, "{v}");
    assert_eq!(v["profiles_merged"], true, "{v}");
    assert_eq!(s.one("SELECT COUNT(*) FROM calls"), local_calls);
    // The shared ledger equals the copied call costs: the org has both runs, the team one.
    let calls_cost = s.one("SELECT CAST(SUM(cost_micros) AS BIGINT) FROM calls");
    let org = s.one("SELECT spent_micros FROM budget_levels WHERE level = 'org'");
    assert_eq!(org, calls_cost);
    assert!((org - spent).abs() <= 2, "{org} vs {spent}");
    let web_cost = s.one(
        "SELECT CAST(SUM(c.cost_micros) AS BIGINT) FROM calls c JOIN runs r ON r.id = c.run_id
         WHERE r.team = 'web'",
    );
    assert_eq!(
        s.one("SELECT spent_micros FROM budget_levels WHERE level = 'team:web'"),
        web_cost
    );
    assert_eq!(
        s.one("SELECT cap_micros FROM budget_levels WHERE level = 'org'"),
        20_000_000
    );
    assert!(s.one("SELECT COUNT(*) FROM model_profiles") > 0);

    // Again: nothing new, nothing doubled.
    let profiles = s.one("SELECT CAST(SUM(samples) AS BIGINT) FROM model_profiles");
    let v = migrate(&local, &s, &[]);
    assert_eq!(v["copied"]["runs"].as_i64().unwrap_or(0), 0, "{v}");
    assert_eq!(v["runs_already_there"], 2, "{v}");
    assert_eq!(v["profiles_merged"], false, "{v}");
    assert_eq!(s.one("SELECT COUNT(*) FROM calls"), local_calls);
    assert_eq!(
        s.one("SELECT spent_micros FROM budget_levels WHERE level = 'org'"),
        org
    );
    assert_eq!(
        s.one("SELECT CAST(SUM(samples) AS BIGINT) FROM model_profiles"),
        profiles
    );

    // A run made after the first migrate is copied by the next one, and only it.
    let (v, out) = local.json(&["run", "Write a limerick", "--budget", "1", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let id = v["id"].as_str().unwrap().to_string();
    let v = migrate(&local, &s, &[]);
    assert_eq!(v["copied"]["runs"], 1, "{v}");
    assert_eq!(s.one("SELECT COUNT(*) FROM runs"), 3);
    assert_eq!(
        s.one(&format!(
            "SELECT COUNT(*) FROM runs WHERE id = '{id}' AND host IS NOT NULL"
        )),
        1
    );
    assert_eq!(
        s.one("SELECT spent_micros FROM budget_levels WHERE level = 'org'"),
        s.one("SELECT CAST(SUM(cost_micros) AS BIGINT) FROM calls")
    );

    // The text form says what it did; a shared store listed with `runs` shows the copies.
    let shared = Env::new(&s.store_config());
    let (v, out) = shared.json(&["runs", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(v.as_array().map(Vec::len), Some(3), "{v}");
}

#[test]
fn an_unreachable_target_is_exit_9_without_the_password() {
    let local = Env::new("");
    let out = local.run(&[
        "store",
        "migrate",
        "--to",
        "postgres://dave:s3cretpw@127.0.0.1:1/org?connect_timeout=2",
    ]);
    assert_eq!(code(&out), 9, "{}", stderr(&out));
    assert!(stderr(&out).contains("127.0.0.1:1/org"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("s3cretpw"));
}
