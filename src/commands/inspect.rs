//! `runs` and `show`: read the store, fold in liveness, print text or the contract's JSON.

use super::{CliError, open_app};
use crate::cli::{Cli, exit};
use crate::engine::report;
use crate::headless::render_text;

pub fn runs(cli: &Cli, json: bool) -> Result<i32, CliError> {
    let app = crate::setup::open_app_shared(cli)?;
    let dd = app.data_dir.clone();
    let v = match &app.shared {
        // Every machine's runs; liveness from their advisory locks.
        Some(pg) => {
            let schema = pg.target().schema().to_string();
            let runs = pg.tx(|t| crate::store::pg::runs::list_runs(t, &schema))?;
            let ids = runs.clone();
            let more = app
                .store
                .call_blocking(move |c| report::ListFacts::load(c, &ids))?;
            report::runs_json_from(&runs, |r| r.status, &more)
        }
        None => app
            .store
            .call_blocking(move |c| report::runs_json(c, &dd))?,
    };
    if json {
        crate::text_safe::out_json(&v);
        return Ok(exit::OK);
    }
    let rows = v.as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        crate::outln!("no runs yet: orchestrator-tui run \"what to build\"");
        return Ok(exit::OK);
    }
    crate::outln!(
        "{:<9} {:<19} {:<9} {:>10} {:>7}  {:<20} {:<24} description",
        "id",
        "status",
        "resume",
        "cost",
        "tasks",
        "updated",
        "by"
    );
    for r in rows {
        // One line per run: the description's newlines and escape sequences go first.
        let desc: String = crate::text_safe::clean_line(r["description"].as_str().unwrap_or(""))
            .chars()
            .take(50)
            .collect();
        // Who started it, and where it is driven now or was last (runs of a shared store come
        // from several machines; one may be resumed on another than it started on).
        let host = r["driver_host"].as_str().or(r["host"].as_str());
        let by = match (r["user"].as_str(), host) {
            (Some(u), Some(h)) => format!("{u}@{h}"),
            (None, Some(h)) => h.to_string(),
            _ => "-".to_string(),
        };
        let by: String = crate::text_safe::clean_line(&by).chars().take(24).collect();
        crate::outln!(
            "{:<9} {:<19} {:<9} {:>10} {:>7}  {:<20} {:<24} {}",
            r["id"].as_str().unwrap_or(""),
            r["status"].as_str().unwrap_or(""),
            if r["resumable"].as_bool().unwrap_or(false) {
                "yes"
            } else {
                "-"
            },
            format!("${:.4}", r["total_cost_usd"].as_f64().unwrap_or(0.0)),
            format!("{}/{}", r["tasks_done"], r["tasks_total"]),
            r["updated_at"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(19)
                .collect::<String>(),
            by,
            desc
        );
    }
    Ok(exit::OK)
}

pub fn show(cli: &Cli, run: &str, json: bool) -> Result<i32, CliError> {
    let app = open_app(cli)?;
    let (id, dd) = (run.to_string(), app.data_dir.clone());
    let v = app
        .store
        .call_blocking(move |c| report::run_json(c, &dd, &id))?;
    if json {
        crate::text_safe::out_json(&v);
    } else {
        crate::text_safe::out(&render_text(&v));
    }
    Ok(exit::OK)
}
