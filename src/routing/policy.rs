//! Policies (product.md §6): scope, mode and constraints, evaluated per candidate model. Pure.

use crate::config::{ModelInfo, PolicyConfig};
use crate::domain::{Micros, TaskType};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Monitor,
    Soft,
    Hard,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Monitor => "monitor",
            Mode::Soft => "soft",
            Mode::Hard => "hard",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    Org,
    Team(String),
    TaskType(TaskType),
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    pub mode: Mode,
    pub scope: Scope,
    pub allowed_providers: Option<Vec<String>>,
    pub blocked_providers: Vec<String>,
    pub allowed_regions: Option<Vec<String>>,
    pub blocked_models: Vec<String>,
    pub required_tags: Vec<String>,
    pub max_cost_per_call: Option<Micros>,
    pub max_latency_p95_ms: Option<u64>,
}

/// One constraint a model breaks. Latency is a soft constraint; the rest are hard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    pub policy: String,
    pub mode: Mode,
    pub what: String,
    pub soft: bool,
}

/// What routing needs to know about the call being routed.
#[derive(Debug, Clone, Default)]
pub struct CallFacts<'a> {
    pub team: Option<&'a str>,
    pub task_type: Option<TaskType>,
    /// Worst-case cost of this call on the model under evaluation.
    pub worst_cost: Option<Micros>,
    /// Observed p95 latency of the model, if known.
    pub p95_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    /// Names of the policies that applied.
    pub policies: Vec<String>,
    /// Most restrictive mode among the violated policies (or applied ones when none).
    pub mode: Option<Mode>,
    pub violations: Vec<Violation>,
    /// Violations let through with a warning (soft latency) or logged only (monitor).
    pub warnings: Vec<String>,
}

/// A `[[policies]]` entry that does not parse (`name`: its name, or `policy#N`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy `{name}`: mode `{mode}` (use hard, soft or monitor)")]
    Mode { name: String, mode: String },
    #[error("policy `{name}`: scope `{scope}`: {source}")]
    TaskType {
        name: String,
        scope: String,
        source: crate::domain::UnknownTaskType,
    },
    #[error("policy `{name}`: scope `{scope}` (use org, team:NAME or task_type:NAME)")]
    Scope { name: String, scope: String },
    #[error("policy `{name}`: max_cost_per_call_usd must be >= 0")]
    MaxCost { name: String },
}

pub fn parse(cfgs: &[PolicyConfig]) -> Result<Vec<Policy>, PolicyError> {
    cfgs.iter()
        .enumerate()
        .map(|(i, c)| parse_one(i, c))
        .collect()
}

fn parse_one(i: usize, c: &PolicyConfig) -> Result<Policy, PolicyError> {
    let name = if c.name.trim().is_empty() {
        format!("policy#{}", i + 1)
    } else {
        c.name.clone()
    };
    let mode = match c.mode.as_str() {
        "hard" => Mode::Hard,
        "soft" => Mode::Soft,
        "monitor" => Mode::Monitor,
        "" => Mode::Hard,
        other => {
            return Err(PolicyError::Mode {
                name,
                mode: other.to_string(),
            });
        }
    };
    let scope = match c.scope.as_str() {
        "" | "org" => Scope::Org,
        s if s.starts_with("team:") && s.len() > 5 => Scope::Team(s[5..].to_string()),
        s if s.starts_with("task_type:") => {
            Scope::TaskType(s[10..].parse().map_err(|source| PolicyError::TaskType {
                name: name.clone(),
                scope: s.to_string(),
                source,
            })?)
        }
        other => {
            return Err(PolicyError::Scope {
                name,
                scope: other.to_string(),
            });
        }
    };
    if let Some(c) = c.max_cost_per_call_usd
        && !(c.is_finite() && c >= 0.0)
    {
        return Err(PolicyError::MaxCost { name });
    }
    Ok(Policy {
        name,
        mode,
        scope,
        allowed_providers: c.allowed_providers.clone(),
        blocked_providers: c.blocked_providers.clone(),
        allowed_regions: c.allowed_regions.clone(),
        blocked_models: c.blocked_models.clone(),
        required_tags: c.required_tags.clone(),
        max_cost_per_call: c.max_cost_per_call_usd.map(Micros::from_usd),
        max_latency_p95_ms: c.max_latency_p95_ms,
    })
}

impl Policy {
    pub fn applies(&self, f: &CallFacts) -> bool {
        match &self.scope {
            Scope::Org => true,
            Scope::Team(t) => f.team == Some(t.as_str()),
            Scope::TaskType(t) => f.task_type == Some(*t),
        }
    }

    /// Constraints of this policy the model breaks.
    pub fn violations(&self, m: &ModelInfo, f: &CallFacts) -> Vec<Violation> {
        let mut v = Vec::new();
        let mut add = |what: String, soft: bool| {
            v.push(Violation {
                policy: self.name.clone(),
                mode: self.mode,
                what,
                soft,
            })
        };
        if let Some(allowed) = &self.allowed_providers
            && !allowed.iter().any(|p| p == &m.provider)
        {
            add(format!("provider {} not allowed", m.provider), false);
        }
        if self.blocked_providers.iter().any(|p| p == &m.provider) {
            add(format!("provider {} blocked", m.provider), false);
        }
        if let Some(regions) = &self.allowed_regions
            && !m.region.iter().any(|r| regions.contains(r))
        {
            add(
                format!("{} has no allowed region ({})", m.id, m.region.join(",")),
                false,
            );
        }
        if self.blocked_models.iter().any(|b| b == &m.id) {
            add(format!("model {} blocked", m.id), false);
        }
        for tag in &self.required_tags {
            if !m.tags.contains(tag) {
                add(format!("{} lacks tag {tag}", m.id), false);
            }
        }
        if let (Some(max), Some(cost)) = (self.max_cost_per_call, f.worst_cost)
            && cost > max
        {
            add(
                format!("call may cost ${:.4} > ${:.4}", cost.usd(), max.usd()),
                false,
            );
        }
        let p95 = f.p95_ms.unwrap_or(m.latency_ms);
        if let Some(max) = self.max_latency_p95_ms
            && p95 > max
        {
            add(format!("p95 latency {p95} ms > {max} ms"), true);
        }
        v
    }
}

/// Evaluate every applicable policy for a model. Hard blocks on any violation; soft blocks hard
/// constraints and warns on soft ones; monitor only logs.
pub fn decide(policies: &[Policy], m: &ModelInfo, f: &CallFacts) -> Decision {
    let applicable: Vec<&Policy> = policies.iter().filter(|p| p.applies(f)).collect();
    let mut d = Decision {
        allowed: true,
        policies: applicable.iter().map(|p| p.name.clone()).collect(),
        mode: applicable.iter().map(|p| p.mode).max(),
        violations: vec![],
        warnings: vec![],
    };
    let mut violated_modes = Vec::new();
    for p in applicable {
        for v in p.violations(m, f) {
            let blocks = match v.mode {
                Mode::Hard => true,
                Mode::Soft => !v.soft,
                Mode::Monitor => false,
            };
            if blocks {
                d.allowed = false;
            } else {
                d.warnings
                    .push(format!("{}: {} ({})", v.policy, v.what, v.mode.as_str()));
            }
            violated_modes.push(v.mode);
            d.violations.push(v);
        }
    }
    if let Some(m) = violated_modes.into_iter().max() {
        d.mode = Some(m);
    }
    d
}

/// The cost limit a call breaks once its request is built: `worst` is what will be held for it
/// (the slack on the input estimate, the cache-write price and a thinking budget included), which
/// routing's estimate does not know. Monitor policies only log, so they never block here.
pub fn cost_blocked(policies: &[Policy], f: &CallFacts, worst: Micros) -> Option<String> {
    policies
        .iter()
        .filter(|p| p.mode != Mode::Monitor && p.applies(f))
        .find_map(|p| {
            let max = p.max_cost_per_call?;
            (worst > max).then(|| {
                format!(
                    "policy {}: call may cost ${:.4} > ${:.4} (its request as built)",
                    p.name,
                    worst.usd(),
                    max.usd()
                )
            })
        })
}

/// Problems of a policy set that make it wrong or useless (`policy check`).
pub fn check(policies: &[Policy], models: &[ModelInfo]) -> (Vec<String>, Vec<String>) {
    let mut errors = Vec::new();
    let mut notes = Vec::new();
    for p in policies {
        if let Some(a) = &p.allowed_providers {
            let both: Vec<&String> = a
                .iter()
                .filter(|x| p.blocked_providers.contains(x))
                .collect();
            if !both.is_empty() {
                errors.push(format!(
                    "policy `{}`: providers both allowed and blocked: {}",
                    p.name,
                    both.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if a.is_empty() {
                errors.push(format!(
                    "policy `{}`: allowed_providers is empty: nothing can run",
                    p.name
                ));
            }
        }
        if p.allowed_regions.as_ref().is_some_and(|r| r.is_empty()) {
            errors.push(format!(
                "policy `{}`: allowed_regions is empty: nothing can run",
                p.name
            ));
        }
        for b in &p.blocked_models {
            if !models.iter().any(|m| &m.id == b) {
                notes.push(format!(
                    "policy `{}`: blocked model `{b}` is not in the catalog",
                    p.name
                ));
            }
        }
    }
    // A policy set that leaves some task type without any model (hard and soft block).
    for t in TaskType::ALL {
        let f = CallFacts {
            task_type: Some(t),
            ..Default::default()
        };
        let any = models
            .iter()
            .filter(|m| m.capable(t))
            .any(|m| decide(policies, m, &f).allowed);
        if !any {
            errors.push(format!(
                "no model is allowed for task type {t} at org level"
            ));
        }
    }
    for p in policies {
        let blocked: Vec<&str> = models
            .iter()
            .filter(|m| {
                !p.violations(m, &CallFacts::default())
                    .iter()
                    .all(|v| v.soft)
            })
            .map(|m| m.id.as_str())
            .collect();
        notes.push(format!(
            "policy `{}` ({}, scope {}): {} of {} models excluded{}",
            p.name,
            p.mode.as_str(),
            match &p.scope {
                Scope::Org => "org".to_string(),
                Scope::Team(t) => format!("team:{t}"),
                Scope::TaskType(t) => format!("task_type:{t}"),
            },
            blocked.len(),
            models.len(),
            if blocked.is_empty() || p.mode == Mode::Monitor {
                String::new()
            } else {
                format!(": {}", blocked.join(", "))
            }
        ));
    }
    (errors, notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Catalog;

    fn pol(toml: &str) -> Vec<Policy> {
        let cfg: crate::config::Config = toml::from_str(toml).unwrap();
        parse(&cfg.policies).unwrap()
    }

    fn model(id: &str) -> ModelInfo {
        Catalog::embedded().unwrap().get(id).unwrap().clone()
    }

    #[test]
    fn hard_blocks_provider() {
        let p = pol(
            "[[policy]]\nname='no-ds'\nmode='hard'\nscope='org'\nblocked_providers=['deepseek']\n",
        );
        let d = decide(&p, &model("deepseek-chat"), &CallFacts::default());
        assert!(!d.allowed);
        assert_eq!(d.mode, Some(Mode::Hard));
        assert!(decide(&p, &model("gpt-4o"), &CallFacts::default()).allowed);
    }

    #[test]
    fn soft_lets_latency_through_with_warning_but_blocks_hard_constraints() {
        let p = pol(
            "[[policy]]\nname='fast'\nmode='soft'\nmax_latency_p95_ms=100\nblocked_models=['gpt-4o']\n",
        );
        let d = decide(&p, &model("gpt-5"), &CallFacts::default());
        assert!(d.allowed);
        assert_eq!(d.warnings.len(), 1);
        assert!(!decide(&p, &model("gpt-4o"), &CallFacts::default()).allowed);
    }

    #[test]
    fn monitor_only_logs() {
        let p = pol("[[policy]]\nname='watch'\nmode='monitor'\nblocked_providers=['openai']\n");
        let d = decide(&p, &model("gpt-4o"), &CallFacts::default());
        assert!(d.allowed);
        assert_eq!(d.violations.len(), 1);
        assert_eq!(d.mode, Some(Mode::Monitor));
    }

    #[test]
    fn the_held_cost_is_judged_by_hard_and_soft_limits_not_monitor() {
        let p = pol(
            "[[policy]]\nname='watch'\nmode='monitor'\nmax_cost_per_call_usd=0.001\n\
             [[policy]]\nname='web'\nmode='soft'\nscope='team:web'\nmax_cost_per_call_usd=0.01\n",
        );
        let web = CallFacts {
            team: Some("web"),
            ..Default::default()
        };
        assert_eq!(cost_blocked(&p, &web, Micros(10_000)), None);
        let why = cost_blocked(&p, &web, Micros(10_001)).unwrap();
        assert!(
            why.starts_with("policy web: call may cost $0.0100"),
            "{why}"
        );
        // Another team: only the monitor policy applies, and it never blocks.
        assert_eq!(
            cost_blocked(&p, &CallFacts::default(), Micros(1_000_000)),
            None
        );
    }

    #[test]
    fn most_restrictive_mode_wins_and_scopes_apply() {
        let p = pol(
            "[[policy]]\nname='a'\nmode='monitor'\nblocked_providers=['openai']\n[[policy]]\nname='b'\nmode='hard'\nscope='team:web'\nblocked_providers=['openai']\n",
        );
        let web = CallFacts {
            team: Some("web"),
            ..Default::default()
        };
        let d = decide(&p, &model("gpt-4o"), &web);
        assert!(!d.allowed);
        assert_eq!(d.mode, Some(Mode::Hard));
        assert!(decide(&p, &model("gpt-4o"), &CallFacts::default()).allowed);
    }

    #[test]
    fn regions_tags_and_cost() {
        let p = pol(
            "[[policy]]\nname='eu'\nallowed_regions=['eu']\nrequired_tags=['no_train']\nmax_cost_per_call_usd=0.01\n",
        );
        assert!(!decide(&p, &model("deepseek-chat"), &CallFacts::default()).allowed);
        let cheap = CallFacts {
            worst_cost: Some(Micros(100)),
            ..Default::default()
        };
        assert!(decide(&p, &model("claude-sonnet-4-6"), &cheap).allowed);
        let dear = CallFacts {
            worst_cost: Some(Micros::from_usd(1.0)),
            ..Default::default()
        };
        assert!(!decide(&p, &model("claude-sonnet-4-6"), &dear).allowed);
    }

    #[test]
    fn check_finds_contradictions() {
        let p = pol(
            "[[policy]]\nname='x'\nallowed_providers=['openai']\nblocked_providers=['openai']\n[[policy]]\nname='y'\nallowed_regions=[]\n",
        );
        let (errors, _) = check(&p, &Catalog::embedded().unwrap().models);
        assert!(
            errors
                .iter()
                .any(|e| e.contains("both allowed and blocked"))
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("allowed_regions is empty"))
        );
        assert!(errors.iter().any(|e| e.contains("no model is allowed")));
    }

    #[test]
    fn bad_mode_and_scope_are_errors() {
        let cfg: crate::config::Config =
            toml::from_str("[[policy]]\nname='x'\nmode='strict'\n").unwrap();
        assert!(
            parse(&cfg.policies)
                .unwrap_err()
                .to_string()
                .contains("strict")
        );
        let cfg: crate::config::Config =
            toml::from_str("[[policy]]\nname='x'\nscope='galaxy'\n").unwrap();
        assert!(
            parse(&cfg.policies)
                .unwrap_err()
                .to_string()
                .contains("galaxy")
        );
    }
}
