//! The interactive terminal UI (`orchestrator-tui` with no command; opened by `commands::tui`). The engine is an observed
//! background service on the tokio runtime: the UI sends it commands and renders its events and
//! store snapshots from channels; it never blocks on the engine or the store.
//!
//! - `app.rs`: state + pure `update(state, msg) -> effects`; `events.rs`: engine events into state
//! - `runner.rs`: the async loop, generic over `Backend` and the input stream
//! - `view.rs`, `panes/`, `widgets/`: render-only widgets; `theme.rs`, `keymap.rs`, `action.rs`
//! - `data.rs`: snapshots loaded on their own thread and read connection (SQL in `store/views.rs`)
//! - `terminal.rs`: RAII guard, chained panic hook, synchronized output

pub mod action;
pub mod analysis;
pub mod analysis_io;
pub mod app;
pub mod data;
pub mod events;
// Test support still in the library (fixtures panic on bad fixture data by design).
#[doc(hidden)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub mod fixtures;
mod input;
pub mod keymap;
pub mod panes;
pub mod runner;
pub mod state;
pub mod terminal;
#[doc(hidden)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub mod testkit;
pub mod theme;
pub mod view;
pub mod widgets;
