//! Data, config and state directories: explicit flag, then env override, then XDG, then the
//! platform's project dirs.

use std::path::PathBuf;

const APP: &str = "orchestrator-tui";

fn xdg(var: &str, home_rel: &str) -> Option<PathBuf> {
    if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(v).join(APP));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|h| PathBuf::from(h).join(home_rel).join(APP))
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", APP)
}

/// Config dir: `$XDG_CONFIG_HOME/orchestrator-tui` or `~/.config/orchestrator-tui` (also on macOS).
pub fn config_dir() -> Option<PathBuf> {
    xdg("XDG_CONFIG_HOME", ".config").or_else(|| project_dirs().map(|p| p.config_dir().into()))
}

/// Data dir: `--data-dir`, `ORCHESTRATOR_DATA_DIR`, `$XDG_DATA_HOME/orchestrator-tui`, ...
pub fn data_dir(flag: Option<PathBuf>) -> Option<PathBuf> {
    if let Some(d) = flag {
        return Some(d);
    }
    if let Some(d) = std::env::var_os("ORCHESTRATOR_DATA_DIR").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(d));
    }
    xdg("XDG_DATA_HOME", ".local/share").or_else(|| project_dirs().map(|p| p.data_dir().into()))
}

/// User config file: `--config`, `ORCHESTRATOR_CONFIG`, else the XDG file when it exists.
pub fn user_config_file(flag: Option<PathBuf>) -> Option<PathBuf> {
    if let Some(f) = flag {
        return Some(f);
    }
    if let Some(f) = std::env::var_os("ORCHESTRATOR_CONFIG").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(f));
    }
    default_user_config_path().filter(|p| p.is_file())
}

/// Where the user's config is looked for when no flag or env var names one.
pub fn default_user_config_path() -> Option<PathBuf> {
    config_dir().map(|d| d.join("config.toml"))
}

/// The user's imported catalog overlay (`models import-litellm`): beside the config file in use,
/// else in the config dir.
pub fn imported_models_file(config_flag: Option<PathBuf>) -> Option<PathBuf> {
    let name = crate::config::sources::OVERLAY_FILE;
    match user_config_file(config_flag) {
        Some(f) => Some(match f.parent() {
            Some(d) => d.join(name),
            None => PathBuf::from(name),
        }),
        None => config_dir().map(|d| d.join(name)),
    }
}
