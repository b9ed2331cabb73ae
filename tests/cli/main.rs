//! Integration tests of the cli area: one test binary (`cargo test --test cli`); see tests/README.md.

#[path = "../support/mod.rs"]
mod support;

mod analyze;
mod limits;
mod out_dir;
mod run;
mod signals;
