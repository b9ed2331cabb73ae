//! Thin binary: parse the command line, install error reporting, dispatch, exit.

use clap::Parser;
use orchestrator_tui::cli::{Cli, exit};
use orchestrator_tui::commands::dispatch;
use orchestrator_tui::{errln, text_safe};

fn main() {
    // A closed stdout or stderr (`run ... 2>&1 | head -3`) must not kill a run mid-write with its
    // settle writes still queued: SIGPIPE is ignored and every write goes through `text_safe`,
    // where EPIPE means "stop printing".
    // SAFETY: setting a signal disposition at start-up, before any thread exists.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
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
            errln!("error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(output_checked(code));
}

/// A result that could not be written (disk full, terminal gone) is an I/O failure (exit 10),
/// unless a signal ended the command: its code says more.
fn output_checked(code: i32) -> i32 {
    let signalled = [exit::CANCELLED, exit::HANGUP, exit::TERMINATED].contains(&code);
    match text_safe::stdout_failure() {
        Some(e) if !signalled => {
            errln!("error: the result could not be written to stdout: {e}");
            exit::IO
        }
        _ => code,
    }
}
