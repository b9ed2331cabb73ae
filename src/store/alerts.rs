//! Budget threshold warnings: when a level's spend first reaches 80% and 95% of its cap, once per
//! level, period and cap (a row in `budget_alerts` remembers each one given, for every process;
//! a cap raised later warns again at its own thresholds).
//! Checked in the transaction that charges a call, so the warning comes before the cap is hit.

use super::sql::Sql;
use super::{StoreError, now_rfc3339};
use crate::args;
use crate::domain::Micros;

/// Percentages of a cap that warn.
pub const THRESHOLDS: [i64; 2] = [80, 95];

/// A threshold a level just reached.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// `run`, `org` or `team:<name>` (as budget refusals name levels).
    pub level: String,
    pub pct: i64,
    pub cap: Micros,
    pub spent: Micros,
    pub period: Option<String>,
}

impl Alert {
    /// The event text.
    pub fn message(&self) -> String {
        let period = self
            .period
            .as_deref()
            .map(|p| format!(", {p} period"))
            .unwrap_or_default();
        format!(
            "{} budget at {}% of its cap: ${:.4} spent of ${:.2}{period}",
            self.level,
            self.pct,
            self.spent.usd(),
            self.cap.usd()
        )
    }
}

/// The thresholds `spent` has reached against `cap` (none without a positive cap).
pub fn reached(spent: Micros, cap: Micros) -> impl Iterator<Item = i64> {
    THRESHOLDS
        .into_iter()
        .filter(move |pct| cap.0 > 0 && (spent.0 as i128) * 100 >= (cap.0 as i128) * *pct as i128)
}

/// (0 for the run, 1 for a shared level; level; cap; spent; period; period key)
type LevelRow = (
    i64,
    String,
    Option<i64>,
    i64,
    Option<String>,
    Option<String>,
);

/// Record and return the thresholds reached and not warned about yet at the run's level and its
/// shared levels (org, the team's).
pub fn check(
    c: &dyn Sql,
    run_id: Option<&str>,
    team: Option<&str>,
) -> Result<Vec<Alert>, StoreError> {
    // (shown name, stored key, cap, spent, period, period key). One statement for the run and
    // its shared levels: on PostgreSQL each statement is a round trip on every call's settle.
    // `IN`, not `level = 'org' OR level = ?2`: with the ORDER BY, SQLite compiled that form
    // again on every execution (a fifth of the store thread's time at 1,000 calls/s).
    let team_level = team.map(|t| format!("team:{t}"));
    let rows: Vec<LevelRow> = c.query_map(
        "SELECT 0 AS k, 'run' AS level, budget_micros, spent_micros,
                    CAST(NULL AS TEXT) AS period, CAST(NULL AS TEXT) AS period_key
             FROM runs WHERE id = ?1
             UNION ALL
             SELECT 1 AS k, level, cap_micros, spent_micros, period, period_key
             FROM budget_levels WHERE level IN ('org', ?2)
             ORDER BY k, level",
        args![run_id, team_level],
        |x| {
            Ok((
                x.get(0)?,
                x.get(1)?,
                x.get(2)?,
                x.get(3)?,
                x.get(4)?,
                x.get(5)?,
            ))
        },
    )?;
    let mut levels: Vec<(String, String, Micros, Micros, Option<String>, String)> = Vec::new();
    for (k, level, cap, spent, period, pkey) in rows {
        let Some(cap) = cap else { continue };
        let (name, key) = match (k, run_id) {
            (0, Some(r)) => ("run".to_string(), format!("run:{r}")),
            _ => (level.clone(), level),
        };
        levels.push((
            name,
            key,
            Micros(cap),
            Micros(spent),
            period,
            pkey.unwrap_or_default(),
        ));
    }
    let mut out = Vec::new();
    for (name, key, cap, spent, period, pkey) in levels {
        // A raised (or lowered) cap warns afresh, like a new period.
        let pkey = format!("{pkey}|{}", cap.0);
        for pct in reached(spent, cap) {
            let new = c.execute(
                "INSERT INTO budget_alerts (level, period, pct, at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
                args![key, pkey, pct, now_rfc3339()],
            )? > 0;
            if new {
                out.push(Alert {
                    level: name.clone(),
                    pct,
                    cap,
                    spent,
                    period: period.clone(),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_reached_at_80_and_95_percent() {
        let r = |s: i64, c: i64| reached(Micros(s), Micros(c)).collect::<Vec<_>>();
        assert_eq!(r(79, 100), Vec::<i64>::new());
        assert_eq!(r(80, 100), [80]);
        assert_eq!(r(96, 100), [80, 95]);
        assert_eq!(r(5, 0), Vec::<i64>::new());
    }

    #[test]
    fn the_check_is_compiled_once() {
        let c = crate::store::open_in_memory().unwrap();
        crate::store::budget::set_cap(&c, "org", Micros(1_000_000), None).unwrap();
        for team in [None, Some("a"), Some("b"), None] {
            check(&c, Some("r1"), team).unwrap();
        }
        let again = crate::store::stmt_stats::reprepared_on(&c);
        assert!(again.is_empty(), "{again:?}");
    }

    #[test]
    fn each_threshold_warns_once_per_level_and_period() {
        let c = crate::store::open_in_memory().unwrap();
        crate::store::budget::set_cap(&c, "org", Micros(1_000_000), Some("monthly")).unwrap();
        crate::store::exec(
            &c,
            "UPDATE budget_levels SET spent_micros = 850000 WHERE level = 'org'",
            [],
        )
        .unwrap();
        let a = check(&c, None, None).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(
            a[0].message(),
            "org budget at 80% of its cap: $0.8500 spent of $1.00, monthly period"
        );
        assert!(check(&c, None, None).unwrap().is_empty(), "once");
        crate::store::exec(
            &c,
            "UPDATE budget_levels SET spent_micros = 960000 WHERE level = 'org'",
            [],
        )
        .unwrap();
        assert_eq!(check(&c, None, None).unwrap()[0].pct, 95);
        // A new period warns again.
        crate::store::exec(
            &c,
            "UPDATE budget_levels SET period_key = 'next' WHERE level = 'org'",
            [],
        )
        .unwrap();
        assert_eq!(check(&c, None, None).unwrap().len(), 2);
        // So does a raised cap, at its own thresholds only.
        crate::store::budget::set_cap(&c, "org", Micros(1_100_000), Some("monthly")).unwrap();
        let a = check(&c, None, None).unwrap();
        assert_eq!(a.iter().map(|x| x.pct).collect::<Vec<_>>(), [80]);
    }
}
