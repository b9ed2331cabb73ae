//! The modules written on `sql::Sql` give the same answers on SQLite and PostgreSQL: one scenario
//! (runs, tasks, attempts, calls, events, routing, calls in flight, cancel requests, alerts,
//! views, analyses, breakers, profiles, audit) run through `&dyn Sql` on both, every reading
//! compared. The PostgreSQL half needs `ORCHESTRATOR_TEST_PG_URL` and its own schema.

use super::sql::{PgSql, Sql, StatementCache};
use super::*;
use crate::args;
use crate::domain::status::{RunStatus, TaskStatus};
use crate::domain::{CallOutcome, Micros, TaskSpec, TaskType};

/// A `Sql` that names the statement in its errors (which query a server refused).
struct Named<'a>(&'a dyn Sql);

impl Named<'_> {
    fn name<T>(&self, sql: &str, r: Result<T, StoreError>) -> Result<T, StoreError> {
        r.map_err(|e| StoreError::Invalid(format!("{e} in `{sql}`")))
    }
}

impl Sql for Named<'_> {
    fn execute(&self, sql: &str, args: &[sql::Value]) -> Result<usize, StoreError> {
        self.name(sql, self.0.execute(sql, args))
    }
    fn query(&self, sql: &str, args: &[sql::Value]) -> Result<Vec<sql::Row>, StoreError> {
        self.name(sql, self.0.query(sql, args))
    }
    fn execute_batch(&self, sql: &str) -> Result<(), StoreError> {
        self.name(sql, self.0.execute_batch(sql))
    }
    fn dialect(&self) -> sql::Dialect {
        self.0.dialect()
    }
    fn sqlite(&self) -> Option<&rusqlite::Connection> {
        self.0.sqlite()
    }
    fn with_pg(
        &self,
        f: &mut dyn FnMut(&mut postgres::Transaction<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.0.with_pg(f)
    }
}

fn new_run(id: &str, team: Option<&str>) -> NewRun {
    NewRun {
        id: id.into(),
        description: "Build  a parser".into(),
        criteria: "it parses".into(),
        team: team.map(String::from),
        strategy: "balanced".into(),
        budget: Micros(2_000_000),
        time_limit_secs: 600,
        concurrency: 2,
        output_dir: "/tmp/unused".into(),
        plan: None,
        simulated: true,
    }
}

fn task(id: &str, deps: &[&str]) -> TaskSpec {
    TaskSpec {
        id: id.into(),
        task_type: TaskType::CodeGeneration,
        prompt: format!("write {id}\nwith care"),
        dependencies: deps.iter().map(|d| d.to_string()).collect(),
        threshold: 0.75,
        max_iterations: 3,
        max_output_tokens: 2048,
        validators: Vec::new(),
    }
}

fn call(task: &str, attempt: u32, model: &str, outcome: CallOutcome, cost: i64) -> CallRecord {
    CallRecord {
        run_id: Some("r-1".into()),
        task_id: Some(task.into()),
        attempt: Some(attempt),
        role: if attempt == 1 { "generate" } else { "revise" }.into(),
        provider: "sim".into(),
        model: model.into(),
        simulated: true,
        input_tokens: 100,
        cached_tokens: 10,
        cache_write_tokens: 5,
        output_tokens: 50,
        reasoning_tokens: 0,
        cost: Micros(cost),
        cache_saving: Micros(cost / 10),
        latency_ms: 40 + cost as u64 % 7,
        ttft_ms: Some(9),
        outcome,
        error: (outcome != CallOutcome::Ok).then(|| "503".into()),
        retry: 0,
        breaker_after: None,
        at: format!("2026-01-01T00:00:0{attempt}Z"),
    }
}

/// Every reading of the scenario, with the clock's timestamps blanked.
fn scenario(db: &dyn Sql) -> Result<Vec<String>, StoreError> {
    let mut out: Vec<String> = Vec::new();
    macro_rules! note {
        ($label:expr, $v:expr) => {
            out.push(format!("{}: {:?}", $label, $v))
        };
    }
    runs::insert_run(db, &new_run("r-1", None))?;
    runs::insert_run(db, &new_run("r-2", Some("web")))?;
    runs::insert_tasks(db, "r-1", &[task("t1", &[]), task("t2", &["t1"])])?;
    runs::set_task_status(db, "r-1", "t1", TaskStatus::Running, None)?;
    for (n, score) in [(1, 0.5), (1, 0.6), (2, 0.9)] {
        runs::insert_attempt(
            db,
            &runs::AttemptWrite {
                run_id: "r-1",
                task_id: "t1",
                n,
                model: Some("m1"),
                reviewer: None,
                evaluator: Some("m2"),
                score: Some(score),
                validators: &[],
                failure_reason: None,
                critique: Some("ok"),
                output: Some("code"),
                self_evaluated: n == 2,
                score_note: None,
            },
        )?;
    }
    runs::update_task_result(db, "r-1", "t1", Some("m1"), None, Some(0.9), Some("code"))?;
    let mut ids = Vec::new();
    for (t, a, m, o, cost) in [
        ("t1", 1, "m1", CallOutcome::Ok, 1200),
        ("t1", 2, "m1", CallOutcome::Transient, 0),
        ("t1", 2, "m2", CallOutcome::Ok, 3400),
        ("t2", 1, "m2", CallOutcome::Estimated, 800),
    ] {
        ids.push(runs::insert_call(db, &call(t, a, m, o, cost))?);
    }
    note!("call ids ascend", ids.windows(2).all(|w| w[0] < w[1]));
    note!("call counts", runs::call_counts(db, "r-1")?);
    note!("task costs", runs::task_costs(db, "r-1")?);
    note!("simulated", runs::any_call_simulated(db, "r-1")?);
    note!("no calls simulated", runs::any_call_simulated(db, "r-2")?);
    let attempts: Vec<_> = runs::get_attempts(db, "r-1")?
        .into_iter()
        .map(|mut a| {
            a.created_at.clear();
            a
        })
        .collect();
    note!("attempts", attempts);
    note!("tasks", runs::get_tasks(db, "r-1")?);

    let ev = BreakerEventRow {
        at: "2026-01-01T00:00:05Z".into(),
        model: "m1".into(),
        from: "closed".into(),
        to: "open".into(),
        reason: "3 failures".into(),
    };
    runs::insert_breaker_event(db, Some("r-1"), &ev)?;
    runs::insert_breaker_event(db, None, &ev)?;
    note!("breaker events", runs::breaker_events(db, "r-1")?);
    runs::insert_artifact(db, "r-1", Some("t1"), "src/a.rs", 10, "/o")?;
    runs::insert_artifact(db, "r-1", Some("t2"), "src/a.rs", 12, "/o")?;
    runs::insert_artifact(db, "r-1", None, "README.md", 3, "/o")?;
    note!("artifacts", runs::artifacts(db, "r-1")?);
    note!("artifact places", runs::artifact_places(db, "r-1")?);
    runs::insert_refusal(db, "r-1", "t1", "../x", "outside")?;
    note!("refusals", runs::refusals(db, "r-1")?);
    runs::log_event(db, Some("r-1"), "info", "logged")?;

    for i in 0..70 {
        events::insert(db, Some("r-2"), "budget", &format!("e{i}"))?;
    }
    events::insert(db, None, "policy", "p1")?;
    events::insert(db, None, "policy", "p2")?;
    note!("pruned run", events::prune(db, Some("r-2"), 10)?);
    note!("pruned none", events::prune(db, None, 1)?);
    let newest: Vec<_> = events::newest(db, 5)?
        .into_iter()
        .map(|(_, k, r, t)| (k, r, t))
        .collect();
    note!("newest events", newest);

    runs::claim_run(db, "r-1", super::owner::Owner::current())?;
    runs::add_exec_ms(db, "r-1", 1500)?;
    runs::mark_plan_fallback(db, "r-1")?;
    runs::set_run_status(db, "r-1", RunStatus::Interrupted, Some("stopped"))?;
    runs::reopen_run(db, "r-1", Some(Micros(3_000_000)), None)?;
    let mut run = runs::get_run(db, "r-1")?;
    for t in [
        &mut run.created_at,
        &mut run.started_at,
        &mut run.updated_at,
    ] {
        t.clear();
    }
    // Known on PostgreSQL only (its advisory lock): nobody holds it here.
    assert_ne!(run.lock_held, Some(true));
    run.lock_held = None;
    note!("run", run);
    note!("missing run", runs::get_run(db, "r-9").map(|_| ()));
    note!("last run", runs::last_run_id(db)?);
    let matching: Vec<_> = runs::runs_matching(db, "build a parser")?
        .into_iter()
        .map(|r| r.id)
        .collect();
    note!("matching", matching);
    let list: Vec<_> = runs::list_runs(db)?
        .into_iter()
        .map(|r| {
            (
                r.id,
                r.status,
                r.spent,
                r.tasks_done,
                r.tasks_total,
                r.budget,
            )
        })
        .collect();
    note!("list", list);

    resume::save_resume_state(db, "r-1", "t2", Some("{\"at\":1}"))?;
    note!("resume states", resume::resume_states(db, "r-1")?);
    let mut last: Vec<_> = resume::last_attempts(db, "r-1")?.into_iter().collect();
    last.sort();
    note!("last attempts", last);
    runs::set_task_status(db, "r-1", "t2", TaskStatus::Running, None)?;
    resume::requeue_running(db, "r-1")?;

    let rec = routing::RoutingRecord {
        run_id: "r-1".into(),
        task_id: "t1".into(),
        attempt: 1,
        role: "generate".into(),
        strategy: "balanced".into(),
        chosen: Some("m1".into()),
        reason: "best".into(),
        candidates: Vec::new(),
    };
    routing::insert(db, &rec)?;
    note!("routing task", routing::for_task(db, "r-1", "t1")?);
    note!("routing run", routing::for_run(db, "r-1")?.len());

    let inflight = inflight::InflightCall {
        reservation_id: 77,
        n: 1,
        run_id: Some("r-1".into()),
        task_id: Some("t2".into()),
        attempt: Some(1),
        role: "generate".into(),
        provider: "sim".into(),
        model: "m3".into(),
        simulated: true,
        worst: Micros(99),
    };
    inflight::insert(db, &inflight)?;
    inflight::insert(
        db,
        &inflight::InflightCall {
            worst: Micros(98),
            ..inflight.clone()
        },
    )?;
    let mut now = views::current_calls(db, "r-1")?;
    now.sort();
    note!("current calls", now);
    note!("taken", inflight::take_all(db, 77)?);
    inflight::insert(db, &inflight)?;
    inflight::remove(db, 77, 1)?;
    inflight::insert(db, &inflight)?;
    note!("orphans", inflight::delete_orphans(db)?);

    structured::save(
        db,
        &structured::ModeRow {
            provider: "local".into(),
            model: "m1".into(),
            base_url: "http://h/v1".into(),
            mode: "json_object".into(),
        },
    )?;
    structured::save(
        db,
        &structured::ModeRow {
            provider: "local".into(),
            model: "m1".into(),
            base_url: "http://h2/v1".into(),
            mode: "off".into(),
        },
    )?;
    note!("modes", structured::load(db)?);

    cancel::request(db, "r-1", "first")?;
    cancel::request(db, "r-1", "second")?;
    note!("unknown cancel", cancel::request(db, "r-9", "x").is_err());
    note!("pending", cancel::pending(db, "r-1")?);
    let taken = cancel::take(db, "r-1")?.map(|r| (r.reason, r.by_pid));
    note!("cancel taken", taken);
    note!("taken twice", cancel::take(db, "r-1")?);
    cancel::clear(db, "r-1")?;

    db.execute(
        "UPDATE budget_levels SET cap_micros = 5000, spent_micros = 4900, period = 'monthly',
            period_key = '2026-01' WHERE level = 'org'",
        args![],
    )?;
    db.execute(
        "UPDATE runs SET budget_micros = 6000 WHERE id = 'r-1'",
        args![],
    )?;
    note!("alerts", alerts::check(db, Some("r-1"), None)?);
    note!("alerts again", alerts::check(db, Some("r-1"), None)?);

    let tasks: Vec<_> = views::tasks(db, "r-1")?
        .into_iter()
        .map(|t| {
            (
                t.id,
                t.status,
                t.iterations,
                t.cost,
                t.prompt_head,
                t.dependencies,
            )
        })
        .collect();
    note!("task views", tasks);
    note!("task text", views::task_text(db, "r-1", "t1")?);
    note!("no task text", views::task_text(db, "r-1", "t9")?);
    let av: Vec<_> = views::attempts(db, "r-1", "t1")?
        .into_iter()
        .map(|a| (a.n, a.score, a.self_evaluated, a.cost, a.validators_json))
        .collect();
    note!("attempt views", av);
    let mut totals = views::call_totals(db)?;
    totals.sort_by(|a, b| a.0.cmp(&b.0));
    note!("call totals", totals);
    let mut savings = views::cache_savings(db)?;
    savings.sort();
    note!("savings", savings);
    note!("recent", views::recent_calls(db, 1)?);
    let mut states = views::last_breaker_states(db)?;
    states.sort();
    note!("breaker states", states);
    note!("last breaker id > 0", views::last_breaker_event_id(db)? > 0);
    note!(
        "between",
        views::breaker_events_between(db, 0, i64::MAX, 1)?
    );
    note!("quality", views::quality(db)?);
    note!("by run", views::spend_by_run(db, 5)?);
    note!("by phase", views::spend_by_phase(db)?);
    let history: Vec<_> = views::history(db, 4, i64::MAX)?
        .into_iter()
        .map(|(_, k, r, t)| (k, r, t))
        .collect();
    note!("history kinds", history.len());
    note!("failed", views::failed_calls(db, "r-1", "t1", 5)?);

    let mut report = crate::analysis::report::AnalysisReport::empty("/p");
    report.analyzed_at = "2026-01-01T00:00:00Z".into();
    for i in 0..3 {
        report.findings.push(crate::analysis::checks::finding(
            &format!("f{i}"),
            "T",
            crate::analysis::report::Priority::High,
            crate::analysis::report::Category::Hygiene,
            1.5,
            0.5,
            "d".into(),
            "i",
            Vec::new(),
        ));
    }
    let first = analyses::save(db, &report)?;
    let second = analyses::save(db, &report)?;
    note!("analysis ids ascend", second > first);
    note!(
        "latest analysis",
        analyses::load_latest(db)? == Some(report.clone())
    );
    note!(
        "latest for",
        analyses::load_latest_for(db, "/p")?.map(|r| r.findings.len())
    );
    note!("latest id", analyses::latest_id(db)? == Some(second));

    let b = crate::routing::Breaker {
        consecutive_failures: 2,
        trips: 1,
        open_until_ms: 10,
        not_before_ms: 5,
        ..Default::default()
    };
    models::save_breaker(db, "m1", &b, "h1")?;
    models::save_breaker(
        db,
        "m1",
        &crate::routing::Breaker {
            trips: 2,
            ..b.clone()
        },
        "h2",
    )?;
    note!("breakers", models::load_breakers(db)?);
    let mut stored = views::stored_breakers(db)?;
    for s in &mut stored {
        s.3.clear();
    }
    note!("stored breakers", stored);
    let profile = |samples: u64, calls: u64, quality: f64| crate::routing::learning::Profile {
        samples,
        quality,
        calls,
        successes: calls,
        latency_ema_ms: 12.5,
        cost_total: Micros(100),
    };
    let t = TaskType::CodeGeneration;
    models::save_profile(db, "m1", t, &profile(5, 20, 0.9))?;
    models::save_profile(db, "m1", t, &profile(3, 20, 0.7))?;
    models::save_profile(db, "m2", TaskType::Summarization, &profile(1, 1, 0.5))?;
    db.execute(
        "INSERT INTO model_profiles (model, task_type, samples, quality, calls, successes,
            latency_ema_ms, cost_total_micros, updated_at)
         VALUES ('m9', 'no_such_type', 1, 0.1, 1, 1, 1.0, 1, 'x')",
        args![],
    )?;
    let mut profiles = models::load_profiles(db)?;
    profiles.sort_by(|a, b| a.0.cmp(&b.0));
    note!("profiles", profiles);
    for (run, allowed) in [(Some("r-1"), true), (None, false)] {
        models::insert_audit(
            db,
            &models::AuditRow {
                run_id: run,
                task_id: Some("t1"),
                model: "m1",
                policies: &["eu".to_string()],
                mode: Some("enforce"),
                violations: &[],
                allowed,
            },
        )?;
    }
    let audit = |run: Option<&str>| -> Result<Vec<serde_json::Value>, StoreError> {
        Ok(models::audit(db, run)?
            .into_iter()
            .map(|mut v| {
                v["at"] = serde_json::Value::Null;
                v
            })
            .collect())
    };
    note!("audit all", audit(None)?);
    note!("audit run", audit(Some("r-1"))?);
    let s = models::call_stats(db, "m1")?;
    note!(
        "call stats",
        (s.calls, s.ok, s.p50_ms, s.p95_ms, s.recent_ms)
    );

    runs::delete_run(db, "r-1")?;
    note!("after delete", runs::list_runs(db)?.len());
    note!("events after delete", events::newest(db, 1000)?.len());
    Ok(out)
}

#[test]
fn the_scenario_reads_back_as_it_was_written_on_sqlite() {
    let c = open_in_memory().unwrap();
    let got = scenario(&c).unwrap();
    let line = |label: &str| {
        got.iter()
            .find(|l| l.starts_with(&format!("{label}: ")))
            .cloned()
            .unwrap_or_default()
    };
    // A few readings that pin the ported SQL's meaning (the rest is compared with PostgreSQL).
    assert!(
        line("call counts").contains("total: 4, ok: 2, cost: Micros(5400), estimated: Micros(800)"),
        "{got:#?}"
    );
    assert_eq!(
        line("task costs"),
        r#"task costs: [("t1", Micros(4600)), ("t2", Micros(800))]"#
    );
    assert_eq!(line("pruned run"), "pruned run: 60");
    assert_eq!(line("pruned none"), "pruned none: 1");
    assert_eq!(
        line("artifacts"),
        r#"artifacts: [("README.md", None), ("src/a.rs", Some("t2"))]"#
    );
    assert_eq!(
        line("last attempts"),
        r#"last attempts: [("t1", 2), ("t2", 1)]"#
    );
    assert!(line("taken").contains("worst: Micros(98)"), "{got:#?}");
    assert_eq!(line("orphans"), "orphans: 1");
    assert_eq!(
        line("cancel taken"),
        format!(r#"cancel taken: Some(("second", {}))"#, std::process::id())
    );
    assert!(
        line("alerts").contains("pct: 95") && line("alerts again") == "alerts again: []",
        "{got:#?}"
    );
    assert_eq!(
        line("by phase"),
        r#"by phase: [("revise", Micros(3400)), ("generate", Micros(2000))]"#
    );
    assert!(
        line("profiles").contains("samples: 5, quality: 0.9"),
        "{got:#?}"
    );
    assert!(!line("profiles").contains("m9"), "{got:#?}");
    assert_eq!(line("analysis ids ascend"), "analysis ids ascend: true");
    assert_eq!(line("latest analysis"), "latest analysis: true");
    assert_eq!(line("after delete"), "after delete: 1");
}

#[test]
fn the_scenario_reads_the_same_on_postgres() {
    let Ok(url) = std::env::var("ORCHESTRATOR_TEST_PG_URL") else {
        eprintln!("skipped: ORCHESTRATOR_TEST_PG_URL is not set");
        return;
    };
    let expected = scenario(&open_in_memory().unwrap()).unwrap();
    let schema = format!("parity_{}", std::process::id());
    let target = pg::PgTarget::parse(&url, &schema).unwrap();
    let mut client = target.connect().unwrap();
    pg::schema::migrate(&mut client, &target).unwrap();
    // `runs` is ordered by insertion like SQLite's rowid: the migration gave it a `rowid`.
    let cache = StatementCache::default();
    let got = {
        let mut t = client.transaction().unwrap();
        let got = scenario(&Named(&PgSql::new(&mut t, &cache)));
        t.rollback().unwrap();
        got
    };
    client
        .batch_execute(&format!("DROP SCHEMA {} CASCADE", pg::quote_ident(&schema)))
        .unwrap();
    let got = got.unwrap();
    for (e, g) in expected.iter().zip(&got) {
        assert_eq!(e, g, "SQLite and PostgreSQL differ");
    }
    assert_eq!(expected.len(), got.len());
}
