//! What routing tells about a decision when asked (`RouteQuery::explain`): how each catalog model
//! was seen (filtered out and why, or ranked with its expected quality and cost) and why the
//! first one won. Pure; the engine stores it per call (`store/routing.rs`) and the TUI shows it.

use crate::config::Strategy;
use crate::domain::Micros;

/// How routing saw one model.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// In the ranking: its place (0 = first), expected quality, typical cost and latency.
    Ranked {
        rank: usize,
        quality: f64,
        cost: Micros,
        latency_ms: f64,
    },
    /// Not a candidate, and why.
    Filtered(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Considered {
    pub model: String,
    pub provider: String,
    pub verdict: Verdict,
}

/// What decided the order, for [`reason`].
pub struct Basis<'a> {
    /// The strategy applied (`cost` when the step prefers cheap models).
    pub strategy: Strategy,
    pub prefer_cheap: bool,
    pub threshold: Option<f64>,
    pub explored: bool,
    pub avoid_provider: Option<&'a str>,
}

/// Why the first ranked model won, in one sentence.
pub fn reason(b: &Basis, first: &Considered) -> String {
    let Verdict::Ranked {
        quality,
        cost,
        latency_ms,
        ..
    } = first.verdict
    else {
        return "no candidate".into();
    };
    if b.explored {
        return format!(
            "exploration: another candidate tried first so its quality is learned (expected {quality:.2})"
        );
    }
    let thr = b.threshold.unwrap_or(0.0);
    let reach = |margin: f64| match b.threshold {
        Some(t) => format!("expected to reach the threshold {:.2}", t - margin),
        None => "of all candidates".into(),
    };
    let mut s = match b.strategy {
        Strategy::Quality => format!("quality strategy: highest expected quality ({quality:.2})"),
        Strategy::Cost if quality >= thr => format!(
            "{}: cheapest {} (quality {quality:.2}, ${:.4} a typical call)",
            if b.prefer_cheap {
                "cheap model preferred for this step"
            } else {
                "cost strategy"
            },
            reach(0.0),
            cost.usd()
        ),
        Strategy::Cost => format!(
            "cost strategy: none expected to reach the threshold {thr:.2}, so the highest expected quality ({quality:.2})"
        ),
        Strategy::Balanced if quality >= thr - 0.03 => format!(
            "balanced strategy: best quality per √cost among models {} (quality {quality:.2}, ${:.4} a typical call)",
            reach(0.03),
            cost.usd()
        ),
        Strategy::Balanced => format!(
            "balanced strategy: none expected near the threshold {thr:.2}, so the highest expected quality ({quality:.2})"
        ),
        Strategy::Latency => format!("latency strategy: lowest latency ({latency_ms:.0} ms)"),
    };
    if let Some(p) = b.avoid_provider {
        if p == first.provider {
            s.push_str(&format!("; only {p} models were left"));
        } else {
            s.push_str(&format!("; models of another provider than {p} first"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranked(q: f64) -> Considered {
        Considered {
            model: "m".into(),
            provider: "p".into(),
            verdict: Verdict::Ranked {
                rank: 0,
                quality: q,
                cost: Micros(1234),
                latency_ms: 800.0,
            },
        }
    }

    #[test]
    fn the_reason_names_the_strategy_and_the_figures_that_decided() {
        let mut b = Basis {
            strategy: Strategy::Cost,
            prefer_cheap: false,
            threshold: Some(0.85),
            explored: false,
            avoid_provider: None,
        };
        assert_eq!(
            reason(&b, &ranked(0.9)),
            "cost strategy: cheapest expected to reach the threshold 0.85 (quality 0.90, $0.0012 a typical call)"
        );
        assert!(reason(&b, &ranked(0.5)).contains("none expected to reach the threshold 0.85"));
        b.strategy = Strategy::Quality;
        b.avoid_provider = Some("q");
        assert_eq!(
            reason(&b, &ranked(0.9)),
            "quality strategy: highest expected quality (0.90); models of another provider than q first"
        );
        b.explored = true;
        assert!(reason(&b, &ranked(0.9)).starts_with("exploration"));
    }
}
