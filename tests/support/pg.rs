//! A PostgreSQL schema of its own for one test (`ORCHESTRATOR_TEST_PG_URL`), dropped when it
//! goes, so tests run in parallel and leave nothing behind. `None` (with a printed notice)
//! without the variable: the test skips.

use orchestrator_tui::store::pg::{self, PgTarget};

pub struct PgSchema {
    pub target: PgTarget,
    pub url: String,
}

impl PgSchema {
    pub fn new(tag: &str) -> Option<PgSchema> {
        let Ok(url) = std::env::var("ORCHESTRATOR_TEST_PG_URL") else {
            eprintln!(
                "note: ORCHESTRATOR_TEST_PG_URL is not set: PostgreSQL part of {tag} skipped"
            );
            return None;
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("t_{tag}_{}_{nanos}", std::process::id());
        let target = PgTarget::parse(&url, &name).expect("ORCHESTRATOR_TEST_PG_URL parses");
        Some(PgSchema { target, url })
    }

    pub fn name(&self) -> &str {
        self.target.schema()
    }

    /// The `[store]` section of a config that uses this schema.
    pub fn store_config(&self) -> String {
        format!(
            "[store]\nurl = \"{}\"\nschema = \"{}\"\n",
            self.url,
            self.name()
        )
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        // On a thread of its own: the synchronous client must not connect inside a tokio
        // runtime, and async tests drop their schema there (also when they fail).
        let target = self.target.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = target.connect() {
                let _ = c.batch_execute(&format!(
                    "DROP SCHEMA IF EXISTS {} CASCADE",
                    pg::quote_ident(target.schema())
                ));
            }
        })
        .join();
    }
}
