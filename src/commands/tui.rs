//! The interactive TUI on this terminal: with no command, or watching a run that `run`/`resume`
//! started (the TUI then owns it like one started with `n`).

use crate::cli::{Cli, exit};
use crate::engine::{EngineHandle, Started};
use crate::setup::{App, CliError, open_app, runtime};
use crate::tui::{app, runner, terminal, theme};

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
    adopt: Option<Started>,
) -> Result<Option<crate::signals::Stop>, CliError> {
    let no_color = cli.no_color || theme::no_color_env();
    let theme = theme::Theme::resolve(&app.cfg.tui.theme, no_color)
        .map_err(|e| CliError::BadInput(format!("[tui] theme: {e}")))?;
    let mut state = app::State::new(
        runner::now_ms(),
        app.cfg.engine.default_budget_usd,
        engine.is_simulated(),
    );
    state.panes.analysis.cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    // A second Ctrl-C exits at once: the terminal is given back first.
    crate::signals::before_immediate_exit(terminal::restore);
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
            terminal::Events::new(),
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
            r = ui => match r {
                Ok(()) => Ok(None),
                // A hung-up terminal fails the UI's writes, often just before its SIGHUP arrives:
                // the runs are cancelled and stored either way, never left `running`.
                Err(e) => {
                    let wait = std::time::Duration::from_millis(500);
                    match tokio::time::timeout(wait, crate::signals::first()).await {
                        Ok(s) => {
                            tracing::info!("terminal lost, then {} received", s.name());
                            stop_for_signal(&engine, s, quit_timeout).await;
                            Ok(Some(s))
                        }
                        Err(_) => {
                            tracing::warn!("terminal error: {e}; cancelling the runs of this TUI");
                            stop_runs(&engine, "cancelled (terminal error)", quit_timeout).await;
                            Err(e)
                        }
                    }
                }
            },
        };
        drop(guard);
        r
    });
    // `q` (or Ctrl-C) that cancelled runs in flight ends the process as a headless Ctrl-C does.
    let result = match result {
        Ok(None) if state.quit_cancelled => Ok(Some(crate::signals::Stop::Interrupt)),
        r => r,
    };
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
    stop_runs(engine, &s.reason(), timeout).await;
}

/// Cancel every run this process drives with `reason` and wait (bounded) until each is stored.
async fn stop_runs(engine: &EngineHandle, reason: &str, timeout: std::time::Duration) {
    engine.cancel_because(None, reason);
    let stored = async {
        while !engine.active_runs().is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    if tokio::time::timeout(timeout, stored).await.is_err() {
        tracing::warn!("runs did not stop within {timeout:?}; leaving them to the lock release");
    }
}
