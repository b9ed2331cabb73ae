//! `store status`: which store this configuration uses (the SQLite file in the data dir, or the
//! org-wide PostgreSQL store), its schema version against this binary's, and where it is.

use crate::cli::{Cli, exit};
use crate::setup::{CliError, open_app_shared};
use serde_json::json;

pub fn status(cli: &Cli, json_out: bool) -> Result<i32, CliError> {
    let app = open_app_shared(cli)?;
    let known = crate::store::migrations::MIGRATIONS.len() as u32;
    let v = match &app.shared {
        Some(pg) => {
            let version = crate::store::pg::schema::version(&mut pg.client())?;
            json!({
                "backend": "postgres",
                "connection": pg.target().describe(),
                "schema": pg.target().schema(),
                "schema_version": version,
                "binary_version": known,
            })
        }
        None => {
            let version: u32 = app.store.call_blocking(|c| {
                c.query_row("PRAGMA user_version", crate::args![], |r| r.get(0))
            })?;
            json!({
                "backend": "sqlite",
                "connection": app.store.path().display().to_string(),
                "schema": null,
                "schema_version": version,
                "binary_version": known,
            })
        }
    };
    if json_out {
        crate::text_safe::out_json(&v);
    } else {
        crate::outln!("backend         {}", v["backend"].as_str().unwrap_or(""));
        crate::outln!("connection      {}", v["connection"].as_str().unwrap_or(""));
        crate::outln!(
            "schema version  {} (this binary: {known})",
            v["schema_version"]
        );
    }
    Ok(exit::OK)
}

/// `store migrate --to URL`: copy this data dir's history into the shared PostgreSQL store
/// (store/pg/import.rs says what is copied and how a second run stays idempotent).
pub fn migrate(
    cli: &Cli,
    url: &str,
    schema: Option<&str>,
    dry_run: bool,
    json_out: bool,
) -> Result<i32, CliError> {
    // The source is always this data dir's SQLite file, whatever `[store] url` says.
    let app = open_app_shared(cli)?;
    let schema = schema.unwrap_or(app.cfg.store.schema_name()).to_string();
    let target = crate::store::pg::PgTarget::parse(url, &schema)
        .map_err(|e| CliError::BadInput(e.to_string()))?;
    let pg = crate::store::pg::PgConn::open(&target)?;
    // This data dir's own file (created and migrated if new), whatever the store in use.
    let path = crate::store::Store::open(&app.data_dir)?
        .path()
        .to_path_buf();
    let src = crate::store::open_connection(&path)?;
    let source = format!(
        "{}:{}",
        crate::store::owner::Owner::current().host,
        std::fs::canonicalize(&path)
            .unwrap_or(path.clone())
            .display()
    );
    let data_dir = app.data_dir.clone();
    let live = move |id: &str, run: &crate::store::sql::Row| -> bool {
        let status: String = run.get(1).unwrap_or_default();
        if status != "running" {
            return false;
        }
        let owner = match (
            run.get::<Option<String>>(2),
            run.get::<Option<u32>>(3),
            run.get::<Option<String>>(4),
        ) {
            (Ok(Some(host)), Ok(Some(pid)), Ok(Some(start))) => {
                Some(crate::store::owner::Owner { host, pid, start })
            }
            _ => None,
        };
        crate::liveness::run_alive(&data_dir, id, owner.as_ref())
    };
    if !json_out {
        crate::errln!(
            "copying {} into {}{}",
            path.display(),
            target.describe(),
            if dry_run { " (dry run)" } else { "" }
        );
    }
    let report = {
        let cache = crate::store::sql::StatementCache::default();
        let mut client = pg.client();
        // One snapshot of the source and one transaction on the server: all of it or nothing.
        src.execute_batch("BEGIN")
            .map_err(crate::store::StoreError::from)?;
        let mut t = client
            .transaction()
            .map_err(crate::store::StoreError::from)?;
        let report = {
            let dst = crate::store::sql::PgSql::new(&mut t, &cache);
            crate::store::pg::import::import(&src, &dst, &source, &live)
        };
        let _ = src.execute_batch("ROLLBACK");
        let report = report?;
        if dry_run {
            t.rollback().map_err(crate::store::StoreError::from)?;
        } else {
            t.commit().map_err(crate::store::StoreError::from)?;
        }
        report
    };
    if json_out {
        let mut v = serde_json::to_value(&report).unwrap_or_default();
        v["dry_run"] = json!(dry_run);
        v["to"] = json!(target.describe());
        crate::text_safe::out_json(&v);
        return Ok(exit::OK);
    }
    let copied: u64 = report.copied.values().sum();
    let runs = report.copied.get("runs").copied().unwrap_or(0);
    crate::outln!(
        "{} {runs} run{} ({copied} rows) into {}",
        if dry_run { "would copy" } else { "copied" },
        if runs == 1 { "" } else { "s" },
        target.describe()
    );
    for (table, n) in report.copied.iter().filter(|(_, n)| **n > 0) {
        crate::outln!("  {table:<18} {n}");
    }
    if report.runs_already_there > 0 {
        crate::outln!(
            "{} runs already in the shared store (left as they are)",
            report.runs_already_there
        );
    }
    if !report.runs_live.is_empty() {
        crate::outln!(
            "{} runs still running here, not copied (migrate again when they end): {}",
            report.runs_live.len(),
            report.runs_live.join(", ")
        );
    }
    if !report.levels_created.is_empty() {
        crate::outln!(
            "budget levels capped as here: {}",
            report.levels_created.join(", ")
        );
    }
    if !report.levels_kept.is_empty() {
        crate::outln!(
            "budget levels the shared store already had (its caps kept): {}",
            report.levels_kept.join(", ")
        );
    }
    for (level, micros) in &report.spend_added_micros {
        crate::outln!(
            "  spend added to {level}: ${:.4}",
            crate::domain::Micros(*micros).usd()
        );
    }
    crate::outln!(
        "learned model profiles: {}",
        if report.profiles_merged {
            "merged into the shared ones"
        } else {
            "already merged by an earlier migrate of this data dir"
        }
    );
    if dry_run {
        crate::outln!("dry run: nothing was written");
    }
    Ok(exit::OK)
}
