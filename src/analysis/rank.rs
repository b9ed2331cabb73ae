//! Ranking: priority tier first (CRITICAL, HIGH, MEDIUM, LOW); within a tier, confidence per hour
//! of effort (cheap, certain fixes first); ties broken by hotspot score, then by id.

use std::cmp::Ordering;

use super::report::Finding;

/// Value of a finding within its tier.
pub fn value(f: &Finding) -> f64 {
    f.confidence.clamp(0.0, 1.0) / f.effort_hours.max(0.1)
}

pub fn compare(a: &Finding, b: &Finding) -> Ordering {
    a.priority
        .cmp(&b.priority)
        .then_with(|| value(b).total_cmp(&value(a)))
        .then_with(|| b.hotspot.total_cmp(&a.hotspot))
        .then_with(|| a.id.cmp(&b.id))
}

pub fn rank(findings: &mut [Finding]) {
    findings.sort_by(compare);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::checks::finding;
    use crate::analysis::report::{Category, Priority};

    fn f(id: &str, p: Priority, effort: f64, conf: f64, hot: f64) -> Finding {
        let mut x = finding(
            id,
            id,
            p,
            Category::Hygiene,
            effort,
            conf,
            String::new(),
            "",
            vec![],
        );
        x.hotspot = hot;
        x
    }

    #[test]
    fn tiers_then_value_then_hotspot_then_id() {
        let mut v = vec![
            f("low-cheap", Priority::Low, 0.1, 1.0, 0.0),
            f("high-costly", Priority::High, 8.0, 0.9, 0.0),
            f("high-cheap", Priority::High, 0.5, 0.9, 0.0),
            f("critical", Priority::Critical, 9.0, 0.2, 0.0),
            f("med-b", Priority::Medium, 1.0, 0.5, 10.0),
            f("med-a", Priority::Medium, 1.0, 0.5, 10.0),
            f("med-hot", Priority::Medium, 1.0, 0.5, 99.0),
        ];
        rank(&mut v);
        let ids: Vec<_> = v.iter().map(|x| x.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "critical",
                "high-cheap",
                "high-costly",
                "med-hot",
                "med-a",
                "med-b",
                "low-cheap"
            ]
        );
    }
}
