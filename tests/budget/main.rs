//! Integration tests of the budget area: one test binary (`cargo test --test budget`); see tests/README.md.

#[path = "../support/mod.rs"]
mod support;

mod engine;
mod lease;
mod processes;
mod strategy;
