//! Deterministic, offline checks (analyzer.md's table). Each produces findings with evidence;
//! ranking happens afterwards in `rank.rs`.

pub mod ci;
pub mod code;
pub mod repo;
pub mod security;

use super::facts::Facts;
use super::report::{Category, Evidence, Finding, Priority};

/// Evidence items kept per finding; the description gives the full count.
pub const MAX_EVIDENCE: usize = 20;

/// A finding with the fields every check sets.
#[allow(clippy::too_many_arguments)]
pub fn finding(
    id: &str,
    title: &str,
    priority: Priority,
    category: Category,
    effort_hours: f64,
    confidence: f64,
    description: String,
    impact: &str,
    mut evidence: Vec<Evidence>,
) -> Finding {
    evidence.truncate(MAX_EVIDENCE);
    Finding {
        id: id.to_string(),
        title: title.to_string(),
        description,
        impact: impact.to_string(),
        priority,
        category,
        effort_hours,
        confidence,
        evidence,
        source: "static".into(),
        hotspot: 0.0,
    }
}

pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A check that fires when its evidence list is not empty:
/// (evidence, id, title, priority, category, effort hours, confidence, description, impact).
pub type CountedSpec = (
    Vec<Evidence>,
    &'static str,
    &'static str,
    Priority,
    Category,
    f64,
    f64,
    &'static str,
    &'static str,
);

/// One finding per spec with evidence; the description ends with the occurrence count.
pub fn push_counted(out: &mut Vec<Finding>, specs: impl IntoIterator<Item = CountedSpec>) {
    for (ev, id, title, prio, cat, effort, conf, desc, impact) in specs {
        if !ev.is_empty() {
            let description = format!("{desc} {}.", plural(ev.len(), "occurrence", "occurrences"));
            out.push(finding(
                id,
                title,
                prio,
                cat,
                effort,
                conf,
                description,
                impact,
                ev,
            ));
        }
    }
}

/// Every check, in a fixed order (ranking sorts them afterwards).
pub fn run_all(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    security::run(f, &mut out);
    ci::run(f, &mut out);
    repo::run(f, &mut out);
    code::run(f, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_is_capped() {
        let ev = (0..50).map(|i| Evidence::at("a", Some(i), "x")).collect();
        let f = finding(
            "x",
            "X",
            Priority::Low,
            Category::Hygiene,
            1.0,
            0.5,
            String::new(),
            "",
            ev,
        );
        assert_eq!(f.evidence.len(), MAX_EVIDENCE);
        assert_eq!(plural(1, "file", "files"), "1 file");
        assert_eq!(plural(3, "file", "files"), "3 files");
    }
}
