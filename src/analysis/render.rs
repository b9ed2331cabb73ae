//! Human renderings of a report: plain text for the terminal and Markdown.

use std::fmt::Write;

use super::report::{AnalysisReport, Finding};

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn ratio(r: &AnalysisReport) -> String {
    r.test_to_source_ratio
        .map_or("n/a".into(), |x| format!("{x:.2}"))
}

fn evidence_line(e: &super::report::Evidence) -> String {
    let loc = match (e.path.is_empty(), e.line) {
        (true, _) => String::new(),
        (false, Some(l)) => format!("{}:{l}", e.path),
        (false, None) => e.path.clone(),
    };
    match (loc.is_empty(), e.note.is_empty()) {
        (true, _) => e.note.clone(),
        (false, true) => loc,
        (false, false) => format!("{loc}: {}", e.note),
    }
}

fn meta(f: &Finding) -> String {
    let src = if f.source == "llm" {
        ", suggested by the model"
    } else {
        ""
    };
    format!(
        "{}, ~{}h, confidence {:.0}%{src}",
        f.category.as_str(),
        f.effort_hours,
        f.confidence * 100.0
    )
}

/// A terminal summary: totals, languages table, project types, findings by rank. File names and
/// model text are the repository's and the model's: the result is terminal-safe.
pub fn render_text(r: &AnalysisReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Analysis of {}", r.path);
    let _ = writeln!(
        s,
        "{} files, {} lines of code, {} comments, {} blanks ({} ms)",
        r.files, r.lines.code, r.lines.comments, r.lines.blanks, r.duration_ms
    );
    let types = if r.project_types.is_empty() {
        "none detected".into()
    } else {
        r.project_types.join(", ")
    };
    let _ = writeln!(s, "Project types: {types}");
    let _ = writeln!(
        s,
        "Tests: {}  CI: {}  Docs: {}  Test/source ratio: {}",
        yes(r.has_tests),
        yes(r.has_ci),
        yes(r.has_docs),
        ratio(r)
    );
    if !r.languages.is_empty() {
        let _ = writeln!(
            s,
            "\n{:<20} {:>7} {:>10} {:>10} {:>10}",
            "Language", "Files", "Code", "Comments", "Blanks"
        );
        for l in r.languages.iter().take(20) {
            let _ = writeln!(
                s,
                "{:<20} {:>7} {:>10} {:>10} {:>10}",
                l.name, l.files, l.code, l.comments, l.blanks
            );
        }
        if r.languages.len() > 20 {
            let _ = writeln!(s, "... and {} more", r.languages.len() - 20);
        }
    }
    let _ = writeln!(s, "\nFindings ({}):", r.findings.len());
    if r.findings.is_empty() {
        let _ = writeln!(s, "  none");
    }
    for (i, f) in r.findings.iter().enumerate() {
        let _ = writeln!(s, "{:>3}. [{}] {} ({})", i + 1, f.priority, f.title, f.id);
        let _ = writeln!(s, "     {}", meta(f));
        let _ = writeln!(s, "     {}", f.description);
        for e in f.evidence.iter().take(3) {
            let _ = writeln!(s, "     - {}", evidence_line(e));
        }
        if f.evidence.len() > 3 {
            let _ = writeln!(s, "     - ... {} more", f.evidence.len() - 3);
        }
    }
    match (&r.semantic, &r.semantic_note) {
        (Some(sem), _) => {
            let _ = writeln!(s, "\nSemantic summary:\n  Purpose: {}", sem.purpose);
            if !sem.primary_patterns.is_empty() {
                let _ = writeln!(s, "  Patterns: {}", sem.primary_patterns.join("; "));
            }
            if !sem.anti_patterns.is_empty() {
                let _ = writeln!(s, "  Anti-patterns: {}", sem.anti_patterns.join("; "));
            }
            let _ = writeln!(
                s,
                "  Tests: {}\n  Documentation: {}",
                sem.test_coverage, sem.documentation
            );
        }
        (None, Some(note)) => {
            let _ = writeln!(s, "\n{note}");
        }
        (None, None) => {}
    }
    crate::text_safe::clean(&s).into_owned()
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The same content as Markdown (tables, one section per finding), terminal-safe like
/// [`render_text`]: the file is read with `cat` as often as in a viewer.
pub fn render_markdown(r: &AnalysisReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Analysis of `{}`\n", r.path);
    let _ = writeln!(
        s,
        "| Files | Code | Comments | Blanks | Tests | CI | Docs | Test/source |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|:-:|:-:|:-:|---:|");
    let _ = writeln!(
        s,
        "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
        r.files,
        r.lines.code,
        r.lines.comments,
        r.lines.blanks,
        yes(r.has_tests),
        yes(r.has_ci),
        yes(r.has_docs),
        ratio(r)
    );
    let types = if r.project_types.is_empty() {
        "none detected".into()
    } else {
        r.project_types.join(", ")
    };
    let _ = writeln!(s, "**Project types:** {types}\n");
    if !r.languages.is_empty() {
        let _ = writeln!(
            s,
            "## Languages\n\n| Language | Files | Code | Comments | Blanks |\n|---|---:|---:|---:|---:|"
        );
        for l in &r.languages {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                md_escape(&l.name),
                l.files,
                l.code,
                l.comments,
                l.blanks
            );
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Findings ({})\n", r.findings.len());
    for (i, f) in r.findings.iter().enumerate() {
        let _ = writeln!(
            s,
            "### {}. [{}] {}\n",
            i + 1,
            f.priority,
            md_escape(&f.title)
        );
        let _ = writeln!(s, "`{}` · {}\n", f.id, meta(f));
        let _ = writeln!(s, "{}\n", f.description);
        if !f.impact.is_empty() {
            let _ = writeln!(s, "**Impact:** {}\n", f.impact);
        }
        for e in &f.evidence {
            let _ = writeln!(s, "- {}", md_escape(&evidence_line(e)));
        }
        if !f.evidence.is_empty() {
            s.push('\n');
        }
    }
    match (&r.semantic, &r.semantic_note) {
        (Some(sem), _) => {
            let _ = writeln!(s, "## Semantic summary\n\n**Purpose:** {}\n", sem.purpose);
            for (title, list) in [
                ("Patterns", &sem.primary_patterns),
                ("Anti-patterns", &sem.anti_patterns),
            ] {
                if !list.is_empty() {
                    let _ = writeln!(s, "**{title}:**\n");
                    for p in list {
                        let _ = writeln!(s, "- {p}");
                    }
                    s.push('\n');
                }
            }
            let _ = writeln!(
                s,
                "**Tests:** {}\n\n**Documentation:** {}",
                sem.test_coverage, sem.documentation
            );
        }
        (None, Some(note)) => {
            let _ = writeln!(s, "_{note}_");
        }
        (None, None) => {}
    }
    crate::text_safe::clean(&s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::checks::finding;
    use crate::analysis::report::{Category, Evidence, LanguageStats, Priority};

    fn sample() -> AnalysisReport {
        let mut r = AnalysisReport::empty("/repo");
        r.files = 3;
        r.languages.push(LanguageStats {
            name: "Rust".into(),
            files: 2,
            code: 10,
            comments: 1,
            blanks: 2,
        });
        r.project_types = vec!["rust".into()];
        r.findings.push(finding(
            "missing-license",
            "No license",
            Priority::High,
            Category::Docs,
            0.5,
            0.9,
            "No LICENSE.".into(),
            "Legal risk.",
            vec![
                Evidence::at("Cargo.toml", Some(1), "no license field"),
                Evidence::at("a|b", None, ""),
            ],
        ));
        r.semantic_note = Some("semantic stage skipped: --no-llm".into());
        r
    }

    #[test]
    fn text_lists_languages_types_and_ranked_findings() {
        let t = render_text(&sample());
        assert!(t.contains("Project types: rust"));
        assert!(t.contains("Rust                       2         10"));
        assert!(t.contains("  1. [HIGH] No license (missing-license)"));
        assert!(t.contains("- Cargo.toml:1: no license field"));
        assert!(t.contains("semantic stage skipped: --no-llm"));
    }

    #[test]
    fn markdown_has_tables_and_escapes_pipes() {
        let m = render_markdown(&sample());
        assert!(m.contains("| Rust | 2 | 10 | 1 | 2 |"));
        assert!(m.contains("### 1. [HIGH] No license"));
        assert!(m.contains("- a\\|b"));
        assert!(m.contains("_semantic stage skipped: --no-llm_"));
    }

    #[test]
    fn file_names_and_model_text_cannot_drive_the_terminal() {
        let mut r = sample();
        r.findings[0].evidence[0].path = "evil\u{1b}]0;owned\u{7}\u{1b}[2J.py".into();
        r.findings[0].description = "see \u{1b}[31mred\u{1b}[0m".into();
        r.semantic_note = Some("note\u{9b}2J".into());
        for out in [render_text(&r), render_markdown(&r)] {
            assert!(
                !out.contains('\u{1b}') && !out.contains('\u{9b}'),
                "{out:?}"
            );
            assert!(!out.contains("owned") && !out.contains("[2J"), "{out:?}");
            assert!(
                out.contains("evil.py") && out.contains("see red"),
                "{out:?}"
            );
        }
    }
}
