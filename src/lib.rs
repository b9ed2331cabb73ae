//! orchestrator-tui: a terminal orchestrator for multi-step LLM projects.
//!
//! The engine (`engine`) never imports the UI; the TUI and headless mode observe its events.

// Library code reports failures as errors; a panic that cannot happen says why where it is allowed.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod analysis;
pub mod artifacts;
pub mod budget;
pub mod cli;
pub mod commands;
pub mod config;
pub mod domain;
pub mod engine;
pub mod headless;
pub mod liveness;
pub mod logging;
pub mod model_output;
pub mod paths;
pub mod prompts;
pub mod providers;
pub mod routing;
pub mod setup;
pub mod signals;
pub mod store;
pub mod text_safe;
pub mod tui;
pub mod validators;
