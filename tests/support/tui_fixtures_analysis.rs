//! A deterministic stored analysis for the Analysis pane's snapshots and flow tests: a small web
//! shop (Python API + TypeScript front end) with findings in every priority tier.
#![allow(dead_code)]

use orchestrator_tui::analysis::checks::finding;
use orchestrator_tui::analysis::{
    AnalysisReport, Category, Evidence, Finding, LanguageStats, LineTotals, Priority,
    SemanticSummary,
};
use orchestrator_tui::tui::analysis::StoredAnalysis;

fn lang(name: &str, files: u64, code: u64, comments: u64, blanks: u64) -> LanguageStats {
    LanguageStats {
        name: name.into(),
        files,
        code,
        comments,
        blanks,
    }
}

fn ev(path: &str, line: Option<u32>, note: &str) -> Evidence {
    Evidence::at(path, line, note)
}

/// The findings, already in rank order.
pub fn findings() -> Vec<Finding> {
    let mut model = finding(
        "llm-split-the-orders-module",
        "Split the orders module by responsibility",
        Priority::Medium,
        Category::Maintainability,
        3.0,
        0.5,
        "api/orders.py mixes HTTP handlers, pricing rules and persistence.".into(),
        "Changes to pricing risk breaking the API layer.",
        vec![ev(
            "api/orders.py",
            None,
            "handlers, pricing and SQL in one file",
        )],
    );
    model.source = "llm".into();
    vec![
        finding(
            "committed-secret",
            "Committed secret: AWS access key",
            Priority::Critical,
            Category::Security,
            1.0,
            0.95,
            "An AWS access key id is committed in the settings module.".into(),
            "Anyone with read access to the repository can use the key.",
            vec![
                ev(
                    "api/settings.py",
                    Some(12),
                    "AKIA… assigned to AWS_ACCESS_KEY_ID",
                ),
                ev(".env", None, "tracked .env file"),
            ],
        ),
        finding(
            "no-ci",
            "No continuous integration",
            Priority::High,
            Category::Ci,
            2.0,
            0.9,
            "No workflow files: tests never run automatically.".into(),
            "Regressions reach the main branch unnoticed.",
            vec![],
        ),
        finding(
            "low-test-ratio",
            "Low test-to-source ratio (0.08)",
            Priority::High,
            Category::Testing,
            8.0,
            0.8,
            "312 lines of tests for 3,904 lines of source code.".into(),
            "Most behaviour is untested.",
            vec![ev("tests/", None, "2 test files")],
        ),
        finding(
            "missing-license",
            "No licence",
            Priority::Medium,
            Category::Docs,
            0.5,
            0.9,
            "No LICENSE file and no SPDX id in pyproject.toml or package.json.".into(),
            "Others cannot legally reuse the code.",
            vec![ev("pyproject.toml", None, "no license field")],
        ),
        finding(
            "oversized-files",
            "Oversized files",
            Priority::Medium,
            Category::Maintainability,
            4.0,
            0.7,
            "2 files over 500 lines.".into(),
            "Large files are hard to review and change safely.",
            vec![
                ev("api/orders.py", None, "812 lines"),
                ev("web/src/Checkout.tsx", None, "604 lines"),
            ],
        ),
        model,
        finding(
            "todo-density",
            "Many TODO/FIXME markers",
            Priority::Low,
            Category::Hygiene,
            2.0,
            0.6,
            "14 markers (3.2 per 1,000 lines).".into(),
            "Known gaps are tracked only in comments.",
            vec![ev("api/orders.py", Some(88), "FIXME: race on stock update")],
        ),
        finding(
            "missing-community-files",
            "Missing community files",
            Priority::Low,
            Category::Docs,
            1.0,
            0.8,
            "No CONTRIBUTING, SECURITY.md or CHANGELOG.".into(),
            "Contributors do not know how to report issues or vulnerabilities.",
            vec![],
        ),
    ]
}

pub fn report() -> AnalysisReport {
    let mut r = AnalysisReport::empty("/home/dev/acme-shop");
    r.files = 96;
    r.lines = LineTotals {
        code: 4_216,
        comments: 388,
        blanks: 702,
    };
    r.languages = vec![
        lang("Python", 31, 2_140, 210, 380),
        lang("TypeScript", 22, 1_530, 120, 240),
        lang("Markdown", 5, 210, 0, 40),
        lang("YAML", 4, 120, 18, 12),
        lang("JSON", 6, 98, 0, 0),
        lang("Shell", 2, 64, 22, 14),
        lang("CSS", 3, 40, 6, 10),
        lang("TOML", 1, 14, 12, 6),
    ];
    r.project_types = vec!["fastapi".into(), "python-package".into(), "react".into()];
    r.has_tests = true;
    r.has_ci = false;
    r.has_docs = true;
    r.findings = findings();
    r.semantic = Some(SemanticSummary {
        purpose: "An online shop: a FastAPI backend with a React checkout".into(),
        primary_patterns: vec!["layered API".into()],
        anti_patterns: vec![],
        test_coverage: "thin".into(),
        documentation: "README only".into(),
        suggestions: 1,
    });
    r.semantic_note = None;
    r.duration_ms = 84;
    r.test_to_source_ratio = Some(0.08);
    r.test_code_lines = 312;
    r.source_code_lines = 3_904;
    r.analyzed_at = "2026-03-14T11:40:00+00:00".into();
    r
}

pub fn stored() -> StoredAnalysis {
    StoredAnalysis {
        id: 1,
        report: report(),
    }
}
