//! orchestrator-tui: a terminal orchestrator for multi-step LLM projects.
//!
//! The engine (`engine`) never imports the UI; the TUI and headless mode observe its events.

pub mod analysis;
pub mod config;
pub mod domain;
pub mod logging;
pub mod paths;
pub mod prompts;
pub mod providers;
pub mod validators;
