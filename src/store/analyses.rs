//! Persistence of analyses and their findings, so the Analysis pane shows the last one at start.
//! `MIGRATION_SQL` is migration 5 of `store/migrations.rs`; `save`/`load_latest` use it.

use super::StoreError;
use super::sql::Sql;
use crate::analysis::report::{AnalysisReport, Finding};
use crate::args;

pub const MIGRATION_SQL: &str = r#"
CREATE TABLE analyses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    analyzed_at TEXT NOT NULL,
    files INTEGER NOT NULL,
    code_lines INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    has_semantic INTEGER NOT NULL DEFAULT 0,
    semantic_note TEXT,
    report_json TEXT NOT NULL            -- the report without its findings
);
CREATE INDEX analyses_path ON analyses(path, id);

CREATE TABLE findings (
    analysis_id INTEGER NOT NULL REFERENCES analyses(id) ON DELETE CASCADE,
    rank INTEGER NOT NULL,               -- 1 = first in the ranked list
    finding_id TEXT NOT NULL,
    title TEXT NOT NULL,
    priority TEXT NOT NULL,              -- CRITICAL | HIGH | MEDIUM | LOW
    category TEXT NOT NULL,
    effort_hours REAL NOT NULL,
    confidence REAL NOT NULL,
    source TEXT NOT NULL,                -- static | llm
    finding_json TEXT NOT NULL,
    PRIMARY KEY (analysis_id, rank)
);
CREATE INDEX findings_priority ON findings(priority);
"#;

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Invalid(format!("analysis report JSON: {e}"))
}

/// Store a report and its findings in one transaction (a savepoint: a transaction of its own
/// outside one); returns the analysis id.
pub fn save(conn: &dyn Sql, report: &AnalysisReport) -> Result<i64, StoreError> {
    conn.execute_batch("SAVEPOINT analysis_save")?;
    match save_rows(conn, report) {
        Ok(id) => {
            conn.execute_batch("RELEASE analysis_save")?;
            Ok(id)
        }
        Err(e) => {
            // Undo the partial rows; the error that matters is the first one.
            let _ = conn.execute_batch("ROLLBACK TO analysis_save; RELEASE analysis_save");
            Err(e)
        }
    }
}

fn save_rows(conn: &dyn Sql, report: &AnalysisReport) -> Result<i64, StoreError> {
    let mut head = report.clone();
    head.findings = Vec::new();
    let json = serde_json::to_string(&head).map_err(json_err)?;
    let id: i64 = super::insert_returning_id(
        conn,
        "INSERT INTO analyses (path, analyzed_at, files, code_lines, duration_ms, has_semantic, semantic_note, report_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        args![
            report.path,
            report.analyzed_at,
            report.files as i64,
            report.lines.code as i64,
            report.duration_ms as i64,
            report.semantic.is_some(),
            report.semantic_note,
            json
        ],
    )?;
    for (i, f) in report.findings.iter().enumerate() {
        conn.execute(
            "INSERT INTO findings (analysis_id, rank, finding_id, title, priority, category, effort_hours, confidence, source, finding_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            args![
                id,
                i as i64 + 1,
                f.id,
                f.title,
                f.priority.as_str(),
                f.category.as_str(),
                f.effort_hours,
                f.confidence,
                f.source,
                serde_json::to_string(f).map_err(json_err)?
            ],
        )?;
    }
    Ok(id)
}

fn load(conn: &dyn Sql, id: i64, json: String) -> Result<AnalysisReport, StoreError> {
    let mut report: AnalysisReport = serde_json::from_str(&json).map_err(json_err)?;
    let rows: Vec<String> = conn.query_map(
        "SELECT finding_json FROM findings WHERE analysis_id = ?1 ORDER BY rank",
        args![id],
        |r| r.get(0),
    )?;
    for row in rows {
        let f: Finding = serde_json::from_str(&row).map_err(json_err)?;
        report.findings.push(f);
    }
    Ok(report)
}

/// The most recent analysis of any path.
pub fn load_latest(conn: &dyn Sql) -> Result<Option<AnalysisReport>, StoreError> {
    let row = conn.query_opt(
        "SELECT id, report_json FROM analyses ORDER BY id DESC LIMIT 1",
        args![],
        |r| Ok((r.get::<i64>(0)?, r.get::<String>(1)?)),
    )?;
    row.map(|(id, json)| load(conn, id, json)).transpose()
}

/// The most recent analysis of `path` (as stored in the report).
pub fn load_latest_for(conn: &dyn Sql, path: &str) -> Result<Option<AnalysisReport>, StoreError> {
    let row = conn.query_opt(
        "SELECT id, report_json FROM analyses WHERE path = ?1 ORDER BY id DESC LIMIT 1",
        args![path],
        |r| Ok((r.get::<i64>(0)?, r.get::<String>(1)?)),
    )?;
    row.map(|(id, json)| load(conn, id, json)).transpose()
}

/// The id of the newest stored analysis, if any.
pub fn latest_id(conn: &dyn Sql) -> Result<Option<i64>, StoreError> {
    conn.query_row("SELECT MAX(id) FROM analyses", args![], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::checks::finding;
    use crate::analysis::report::{Category, Evidence, Priority, SemanticSummary};
    use rusqlite::Connection;

    fn db() -> Connection {
        let c = Connection::open_in_memory().expect("open");
        c.execute_batch("PRAGMA foreign_keys = ON;")
            .expect("pragma");
        c.execute_batch(MIGRATION_SQL).expect("migrate");
        c
    }

    fn report(path: &str, n: usize) -> AnalysisReport {
        let mut r = AnalysisReport::empty(path);
        r.files = 7;
        r.analyzed_at = "2025-01-01T00:00:00Z".into();
        for i in 0..n {
            r.findings.push(finding(
                &format!("f{i}"),
                "T",
                Priority::Medium,
                Category::Hygiene,
                1.0,
                0.5,
                "d".into(),
                "i",
                vec![Evidence::at("a.rs", Some(i as u32), "n")],
            ));
        }
        r
    }

    #[test]
    fn empty_store_has_no_latest() {
        assert!(load_latest(&db()).expect("query").is_none());
    }

    #[test]
    fn round_trip_keeps_everything_in_rank_order() {
        let c = db();
        let mut a = report("/a", 3);
        a.semantic = Some(SemanticSummary {
            purpose: "p".into(),
            ..SemanticSummary::default()
        });
        let b = report("/b", 12);
        save(&c, &a).expect("save a");
        let id = save(&c, &b).expect("save b");
        assert_eq!(id, 2);
        assert_eq!(load_latest(&c).expect("load"), Some(b.clone()));
        assert_eq!(load_latest_for(&c, "/a").expect("load a"), Some(a));
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM findings", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 15);
        c.execute("DELETE FROM analyses WHERE id = ?1", [id])
            .expect("delete");
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM findings", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 3, "findings cascade with their analysis");
    }
}
