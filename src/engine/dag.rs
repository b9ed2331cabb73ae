//! Pure DAG scheduling: which tasks may start, which are skipped because a dependency failed, and
//! which fail because they sit on a dependency cycle. No I/O; the run driver applies the results.

use crate::domain::TaskSpec;
use crate::domain::status::TaskStatus;
use std::collections::{HashMap, VecDeque};

#[derive(Debug)]
pub struct Dag {
    deps: Vec<Vec<usize>>,
    dependants: Vec<Vec<usize>>,
    status: Vec<TaskStatus>,
    remaining: Vec<usize>,
    ready: VecDeque<usize>,
}

impl Dag {
    /// Build from specs and current statuses (resume passes stored ones). Returns the DAG and the
    /// tasks that must fail because they are on a cycle (already marked failed inside).
    pub fn new(specs: &[TaskSpec], statuses: &[TaskStatus]) -> (Dag, Vec<(usize, String)>) {
        let index: HashMap<&str, usize> = specs
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.as_str(), i))
            .collect();
        let n = specs.len();
        let mut deps = vec![Vec::new(); n];
        let mut dependants = vec![Vec::new(); n];
        for (i, t) in specs.iter().enumerate() {
            for d in &t.dependencies {
                if let Some(&j) = index.get(d.as_str())
                    && j != i
                    && !deps[i].contains(&j)
                {
                    deps[i].push(j);
                    dependants[j].push(i);
                }
            }
        }
        let mut dag = Dag {
            remaining: vec![0; n],
            status: statuses.to_vec(),
            deps,
            dependants,
            ready: VecDeque::new(),
        };
        let cyc = dag.cycle_members();
        let mut failed = Vec::new();
        for i in cyc {
            if !dag.status[i].is_done() {
                dag.status[i] = TaskStatus::Failed;
                let names: Vec<&str> = dag.deps[i].iter().map(|&j| specs[j].id.as_str()).collect();
                failed.push((i, format!("dependency cycle through {}", names.join(", "))));
            }
        }
        for i in 0..n {
            dag.remaining[i] = dag.deps[i]
                .iter()
                .filter(|&&j| !dag.status[j].is_done())
                .count();
            if dag.status[i] == TaskStatus::Pending && dag.remaining[i] == 0 {
                dag.ready.push_back(i);
            }
        }
        (dag, failed)
    }

    /// Nodes that can reach themselves (members of a cycle).
    fn cycle_members(&self) -> Vec<usize> {
        // Kahn's algorithm removes everything not on or behind a cycle.
        let n = self.deps.len();
        let mut indeg: Vec<usize> = self.deps.iter().map(Vec::len).collect();
        let mut q: VecDeque<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
        let mut removed = vec![false; n];
        while let Some(i) = q.pop_front() {
            removed[i] = true;
            for &k in &self.dependants[i] {
                indeg[k] -= 1;
                if indeg[k] == 0 {
                    q.push_back(k);
                }
            }
        }
        let rest: Vec<usize> = (0..n).filter(|&i| !removed[i]).collect();
        // Of the rest, keep those on a cycle; the others are merely downstream of one.
        rest.iter()
            .copied()
            .filter(|&start| {
                let mut seen = vec![false; n];
                let mut stack = self.dependants[start].clone();
                while let Some(x) = stack.pop() {
                    if x == start {
                        return true;
                    }
                    if !seen[x] && !removed[x] {
                        seen[x] = true;
                        stack.extend(self.dependants[x].iter().copied());
                    }
                }
                false
            })
            .collect()
    }

    pub fn status(&self, i: usize) -> TaskStatus {
        self.status[i]
    }

    /// Tasks whose dependencies are all done, in plan order; each is handed out once.
    pub fn next_ready(&mut self) -> Option<usize> {
        while let Some(i) = self.ready.pop_front() {
            if self.status[i] == TaskStatus::Pending {
                self.status[i] = TaskStatus::Running;
                return Some(i);
            }
        }
        None
    }

    /// Is some task ready to be handed out?
    pub fn has_ready(&self) -> bool {
        self.ready
            .iter()
            .any(|&i| self.status[i] == TaskStatus::Pending)
    }

    /// A task handed out was given back unexecuted (cancel, budget): it is pending again.
    pub fn unstart(&mut self, i: usize) {
        self.status[i] = TaskStatus::Pending;
        self.ready.push_front(i);
    }

    /// Record a final status; returns dependants skipped as a consequence, with reasons.
    pub fn finish(&mut self, i: usize, st: TaskStatus, ids: &[String]) -> Vec<(usize, String)> {
        self.status[i] = st;
        let mut skipped = Vec::new();
        if st.is_done() {
            for &k in &self.dependants[i] {
                self.remaining[k] = self.remaining[k].saturating_sub(1);
                if self.remaining[k] == 0 && self.status[k] == TaskStatus::Pending {
                    self.ready.push_back(k);
                }
            }
        } else if matches!(st, TaskStatus::Failed | TaskStatus::Skipped) {
            let mut stack = vec![i];
            while let Some(x) = stack.pop() {
                for &k in &self.dependants[x] {
                    if self.status[k] == TaskStatus::Pending {
                        self.status[k] = TaskStatus::Skipped;
                        skipped.push((k, format!("dependency `{}` did not complete", ids[x])));
                        stack.push(k);
                    }
                }
            }
        }
        skipped
    }

    /// Indices of the dependencies of `i`.
    pub fn deps(&self, i: usize) -> &[usize] {
        &self.deps[i]
    }

    /// Pending or running tasks remain.
    pub fn has_unfinished(&self) -> bool {
        self.status
            .iter()
            .any(|s| matches!(s, TaskStatus::Pending | TaskStatus::Running))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TaskType;

    fn spec(id: &str, deps: &[&str]) -> TaskSpec {
        TaskSpec {
            id: id.into(),
            task_type: TaskType::Summarization,
            prompt: "p".into(),
            dependencies: deps.iter().map(|d| d.to_string()).collect(),
            threshold: 0.8,
            max_iterations: 1,
            max_output_tokens: 100,
            validators: vec![],
        }
    }

    fn ids(s: &[TaskSpec]) -> Vec<String> {
        s.iter().map(|t| t.id.clone()).collect()
    }

    #[test]
    fn runs_in_dependency_order() {
        let s = vec![
            spec("a", &[]),
            spec("b", &["a"]),
            spec("c", &["a"]),
            spec("d", &["b", "c"]),
        ];
        let (mut d, cyc) = Dag::new(&s, &[TaskStatus::Pending; 4]);
        assert!(cyc.is_empty());
        assert_eq!(d.next_ready(), Some(0));
        assert_eq!(d.next_ready(), None);
        d.finish(0, TaskStatus::Completed, &ids(&s));
        assert_eq!(d.next_ready(), Some(1));
        assert_eq!(d.next_ready(), Some(2));
        d.finish(1, TaskStatus::Degraded, &ids(&s));
        assert_eq!(d.next_ready(), None);
        d.finish(2, TaskStatus::Completed, &ids(&s));
        assert_eq!(d.next_ready(), Some(3));
    }

    #[test]
    fn failed_dependency_skips_downstream_transitively() {
        let s = vec![
            spec("a", &[]),
            spec("b", &["a"]),
            spec("c", &["b"]),
            spec("x", &[]),
        ];
        let (mut d, _) = Dag::new(&s, &[TaskStatus::Pending; 4]);
        assert_eq!(d.next_ready(), Some(0));
        assert_eq!(d.next_ready(), Some(3));
        let skipped = d.finish(0, TaskStatus::Failed, &ids(&s));
        let idx: Vec<usize> = skipped.iter().map(|x| x.0).collect();
        assert_eq!(idx, vec![1, 2]);
        assert!(skipped[0].1.contains("`a`"));
        assert_eq!(d.status(2), TaskStatus::Skipped);
        d.finish(3, TaskStatus::Completed, &ids(&s));
        assert!(!d.has_unfinished());
    }

    #[test]
    fn cycles_fail_and_their_dependants_wait_for_skip() {
        let s = vec![
            spec("a", &["c"]),
            spec("b", &["a"]),
            spec("c", &["b"]),
            spec("d", &["c"]),
            spec("e", &[]),
        ];
        let (mut d, cyc) = Dag::new(&s, &[TaskStatus::Pending; 5]);
        let failed: Vec<usize> = cyc.iter().map(|x| x.0).collect();
        assert_eq!(failed, vec![0, 1, 2]);
        assert!(cyc[0].1.contains("cycle"));
        assert_eq!(d.next_ready(), Some(4));
        assert_eq!(d.next_ready(), None);
        // The driver reports the cycle failures, which skips `d`.
        let sk = d.finish(2, TaskStatus::Failed, &ids(&s));
        assert!(sk.iter().any(|x| x.0 == 3));
    }

    #[test]
    fn resume_starts_from_stored_statuses() {
        let s = vec![spec("a", &[]), spec("b", &["a"]), spec("c", &["b"])];
        let st = [
            TaskStatus::Completed,
            TaskStatus::Pending,
            TaskStatus::Pending,
        ];
        let (mut d, _) = Dag::new(&s, &st);
        assert_eq!(d.next_ready(), Some(1));
        assert_eq!(d.next_ready(), None);
        d.unstart(1);
        assert_eq!(d.status(1), TaskStatus::Pending);
    }
}
