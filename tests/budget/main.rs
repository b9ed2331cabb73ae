//! Integration tests of the budget area, one test binary: `cargo test --test budget`.
//! One module per file of this folder; tests/README.md says how to add one.

#[path = "../support/mod.rs"]
mod support;

mod engine;
mod lease;
mod ledger_props;
mod processes;
mod shared_store;
mod strategy;
