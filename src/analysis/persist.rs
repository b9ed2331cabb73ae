//! Analyses are kept by the store (`store/analyses.rs`): re-exported here for the analyzer's
//! callers.

pub use crate::store::analyses::{MIGRATION_SQL, load_latest, load_latest_for, save};
