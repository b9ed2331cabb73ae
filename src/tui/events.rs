//! Engine events into UI state: the open run's task table and a model's breaker change at once,
//! the Events pane gets policy decisions, budget warnings and errors (breaker transitions come
//! from the store, see `data.rs`), and a snapshot reload is asked for (the driver coalesces
//! those). An event that changes nothing visible leaves `dirty` untouched.

use super::action::Effect;
use super::app::{State, open_task_mut};
use super::state::EventKind;
use crate::domain::status::{RunStatus, TaskStatus};
use crate::engine::EngineEvent;

pub fn engine_event(s: &mut State, ev: EngineEvent) -> Vec<Effect> {
    // What the Events pane lists, as stored (`EngineEvent::log_lines`); breaker transitions come
    // from the store, where every process's are. A line whose stored copy the pane already
    // listed (stored before it was sent) is not listed again (`echo.rs`).
    if !matches!(ev, EngineEvent::Breaker { .. }) {
        let run = ev.run_id().map(String::from);
        for (kind, text) in ev.log_lines() {
            let kind = EventKind::parse(kind);
            if s.echo.live((kind, run.clone(), text.clone()), s.now_ms) {
                s.push_event(kind, run.clone(), text);
            }
        }
    }
    match ev {
        EngineEvent::RunStarted { run_id, .. } => {
            s.active.insert(run_id.clone());
            set_run_status(s, &run_id, RunStatus::Running);
        }
        EngineEvent::Planned { .. } => {}
        EngineEvent::TaskChanged {
            run_id,
            task_id,
            status,
            model,
            iteration,
            score,
            reason,
        } => {
            task_changed(
                s,
                &run_id,
                &task_id,
                TaskUpdate {
                    status,
                    model,
                    iteration,
                    score,
                    reason,
                },
            );
            crate::tui::panes::tasks::follow(s);
        }
        // Parked: pending again, with the refusal as its reason.
        EngineEvent::TaskParked {
            run_id,
            task_id,
            iteration,
            reason,
            ..
        } => {
            task_changed(
                s,
                &run_id,
                &task_id,
                TaskUpdate {
                    status: TaskStatus::Pending,
                    model: None,
                    iteration,
                    score: None,
                    reason: Some(reason),
                },
            );
            crate::tui::panes::tasks::follow(s);
        }
        EngineEvent::Calling {
            run_id,
            task_id,
            role,
            model,
            ..
        } => {
            if let Some(t) = open_task_mut(s, &run_id, &task_id) {
                let now = Some(crate::tui::snapshot::CallNow {
                    role,
                    model,
                    in_flight: true,
                });
                if t.call != now {
                    t.call = now;
                    s.dirty = true;
                }
            }
        }
        EngineEvent::Call { .. } => {}
        EngineEvent::Breaker { model, to, .. } => {
            // The row changes at once; the Events pane lists the transition when the snapshot
            // this asks for brings it from the store, where every process's transitions are.
            if let Some(m) = s.panes.models.items.iter_mut().find(|m| m.id == model)
                && m.breaker != to
            {
                m.breaker = to;
                s.dirty = true;
            }
        }
        EngineEvent::Policy { .. } | EngineEvent::Budget { .. } | EngineEvent::Warning { .. } => {}
        EngineEvent::RunFinished { run_id, status, .. } => run_finished(s, run_id, status),
    }
    vec![Effect::Refresh]
}

/// A task's new state, as the engine reported it.
struct TaskUpdate {
    status: TaskStatus,
    model: Option<String>,
    iteration: u32,
    score: Option<f64>,
    reason: Option<String>,
}

/// The open run's task row follows the engine (times from the UI clock); a failure is an event.
fn task_changed(s: &mut State, run_id: &str, task_id: &str, u: TaskUpdate) {
    let now = s.now_ms;
    let status = u.status;
    if let Some(t) = open_task_mut(s, run_id, task_id) {
        let before = t.clone();
        t.status = status;
        if u.model.is_some() {
            t.model = u.model;
        }
        t.iteration = t.iteration.max(u.iteration);
        if u.score.is_some() {
            t.score = u.score;
        }
        if u.reason.is_some() || status == TaskStatus::Running {
            t.status_reason = u.reason;
        }
        if status != TaskStatus::Running {
            t.call = None;
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
}

/// A run ended: a flash (its event is listed from `log_lines`), and its status in the lists.
fn run_finished(s: &mut State, run_id: String, status: RunStatus) {
    s.active.remove(&run_id);
    let error = !matches!(
        status,
        RunStatus::Success
            | RunStatus::CompletedDegraded
            | RunStatus::PartialSuccess
            | RunStatus::BudgetExhausted
    );
    s.flash(format!("run {run_id} finished: {status}"), error);
    set_run_status(s, &run_id, status);
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
                outcome: crate::domain::CallOutcome::Ok,
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
    fn warnings_are_sorted_by_variant() {
        let mut s = State::new(0, 8.0, true);
        let run_id = Some("r-1".to_string());
        for ev in [
            EngineEvent::Budget {
                run_id: run_id.clone(),
                message: "m1: charged the $0.1 held for the call".into(),
            },
            EngineEvent::Policy {
                run_id: run_id.clone(),
                model: "m2".into(),
                message: "no-eu: data leaves the EU".into(),
            },
            EngineEvent::Warning {
                run_id: run_id.clone(),
                message: "something odd".into(),
            },
        ] {
            engine_event(&mut s, ev);
        }
        let got: Vec<(EventKind, String)> =
            s.events.iter().map(|e| (e.kind, e.text.clone())).collect();
        for want in [
            (
                EventKind::Budget,
                "m1: charged the $0.1 held for the call".to_string(),
            ),
            (
                EventKind::Policy,
                "policy warning for m2: no-eu: data leaves the EU".to_string(),
            ),
            (EventKind::Warning, "something odd".to_string()),
        ] {
            assert!(got.contains(&want), "{want:?} in {got:?}");
        }
    }
}
