//! Integration tests of the analyzer area, one test binary: `cargo test --test analyzer`.
//! One module per file of this folder; tests/README.md says how to add one.

#[path = "../support/mod.rs"]
mod support;

mod accuracy;
mod bad_input;
mod checks;
mod checks_security;
mod disputed;
mod project_types;
mod semantic;
