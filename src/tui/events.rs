//! Engine events into UI state: the open run's task table and a model's breaker change at once,
//! the Events pane gets policy decisions, budget warnings and errors (breaker transitions come
//! from the store, see `data.rs`), and a snapshot reload is asked for (the driver coalesces
//! those). An event that changes nothing visible leaves `dirty` untouched.

use super::action::Effect;
use super::app::{State, classify_warning, open_task_mut};
use super::state::EventKind;
use crate::domain::status::{RunStatus, TaskStatus};
use crate::engine::EngineEvent;
use crate::routing::breaker::BreakerState;

pub fn engine_event(s: &mut State, ev: EngineEvent) -> Vec<Effect> {
    match ev {
        EngineEvent::RunStarted {
            run_id,
            description,
            resumed,
        } => {
            s.active.insert(run_id.clone());
            let verb = if resumed { "resumed" } else { "started" };
            s.push_event(
                EventKind::Info,
                Some(run_id.clone()),
                format!("run {verb}: {description}"),
            );
            set_run_status(s, &run_id, RunStatus::Running);
        }
        EngineEvent::Planned {
            run_id,
            tasks,
            warnings,
        } => {
            for w in warnings {
                s.push_event(
                    classify_warning(&w),
                    Some(run_id.clone()),
                    format!("plan: {w}"),
                );
            }
            s.push_event(
                EventKind::Info,
                Some(run_id),
                format!("planned {tasks} tasks"),
            );
        }
        EngineEvent::TaskChanged {
            run_id,
            task_id,
            status,
            model,
            iteration,
            score,
            reason,
        } => {
            let now = s.now_ms;
            if let Some(t) = open_task_mut(s, &run_id, &task_id) {
                let before = t.clone();
                t.status = status;
                if model.is_some() {
                    t.model = model;
                }
                t.iteration = t.iteration.max(iteration);
                if score.is_some() {
                    t.score = score;
                }
                if reason.is_some() || status == TaskStatus::Running {
                    t.status_reason = reason;
                }
                match status {
                    TaskStatus::Running if t.started_ms.is_none() || t.finished_ms.is_some() => {
                        t.started_ms = Some(now);
                        t.finished_ms = None;
                    }
                    TaskStatus::Pending => t.finished_ms = None,
                    TaskStatus::Running => {}
                    _ => {
                        if t.finished_ms.is_none() {
                            t.finished_ms = Some(now);
                        }
                    }
                }
                if *t != before {
                    s.dirty = true;
                }
            }
            if status == TaskStatus::Failed {
                s.push_event(
                    EventKind::Error,
                    Some(run_id),
                    format!("task {task_id} failed"),
                );
            }
        }
        EngineEvent::Call {
            run_id,
            model,
            outcome,
            error,
            role,
            ..
        } => {
            if outcome != "ok" && outcome != "cancelled" {
                let detail = error.map(|e| format!(": {e}")).unwrap_or_default();
                s.push_event(
                    EventKind::Error,
                    run_id,
                    format!("{role} call to {model} failed ({outcome}){detail}"),
                );
            }
        }
        EngineEvent::Breaker { model, to, .. } => {
            // The row changes at once; the Events pane lists the transition when the snapshot
            // this asks for brings it from the store, where every process's transitions are.
            if let Some(m) = s.panes.models.items.iter_mut().find(|m| m.id == model) {
                let to = BreakerState::parse(&to);
                if m.breaker != to {
                    m.breaker = to;
                    s.dirty = true;
                }
            }
        }
        EngineEvent::Warning { run_id, message } => {
            s.push_event(classify_warning(&message), run_id, message);
        }
        EngineEvent::RunFinished {
            run_id,
            status,
            cost,
            reason,
        } => {
            s.active.remove(&run_id);
            let kind = match status {
                RunStatus::Success | RunStatus::CompletedDegraded | RunStatus::PartialSuccess => {
                    EventKind::Info
                }
                RunStatus::BudgetExhausted => EventKind::Budget,
                _ => EventKind::Error,
            };
            let why = reason.map(|r| format!(" ({r})")).unwrap_or_default();
            let text = format!("run finished: {status}, ${:.4}{why}", cost.usd());
            s.push_event(kind, Some(run_id.clone()), text);
            s.flash(
                format!("run {run_id} finished: {status}"),
                kind == EventKind::Error,
            );
            set_run_status(s, &run_id, status);
        }
    }
    vec![Effect::Refresh]
}

fn set_run_status(s: &mut State, run_id: &str, status: RunStatus) {
    if let Some(r) = s.runs.iter_mut().find(|r| r.id == run_id)
        && r.status != status
    {
        r.status = status;
        s.dirty = true;
    }
    if let Some(d) = s.detail.as_mut().filter(|d| d.id == run_id)
        && d.status != status
    {
        d.status = status;
        s.dirty = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Micros;

    #[test]
    fn ok_calls_change_nothing_visible_but_ask_for_a_reload() {
        let mut s = State::new(0, 8.0, true);
        s.dirty = false;
        let fx = engine_event(
            &mut s,
            EngineEvent::Call {
                run_id: Some("r-1".into()),
                task_id: None,
                role: "generate".into(),
                model: "m".into(),
                provider: "p".into(),
                outcome: "ok".into(),
                cost: Micros(5),
                latency_ms: 3,
                error: None,
            },
        );
        assert_eq!(fx, vec![Effect::Refresh]);
        assert!(!s.dirty);
        assert!(s.events.is_empty());
    }

    #[test]
    fn warnings_are_classified() {
        assert_eq!(
            classify_warning("org budget: $0.1 needed"),
            EventKind::Budget
        );
        assert_eq!(classify_warning("policy no-eu denied"), EventKind::Policy);
        assert_eq!(classify_warning("something odd"), EventKind::Warning);
    }
}
