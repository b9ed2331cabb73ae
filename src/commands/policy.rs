//! `policy check [FILE]` and `audit [--run RUN] [--json]`.

use crate::cli::{Cli, exit};
use crate::config::Catalog;
use crate::routing::policy;
use crate::setup::{CliError, load_config, load_config_file, open_app};
use crate::store;
use std::path::Path;

pub fn check(cli: &Cli, file: Option<&Path>) -> Result<i32, CliError> {
    let cfg = match file {
        Some(f) => load_config_file(Some(f))?,
        None => load_config(cli)?,
    };
    let where_ = file.map_or("the config".to_string(), |f| f.display().to_string());
    if cfg.policies.is_empty() {
        crate::outln!("{where_}: no policies: every model is allowed");
        return Ok(exit::OK);
    }
    let policies =
        policy::parse(&cfg.policies).map_err(|e| CliError::BadInput(format!("{where_}: {e}")))?;
    let catalog = Catalog::from_config(&cfg).map_err(|e| CliError::BadInput(e.to_string()))?;
    let (errors, notes) = policy::check(&policies, &catalog.models);
    for n in &notes {
        crate::outln!("{n}");
    }
    if errors.is_empty() {
        crate::outln!("{where_}: {} policies OK", policies.len());
        Ok(exit::OK)
    } else {
        for e in &errors {
            crate::outln!("error: {e}");
        }
        Err(CliError::BadInput(format!(
            "{where_}: {} problem(s) in the policies: {}",
            errors.len(),
            errors[0]
        )))
    }
}

pub fn audit(cli: &Cli, run: Option<&str>, json: bool) -> Result<i32, CliError> {
    let app = open_app(cli)?;
    let r = run.map(String::from);
    let rows = app
        .store
        .call_blocking(move |c| store::models::audit(c, r.as_deref()))?;
    for row in &rows {
        if json {
            crate::text_safe::out_raw(&format!(
                "{}\n",
                serde_json::to_string(row).unwrap_or_default()
            ));
        } else {
            crate::outln!(
                "{} {:<9} {:<6} {:<22} {:<8} {}",
                row["at"].as_str().unwrap_or(""),
                row["run"].as_str().unwrap_or("-"),
                row["task"].as_str().unwrap_or("-"),
                row["model"].as_str().unwrap_or(""),
                if row["allowed"].as_bool().unwrap_or(false) {
                    "allowed"
                } else {
                    "blocked"
                },
                row["violations"]
                    .as_array()
                    .map(|v| v
                        .iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join("; "))
                    .unwrap_or_default()
            );
        }
    }
    if rows.is_empty() && !json {
        crate::outln!("no policy decisions recorded (no [[policy]] configured, or no run yet)");
    }
    Ok(exit::OK)
}
