//! The Runs pane's Host is the machine driving a run now, or that drove it last, as `runs` and
//! `show` (`driver_host`) say: a run of a shared store resumed on another machine than the one
//! that started it is shown there. Applied to each snapshot the loader reads.

use super::snapshot::Snapshot;
use crate::store::{RunStore, StoreError, sql::Sql};

/// Replace each resumed run's host by the one that drove it last (text-safe: any machine of a
/// shared store writes it).
pub fn apply(c: &dyn Sql, snap: &mut Snapshot) -> Result<(), StoreError> {
    let driven = c.driven_hosts()?;
    if driven.is_empty() {
        return Ok(());
    }
    for r in &mut snap.runs {
        if let Some(h) = driven.get(&r.id) {
            r.host = Some(crate::text_safe::clean_line(h).into_owned());
        }
    }
    Ok(())
}
