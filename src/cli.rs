//! Command-line definitions (clap) and exit codes (product.md §9).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

pub mod exit {
    pub const OK: i32 = 0;
    pub const BAD_INPUT: i32 = 2;
    pub const PREFLIGHT: i32 = 8;
    /// The store is unavailable: database unreadable or unwritable, disk full, schema newer
    /// than the binary (cli-contract.md).
    pub const STORE: i32 = 9;
    pub const CANCELLED: i32 = 130;
    /// A run (or `cancel RUN`'s wait for one) ran out of time.
    pub const TIMEOUT: i32 = 6;
    /// Terminal or other I/O failure (a write to stdout that failed, not a closed pipe).
    pub const IO: i32 = 10;
    /// Cancelled by SIGHUP / SIGTERM after the run was saved (128 + the signal number).
    pub const HANGUP: i32 = 129;
    pub const TERMINATED: i32 = 143;
}

#[derive(Debug, Parser)]
#[command(
    name = "orchestrator-tui",
    version,
    about = "Run multi-step LLM projects across providers with budgets, breakers and resume.",
    long_about = "Run multi-step LLM projects across providers with quality-aware routing, budgets \
that cannot be overspent, per-model circuit breakers and resumable runs.\n\nWith no API key set, \
built-in simulated providers serve the catalog so everything works offline."
)]
pub struct Cli {
    /// Config file (TOML) merged over the defaults [env: ORCHESTRATOR_CONFIG]
    #[arg(long, global = true, value_name = "FILE", overrides_with = "config")]
    pub config: Option<PathBuf>,
    /// Data directory (database, logs, outputs) [env: ORCHESTRATOR_DATA_DIR]
    #[arg(long, global = true, value_name = "DIR", overrides_with = "data_dir")]
    pub data_dir: Option<PathBuf>,
    /// Disable colours (also NO_COLOR)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Log level for the log file (error, warn, info, debug, trace)
    #[arg(long, global = true, default_value = "info", value_name = "L")]
    pub log_level: String,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a run from a description (or a --plan file)
    Run(RunArgs),
    /// Resume an interrupted or stopped run
    Resume(ResumeArgs),
    /// List runs, newest first
    Runs {
        #[arg(long)]
        json: bool,
    },
    /// Show a run: tasks, attempts, results, costs
    Show {
        /// Run id (e.g. r-7f3a9c)
        run: String,
        #[arg(long)]
        json: bool,
    },
    /// Analyze a codebase and rank improvements
    Analyze {
        /// Folder to analyze (default: current directory)
        path: Option<PathBuf>,
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        #[arg(long)]
        markdown: bool,
        /// Skip the LLM (semantic) stage
        #[arg(long)]
        no_llm: bool,
    },
    /// Model catalog, health, learned profiles and recommendations
    Models {
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        action: Option<ModelsAction>,
    },
    /// Cancel a running run, here or driven by another process: it is saved partial_success,
    /// resumable
    Cancel {
        /// Run id (e.g. r-7f3a9c)
        run: String,
        #[arg(long)]
        json: bool,
        /// Return once the request is recorded, without waiting for the run to stop
        #[arg(long)]
        no_wait: bool,
        /// Longest wait for the run to stop, in seconds
        #[arg(long, value_name = "SECS", default_value_t = 30)]
        timeout: u64,
    },
    /// Budgets: show, or set org, team and run caps
    Budget {
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<BudgetAction>,
    },
    /// Policies
    Policy {
        #[command(subcommand)]
        action: PolicyAction,
    },
    /// Policy decisions, one JSON object a line with --json
    Audit {
        #[arg(long)]
        run: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Configuration
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// The store: backend (SQLite or PostgreSQL), schema version, connection
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum StoreAction {
    /// Which store is in use, its schema version and where it is (never a password)
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Copy this data dir's SQLite history (runs, budgets, learned profiles, breakers, audit,
    /// analyses) into an org-wide PostgreSQL store; running it again copies only what is new
    Migrate {
        /// The PostgreSQL store: postgres://user@host:5432/db (a password is better in PGPASSWORD
        /// or ~/.pgpass than in a URL that shell history keeps)
        #[arg(long, value_name = "URL")]
        to: String,
        /// Schema inside the database (default: `[store] schema`, else `orchestrator`)
        #[arg(long)]
        schema: Option<String>,
        /// Do everything in a transaction, report, and roll it back
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// What to build, in plain words
    pub description: Option<String>,
    /// Success criteria the evaluator checks
    #[arg(long, default_value = "")]
    pub criteria: String,
    /// Run budget in USD [default: engine.default_budget_usd]
    #[arg(long, value_name = "USD")]
    pub budget: Option<f64>,
    /// Time limit in seconds of execution, 1 to 2592000 (30 days) [default: engine.default_time_secs]
    #[arg(long, value_name = "SECS")]
    pub time: Option<u64>,
    /// Team whose budget is charged
    #[arg(long, value_name = "NAME")]
    pub team: Option<String>,
    /// Tasks executed at once, 1 to 256 [default: engine.concurrency]
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Routing strategy: quality, balanced, cost, latency
    #[arg(long, value_name = "S")]
    pub strategy: Option<String>,
    /// Output directory: new, empty, or an earlier output directory of this program
    /// [default: <data dir>/outputs/<run id>]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Allow --out on a non-empty directory this program did not create (files in it may be
    /// replaced; never `/`, $HOME or a directory holding the data dir)
    #[arg(long, requires = "out")]
    pub overwrite: bool,
    /// JSON task list to run instead of decomposing the description
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Skip the pre-flight budget check
    #[arg(long)]
    pub force: bool,
    /// Show the plan and estimated cost without calling any model
    #[arg(long)]
    pub dry_run: bool,
    /// Resume a resumable run with the same description instead of starting a new one
    #[arg(long, conflicts_with = "new")]
    pub resume_match: bool,
    /// Always start a new run
    #[arg(long)]
    pub new: bool,
    /// No TUI: progress on stderr, result on stdout
    #[arg(long)]
    pub headless: bool,
    /// Print the result as one JSON document
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Run id
    pub run: Option<String>,
    /// Resume the newest run
    #[arg(long, conflicts_with = "run")]
    pub last: bool,
    /// New run budget in USD
    #[arg(long, value_name = "USD")]
    pub budget: Option<f64>,
    /// New time limit in seconds, 1 to 2592000 (30 days)
    #[arg(long, value_name = "SECS")]
    pub time: Option<u64>,
    #[arg(long)]
    pub headless: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ModelsAction {
    /// Reset a model's circuit breaker (or all of them)
    Reset {
        model: Option<String>,
        #[arg(long, conflicts_with = "model")]
        all: bool,
    },
    /// Import LiteLLM's price and context map into your catalog overlay
    /// (models.imported.toml beside your config)
    ImportLitellm {
        /// LiteLLM's model_prices_and_context_window.json
        file: PathBuf,
        /// Our provider names to import (default: built-in and configured providers)
        #[arg(long, value_delimiter = ',')]
        providers: Vec<String>,
        /// Report what would change without writing the overlay
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BudgetAction {
    /// Set the organisation cap
    SetOrg {
        usd: f64,
        #[arg(long)]
        period: Option<String>,
    },
    /// Set a team's cap
    SetTeam {
        team: String,
        usd: f64,
        #[arg(long)]
        period: Option<String>,
    },
    /// Set one run's cap (its budget); a run driven elsewhere sees it at its next lease growth
    SetRun { run: String, usd: f64 },
}

#[derive(Debug, Subcommand)]
pub enum PolicyAction {
    /// Validate and explain policies (of FILE, or of the config)
    Check { file: Option<PathBuf> },
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the default config, commented
    PrintDefault,
}
