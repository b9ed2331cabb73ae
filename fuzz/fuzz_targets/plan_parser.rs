//! The decomposition / `--plan` parser must never panic, and what it accepts is well formed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orchestrator_tui::config::Config;
use orchestrator_tui::engine::decompose::{MAX_TASKS, parse_plan};
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static CFG: OnceLock<Config> = OnceLock::new();
    let cfg = CFG.get_or_init(Config::defaults);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(plan) = parse_plan(text, cfg) {
        assert!(!plan.tasks.is_empty() && plan.tasks.len() <= MAX_TASKS);
        let ids: std::collections::HashSet<&str> =
            plan.tasks.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids.len(), plan.tasks.len(), "duplicate ids kept");
        for t in &plan.tasks {
            assert!(!t.id.is_empty() && !t.prompt.trim().is_empty());
            assert!((0.0..=1.0).contains(&t.threshold));
            assert!(t.max_iterations >= 1);
            // Dependencies name tasks of the plan, never the task itself.
            assert!(t.dependencies.iter().all(|d| ids.contains(d.as_str()) && *d != t.id));
        }
    }
});
