//! Codebase analyzer (issue 9): a static stage (walk, languages, project types, checks, ranking)
//! and an optional semantic stage through a model.

pub mod counter;
pub mod known_files;
pub mod lang_table;
pub mod languages;
pub mod metrics;
pub mod probes;
pub mod report;
pub mod scan;
pub mod walk;

pub use report::*;
