//! The routing decision of each call of a task attempt: the candidates considered, the ones
//! filtered out and why, the strategy's ranking with expected quality and cost, why the first
//! pick won, and what happened to each model tried. Written behind with the call's last record;
//! bounded: at most [`MAX_CANDIDATES`] candidates a record, reasons cut to [`MAX_REASON`]
//! characters, and the newest [`KEEP_PER_RUN`] records a run.

use super::sql::Sql;
use super::{StoreError, now_rfc3339};
use crate::args;
use serde::{Deserialize, Serialize};

pub const MAX_CANDIDATES: usize = 24;
pub const MAX_REASON: usize = 200;
pub const KEEP_PER_RUN: i64 = 20_000;
const PRUNE_EVERY: i64 = 256;

/// One model as the router saw it for a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub model: String,
    /// Place in the strategy's ranking (1 = first); `None` when filtered out.
    pub rank: Option<u32>,
    /// Expected quality (catalog prior blended with learned scores), when ranked.
    pub quality: Option<f64>,
    /// Typical cost of a call in micro-USD (the ranking's cost), when ranked.
    pub cost_micros: Option<i64>,
    /// Why it was not a candidate (breaker, policy, capability, not served, tried already).
    pub filtered: Option<String>,
    /// What happened when the call tried it (answered, failed, budget, context window, breaker).
    pub outcome: Option<String>,
}

/// The routing of one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutingRecord {
    pub run_id: String,
    pub task_id: String,
    pub attempt: u32,
    pub role: String,
    pub strategy: String,
    /// The model that answered.
    pub chosen: Option<String>,
    /// Why the first pick won.
    pub reason: String,
    pub candidates: Vec<Candidate>,
}

/// Cut `s` to [`MAX_REASON`] characters.
pub fn bounded(s: &str) -> String {
    if s.chars().count() <= MAX_REASON {
        return s.to_string();
    }
    let mut out: String = s.chars().take(MAX_REASON - 1).collect();
    out.push('…');
    out
}

pub fn insert(c: &dyn Sql, r: &RoutingRecord) -> Result<(), StoreError> {
    let mut cands = r.candidates.clone();
    cands.truncate(MAX_CANDIDATES);
    for k in &mut cands {
        k.filtered = k.filtered.as_deref().map(bounded);
        k.outcome = k.outcome.as_deref().map(bounded);
    }
    let json = serde_json::to_string(&cands).unwrap_or_else(|_| "[]".into());
    let id: i64 = super::insert_returning_id(
        c,
        "INSERT INTO routing (run_id, task_id, attempt, role, strategy, chosen, reason,
            candidates, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        args![
            r.run_id,
            r.task_id,
            r.attempt,
            r.role,
            r.strategy,
            r.chosen,
            bounded(&r.reason),
            json,
            now_rfc3339()
        ],
    )?;
    if id % PRUNE_EVERY == 0 {
        c.execute(
            "DELETE FROM routing WHERE run_id = ?1 AND id <= (
                SELECT id FROM routing WHERE run_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
            args![r.run_id, KEEP_PER_RUN],
        )?;
    }
    Ok(())
}

/// The routing records of a task, by attempt then call order.
pub fn for_task(
    c: &dyn Sql,
    run_id: &str,
    task_id: &str,
) -> Result<Vec<RoutingRecord>, StoreError> {
    c.query_map(
        "SELECT attempt, role, strategy, chosen, reason, candidates FROM routing
         WHERE run_id = ?1 AND task_id = ?2 ORDER BY attempt, id",
        args![run_id, task_id],
        |r| {
            let json: String = r.get(5)?;
            Ok(RoutingRecord {
                run_id: run_id.to_string(),
                task_id: task_id.to_string(),
                attempt: r.get(0)?,
                role: r.get(1)?,
                strategy: r.get(2)?,
                chosen: r.get(3)?,
                reason: r.get(4)?,
                // A record this version cannot read shows no candidates rather than failing.
                candidates: serde_json::from_str(&json).unwrap_or_default(),
            })
        },
    )
}

/// Every routing record of a run, by task, attempt and call order.
pub fn for_run(c: &dyn Sql, run_id: &str) -> Result<Vec<RoutingRecord>, StoreError> {
    c.query_map(
        "SELECT task_id, attempt, role, strategy, chosen, reason, candidates FROM routing
         WHERE run_id = ?1 ORDER BY task_id, attempt, id",
        args![run_id],
        |r| {
            let json: String = r.get(6)?;
            Ok(RoutingRecord {
                run_id: run_id.to_string(),
                task_id: r.get(0)?,
                attempt: r.get(1)?,
                role: r.get(2)?,
                strategy: r.get(3)?,
                chosen: r.get(4)?,
                reason: r.get(5)?,
                candidates: serde_json::from_str(&json).unwrap_or_default(),
            })
        },
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn run(id: &str) -> crate::store::NewRun {
        crate::store::NewRun {
            id: id.into(),
            description: "d".into(),
            criteria: String::new(),
            team: None,
            strategy: "balanced".into(),
            budget: crate::domain::Micros(1_000_000),
            time_limit_secs: 60,
            concurrency: 1,
            output_dir: "/tmp/unused".into(),
            plan: None,
            simulated: true,
        }
    }

    fn cand(model: &str, rank: Option<u32>, filtered: Option<&str>) -> Candidate {
        Candidate {
            model: model.into(),
            rank,
            quality: rank.map(|_| 0.9),
            cost_micros: rank.map(|_| 1200),
            filtered: filtered.map(String::from),
            outcome: None,
        }
    }

    #[test]
    fn a_record_round_trips_bounded() {
        let c = crate::store::open_in_memory().unwrap();
        crate::store::runs::insert_run(&c, &run("r-1")).unwrap();
        let mut cands: Vec<Candidate> = (0..40)
            .map(|i| cand(&format!("m{i}"), Some(i + 1), None))
            .collect();
        cands[1] = cand("m-open", None, Some(&"breaker open ".repeat(40)));
        let rec = RoutingRecord {
            run_id: "r-1".into(),
            task_id: "t1".into(),
            attempt: 2,
            role: "generate".into(),
            strategy: "balanced".into(),
            chosen: Some("m0".into()),
            reason: "best quality per √cost".into(),
            candidates: cands,
        };
        insert(&c, &rec).unwrap();
        let back = for_task(&c, "r-1", "t1").unwrap();
        assert_eq!(back.len(), 1);
        let b = &back[0];
        assert_eq!((b.attempt, b.role.as_str()), (2, "generate"));
        assert_eq!(b.chosen.as_deref(), Some("m0"));
        assert_eq!(b.candidates.len(), MAX_CANDIDATES);
        assert_eq!(b.candidates[0], rec.candidates[0]);
        let f = b.candidates[1].filtered.as_deref().unwrap();
        assert!(f.starts_with("breaker open") && f.chars().count() == MAX_REASON);
        assert!(for_task(&c, "r-1", "t2").unwrap().is_empty());
    }
}
