//! Integration tests of the providers area: one test binary (`cargo test --test providers`); see tests/README.md.

#[path = "../support/mod.rs"]
mod support;

mod http;
mod http_faults;
mod openai_compatible;
mod usage_faults;
mod wire_formats;
