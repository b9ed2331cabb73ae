//! Persistence of analyses and their findings, so the Analysis pane shows the last one at start.
//! `MIGRATION_SQL` is migration 5 of `store/migrations.rs`; `save`/`load_latest` use it.

use rusqlite::{Connection, OptionalExtension, params};

use crate::analysis::report::{AnalysisReport, Finding};

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

fn to_sql_err(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

fn from_sql_err(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

/// Store a report and its findings in one transaction; returns the analysis id.
pub fn save(conn: &Connection, report: &AnalysisReport) -> rusqlite::Result<i64> {
    let tx = conn.unchecked_transaction()?;
    let mut head = report.clone();
    head.findings = Vec::new();
    let json = serde_json::to_string(&head).map_err(to_sql_err)?;
    tx.execute(
        "INSERT INTO analyses (path, analyzed_at, files, code_lines, duration_ms, has_semantic, semantic_note, report_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
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
    let id = tx.last_insert_rowid();
    {
        let mut stmt = tx.prepare(
            "INSERT INTO findings (analysis_id, rank, finding_id, title, priority, category, effort_hours, confidence, source, finding_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for (i, f) in report.findings.iter().enumerate() {
            stmt.execute(params![
                id,
                i as i64 + 1,
                f.id,
                f.title,
                f.priority.as_str(),
                f.category.as_str(),
                f.effort_hours,
                f.confidence,
                f.source,
                serde_json::to_string(f).map_err(to_sql_err)?
            ])?;
        }
    }
    tx.commit()?;
    Ok(id)
}

fn load(conn: &Connection, id: i64, json: String) -> rusqlite::Result<AnalysisReport> {
    let mut report: AnalysisReport = serde_json::from_str(&json).map_err(from_sql_err)?;
    let mut stmt =
        conn.prepare("SELECT finding_json FROM findings WHERE analysis_id = ?1 ORDER BY rank")?;
    let rows = stmt.query_map([id], |r| r.get::<_, String>(0))?;
    for row in rows {
        let f: Finding = serde_json::from_str(&row?).map_err(from_sql_err)?;
        report.findings.push(f);
    }
    Ok(report)
}

/// The most recent analysis of any path.
pub fn load_latest(conn: &Connection) -> rusqlite::Result<Option<AnalysisReport>> {
    let row = conn
        .query_row(
            "SELECT id, report_json FROM analyses ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
        )
        .optional()?;
    row.map(|(id, json)| load(conn, id, json)).transpose()
}

/// The most recent analysis of `path` (as stored in the report).
pub fn load_latest_for(conn: &Connection, path: &str) -> rusqlite::Result<Option<AnalysisReport>> {
    let row = conn
        .query_row(
            "SELECT id, report_json FROM analyses WHERE path = ?1 ORDER BY id DESC LIMIT 1",
            [path],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
        )
        .optional()?;
    row.map(|(id, json)| load(conn, id, json)).transpose()
}

/// The id of the newest stored analysis, if any.
pub fn latest_id(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.query_row("SELECT MAX(id) FROM analyses", [], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::checks::finding;
    use crate::analysis::report::{Category, Evidence, Priority, SemanticSummary};

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
