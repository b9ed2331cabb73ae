//! The interactive terminal UI (`orchestrator-tui` with no command; opened by `commands::tui`). The engine is an observed
//! background service on the tokio runtime: the UI sends it commands and renders its events and
//! store snapshots from channels; it never blocks on the engine or the store.
//!
//! - `state.rs`: the shared state (`State`, with each pane's own state in `panes`); `app.rs`: the
//!   pure `update(state, msg) -> effects`, `input.rs` its keys, `events.rs` its engine events,
//!   `echo.rs` pairs this process's live event lines with their stored copies
//! - `panes/<pane>/`: one component per pane (its state, its part of `update`, its view),
//!   registered in `panes/mod.rs` (`DEFS`), which drives the keymap, the tabs and `update`
//! - `runner.rs`: the async loop, generic over `Backend` and the input stream
//! - `view.rs`, `widgets/`: the screen and shared render-only widgets; `theme.rs`, `keymap.rs`,
//!   `action.rs`
//! - `data.rs`: snapshots (`snapshot.rs`) loaded on their own thread and read connection (SQL in
//!   `store/views.rs` and `store/tui_reads.rs`); `feed.rs` its stored events
//! - `terminal.rs`: RAII guard, chained panic hook, synchronized output

pub mod action;
pub mod acts;
pub mod analysis_io;
pub mod app;
pub mod data;
pub mod echo;
pub mod events;
mod feed;
mod input;
pub mod keymap;
pub mod loader;
pub mod mouse;
pub mod panes;
pub mod runner;
pub mod snapshot;
pub mod state;
pub mod terminal;
pub mod theme;
pub mod view;
pub mod widgets;

/// The Analysis pane (its state and messages), where the analysis effects and the loader find it.
pub use panes::analysis;
