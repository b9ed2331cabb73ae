//! Integration tests of the engine area: one test binary (`cargo test --test engine`); see tests/README.md.

#[path = "../support/mod.rs"]
mod support;

mod crash_recovery;
mod fault_scenarios;
mod faults;
mod resume_crash;
mod routing_policies;
mod store_faults;
mod store_unwritable;
