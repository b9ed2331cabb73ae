//! Integration tests of the outputs area, one test binary: `cargo test --test outputs`.
//! One module per file of this folder; tests/README.md says how to add one.

#[path = "../support/mod.rs"]
mod support;

mod artifacts_paths;
mod artifacts_summary;
mod default_checks;
mod default_checks_run;
mod output_safety;
mod validators_command;
mod validators_json_length;
mod validators_syntax;
