//! The policy audit of routing decisions: models a policy blocked (once per call) and the one
//! chosen, written behind with the call's next store job (`pending.rs`).

use super::CallSpec;
use super::pending::Pending;
use crate::engine::context::{EngineCtx, RunCtx};
use crate::routing::router::Routed;
use crate::store;

/// (model, policies, mode, violations, allowed)
type Row = (String, Vec<String>, Option<String>, Vec<String>, bool);

fn row(model: &str, d: &crate::routing::policy::Decision, allowed: bool) -> Row {
    (
        model.to_string(),
        d.policies.clone(),
        d.mode.map(|x| x.as_str().to_string()),
        d.violations
            .iter()
            .map(|v| format!("{}: {}", v.policy, v.what))
            .collect(),
        allowed,
    )
}

/// Audit the routing decision under policies: blocked models once per call, and the chosen one.
/// The chosen model's policy warnings go to observers at once and to the store with the rows.
pub(super) fn audit(
    ctx: &EngineCtx,
    run: Option<&RunCtx>,
    spec: &CallSpec,
    routed: &Routed<'_>,
    chosen: Option<&str>,
    audited: &mut Vec<String>,
    pending: &mut Pending,
) {
    let mut rows: Vec<Row> = Vec::new();
    for (m, d) in &routed.blocked {
        if audited.contains(&m.id) {
            continue;
        }
        audited.push(m.id.clone());
        rows.push(row(&m.id, d, false));
    }
    if let Some(c) = chosen
        && let Some((_, d)) = routed.allowed.iter().find(|(m, _)| m.id == c)
    {
        for w in &d.warnings {
            ctx.warn_policy(run.map(|r| r.id.as_str()), c, w.clone(), pending);
        }
        rows.push(row(c, d, true));
    }
    if rows.is_empty() {
        return;
    }
    let run_id = run.map(|r| r.id.clone());
    let task_id = spec.task_id.clone();
    pending.push(Box::new(move |tx: &dyn crate::store::sql::Sql| {
        for (model, policies, mode, violations, allowed) in &rows {
            store::models::insert_audit(
                tx,
                &store::models::AuditRow {
                    run_id: run_id.as_deref(),
                    task_id: task_id.as_deref(),
                    model,
                    policies,
                    mode: mode.as_deref(),
                    violations,
                    allowed: *allowed,
                },
            )?;
        }
        Ok(())
    }));
}
