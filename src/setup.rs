//! What every command that touches state needs, the TUI included: the config (with its policies
//! checked), the data directory, logging, the store, and the engine built from them; and the
//! `CliError` every command returns. Neutral ground: commands and the TUI both build on it.

use crate::cli::{Cli, exit};
use crate::config::{Catalog, Config};
use crate::engine::{EngineCtx, EngineHandle};
use crate::providers::ProviderRegistry;
use crate::store::Store;
use std::path::{Path, PathBuf};
use tracing_appender::non_blocking::WorkerGuard;

/// A failure to report as one line on stderr with an exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Preflight(String),
    /// The database cannot be used (exit 9).
    #[error("{0}")]
    Store(String),
    /// The terminal or another I/O channel failed (exit 10).
    #[error("{0}")]
    Io(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::BadInput(_) => exit::BAD_INPUT,
            CliError::Preflight(_) => exit::PREFLIGHT,
            CliError::Store(_) => exit::STORE,
            CliError::Io(_) => exit::IO,
        }
    }
}

impl From<crate::store::StoreError> for CliError {
    /// What the user asked for does not exist or is refused: bad input (2); anything else is the
    /// store failing (9): unusable, a newer schema, an SQLite error, its thread gone.
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match e {
            StoreError::NotFound(_) | StoreError::Invalid(_) => CliError::BadInput(e.to_string()),
            StoreError::Open { .. }
            | StoreError::Unavailable { .. }
            | StoreError::Newer { .. }
            | StoreError::Sqlite(_)
            | StoreError::Postgres(_)
            | StoreError::Closed => CliError::Store(e.to_string()),
        }
    }
}

impl From<crate::config::LimitError> for CliError {
    fn from(e: crate::config::LimitError) -> Self {
        CliError::BadInput(e.to_string())
    }
}

impl From<crate::engine::StartError> for CliError {
    fn from(e: crate::engine::StartError) -> Self {
        use crate::engine::StartError;
        match e {
            StartError::Store(s) => s.into(),
            StartError::Lock { .. } => CliError::Io(e.to_string()),
            StartError::Policy(_) => CliError::BadInput(e.to_string()),
        }
    }
}

impl From<crate::engine::EngineError> for CliError {
    fn from(e: crate::engine::EngineError) -> Self {
        match e {
            crate::engine::EngineError::Preflight(m) => CliError::Preflight(m),
            crate::engine::EngineError::Store(s) => s.into(),
            crate::engine::EngineError::Invalid(m) => CliError::BadInput(m),
            // The engine's runtime is gone: a failure of this process, not of the input.
            e @ crate::engine::EngineError::Stopped => CliError::Io(e.to_string()),
        }
    }
}

pub struct App {
    pub cfg: Config,
    pub catalog: Catalog,
    pub data_dir: PathBuf,
    pub store: Store,
    /// The org-wide PostgreSQL store when `[store] url` (or `ORCHESTRATOR_STORE_URL`) names one.
    pub shared: Option<crate::store::pg::PgConn>,
    pub log_path: PathBuf,
    _log_guard: WorkerGuard,
}

pub fn load_config(cli: &Cli) -> Result<Config, CliError> {
    let file = crate::paths::user_config_file(cli.config.clone());
    load_config_file(file.as_deref())
}

/// The embedded defaults with `file` merged over them, its routing policies parsed too (the
/// config module does not know what a policy means; a bad one is still a config error).
pub fn load_config_file(file: Option<&Path>) -> Result<Config, CliError> {
    let cfg = Config::load(file).map_err(|e| CliError::BadInput(e.to_string()))?;
    if let Err(e) = crate::routing::policy::parse(&cfg.policies) {
        let err = crate::config::ConfigError::Invalid {
            file: file.map_or("<embedded defaults>".into(), |f| f.display().to_string()),
            message: e.to_string(),
        };
        return Err(CliError::BadInput(err.to_string()));
    }
    Ok(cfg)
}

/// Config, data dir, logging and store: everything a command that touches state needs. With
/// `[store] url` (or `ORCHESTRATOR_STORE_URL`) the store is the org-wide PostgreSQL one; an
/// unreachable server is reported naming host and database (exit 9).
pub fn open_app(cli: &Cli) -> Result<App, CliError> {
    let mut app = open_app_shared(cli)?;
    // These commands use the store (its thread) and the engine only: the start-up connection
    // (migrations checked, dead processes settled) is not kept open for the whole run.
    app.shared = None;
    Ok(app)
}

/// Connect to the PostgreSQL store if one is configured, bring its schema up to date, and
/// settle the reservations of processes whose lock is free (they died, on any machine).
fn open_shared(cfg: &Config) -> Result<Option<crate::store::pg::PgConn>, CliError> {
    let Some(url) = cfg.store.effective_url() else {
        return Ok(None);
    };
    let target = crate::store::pg::PgTarget::parse(&url, cfg.store.schema_name())
        .map_err(|e| CliError::BadInput(e.to_string()))?;
    let pg = crate::store::pg::PgConn::open(&target)?;
    match pg.recover_dead() {
        Ok(r) if r.settled > 0 => tracing::info!(
            "settled {} reservations of processes gone from the shared store; {} calls charged",
            r.settled,
            r.charged_calls
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!("could not settle dead processes' reservations: {e}"),
    }
    Ok(Some(pg))
}

/// [`open_app`] for the commands that also work on the PostgreSQL store (`runs`, `budget`).
pub fn open_app_shared(cli: &Cli) -> Result<App, CliError> {
    let cfg = load_config(cli)?;
    let overlay = crate::paths::imported_models_file(cli.config.clone());
    let catalog = Catalog::from_config_with_overlay(&cfg, overlay.as_deref())
        .map_err(|e| CliError::BadInput(e.to_string()))?;
    let data_dir = crate::paths::data_dir(cli.data_dir.clone()).ok_or_else(|| {
        CliError::BadInput(
            "no data directory: pass --data-dir or set ORCHESTRATOR_DATA_DIR (HOME is not set)"
                .into(),
        )
    })?;
    std::fs::create_dir_all(&data_dir).map_err(|e| {
        CliError::BadInput(format!(
            "data directory {} cannot be created: {e}",
            data_dir.display()
        ))
    })?;
    // Probe writability up front: SQLite's own error for a read-only dir is obscure.
    let probe = data_dir.join(".write-test");
    std::fs::write(&probe, b"").map_err(|e| {
        CliError::BadInput(format!(
            "data directory {} is not writable: {e}",
            data_dir.display()
        ))
    })?;
    let _ = std::fs::remove_file(&probe);
    let (guard, log_path) = crate::logging::init(&data_dir, &cli.log_level).map_err(|e| {
        CliError::BadInput(format!(
            "cannot open the log file in {}: {e}",
            data_dir.display()
        ))
    })?;
    let shared = open_shared(&cfg)?;
    let store = match &shared {
        Some(pg) => Store::open_pg(pg.target())?,
        None => Store::open(&data_dir)?,
    };
    // Every start recovers from crashes: reservations of dead processes go back.
    crate::engine::service::release_stale_reservations(&store, &data_dir);
    Ok(App {
        cfg,
        catalog,
        data_dir,
        store,
        shared,
        log_path,
        _log_guard: guard,
    })
}

impl App {
    /// Build the engine service (providers, health) for this app. Needs a tokio runtime.
    pub fn engine(&self) -> Result<EngineHandle, CliError> {
        let registry = ProviderRegistry::from_config(&self.cfg, &self.catalog)
            .map_err(|e| CliError::BadInput(e.to_string()))?;
        let ctx = EngineCtx::new(
            self.cfg.clone(),
            self.catalog.clone(),
            registry,
            self.store.clone(),
            self.data_dir.clone(),
        )?;
        Ok(crate::engine::spawn(ctx))
    }

    /// An engine for administrative commands (`models reset`, `budget set`): like
    /// [`Self::engine`], but it also works when no provider is usable (no key and the simulator
    /// off), since it makes no calls. Needs a tokio runtime.
    pub fn admin_engine(&self) -> Result<EngineHandle, CliError> {
        let registry = ProviderRegistry::from_config(&self.cfg, &self.catalog)
            .unwrap_or_else(|_| ProviderRegistry::with(Default::default(), false));
        let ctx = EngineCtx::for_admin(
            self.cfg.clone(),
            self.catalog.clone(),
            registry,
            self.store.clone(),
            self.data_dir.clone(),
        )?;
        Ok(crate::engine::spawn(ctx))
    }
}

/// A multi-thread runtime for the engine (2 workers: the machines this targets have 2 cores).
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("engine")
        .build()
        .map_err(|e| CliError::Io(format!("cannot start the async runtime: {e}")))
}
