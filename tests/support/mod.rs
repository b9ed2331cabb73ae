//! Code shared by the integration test binaries (and, for `loopback`, the benches).
//!
//! Each area binary (`tests/<area>/main.rs`) and the long checks include this tree with
//! `#[path = "../support/mod.rs"] mod support;`; test files then `use crate::support::...`.
//! Not every binary uses every helper, hence `dead_code` is allowed.
#![allow(dead_code)]

pub mod binary;
pub mod ledger;
pub mod loopback;
pub mod pg;
pub mod repo;
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub mod tui_fixtures;
pub mod tui_testkit;
