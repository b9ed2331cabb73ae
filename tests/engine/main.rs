//! Integration tests of the engine area, one test binary: `cargo test --test engine`.
//! One module per file of this folder; tests/README.md says how to add one.

#[path = "../support/mod.rs"]
mod support;

mod admin;
mod call_writes;
mod cancel_requests;
mod context_windows;
mod crash_recovery;
mod fault_scenarios;
mod faults;
mod planned_cycle;
mod real_models;
mod resume_crash;
mod routing_policies;
mod shared_breakers;
mod store_faults;
mod store_unwritable;
mod why;
