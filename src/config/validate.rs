//! Range checks of a merged config: every number the engine computes with is finite and within a
//! sane range, so a typo (`nan`, `inf`, a negative price, a 10^18 cooldown) is an error naming the
//! file and key instead of a panic, a free model or a run that times out at once.

use super::{Config, ConfigError};

/// Longest run time limit, in seconds (30 days): `--time`, `resume --time`,
/// `engine.default_time_secs`.
pub const MAX_TIME_SECS: u64 = 30 * 24 * 3600;
/// Most tasks executed at once: `--concurrency`, `engine.concurrency`.
pub const MAX_CONCURRENCY: usize = 256;
/// Largest default run budget in USD (far below where micro-USD would overflow an i64).
const MAX_BUDGET_USD: f64 = 1e9;
/// Highest catalog price accepted, USD per million tokens.
const MAX_PRICE_PER_MTOK: f64 = 10_000.0;
const DAY_SECS: u64 = 24 * 3600;
const HOUR_MS: u64 = 3600 * 1000;

/// A command-line limit out of its range (`flag` names the flag, e.g. `--time`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("{flag} must be between 1 and {MAX_TIME_SECS} seconds (30 days), got {got}")]
    Time { flag: String, got: u64 },
    #[error("{flag} must be between 1 and {MAX_CONCURRENCY}, got {got}")]
    Concurrency { flag: String, got: usize },
}

/// A run time limit from the command line, or why it is refused.
pub fn check_time_limit(secs: u64, flag: &str) -> Result<u64, LimitError> {
    if secs == 0 || secs > MAX_TIME_SECS {
        return Err(LimitError::Time {
            flag: flag.to_string(),
            got: secs,
        });
    }
    Ok(secs)
}

/// A concurrency from the command line, or why it is refused.
pub fn check_concurrency(n: usize, flag: &str) -> Result<usize, LimitError> {
    if n == 0 || n > MAX_CONCURRENCY {
        return Err(LimitError::Concurrency {
            flag: flag.to_string(),
            got: n,
        });
    }
    Ok(n)
}

/// `key` is a finite number in `lo..=hi`.
fn float_in(key: &str, v: f64, lo: f64, hi: f64) -> Result<(), String> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        return Ok(());
    }
    Err(format!(
        "key `{key}`: must be between {lo} and {hi}, got {v}"
    ))
}

fn int_in(key: &str, v: u64, lo: u64, hi: u64) -> Result<(), String> {
    if (lo..=hi).contains(&v) {
        return Ok(());
    }
    Err(format!(
        "key `{key}`: must be between {lo} and {hi}, got {v}"
    ))
}

impl Config {
    pub(super) fn validate(&self, file: &str) -> Result<(), ConfigError> {
        self.check().map_err(|message| ConfigError::Invalid {
            file: file.to_string(),
            message,
        })
    }

    fn check(&self) -> Result<(), String> {
        let e = &self.engine;
        int_in(
            "engine.concurrency",
            e.concurrency as u64,
            1,
            MAX_CONCURRENCY as u64,
        )?;
        if !(e.default_budget_usd.is_finite() && e.default_budget_usd > 0.0) {
            return Err(format!(
                "key `engine.default_budget_usd`: must be a positive number, got {}",
                e.default_budget_usd
            ));
        }
        float_in(
            "engine.default_budget_usd",
            e.default_budget_usd,
            0.0,
            MAX_BUDGET_USD,
        )?;
        int_in(
            "engine.default_time_secs",
            e.default_time_secs,
            1,
            MAX_TIME_SECS,
        )?;
        int_in(
            "engine.context_chars_per_dependency",
            e.context_chars_per_dependency as u64,
            0,
            1_000_000,
        )?;
        float_in("engine.plateau_delta", e.plateau_delta, 0.0, 1.0)?;

        let r = &self.retry;
        int_in("retry.max_retries", r.max_retries as u64, 0, 20)?;
        int_in("retry.backoff_cap_ms", r.backoff_cap_ms, 0, HOUR_MS)?;
        int_in(
            "retry.backoff_base_ms",
            r.backoff_base_ms,
            0,
            r.backoff_cap_ms,
        )?;
        int_in(
            "retry.max_retry_after_secs",
            r.max_retry_after_secs,
            0,
            DAY_SECS,
        )?;

        let t = &self.timeouts;
        for (k, v) in [
            ("connect_secs", t.connect_secs),
            ("first_byte_secs", t.first_byte_secs),
            ("idle_secs", t.idle_secs),
            ("total_secs", t.total_secs),
        ] {
            int_in(&format!("timeouts.{k}"), v, 1, DAY_SECS)?;
        }

        let b = &self.breaker;
        int_in(
            "breaker.failure_threshold",
            b.failure_threshold as u64,
            1,
            1000,
        )?;
        int_in("breaker.cooldown_secs", b.cooldown_secs, 1, DAY_SECS)?;
        int_in(
            "breaker.max_cooldown_secs",
            b.max_cooldown_secs,
            b.cooldown_secs,
            7 * DAY_SECS,
        )?;

        float_in("routing.explore_rate", self.routing.explore_rate, 0.0, 1.0)?;

        let s = &self.simulated;
        for (k, v) in [
            ("transient_failure_rate", s.transient_failure_rate),
            ("rate_limit_rate", s.rate_limit_rate),
            ("timeout_rate", s.timeout_rate),
        ] {
            float_in(&format!("simulated.{k}"), v, 0.0, 1.0)?;
        }
        if s.latency_ms_min > s.latency_ms_max {
            return Err(format!(
                "key `simulated.latency_ms_min` ({}) is greater than `latency_ms_max` ({})",
                s.latency_ms_min, s.latency_ms_max
            ));
        }
        int_in("simulated.latency_ms_max", s.latency_ms_max, 0, HOUR_MS)?;
        for (m, q) in &s.quality {
            float_in(&format!("simulated.quality.{m}"), *q, 0.0, 1.0)?;
        }

        for (name, p) in &self.providers {
            if let Some(t) = p.timeout_secs {
                int_in(&format!("providers.{name}.timeout_secs"), t, 1, DAY_SECS)?;
            }
            let anthropic = p.kind == Some(super::ProviderKind::Anthropic)
                || (p.kind.is_none() && name == "anthropic");
            if anthropic && p.structured_output == super::StructuredOutput::JsonObject {
                return Err(format!(
                    "key `providers.{name}.structured_output`: the anthropic format has no \
                     json_object mode (use auto, json_schema or off)"
                ));
            }
        }
        let types = crate::domain::TaskType::ALL.map(|t| t.as_str());
        self.validators.check(&types)?;

        // `[[policy]]` entries are parsed where the config is loaded for use (setup.rs): what a
        // policy means is the router's business, not the config's.

        for (name, o) in &self.task_types {
            if name.parse::<crate::domain::TaskType>().is_err() {
                return Err(format!("key `task_types.{name}`: unknown task type"));
            }
            if let Some(th) = o.threshold {
                float_in(&format!("task_types.{name}.threshold"), th, 0.0, 1.0)?;
            }
            if let Some(it) = o.max_iterations {
                int_in(
                    &format!("task_types.{name}.max_iterations"),
                    it as u64,
                    1,
                    20,
                )?;
            }
            if let Some(mt) = o.max_output_tokens {
                int_in(
                    &format!("task_types.{name}.max_output_tokens"),
                    mt as u64,
                    16,
                    1_000_000,
                )?;
            }
            if let Some(b) = o.thinking_budget {
                // Anthropic's floor; the ceiling is far above any model's output limit.
                int_in(
                    &format!("task_types.{name}.thinking_budget"),
                    b as u64,
                    crate::domain::reasoning::MIN_THINKING_BUDGET as u64,
                    1_000_000,
                )?;
            }
        }

        for (i, m) in self.models.iter().enumerate() {
            let at = |k: &str| format!("models[{i}] ({}).{k}", m.id);
            if m.id.trim().is_empty() {
                return Err(format!("key `models[{i}].id`: must not be empty"));
            }
            // A negative or NaN price would make calls free or refund money: never accepted.
            for (k, v) in [
                ("input", m.input),
                ("cached_input", m.cached_input),
                ("output", m.output),
            ] {
                float_in(&at(k), v, 0.0, MAX_PRICE_PER_MTOK)?;
            }
            // The optional prices (cache write, long-context tier) under the same rule.
            for (k, v) in m.optional_prices() {
                float_in(&at(k), v, 0.0, MAX_PRICE_PER_MTOK)?;
            }
            float_in(&at("quality"), m.quality, 0.0, 1.0)?;
            for (ty, q) in &m.quality_by_type {
                float_in(&at(&format!("quality_by_type.{ty}")), *q, 0.0, 1.0)?;
            }
            int_in(&at("max_output"), m.max_output as u64, 1, 10_000_000)?;
            if let Some(r) = m.reasoning_outside_max_tokens {
                int_in(&at("reasoning_outside_max_tokens"), r as u64, 0, 10_000_000)?;
            }
            if let Some(w) = m.context_window {
                int_in(&at("context_window"), w as u64, 1, 100_000_000)?;
            }
            int_in(&at("latency_ms"), m.latency_ms, 0, HOUR_MS)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn load(text: &str) -> Result<Config, String> {
        let mut f = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
        f.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
        let path = f.path().display().to_string();
        Config::load(Some(f.path())).map_err(|e| {
            let m = e.to_string();
            assert!(m.contains(&path), "the error names the file: {m}");
            m
        })
    }

    fn refused(text: &str, key: &str) {
        match load(text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(m) => assert!(m.contains(&format!("`{key}`")), "{key}: {m}"),
        }
    }

    #[test]
    fn structured_output_modes_are_checked() {
        refused(
            "[providers.anthropic]\nstructured_output = \"json_object\"\n",
            "providers.anthropic.structured_output",
        );
        assert!(
            load("[providers.local]\nkind = \"openai\"\nstructured_output = \"grammar\"\n")
                .is_err()
        );
        let c = load("[providers.local]\nkind = \"openai\"\nstructured_output = \"json_object\"\n")
            .unwrap();
        assert_eq!(
            c.providers["local"].structured_output,
            super::super::StructuredOutput::JsonObject
        );
        assert_eq!(
            c.providers["openai"].structured_output,
            super::super::StructuredOutput::Auto
        );
    }

    #[test]
    fn reasoning_controls_are_checked_naming_the_key() {
        refused(
            "[task_types.code_generation]\nreasoning_effort = \"hihg\"\n",
            "task_types.code_generation.reasoning_effort",
        );
        let e = load("[task_types.code_generation]\nreasoning_effort = \"max\"\n").unwrap_err();
        assert!(
            e.contains("minimal") && e.contains("high"),
            "lists the values: {e}"
        );
        refused(
            "[task_types.complex_reasoning]\nthinking_budget = 1000\n",
            "task_types.complex_reasoning.thinking_budget",
        );
        let c = load(
            "[task_types.code_generation]\nreasoning_effort = \"minimal\"\n\
             [task_types.complex_reasoning]\nreasoning_effort = \"high\"\nthinking_budget = 8000\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        use crate::domain::{Reasoning, ReasoningEffort, TaskType};
        assert_eq!(
            c.reasoning_for(Some(TaskType::ComplexReasoning)),
            Reasoning {
                effort: Some(ReasoningEffort::High),
                thinking_budget: Some(8000),
                outside_max_tokens: 0,
            }
        );
        assert_eq!(
            c.reasoning_for(Some(TaskType::CodeGeneration)).effort,
            Some(ReasoningEffort::Minimal)
        );
        assert!(c.reasoning_for(Some(TaskType::Summarization)).is_none());
        assert!(c.reasoning_for(None).is_none());
    }

    #[test]
    fn nan_inf_negative_and_absurd_numbers_are_refused_naming_the_key() {
        refused("[engine]\nplateau_delta = nan\n", "engine.plateau_delta");
        refused("[engine]\nplateau_delta = inf\n", "engine.plateau_delta");
        refused("[engine]\nplateau_delta = -0.5\n", "engine.plateau_delta");
        refused("[engine]\nconcurrency = 100000\n", "engine.concurrency");
        refused(
            "[engine]\ndefault_time_secs = 0\n",
            "engine.default_time_secs",
        );
        refused(
            "[engine]\ndefault_time_secs = 9223372036854775807\n",
            "engine.default_time_secs",
        );
        refused(
            "[engine]\ndefault_budget_usd = nan\n",
            "engine.default_budget_usd",
        );
        refused(
            "[engine]\ndefault_budget_usd = 1e300\n",
            "engine.default_budget_usd",
        );
        refused(
            "[engine]\ncontext_chars_per_dependency = 9223372036854775807\n",
            "engine.context_chars_per_dependency",
        );
        refused("[routing]\nexplore_rate = nan\n", "routing.explore_rate");
        refused("[retry]\nmax_retries = 4000000000\n", "retry.max_retries");
        refused(
            "[retry]\nbackoff_base_ms = 9000\nbackoff_cap_ms = 8000\n",
            "retry.backoff_base_ms",
        );
        refused("[timeouts]\nconnect_secs = 0\n", "timeouts.connect_secs");
        refused(
            "[timeouts]\ntotal_secs = 18446744073709551615\n",
            "timeouts.total_secs",
        );
        refused(
            "[breaker]\nfailure_threshold = 0\n",
            "breaker.failure_threshold",
        );
        refused(
            "[breaker]\ncooldown_secs = 9223372036854775807\n",
            "breaker.cooldown_secs",
        );
        refused(
            "[breaker]\ncooldown_secs = 60\nmax_cooldown_secs = 10\n",
            "breaker.max_cooldown_secs",
        );
        refused(
            "[simulated.quality]\ngpt-4o = nan\n",
            "simulated.quality.gpt-4o",
        );
        refused(
            "[task_types.summarization]\nthreshold = nan\n",
            "task_types.summarization.threshold",
        );
        refused(
            "[task_types.summarization]\nmax_iterations = 0\n",
            "task_types.summarization.max_iterations",
        );
        refused(
            "[[models]]\nid = \"free\"\nprovider = \"openai\"\ninput = -1.0\noutput = 1.0\n",
            "models[0] (free).input",
        );
        refused(
            "[[models]]\nid = \"x\"\nprovider = \"openai\"\noutput = nan\n",
            "models[0] (x).output",
        );
        refused(
            "[[models]]\nid = \"x\"\nprovider = \"openai\"\nquality = 7.0\n",
            "models[0] (x).quality",
        );
        refused(
            "[[models]]\nid = \"x\"\nprovider = \"openai\"\nreasoning_outside_max_tokens = 20000000\n",
            "models[0] (x).reasoning_outside_max_tokens",
        );
        let c = load(
            "[[models]]\nid = \"x\"\nprovider = \"openai\"\nreasoning_outside_max_tokens = 32768\n",
        )
        .unwrap();
        assert_eq!(c.models[0].reasoning_outside_max_tokens, Some(32768));
    }

    #[test]
    fn validator_defaults_are_checked_naming_the_key() {
        refused(
            "[validators.defaults]\ncode_generation = [\"syntax\", \"lint\"]\n",
            "validators.defaults.code_generation",
        );
        refused(
            "[validators.defaults]\nhaiku = []\n",
            "validators.defaults.haiku",
        );
        let c = load(
            "[validators.defaults]\ncode_generation = []\ndata_extraction = [\"json\", \"length\"]\n",
        )
        .unwrap();
        assert!(c.validators.defaults_for("code_generation").is_empty());
        assert_eq!(c.validators.defaults_for("code_review"), ["syntax"]);
        assert_eq!(
            c.validators.defaults_for("data_extraction"),
            ["json", "length"]
        );
    }

    #[test]
    fn sensible_values_are_accepted() {
        let c = load(
            "[engine]\nplateau_delta = 0.0\nconcurrency = 256\ndefault_time_secs = 2592000\n\
             [retry]\nbackoff_base_ms = 0\n[breaker]\ncooldown_secs = 5\nmax_cooldown_secs = 5\n\
             [[models]]\nid = \"local\"\nprovider = \"openai\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.engine.concurrency, 256);
    }

    #[test]
    fn command_line_limits() {
        assert_eq!(check_time_limit(60, "--time"), Ok(60));
        for bad in [0, MAX_TIME_SECS + 1, u64::MAX, i64::MAX as u64] {
            let e = check_time_limit(bad, "--time").unwrap_err().to_string();
            assert!(e.contains("--time") && e.contains("between 1 and"), "{e}");
        }
        assert_eq!(check_concurrency(8, "--concurrency"), Ok(8));
        assert!(check_concurrency(100_000, "--concurrency").is_err());
        assert!(check_concurrency(0, "--concurrency").is_err());
    }
}
