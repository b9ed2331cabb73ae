//! Loading a user config (TOML merged over the embedded defaults, then validated) must never
//! panic, whatever the file holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orchestrator_tui::config::Config;
use std::path::PathBuf;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    let path = PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("orchestrator-fuzz-config-{}.toml", std::process::id()))
    });
    if std::fs::write(path, data).is_err() {
        return;
    }
    if let Ok(cfg) = Config::load(Some(path)) {
        assert!(cfg.engine.concurrency >= 1);
        assert!(cfg.simulated.latency_ms_min <= cfg.simulated.latency_ms_max);
    }
});
