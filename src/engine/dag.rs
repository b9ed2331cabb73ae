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
        let n = specs.len();
        let deps = dependency_indices(specs);
        let mut dependants = vec![Vec::new(); n];
        for (i, d) in deps.iter().enumerate() {
            for &j in d {
                dependants[j].push(i);
            }
        }
        let mut dag = Dag {
            remaining: vec![0; n],
            status: statuses.to_vec(),
            deps,
            dependants,
            ready: VecDeque::new(),
        };
        let ids: Vec<&str> = specs.iter().map(|t| t.id.as_str()).collect();
        let mut failed = Vec::new();
        for cyc in find_cycles(&dag.deps) {
            let reason = cycle_reason(&cyc, &ids);
            for &i in &cyc.members {
                if !dag.status[i].is_done() {
                    dag.status[i] = TaskStatus::Failed;
                    failed.push((i, reason.clone()));
                }
            }
        }
        failed.sort_by_key(|x| x.0);
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

/// `deps[i]`: indices of the tasks task `i` depends on (unknown ids, self and repeats left out).
pub fn dependency_indices(specs: &[TaskSpec]) -> Vec<Vec<usize>> {
    let index: HashMap<&str, usize> = specs
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.as_str(), i))
        .collect();
    let mut deps = vec![Vec::new(); specs.len()];
    for (i, t) in specs.iter().enumerate() {
        for d in &t.dependencies {
            if let Some(&j) = index.get(d.as_str())
                && j != i
                && !deps[i].contains(&j)
            {
                deps[i].push(j);
            }
        }
    }
    deps
}

/// Tasks that wait for each other: a strongly connected component of more than one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// Every task of the component, ascending.
    pub members: Vec<usize>,
    /// One shortest cycle through the first member, which it starts and ends with
    /// (`a -> b -> a`: a depends on b, which depends on a).
    pub path: Vec<usize>,
}

/// Every dependency cycle, ordered by first member. Linear in tasks + dependencies (iterative
/// Tarjan, so a 100,000-task chain neither recurses deeply nor takes quadratic time).
pub fn find_cycles(deps: &[Vec<usize>]) -> Vec<Cycle> {
    let mut out: Vec<Cycle> = components(deps)
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|mut members| {
            members.sort_unstable();
            let path = cycle_through(deps, &members);
            Cycle { members, path }
        })
        .collect();
    out.sort_by_key(|c| c.members[0]);
    out
}

/// The cycles of a task list (a `--plan` file or a decomposition).
pub fn plan_cycles(specs: &[TaskSpec]) -> Vec<Cycle> {
    find_cycles(&dependency_indices(specs))
}

/// Strongly connected components (Tarjan, with an explicit stack).
fn components(adj: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const UNSEEN: usize = usize::MAX;
    let n = adj.len();
    let (mut index, mut low) = (vec![UNSEEN; n], vec![0; n]);
    let mut on_stack = vec![false; n];
    let (mut stack, mut out) = (Vec::new(), Vec::new());
    let mut next = 0;
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        // (node, position of the next edge to follow)
        let mut call: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&(v, pos)) = call.last() {
            if let Some(&w) = adj[v].get(pos) {
                if let Some(top) = call.last_mut() {
                    top.1 += 1;
                }
                if index[w] == UNSEEN {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            call.pop();
            if let Some(&(parent, _)) = call.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                out.push(comp);
            }
        }
    }
    out
}

/// A shortest cycle through `members[0]` inside the component (breadth-first).
fn cycle_through(adj: &[Vec<usize>], members: &[usize]) -> Vec<usize> {
    let start = members[0];
    let mut inside = HashMap::with_capacity(members.len());
    for &m in members {
        inside.insert(m, usize::MAX); // parent, unknown yet
    }
    let mut queue = VecDeque::from([start]);
    while let Some(u) = queue.pop_front() {
        for &w in &adj[u] {
            if w == start {
                // Back from u along the parents to start, then reversed: start ... u start.
                let mut path = vec![start, u];
                let mut x = u;
                while x != start {
                    match inside.get(&x) {
                        Some(&p) if p != usize::MAX => x = p,
                        _ => break,
                    }
                    path.push(x);
                }
                path.reverse();
                return path;
            }
            if let Some(parent) = inside.get_mut(&w)
                && *parent == usize::MAX
                && w != start
            {
                *parent = u;
                queue.push_back(w);
            }
        }
    }
    // Unreachable for a strongly connected component; name the members instead.
    members.iter().copied().chain([start]).collect()
}

/// `a -> b -> a`, shortened in the middle when long.
pub fn describe_path(path: &[usize], ids: &[&str]) -> String {
    let name = |i: &usize| ids.get(*i).copied().unwrap_or("?");
    if path.len() <= 12 {
        return path.iter().map(name).collect::<Vec<_>>().join(" -> ");
    }
    let head: Vec<&str> = path[..5].iter().map(name).collect();
    let tail: Vec<&str> = path[path.len() - 5..].iter().map(name).collect();
    format!(
        "{} -> … {} more … -> {}",
        head.join(" -> "),
        path.len() - 10,
        tail.join(" -> ")
    )
}

/// Why the tasks of `c` cannot run: the cycle named, and the other members when it has more.
pub fn cycle_reason(c: &Cycle, ids: &[&str]) -> String {
    let path = describe_path(&c.path, ids);
    if c.path.len() > c.members.len() {
        return format!("dependency cycle: {path}");
    }
    let mut names: Vec<&str> = c
        .members
        .iter()
        .take(10)
        .map(|&i| ids.get(i).copied().unwrap_or("?"))
        .collect();
    if c.members.len() > 10 {
        names.push("…");
    }
    format!(
        "dependency cycle: {path} ({} tasks wait for each other: {})",
        c.members.len(),
        names.join(", ")
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::TaskType;

    /// A task with `deps` (also used by engine/resumable.rs' tests).
    pub(crate) fn spec(id: &str, deps: &[&str]) -> TaskSpec {
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
    fn a_two_task_cycle_is_named_in_dependency_order() {
        let s = vec![spec("t1", &["t2"]), spec("t2", &["t1"]), spec("t3", &[])];
        let c = plan_cycles(&s);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].members, vec![0, 1]);
        let ids: Vec<&str> = s.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(describe_path(&c[0].path, &ids), "t1 -> t2 -> t1");
        assert_eq!(
            cycle_reason(&c[0], &ids),
            "dependency cycle: t1 -> t2 -> t1"
        );
        let (_, failed) = Dag::new(&s, &[TaskStatus::Pending; 3]);
        assert_eq!(
            failed,
            vec![
                (0, "dependency cycle: t1 -> t2 -> t1".to_string()),
                (1, "dependency cycle: t1 -> t2 -> t1".to_string())
            ]
        );
    }

    #[test]
    fn separate_cycles_and_acyclic_plans() {
        let s = vec![
            spec("a", &["b"]),
            spec("b", &["c"]),
            spec("c", &["a"]),
            spec("d", &["a"]), // behind a cycle, not on one
            spec("x", &["y"]),
            spec("y", &["x", "d"]),
        ];
        let c = plan_cycles(&s);
        let members: Vec<Vec<usize>> = c.iter().map(|c| c.members.clone()).collect();
        assert_eq!(members, vec![vec![0, 1, 2], vec![4, 5]]);
        assert_eq!(c[0].path, vec![0, 1, 2, 0]);
        // A diamond is not a cycle; unknown and self dependencies are ignored.
        let ok = vec![
            spec("a", &["a", "zz"]),
            spec("b", &["a"]),
            spec("c", &["a"]),
            spec("d", &["b", "c"]),
        ];
        assert!(plan_cycles(&ok).is_empty());
    }

    #[test]
    fn a_component_with_several_cycles_names_one_and_lists_the_members() {
        // a <-> b, b <-> c: one component of three, shortest cycle through a is a -> b -> a.
        let s = vec![spec("a", &["b"]), spec("b", &["a", "c"]), spec("c", &["b"])];
        let c = plan_cycles(&s);
        let ids = ["a", "b", "c"];
        assert_eq!(c.len(), 1);
        assert_eq!(
            cycle_reason(&c[0], &ids),
            "dependency cycle: a -> b -> a (3 tasks wait for each other: a, b, c)"
        );
    }

    #[test]
    fn cycles_match_brute_force_reachability_on_random_graphs() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |m: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % m
        };
        for _ in 0..2000 {
            let n = 1 + next(8) as usize;
            let deps: Vec<Vec<usize>> = (0..n)
                .map(|i| {
                    let mut d: Vec<usize> = (0..next(3))
                        .map(|_| next(n as u64) as usize)
                        .filter(|&j| j != i)
                        .collect();
                    d.dedup();
                    d
                })
                .collect();
            // i is on a cycle iff it reaches itself through at least one edge.
            let on_cycle = |start: usize| {
                let (mut seen, mut stack) = (vec![false; n], deps[start].clone());
                while let Some(x) = stack.pop() {
                    if x == start {
                        return true;
                    }
                    if !std::mem::replace(&mut seen[x], true) {
                        stack.extend(&deps[x]);
                    }
                }
                false
            };
            let want: Vec<usize> = (0..n).filter(|&i| on_cycle(i)).collect();
            let cycles = find_cycles(&deps);
            let mut got: Vec<usize> = cycles.iter().flat_map(|c| c.members.clone()).collect();
            got.sort_unstable();
            assert_eq!(got, want, "{deps:?}");
            for c in &cycles {
                assert_eq!(c.path.first(), Some(&c.members[0]), "{deps:?}");
                assert_eq!(c.path.last(), Some(&c.members[0]), "{deps:?}");
                for w in c.path.windows(2) {
                    assert!(deps[w[0]].contains(&w[1]), "{w:?} not an edge: {deps:?}");
                    assert!(c.members.contains(&w[1]));
                }
            }
        }
    }

    #[test]
    fn a_long_cycle_is_found_in_linear_time_and_shortened() {
        // 100,000 tasks in one ring: quadratic or recursive search would hang or overflow.
        let n = 100_000;
        let deps: Vec<Vec<usize>> = (0..n).map(|i| vec![(i + 1) % n]).collect();
        let c = find_cycles(&deps);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].members.len(), n);
        assert_eq!(c[0].path.len(), n + 1);
        let names: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
        let ids: Vec<&str> = names.iter().map(String::as_str).collect();
        let d = describe_path(&c[0].path, &ids);
        assert!(
            d.starts_with("t0 -> t1 -> t2") && d.ends_with("t99999 -> t0"),
            "{d}"
        );
        assert!(d.len() < 200, "{d}");
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
