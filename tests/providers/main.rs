//! Integration tests of the providers area, one test binary: `cargo test --test providers`.
//! One module per file of this folder; tests/README.md says how to add one.

#[path = "../support/mod.rs"]
mod support;

mod context_windows;
mod hosted;
mod http;
mod http_faults;
mod networks;
mod openai_compatible;
mod prompt_caching;
mod reasoning_bounds;
mod structured_output;
mod usage_faults;
mod wire_formats;
