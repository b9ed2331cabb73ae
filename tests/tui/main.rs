//! Integration tests of the tui area: one test binary (`cargo test --test tui`); see tests/README.md.

#[path = "../support/mod.rs"]
mod support;

mod analysis;
mod e2e;
mod engine;
mod flow;
mod render;
mod store_sync;
