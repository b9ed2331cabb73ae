//! Whether resuming a stopped run could still get anywhere. A task on a dependency cycle (or one
//! depending on such a task) fails again at every resume, so a run whose only unfinished tasks are
//! those is not resumable, whatever its status word says. Pure; `report.rs` and the driver apply it.

use super::dag::{self, cycle_reason};
use crate::domain::TaskSpec;
use crate::domain::status::{RunStatus, TaskStatus};
use crate::store::TaskRow;

/// Why a resume could never finish the run's unfinished tasks: every one of them sits on a
/// dependency cycle or depends on a task that does. `None` when some unfinished task could still
/// run, or when nothing is planned yet (the decomposition itself is left to do).
pub fn blocked_by_cycles(specs: &[TaskSpec], statuses: &[TaskStatus]) -> Option<String> {
    let done = |i: usize| statuses.get(i).is_some_and(|s| s.is_done());
    let deps = dag::dependency_indices(specs);
    let cycles = dag::find_cycles(&deps);
    let mut blocked = vec![false; specs.len()];
    let mut reasons = Vec::new();
    let mut on_cycle = 0;
    let ids: Vec<&str> = specs.iter().map(|t| t.id.as_str()).collect();
    for c in &cycles {
        let open: Vec<usize> = c.members.iter().copied().filter(|&i| !done(i)).collect();
        if !open.is_empty() {
            reasons.push(cycle_reason(c, &ids));
        }
        on_cycle += open.len();
        for i in open {
            blocked[i] = true;
        }
    }
    if reasons.is_empty() {
        return None;
    }
    // What depends on a blocked task is blocked too (a fixed point: deps may point forward).
    let mut changed = true;
    while changed {
        changed = false;
        for i in 0..specs.len() {
            if !blocked[i] && !done(i) && deps[i].iter().any(|&d| blocked[d]) {
                blocked[i] = true;
                changed = true;
            }
        }
    }
    let open = (0..specs.len()).filter(|&i| !done(i)).count();
    let stuck = blocked.iter().filter(|b| **b).count();
    if open == 0 || stuck < open {
        return None;
    }
    let tail = match stuck.saturating_sub(on_cycle) {
        0 => String::new(),
        1 => " (and 1 task depending on it)".to_string(),
        n => format!(" (and {n} tasks depending on them)"),
    };
    Some(format!(
        "not resumable: every unfinished task is on a {}{tail}, which no resume can run",
        reasons.join("; ")
    ))
}

/// [`blocked_by_cycles`] of stored task rows.
pub fn blocked_rows(tasks: &[TaskRow]) -> Option<String> {
    let specs: Vec<TaskSpec> = tasks.iter().map(|t| t.spec.clone()).collect();
    let statuses: Vec<TaskStatus> = tasks.iter().map(|t| t.status).collect();
    blocked_by_cycles(&specs, &statuses)
}

/// Resumable: a resumable status, and a resume could still run one of its tasks.
pub fn resumable(status: RunStatus, tasks: &[TaskRow]) -> bool {
    status.is_resumable() && blocked_rows(tasks).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::dag::tests::spec;
    use TaskStatus::*;

    #[test]
    fn only_cycle_tasks_left_is_not_resumable() {
        let specs = [spec("a", &[]), spec("b", &["c"]), spec("c", &["b"])];
        let why = blocked_by_cycles(&specs, &[Completed, Failed, Failed]).unwrap();
        assert!(why.contains("dependency cycle: b -> c -> b"), "{why}");
    }

    #[test]
    fn dependants_of_a_cycle_are_blocked_too() {
        let specs = [
            spec("d", &["b"]),
            spec("a", &[]),
            spec("b", &["c"]),
            spec("c", &["b"]),
        ];
        let why = blocked_by_cycles(&specs, &[Skipped, Completed, Failed, Failed]).unwrap();
        assert!(why.contains("and 1 task depending on it"), "{why}");
    }

    #[test]
    fn any_other_unfinished_task_keeps_it_resumable() {
        let specs = [spec("a", &[]), spec("b", &["c"]), spec("c", &["b"])];
        for a in [Failed, Pending, Skipped, Running] {
            assert_eq!(blocked_by_cycles(&specs, &[a, Failed, Failed]), None, "{a}");
        }
        // No cycle, or nothing planned yet.
        assert_eq!(blocked_by_cycles(&specs[..1], &[Failed]), None);
        assert_eq!(blocked_by_cycles(&[], &[]), None);
    }
}
