//! A refusal by the budget, said as the asking run sees it: the level, what the call needs and
//! who holds what there (the run's own spare counts as available to it).

use crate::domain::Micros;

/// Why a level refused a call, with who holds what there.
#[derive(Debug, Clone, PartialEq)]
pub struct Denial {
    /// `run`, `team:<name>` or `org`.
    pub level: String,
    pub cap: Micros,
    pub spent: Micros,
    /// Everything reserved at the level, `own` included.
    pub reserved: Micros,
    /// Part of `reserved` held by the asking run's lease (0 for a reservation of its own).
    pub own: Micros,
    /// Part of `own` held by that run's calls in flight (the engine fills it in; the rest of
    /// the lease is available to the run).
    pub own_inflight: Micros,
    /// Headroom kept for runs and processes that were waiting for it first.
    pub waiting: Micros,
    /// What the call needs: its worst case (the engine replaces a lease's shortfall by it).
    pub amount: Micros,
}

impl Denial {
    /// Held at the level by other runs and processes.
    pub fn others(&self) -> Micros {
        Micros((self.reserved.0 - self.own.0).max(0))
    }

    /// What the asking run could still use here: its lease beyond its calls in flight counts.
    pub fn left(&self) -> Micros {
        Micros(
            (self.cap.0 - self.spent.0 - self.others().0 - self.own_inflight.0 - self.waiting.0)
                .max(0),
        )
    }

    /// A shared level (team or org), where other runs' holdings can go back.
    pub fn shared(&self) -> bool {
        self.level != "run"
    }

    /// Could the call fit once everything held by others is given back? (worth waiting for)
    pub fn could_fit_later(&self) -> bool {
        self.spent.0 + self.own_inflight.0 + self.amount.0 <= self.cap.0
    }
}

/// A run's status reason when the budget stopped it, naming the level that refused last.
pub fn exhausted_reason(level: Option<&str>) -> String {
    match level {
        Some(l) => format!("budget exhausted at the {l} level"),
        None => "budget exhausted".into(),
    }
}

/// The level (`run`, `org`, `team:<name>`) a budget-exhausted reason names: a run's reason
/// ([`exhausted_reason`]) or a refused call's (`budget exhausted: <level> budget: ...`).
pub fn binding_level(reason: &str) -> Option<&str> {
    let rest = reason.split("budget exhausted").nth(1)?;
    if let Some(r) = rest.strip_prefix(" at the ") {
        return r.strip_suffix(" level").filter(|l| !l.is_empty());
    }
    let after = rest.split_once(": ")?.1;
    let (level, _) = after.split_once(" budget:")?;
    (!level.is_empty() && !level.contains(' ')).then_some(level)
}

fn usd(m: Micros) -> String {
    format!("${:.4}", m.usd())
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cap = if self.cap.0 % 10_000 == 0 {
            format!("${:.2}", self.cap.usd())
        } else {
            usd(self.cap)
        };
        write!(
            f,
            "{} budget: {} needed, {} left of {cap} (spent {}, held by this run's calls in flight {}",
            self.level,
            usd(self.amount),
            usd(self.left()),
            usd(self.spent),
            usd(self.own_inflight),
        )?;
        if self.shared() || self.others().0 > 0 {
            write!(f, ", by other runs {}", usd(self.others()))?;
        }
        if self.waiting.0 > 0 {
            write!(f, ", kept for runs waiting first {}", usd(self.waiting))?;
        }
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denial(level: &str, own: i64, own_inflight: i64, waiting: i64) -> Denial {
        Denial {
            level: level.into(),
            cap: Micros(500_000),
            spent: Micros(400_000),
            reserved: Micros(90_000),
            own: Micros(own),
            own_inflight: Micros(own_inflight),
            waiting: Micros(waiting),
            amount: Micros(30_000),
        }
    }

    #[test]
    fn the_binding_level_is_read_back_from_reasons() {
        assert_eq!(
            binding_level(&exhausted_reason(Some("team:web"))),
            Some("team:web")
        );
        assert_eq!(binding_level(&exhausted_reason(None)), None);
        let park = format!("budget exhausted: {}", denial("org", 0, 0, 0));
        assert_eq!(binding_level(&park), Some("org"));
        let plan = format!(
            "budget exhausted during decomposition: {}",
            denial("run", 0, 0, 0)
        );
        assert_eq!(binding_level(&plan), Some("run"));
        assert_eq!(binding_level("time limit reached"), None);
    }

    #[test]
    fn the_runs_spare_counts_as_left_and_holders_are_named() {
        // 90,000 reserved: 30,000 by this run (10,000 in flight), 60,000 by others.
        let d = denial("org", 30_000, 10_000, 5_000);
        assert_eq!(d.others(), Micros(60_000));
        assert_eq!(d.left(), Micros(25_000));
        assert!(d.could_fit_later());
        assert_eq!(
            d.to_string(),
            "org budget: $0.0300 needed, $0.0250 left of $0.50 (spent $0.4000, held by this \
             run's calls in flight $0.0100, by other runs $0.0600, kept for runs waiting first \
             $0.0050)"
        );
        let r = Denial {
            reserved: Micros(30_000),
            cap: Micros(420_500),
            ..denial("run", 30_000, 10_000, 0)
        };
        assert_eq!(
            r.to_string(),
            "run budget: $0.0300 needed, $0.0105 left of $0.4205 (spent $0.4000, held by this \
             run's calls in flight $0.0100)"
        );
        assert!(!r.shared() && !r.could_fit_later());
    }
}
