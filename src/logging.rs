//! File logging through a non-blocking tracing-appender; never to the terminal the TUI owns.

use std::path::{Path, PathBuf};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Start logging to `<data_dir>/logs/orchestrator.log`. Keep the guard alive until exit so the
/// last lines are flushed.
pub fn init(data_dir: &Path, level: &str) -> std::io::Result<(WorkerGuard, PathBuf)> {
    let dir = data_dir.join("logs");
    std::fs::create_dir_all(&dir)?;
    let appender = tracing_appender::rolling::never(&dir, "orchestrator.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    // A second init (tests in one process) is harmless: keep the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    Ok((guard, dir.join("orchestrator.log")))
}
