//! Thin binary: parse the command line, install error reporting, dispatch, exit.

use clap::Parser;
use orchestrator_tui::cli::Cli;
use orchestrator_tui::commands::dispatch;

fn main() {
    // Piping into `head` must end quietly, as for any Unix tool, not panic on a closed stdout.
    // SAFETY: resetting a signal disposition at start-up, before any thread exists.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // color-eyre's panic hook restores nothing by itself; the TUI adds its own guard on top.
    let _ = color_eyre::install();
    let cli = Cli::parse();
    if cli.no_color {
        // SAFETY: single-threaded at this point; nothing else reads the environment yet.
        unsafe { std::env::set_var("NO_COLOR", "1") };
    }
    let code = match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
