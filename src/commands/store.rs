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
            let version: u32 = app
                .store
                .call_blocking(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))?;
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
