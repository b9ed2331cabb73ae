//! Live updates: every change to runs, breakers and budgets in the shared store sends a
//! notification on channel `orchestrator` (a trigger per table, `schema.rs`), with the schema
//! and table as payload. A `Listener` on its own connection hears changes made by any machine,
//! so an open TUI refreshes at once instead of polling.

use super::{PgTarget, StoreError};
use std::time::Duration;

/// What changed: a table of the listener's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Runs,
    Breakers,
    Budget,
    Other(String),
}

pub struct Listener {
    client: postgres::Client,
    schema: String,
}

impl Listener {
    pub fn open(target: &PgTarget) -> Result<Listener, StoreError> {
        let mut client = target.connect()?;
        client.batch_execute("LISTEN orchestrator")?;
        Ok(Listener {
            client,
            schema: target.schema().to_string(),
        })
    }

    /// The changes in this schema heard within `wait` (empty when none), each once.
    pub fn changes(&mut self, wait: Duration) -> Result<Vec<Change>, StoreError> {
        use postgres::fallible_iterator::FallibleIterator;
        let mut notes = Vec::new();
        let mut n = self.client.notifications();
        let first = n.timeout_iter(wait).next()?;
        if let Some(first) = first {
            notes.push(first);
            // Then whatever else is already queued, without waiting again.
            let mut rest = n.iter();
            while let Some(more) = rest.next()? {
                notes.push(more);
            }
        }
        let mut out = Vec::new();
        for note in notes {
            let mut parts = note.payload().splitn(2, ' ');
            if parts.next() != Some(self.schema.as_str()) {
                continue;
            }
            let c = match parts.next().unwrap_or("") {
                "runs" => Change::Runs,
                "breakers" | "key_disables" => Change::Breakers,
                "budget_levels" => Change::Budget,
                other => Change::Other(other.to_string()),
            };
            if !out.contains(&c) {
                out.push(c);
            }
        }
        Ok(out)
    }
}
