//! Reads the TUI's loader makes on either backend (`&dyn Sql`): the stored events (`run_events`,
//! written by `events.rs`) by id, so an open TUI lists what any process stores as it is stored,
//! and its first history and the events after it meet at one id (none twice, none skipped).

use super::StoreError;
use super::events::kind_name;
use super::sql::Sql;

/// A stored event: (id, at, kind, run, text).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: i64,
    pub at: String,
    pub kind: &'static str,
    pub run_id: Option<String>,
    pub text: String,
}

/// The newest stored event's id (0: none).
pub fn last_event_id(c: &dyn Sql) -> Result<i64, StoreError> {
    c.query_row(
        "SELECT COALESCE(MAX(id), 0) FROM run_events",
        crate::args![],
        |r| r.get(0),
    )
}

/// Events with `after < id <= upto`, oldest first; at most `limit` (the newest of them, when
/// more were stored).
pub fn events_between(
    c: &dyn Sql,
    after: i64,
    upto: i64,
    limit: usize,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut rows = c.query_map(
        "SELECT id, at, kind, run_id, message FROM run_events
         WHERE id > ?1 AND id <= ?2 ORDER BY id DESC LIMIT ?3",
        crate::args![after, upto, limit],
        |r| {
            let kind: String = r.get(2)?;
            Ok(StoredEvent {
                id: r.get(0)?,
                at: r.get(1)?,
                kind: kind_name(&kind),
                run_id: r.get(3)?,
                text: r.get(4)?,
            })
        },
    )?;
    rows.reverse();
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(c: &dyn Sql, run: Option<&str>, kind: &str, text: &str) {
        c.execute(
            "INSERT INTO run_events (at, run_id, level, message, kind) VALUES (?1, ?2, 'info', ?3, ?4)",
            crate::args![crate::store::now_rfc3339(), run, text, kind],
        )
        .unwrap();
    }

    /// What both backends must answer.
    fn reads_by_id(c: &dyn Sql) {
        assert_eq!(last_event_id(c).unwrap(), 0);
        assert!(events_between(c, 0, 0, 10).unwrap().is_empty());
        insert(c, Some("r-1"), "budget", "80% of the run cap");
        insert(c, None, "no such kind", "x");
        insert(
            c,
            Some("r-1"),
            "error",
            "generate call to m failed (timeout)",
        );
        let upto = last_event_id(c).unwrap();
        let all = events_between(c, 0, upto, 10).unwrap();
        let got: Vec<(&str, Option<&str>, &str)> = all
            .iter()
            .map(|e| (e.kind, e.run_id.as_deref(), e.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("budget", Some("r-1"), "80% of the run cap"),
                ("info", None, "x"),
                ("error", Some("r-1"), "generate call to m failed (timeout)"),
            ],
            "oldest first, unknown kinds read as info"
        );
        assert!(all.windows(2).all(|w| w[0].id < w[1].id));
        // After an id: only later ones; a limit keeps the newest.
        let later = events_between(c, all[0].id, upto, 10).unwrap();
        assert_eq!(later, all[1..]);
        let newest = events_between(c, 0, upto, 1).unwrap();
        assert_eq!(newest, all[2..]);
        // Up to an id: nothing past it.
        assert_eq!(events_between(c, 0, all[1].id, 10).unwrap(), all[..2]);
    }

    #[test]
    fn events_are_read_by_id_on_sqlite() {
        let c = crate::store::open_in_memory().unwrap();
        reads_by_id(&c);
    }

    #[test]
    fn events_are_read_by_id_on_postgres() {
        let Ok(url) = std::env::var("ORCHESTRATOR_TEST_PG_URL") else {
            eprintln!("note: ORCHESTRATOR_TEST_PG_URL is not set: PostgreSQL part skipped");
            return;
        };
        let schema = format!("t_tui_reads_{}", std::process::id());
        let target = crate::store::pg::PgTarget::parse(&url, &schema).unwrap();
        let conn = crate::store::pg::PgConn::open(&target).unwrap();
        let cache = crate::store::sql::StatementCache::default();
        // The schema goes even when an assertion fails.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            conn.tx(|t| {
                let db = crate::store::sql::PgSql::new(t, &cache);
                reads_by_id(&db);
                Ok(())
            })
        }));
        let drop = format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            crate::store::pg::quote_ident(&schema)
        );
        let _ = conn.client().batch_execute(&drop);
        match r {
            Ok(r) => r.unwrap(),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}
