//! One file per CLI command, and the dispatch; the TUI is launched from here (`tui.rs`). The
//! setup they share (config, data dir, store, logging, engine) is in `crate::setup`.

pub mod analyze;
pub mod budget;
pub mod cancel;
pub mod inspect;
pub mod models;
pub mod models_import;
pub mod policy;
pub mod run;
pub mod store;
pub mod tui;

use crate::cli::{Cli, Command, ConfigAction, exit};
pub use crate::setup::{App, CliError, load_config, open_app, runtime};

/// Dispatch a parsed command line; returns the process exit code.
pub fn dispatch(cli: Cli) -> Result<i32, CliError> {
    match &cli.command {
        None => {
            // The TUI owns an interactive terminal; anything else (pipes, scripts) gets help.
            use std::io::IsTerminal;
            if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
                return tui::launch(&cli);
            }
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            crate::outln!();
            Ok(exit::OK)
        }
        Some(Command::Config {
            action: ConfigAction::PrintDefault,
        }) => {
            crate::text_safe::out(crate::config::DEFAULT_CONFIG);
            Ok(exit::OK)
        }
        Some(Command::Run(args)) => run::run(&cli, args),
        Some(Command::Resume(args)) => run::resume(&cli, args),
        Some(Command::Runs { json }) => inspect::runs(&cli, *json),
        Some(Command::Store {
            action: crate::cli::StoreAction::Status { json },
        }) => store::status(&cli, *json),
        Some(Command::Store {
            action:
                crate::cli::StoreAction::Migrate {
                    to,
                    schema,
                    dry_run,
                    json,
                },
        }) => store::migrate(&cli, to, schema.as_deref(), *dry_run, *json),
        Some(Command::Show { run, json }) => inspect::show(&cli, run, *json),
        Some(Command::Cancel {
            run,
            json,
            no_wait,
            timeout,
        }) => cancel::cancel(&cli, run, *json, *no_wait, *timeout),
        Some(Command::Budget { json, action }) => budget::budget(&cli, *json, action.as_ref()),
        Some(Command::Models { json, action }) => models::models(&cli, *json, action.as_ref()),
        Some(Command::Policy {
            action: crate::cli::PolicyAction::Check { file },
        }) => policy::check(&cli, file.as_deref()),
        Some(Command::Audit { run, json }) => policy::audit(&cli, run.as_deref(), *json),
        Some(Command::Analyze {
            path,
            json,
            markdown,
            no_llm,
        }) => analyze::analyze(&cli, path.as_deref(), *json, *markdown, *no_llm),
    }
}
