//! Integration tests of the cli area, one test binary: `cargo test --test cli`.
//! One module per file of this folder; tests/README.md says how to add one.

#[path = "../support/mod.rs"]
mod support;

mod analyze;
mod budget_set_run;
mod import_litellm;
mod limits;
mod out_dir;
mod parked_lines;
mod real_model;
mod run;
mod shared_engine;
mod shared_store;
mod signals;
mod store_migrate;
