//! The policy audit of routing decisions: models a policy blocked (once per call) and the one
//! chosen, written behind like the call record it precedes.

use super::CallSpec;
use super::record::not_recorded;
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
/// The chosen model's policy warnings go to observers.
pub(super) fn audit(
    ctx: &EngineCtx,
    run: Option<&RunCtx>,
    spec: &CallSpec,
    routed: &Routed<'_>,
    chosen: Option<&str>,
    audited: &mut Vec<String>,
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
            ctx.warn_policy(run.map(|r| r.id.as_str()), c, w.clone());
        }
        rows.push(row(c, d, true));
    }
    if rows.is_empty() {
        return;
    }
    let run_id = run.map(|r| r.id.clone());
    let task_id = spec.task_id.clone();
    // Write-behind like the call record (which it precedes in the queue): nothing waits on it.
    let (events, err_run) = (ctx.events.clone(), run_id.clone());
    let queued = ctx.store.submit(
        move |tx| {
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
        },
        move |r| {
            if let Err(e) = r {
                not_recorded(&events, err_run, "a policy decision", &e);
            }
        },
    );
    if let Err(e) = queued {
        not_recorded(
            &ctx.events,
            run.map(|r| r.id.clone()),
            "a policy decision",
            &e,
        );
    }
}
