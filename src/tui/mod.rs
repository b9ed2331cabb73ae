//! The interactive terminal UI (`orchestrator-tui` with no command). The engine is an observed
//! background service on the tokio runtime: the UI sends it commands and renders its events and
//! store snapshots from channels; it never blocks on the engine or the store.
//!
//! - `state.rs`: the shared state (`State`, with each pane's own state in `panes`); `app.rs`: the
//!   pure `update(state, msg) -> effects`, `input.rs` its keys, `events.rs` its engine events
//! - `panes/<pane>/`: one component per pane (its state, its part of `update`, its view),
//!   registered in `panes/mod.rs` (`DEFS`), which drives the keymap, the tabs and `update`
//! - `runner.rs`: the async loop, generic over `Backend` and the input stream
//! - `view.rs`, `widgets/`: the screen and shared render-only widgets; `theme.rs`, `keymap.rs`,
//!   `action.rs`
//! - `data.rs` + `queries.rs`: snapshots (`snapshot.rs`) loaded on their own thread and read
//!   connection
//! - `terminal.rs`: RAII guard, chained panic hook, synchronized output

pub mod action;
pub mod analysis_io;
pub mod app;
pub mod data;
pub mod events;
mod input;
pub mod keymap;
pub mod panes;
pub mod queries;
pub mod runner;
pub mod snapshot;
pub mod state;
pub mod terminal;
pub mod theme;
pub mod view;
pub mod widgets;

/// The Analysis pane (its state and messages), where the analysis effects and the loader find it.
pub use panes::analysis;

use crate::cli::{Cli, exit};
use crate::commands::{App, CliError, open_app, runtime};
use crate::engine::EngineHandle;

/// Open the TUI on this terminal; returns the exit code once the user quits.
pub fn launch(cli: &Cli) -> Result<i32, CliError> {
    let app = open_app(cli)?;
    let rt = runtime()?;
    let engine = rt.block_on(async { app.engine() })?;
    let stopped = open(cli, &app, &rt, engine, None)?;
    Ok(stopped.map_or(exit::OK, crate::signals::Stop::exit_code))
}

/// Run the TUI on this terminal with an engine already built, optionally owning a run that was
/// started before it (`run`/`resume` on a terminal). Returns once the user quits, after runs in
/// flight are cancelled and stored; with the signal that closed it (SIGTERM, SIGHUP: the runs are
/// cancelled and stored the same way, then the terminal is restored as far as it still exists).
pub fn open(
    cli: &Cli,
    app: &App,
    rt: &tokio::runtime::Runtime,
    engine: EngineHandle,
    adopt: Option<runner::Adopt>,
) -> Result<Option<crate::signals::Stop>, CliError> {
    let no_color = cli.no_color || theme::no_color_env();
    let theme = theme::Theme::resolve(&app.cfg.tui.theme, no_color)
        .map_err(|e| CliError::BadInput(format!("[tui] theme: {e}")))?;
    let mut state = app::State::new(
        runner::now_ms(),
        app.cfg.engine.default_budget_usd,
        engine.ctx.registry.is_simulated(),
    );
    state.panes.analysis.cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let result = rt.block_on(async {
        crate::signals::install()?;
        let (guard, mut term) = terminal::enter(app.cfg.tui.mouse)?;
        let opts = runner::Options::default();
        let quit_timeout = opts.quit_timeout;
        let mut sync = terminal::Dec2026;
        let ui = runner::run_adopting(
            &mut term,
            &mut state,
            &theme,
            engine.clone(),
            crossterm::event::EventStream::new(),
            &mut sync,
            opts,
            adopt,
        );
        let r = tokio::select! {
            biased;
            s = crate::signals::first() => {
                tracing::info!("{} received: cancelling the runs of this TUI", s.name());
                stop_for_signal(&engine, s, quit_timeout).await;
                Ok(Some(s))
            }
            r = ui => r.map(|()| None),
        };
        drop(guard);
        r
    });
    tracing::info!("TUI closed");
    result.map_err(|e: std::io::Error| CliError::Io(format!("terminal error: {e}")))
}

/// Cancel every run this process drives with the signal's reason and wait (bounded) until each is
/// stored; the UI loop is gone, so the engine's own list of active runs is what is waited on.
async fn stop_for_signal(
    engine: &EngineHandle,
    s: crate::signals::Stop,
    timeout: std::time::Duration,
) {
    engine.cancel_because(None, &s.reason());
    let stored = async {
        while !engine.active_runs().is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    if tokio::time::timeout(timeout, stored).await.is_err() {
        tracing::warn!("runs did not stop within {timeout:?}; leaving them to the lock release");
    }
}
