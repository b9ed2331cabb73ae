//! Pre-flight: the run's minimum expected cost (product.md §2), not the worst case. Refuse only
//! when even that does not fit the remaining run, team or org budget.

use crate::budget::level::{Level, levels};
use crate::budget::remaining;
use crate::config::{Catalog, ModelInfo};
use crate::domain::{Micros, TaskType};
use crate::providers::ProviderRegistry;
use crate::store::BudgetStore;

/// Expected tokens per role: (input, output).
const DECOMPOSE: (u64, u64) = (600, 900);
const GENERATE: (u64, u64) = (1500, 1000);
const CRITIQUE: (u64, u64) = (1600, 300);
const EVALUATE: (u64, u64) = (1600, 60);

fn cheapest<'a>(
    catalog: &'a Catalog,
    registry: &ProviderRegistry,
    t: Option<TaskType>,
) -> Option<&'a ModelInfo> {
    catalog
        .models
        .iter()
        .filter(|m| registry.serves(m) && t.is_none_or(|t| m.capable(t)))
        .min_by(|a, b| {
            (a.input + a.output)
                .partial_cmp(&(b.input + b.output))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
}

/// Minimum estimate for a run of `tasks` tasks (decomposition included unless a plan is given).
pub fn estimate(
    catalog: &Catalog,
    registry: &ProviderRegistry,
    tasks: usize,
    decompose: bool,
) -> Micros {
    let price =
        |m: Option<&ModelInfo>, (i, o): (u64, u64)| m.map_or(Micros::ZERO, |m| m.cost(i, 0, o));
    let any = cheapest(catalog, registry, None);
    let mut total = Micros::ZERO;
    if decompose {
        total += price(any, DECOMPOSE);
    }
    let per_task = price(
        cheapest(catalog, registry, Some(TaskType::CodeGeneration)).or(any),
        GENERATE,
    ) + price(
        cheapest(catalog, registry, Some(TaskType::CodeReview)).or(any),
        CRITIQUE,
    ) + price(
        cheapest(catalog, registry, Some(TaskType::Evaluation)).or(any),
        EVALUATE,
    );
    total + Micros(per_task.0 * tasks as i64)
}

/// Minimum estimate for a `--plan`: its first five tasks, each on the cheapest model capable of
/// its type, with generation capped by the task's own `max_output_tokens`.
pub fn estimate_plan(
    catalog: &Catalog,
    registry: &ProviderRegistry,
    plan: &[crate::domain::TaskSpec],
) -> Micros {
    let price =
        |m: Option<&ModelInfo>, (i, o): (u64, u64)| m.map_or(Micros::ZERO, |m| m.cost(i, 0, o));
    let any = cheapest(catalog, registry, None);
    plan.iter()
        .take(5)
        .map(|t| {
            let out = GENERATE.1.min(t.max_output_tokens as u64);
            price(
                cheapest(catalog, registry, Some(t.task_type)).or(any),
                (GENERATE.0, out),
            ) + price(
                cheapest(catalog, registry, Some(TaskType::CodeReview)).or(any),
                CRITIQUE,
            ) + price(
                cheapest(catalog, registry, Some(TaskType::Evaluation)).or(any),
                EVALUATE,
            )
        })
        .sum()
}

/// `Err(message)` with the numbers when the estimate exceeds what is left at some level.
pub fn check(
    store: &(impl BudgetStore + ?Sized),
    estimate: Micros,
    run_budget: Micros,
    team: Option<&str>,
) -> Result<(), String> {
    // The run does not exist yet: its own level is the budget asked for.
    let mut left: Vec<(String, Option<Micros>)> = Vec::new();
    for l in levels(Some(""), team) {
        match &l {
            Level::Run(_) => left.push((l.to_string(), Some(run_budget))),
            _ => {
                if let Ok(Some(s)) = store.level_state(&l) {
                    left.push((l.to_string(), remaining(s.cap, s.spent, s.reserved)));
                }
            }
        }
    }
    for (name, left) in left {
        if let Some(left) = left
            && estimate > left
        {
            return Err(format!(
                "pre-flight: the run needs at least ${:.4} but the {name} budget has ${:.4} left \
                 (raise it, or pass --force to start anyway)",
                estimate.usd(),
                left.usd()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, SimulatedMode};
    use crate::domain::TaskSpec;

    #[test]
    fn plan_estimate_respects_task_output_caps_and_types() {
        let mut cfg = Config::defaults();
        cfg.simulated.enabled = SimulatedMode::Always;
        let cat = Catalog::from_config(&cfg).unwrap();
        let reg = ProviderRegistry::from_config(&cfg, &cat).unwrap();
        let task = |max: u32| TaskSpec {
            id: "t".into(),
            task_type: TaskType::Summarization,
            prompt: "p".into(),
            dependencies: vec![],
            threshold: 0.8,
            max_iterations: 1,
            max_output_tokens: max,
            validators: vec![],
        };
        let small = estimate_plan(&cat, &reg, &vec![task(40); 8]);
        let large = estimate_plan(&cat, &reg, &vec![task(4096); 8]);
        assert!(small < large, "{small:?} < {large:?}");
        // Only the first five tasks count, like the decomposition estimate.
        assert_eq!(estimate_plan(&cat, &reg, &vec![task(40); 5]), small);
        assert!(large <= estimate(&cat, &reg, 5, false));
    }
}
