//! The levels of the budget hierarchy and which of them a call reserves at and is charged to.
//! Adding a level touches three files: a variant here (its name, and its place in [`levels`]),
//! `store/budget.rs` (where its cap, spend and reservations are read in `headroom` and kept in
//! `adjust_reserved`/`charge`), and a `store/migrations.rs` entry if it needs new columns.

use std::fmt;

/// One level of the budget hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Level {
    /// The whole organisation (every process sharing the data dir).
    Org,
    /// A team's share (`--team`).
    Team(String),
    /// One run's own budget (`--budget`); nobody else draws on it.
    Run(String),
}

impl Level {
    /// Is this level drawn on by other runs and processes (so waiters and margins apply)?
    pub fn is_shared(&self) -> bool {
        !matches!(self, Level::Run(_))
    }

    /// Read a stored level name (`org`, `team:<name>`); a run's level is never stored by name.
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "org" => Some(Level::Org),
            _ => s
                .strip_prefix("team:")
                .filter(|t| !t.is_empty())
                .map(|t| Level::Team(t.to_string())),
        }
    }

    /// The team's name, for a team level.
    pub fn team(&self) -> Option<&str> {
        match self {
            Level::Team(t) => Some(t),
            _ => None,
        }
    }
}

/// `org`, `team:<name>`, and `run` for a run's own level (as refusals have always said it).
impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Level::Org => f.write_str("org"),
            Level::Team(t) => write!(f, "team:{t}"),
            Level::Run(_) => f.write_str("run"),
        }
    }
}

/// Every level a call of `run` (if any) for `team` (if any) reserves at and is charged to, in
/// the order they are checked: the run's own, then org, then the team.
pub fn levels(run: Option<&str>, team: Option<&str>) -> Vec<Level> {
    let mut out = Vec::with_capacity(3);
    if let Some(r) = run {
        out.push(Level::Run(r.to_string()));
    }
    out.extend(shared_levels(team));
    out
}

/// The levels other runs and processes also draw on (org, then the team).
pub fn shared_levels(team: Option<&str>) -> Vec<Level> {
    let mut out = vec![Level::Org];
    if let Some(t) = team {
        out.push(Level::Team(t.to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_and_levels_come_in_order() {
        for s in ["org", "team:web"] {
            assert_eq!(Level::parse(s).map(|l| l.to_string()).as_deref(), Some(s));
        }
        assert_eq!(Level::parse("team:"), None);
        assert_eq!(Level::parse("run"), None);
        let names: Vec<String> = levels(Some("r-1"), Some("web"))
            .iter()
            .map(|l| l.to_string())
            .collect();
        assert_eq!(names, ["run", "org", "team:web"]);
        assert_eq!(shared_levels(None), [Level::Org]);
        assert!(!Level::Run("r".into()).is_shared());
    }
}
