//! `run` and `resume`: start or continue a run and watch it: in the TUI when the user is at a
//! terminal, headless otherwise (`--headless`, `--json`, or stdout not a terminal).

use crate::artifacts::out_dir;
use crate::cli::{Cli, ResumeArgs, RunArgs, exit};
use crate::config::Strategy;
use crate::domain::{Micros, TaskSpec};
use crate::engine::decompose::{MAX_PLAN_TASKS, parse_plan_limited};
use crate::engine::report;
use crate::engine::{EngineHandle, ResumeRequest, RunRequest, Started};
use crate::headless;
use crate::setup::{App, CliError, open_app, runtime};
use crate::store::{self, RunStore};
use crate::text_safe;
use std::io::IsTerminal;
use std::path::Path;

fn read_plan(path: &Path, app: &App) -> Result<Vec<TaskSpec>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::BadInput(format!("cannot read plan file {}: {e}", path.display()))
    })?;
    let parsed = parse_plan_limited(&text, &app.cfg, MAX_PLAN_TASKS)
        .map_err(|e| CliError::BadInput(format!("plan file {}: {e}", path.display())))?;
    // A plan is written by a person or a script: be strict, a dropped item is an error.
    if let Some(w) = parsed.warnings.first() {
        return Err(CliError::BadInput(format!(
            "plan file {}: {w}",
            path.display()
        )));
    }
    // A cycle can never run: refuse it here rather than store a run that can only fail.
    let cycles = crate::engine::dag::plan_cycles(&parsed.tasks);
    if let Some(first) = cycles.first() {
        let ids: Vec<&str> = parsed.tasks.iter().map(|t| t.id.as_str()).collect();
        let more = match cycles.len() {
            1 => String::new(),
            n => format!(" (and {} more cycles)", n - 1),
        };
        return Err(CliError::BadInput(format!(
            "plan file {}: {}{more}; remove one of these dependencies",
            path.display(),
            crate::engine::dag::cycle_reason(first, &ids)
        )));
    }
    Ok(parsed.tasks)
}

fn time_limit(secs: u64, flag: &str) -> Result<u64, CliError> {
    Ok(crate::config::check_time_limit(secs, flag)?)
}

fn money(usd: f64, what: &str) -> Result<Micros, CliError> {
    if !usd.is_finite() || usd <= 0.0 {
        return Err(CliError::BadInput(format!(
            "{what} must be a positive amount in USD, got {usd}"
        )));
    }
    Ok(Micros::from_usd(usd))
}

pub fn run(cli: &Cli, args: &RunArgs) -> Result<i32, CliError> {
    json_error(run_inner(cli, args), args.json)
}

fn run_inner(cli: &Cli, args: &RunArgs) -> Result<i32, CliError> {
    let description = args.description.clone().unwrap_or_default();
    if description.trim().is_empty() && args.plan.is_none() {
        return Err(CliError::BadInput(
            "the run description is empty: orchestrator-tui run \"what to build\"".into(),
        ));
    }
    let time = args.time.map(|t| time_limit(t, "--time")).transpose()?;
    if let Some(n) = args.concurrency {
        crate::config::check_concurrency(n, "--concurrency")?;
    }
    let app = open_app(cli)?;
    let out = match &args.out {
        Some(dir) => Some(
            out_dir::check(dir, &app.data_dir, args.overwrite)
                .map_err(|e| CliError::BadInput(e.to_string()))?,
        ),
        None => None,
    };
    let plan = match &args.plan {
        Some(p) => Some(read_plan(p, &app)?),
        None => None,
    };
    let description = if description.trim().is_empty() {
        format!(
            "plan {}",
            args.plan
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        )
    } else {
        description
    };
    let strategy = match &args.strategy {
        Some(s) => Strategy::parse(s).ok_or_else(|| {
            CliError::BadInput(format!(
                "unknown --strategy `{s}` (quality, balanced, cost, latency)"
            ))
        })?,
        None => app.cfg.engine.strategy,
    };
    let budget = money(
        args.budget.unwrap_or(app.cfg.engine.default_budget_usd),
        "--budget",
    )?;
    let concurrency = args.concurrency.unwrap_or(app.cfg.engine.concurrency);
    if let Some(team) = &args.team
        && (team.trim().is_empty() || team.contains(char::is_whitespace))
    {
        return Err(CliError::BadInput(format!(
            "--team `{team}`: use a name without spaces"
        )));
    }
    let req = RunRequest {
        description: description.clone(),
        criteria: args.criteria.clone(),
        budget,
        time_limit_secs: time.unwrap_or(app.cfg.engine.default_time_secs),
        team: args.team.clone(),
        concurrency,
        strategy,
        output_dir: out.as_ref().map(|o| o.path.clone()),
        plan,
        force: args.force,
    };
    let rt = runtime()?;
    let engine = rt.block_on(async { app.engine() })?;

    if args.dry_run {
        return dry_run(&engine, &req, args.json);
    }

    // A resumable run with the same description: offer to resume it.
    if !args.new && req.plan.is_none() {
        let d = description.clone();
        let data_dir = app.data_dir.clone();
        // Each match with the tasks it has (a run only a cycle's tasks are left in is not resumable).
        let matches = app.store.call_blocking(move |c| {
            let mut out = Vec::new();
            for r in store::runs::runs_matching(c, &d)? {
                let tasks = c.tasks(&r.id)?;
                out.push((r, tasks));
            }
            Ok(out)
        })?;
        let resumable = matches
            .into_iter()
            .find(|(r, tasks)| {
                crate::engine::resumable::resumable(report::effective_status(&data_dir, r), tasks)
            })
            .map(|(r, _)| r);
        if let Some(m) = resumable {
            let interactive = std::io::stdin().is_terminal()
                && std::io::stderr().is_terminal()
                && !args.headless
                && !args.json;
            let resume = if args.resume_match {
                true
            } else if interactive {
                ask(&format!(
                    "Run {} with the same description is resumable ({}). Resume it? [Y/n] ",
                    m.id,
                    report::effective_status(&app.data_dir, &m)
                ))
            } else {
                crate::errln!(
                    "note: run {} has the same description and is resumable; starting a new run (use --resume-match to resume it)",
                    m.id
                );
                false
            };
            if resume {
                let rreq = ResumeRequest {
                    run_id: m.id.clone(),
                    budget: args.budget.map(Micros::from_usd),
                    time_limit_secs: time,
                };
                let w = Watch::new(cli, &app, &rt, &engine, args.json, args.headless);
                return drive_resume(&w, rreq);
            }
        }
    }

    if let Some(o) = &out {
        out_dir::claim(o).map_err(|e| CliError::BadInput(e.to_string()))?;
    }
    catch_signals(&rt)?;
    let started = match rt.block_on(engine.start_observed(req)) {
        Ok(x) => x,
        // cli-contract.md: with --json, one JSON document on stdout for every exit code but 2;
        // the refusal message still goes to stderr.
        Err(crate::engine::EngineError::Preflight(msg)) if args.json => {
            let v = serde_json::json!({
                "id": null, "status": null, "resumable": false,
                "error": "preflight", "message": msg,
            });
            text_safe::out_json(&v);
            crate::errln!("error: {msg}");
            return Ok(exit::PREFLIGHT);
        }
        Err(e) => return Err(e.into()),
    };
    let w = Watch::new(cli, &app, &rt, &engine, args.json, args.headless);
    observe(&w, started)
}

/// The TUI watches a run when the user is at a terminal and did not ask for headless or JSON
/// output (product.md: headless is automatic when stdout is not a terminal).
fn tui_wanted(headless: bool, json: bool) -> bool {
    !headless && !json && std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

/// What watching a run needs: the command's setup and how the user asked to see it.
struct Watch<'a> {
    cli: &'a Cli,
    app: &'a App,
    rt: &'a tokio::runtime::Runtime,
    engine: &'a EngineHandle,
    json: bool,
    headless: bool,
}

impl<'a> Watch<'a> {
    fn new(
        cli: &'a Cli,
        app: &'a App,
        rt: &'a tokio::runtime::Runtime,
        engine: &'a EngineHandle,
        json: bool,
        headless: bool,
    ) -> Self {
        Watch {
            cli,
            app,
            rt,
            engine,
            json,
            headless,
        }
    }
}

/// Watch the run to its end (TUI or headless), print the result, and map it to the exit code.
fn observe(w: &Watch, s: Started) -> Result<i32, CliError> {
    let Watch {
        cli,
        app,
        rt,
        engine,
        json,
        headless,
    } = *w;
    let tui = tui_wanted(headless, json);
    if !tui {
        let (status, stopped) = rt.block_on(headless::observe(engine, s.events, &s.run_id, s.join));
        return finish(app, &s.run_id, status, stopped, json);
    }
    let id = s.run_id.clone();
    let stopped = super::tui::open(cli, app, rt, engine.clone(), Some(s))?;
    // Quitting the TUI cancels a run still in flight and stores it (partial_success, resumable).
    let id2 = id.clone();
    let row = app
        .store
        .call_blocking(move |c| store::runs::get_run(c, &id2))?;
    let status = report::effective_status(&app.data_dir, &row);
    finish(app, &id, status, stopped, false)
}

/// Catch SIGINT/SIGTERM/SIGHUP from just before a run exists (not earlier: Ctrl-C at the resume
/// prompt still quits at once).
fn catch_signals(rt: &tokio::runtime::Runtime) -> Result<(), CliError> {
    let _in_runtime = rt.enter();
    crate::signals::install()
        .map_err(|e| CliError::Io(format!("cannot install the signal handlers: {e}")))
}

fn ask(q: &str) -> bool {
    text_safe::err(q);
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() {
        return false;
    }
    let a = line.trim().to_lowercase();
    a.is_empty() || a == "y" || a == "yes"
}

fn finish(
    app: &App,
    id: &str,
    status: crate::domain::status::RunStatus,
    stopped: Option<crate::signals::Stop>,
    json: bool,
) -> Result<i32, CliError> {
    let (id2, dd) = (id.to_string(), app.data_dir.clone());
    let read = app
        .store
        .call_blocking(move |c| report::run_json(c, &dd, &id2));
    let mut v = match (read, app.store.outage()) {
        (Ok(v), _) => v,
        // A PostgreSQL server gone away cannot even be read: what this process knows is said.
        (Err(e), Some(o)) if e.is_unavailable() => serde_json::json!({
            "id": id, "status": "interrupted", "resumable": true, "status_reason": o.reason,
            "error": "store_unavailable",
        }),
        (Err(e), _) => return Err(e.into()),
    };
    // The store could not commit during the run: it stopped (resumable) whatever its stored
    // status says, and what could not be recorded is said before the process exits.
    let outage = app.store.outage().filter(|o| {
        let done = v["status"].as_str().is_some_and(|s| {
            s.parse::<crate::domain::status::RunStatus>()
                .is_ok_and(|st| st.is_terminal())
        });
        !done || o.unrecorded_calls > 0
    });
    if let Some(o) = &outage {
        if !v["status"]
            .as_str()
            .is_some_and(|s| s == "success" || s == "completed_degraded")
        {
            v["status"] = serde_json::json!("interrupted");
            v["resumable"] = serde_json::json!(true);
            v["status_reason"] = serde_json::json!(o.reason);
        }
        v["unrecorded_calls"] = serde_json::json!(o.unrecorded_calls);
        v["unrecorded_cost_usd"] = serde_json::json!(crate::domain::money::usd_json(o.unrecorded));
    }
    // Written through text_safe: a closed stdout (`| head`) does not end the process early.
    if json {
        text_safe::out_json(&v);
    } else {
        text_safe::out(&headless::render_text(&v));
    }
    if let Some(o) = outage {
        crate::errln!("error: {}", o.reason);
        let fix = match app.store.dialect() {
            store::sql::Dialect::Sqlite => "free space or fix the database",
            store::sql::Dialect::Postgres => "bring the server back or fix the connection",
        };
        crate::errln!("{}", unrecorded_line(&o, id, fix));
        return Ok(exit::STORE);
    }
    Ok(headless::exit_code(status, stopped))
}

/// What the process could not record, said before it exits.
fn unrecorded_line(o: &store::Outage, id: &str, fix: &str) -> String {
    let what = if o.unrecorded_calls == 0 {
        "every answered call was recorded".to_string()
    } else {
        format!(
            "{} answered calls (${:.4} of spend) could not be recorded",
            o.unrecorded_calls,
            o.unrecorded.usd()
        )
    };
    format!("run {id} stopped: {what}; {fix}, then `orchestrator-tui resume {id}`")
}

/// cli-contract.md: with --json, stdout holds one JSON document for every exit code but 2.
fn json_error(r: Result<i32, CliError>, json: bool) -> Result<i32, CliError> {
    match r {
        Err(e) if json && e.exit_code() != exit::BAD_INPUT => {
            let v = serde_json::json!({
                "id": null, "status": null, "resumable": false,
                "error": if e.exit_code() == exit::STORE { "store_unavailable" } else { "error" },
                "message": e.to_string(),
            });
            text_safe::out_json(&v);
            crate::errln!("error: {e}");
            Ok(e.exit_code())
        }
        other => other,
    }
}

fn drive_resume(w: &Watch, req: ResumeRequest) -> Result<i32, CliError> {
    catch_signals(w.rt)?;
    let started = w.rt.block_on(w.engine.resume_observed(req))?;
    observe(w, started)
}

pub fn resume(cli: &Cli, args: &ResumeArgs) -> Result<i32, CliError> {
    json_error(resume_inner(cli, args), args.json)
}

fn resume_inner(cli: &Cli, args: &ResumeArgs) -> Result<i32, CliError> {
    let time = args.time.map(|t| time_limit(t, "--time")).transpose()?;
    let app = open_app(cli)?;
    let budget = match args.budget {
        Some(b) => Some(money(b, "--budget")?),
        None => None,
    };
    let run_id = match (&args.run, args.last) {
        (Some(r), _) => r.clone(),
        (None, true) => app
            .store
            .call_blocking(store::runs::last_run_id)?
            .ok_or_else(|| CliError::BadInput("there is no run to resume".into()))?,
        (None, false) => {
            return Err(CliError::BadInput(
                "name the run to resume (see `orchestrator-tui runs`) or pass --last".into(),
            ));
        }
    };
    let rt = runtime()?;
    let engine = rt.block_on(async { app.engine() })?;
    let req = ResumeRequest {
        run_id,
        budget,
        time_limit_secs: time,
    };
    let w = Watch::new(cli, &app, &rt, &engine, args.json, args.headless);
    drive_resume(&w, req)
}

fn dry_run(engine: &EngineHandle, req: &RunRequest, json: bool) -> Result<i32, CliError> {
    let per_task = engine.estimate(1, false);
    let (tasks, decompose): (Vec<(String, String)>, bool) = match &req.plan {
        Some(p) => (
            p.iter()
                .map(|t| (t.id.clone(), t.task_type.to_string()))
                .collect(),
            false,
        ),
        None => (vec![], true),
    };
    let n = if decompose { 5 } else { tasks.len() };
    let total = engine.estimate(n, decompose);
    if json {
        let v = serde_json::json!({
            "dry_run": true,
            "description": req.description,
            "decomposition": decompose,
            "tasks": tasks.iter().map(|(id, ty)| serde_json::json!({"id": id, "type": ty, "estimated_cost_usd": per_task.usd()})).collect::<Vec<_>>(),
            "estimated_tasks": n,
            "estimated_cost_usd": total.usd(),
            "budget_usd": req.budget.usd(),
        });
        text_safe::out_json(&v);
    } else {
        crate::outln!("dry run: {}", text_safe::clean_line(&req.description));
        if decompose {
            crate::outln!("tasks are decided by decomposition; estimate assumes 5 tasks");
        }
        for (id, ty) in &tasks {
            crate::outln!("  {id:<10} {ty:<18} ~${:.4}", per_task.usd());
        }
        crate::outln!(
            "estimated minimum cost ${:.4} (budget ${:.2})",
            total.usd(),
            req.budget.usd()
        );
    }
    Ok(exit::OK)
}
