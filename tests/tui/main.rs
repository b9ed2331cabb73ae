//! Integration tests of the tui area, one test binary: `cargo test --test tui`.
//! One module per file of this folder; tests/README.md says how to add one.

#[path = "../support/mod.rs"]
mod support;

mod act;
mod act_engine;
mod analysis;
mod driven_host;
mod e2e;
mod e2e_act;
mod engine;
mod filter_line;
mod fixes;
mod flow;
mod live_events;
mod mine;
mod mouse_rows;
mod parked;
mod pg_live;
mod pg_snapshot;
mod render;
mod store_sync;
mod suspend;
mod why;
