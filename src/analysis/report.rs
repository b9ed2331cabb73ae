//! The analysis result (`analyze --json` shape of the CLI contract), findings, progress and errors.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineTotals {
    pub code: u64,
    pub comments: u64,
    pub blanks: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanguageStats {
    pub name: String,
    pub files: u64,
    pub code: u64,
    pub comments: u64,
    pub blanks: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Priority {
    Critical,
    High,
    Medium,
    Low,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "CRITICAL",
            Priority::High => "HIGH",
            Priority::Medium => "MEDIUM",
            Priority::Low => "LOW",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "CRITICAL" => Priority::Critical,
            "HIGH" => Priority::High,
            "MEDIUM" => Priority::Medium,
            "LOW" => Priority::Low,
            _ => return None,
        })
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Security,
    Testing,
    Ci,
    Docs,
    Dependencies,
    Maintainability,
    Hygiene,
    Performance,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Security => "security",
            Category::Testing => "testing",
            Category::Ci => "ci",
            Category::Docs => "docs",
            Category::Dependencies => "dependencies",
            Category::Maintainability => "maintainability",
            Category::Hygiene => "hygiene",
            Category::Performance => "performance",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "security" => Category::Security,
            "testing" | "tests" | "test" => Category::Testing,
            "ci" | "ci/cd" => Category::Ci,
            "docs" | "documentation" => Category::Docs,
            "dependencies" | "deps" => Category::Dependencies,
            "maintainability" | "architecture" | "design" | "quality" => Category::Maintainability,
            "hygiene" => Category::Hygiene,
            "performance" => Category::Performance,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub path: String,
    pub line: Option<u32>,
    pub note: String,
}

impl Evidence {
    pub fn at(path: impl Into<String>, line: Option<u32>, note: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            line,
            note: note.into(),
        }
    }
}

fn static_source() -> String {
    "static".into()
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    pub title: String,
    pub description: String,
    pub impact: String,
    pub priority: Priority,
    pub category: Category,
    pub effort_hours: f64,
    pub confidence: f64,
    pub evidence: Vec<Evidence>,
    /// "static" for deterministic checks, "llm" for suggestions of the semantic stage.
    #[serde(default = "static_source")]
    pub source: String,
    /// Complexity x commits of the files involved; breaks ranking ties.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hotspot: f64,
}

/// What the semantic stage added (the model's JSON, normalised).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SemanticSummary {
    pub purpose: String,
    pub primary_patterns: Vec<String>,
    pub anti_patterns: Vec<String>,
    pub test_coverage: String,
    pub documentation: String,
    /// How many findings the model suggested (added with `"source": "llm"`).
    pub suggestions: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LargeFile {
    pub path: String,
    pub bytes: u64,
    pub lines: u64,
}

/// Files that were not counted, and why.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub binary: u64,
    /// Files with no known language (images, data without an extension...).
    pub other: u64,
    pub symlinks: u64,
    pub unreadable: u64,
}

/// The result of `analyze`. Field names are the CLI contract; extra fields follow them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalysisReport {
    pub path: String,
    /// Every regular file walked (ignored folders and files excluded).
    pub files: u64,
    pub lines: LineTotals,
    pub languages: Vec<LanguageStats>,
    pub project_types: Vec<String>,
    pub has_tests: bool,
    pub has_ci: bool,
    pub has_docs: bool,
    pub findings: Vec<Finding>,
    pub semantic: Option<SemanticSummary>,
    /// Why `semantic` is null (or a note on what the model could not do); always present.
    pub semantic_note: Option<String>,
    pub duration_ms: u64,
    /// Code lines of tests / code lines of the rest, over programming languages.
    pub test_to_source_ratio: Option<f64>,
    pub test_code_lines: u64,
    pub source_code_lines: u64,
    pub bytes: u64,
    pub skipped: Skipped,
    pub large_files: Vec<LargeFile>,
    /// RFC 3339 time the analysis finished.
    pub analyzed_at: String,
}

impl AnalysisReport {
    /// An empty report for `path` (nothing counted, no findings).
    pub fn empty(path: &str) -> Self {
        Self {
            path: path.to_string(),
            files: 0,
            lines: LineTotals::default(),
            languages: Vec::new(),
            project_types: Vec::new(),
            has_tests: false,
            has_ci: false,
            has_docs: false,
            findings: Vec::new(),
            semantic: None,
            semantic_note: None,
            duration_ms: 0,
            test_to_source_ratio: None,
            test_code_lines: 0,
            source_code_lines: 0,
            bytes: 0,
            skipped: Skipped::default(),
            large_files: Vec::new(),
            analyzed_at: String::new(),
        }
    }

    pub fn findings_by_priority(&self, p: Priority) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.priority == p)
    }

    pub fn finding(&self, id: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.id == id)
    }
}

/// Progress of the static stage, streamed to the UI from the walker threads.
#[derive(Clone, Debug, PartialEq)]
pub enum AnalysisProgress {
    Walking { files: u64, bytes: u64 },
    Checking { files: u64 },
    Done { files: u64, duration_ms: u64 },
}

#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("path not found: {0}")]
    NotFound(PathBuf),
    #[error("not a directory: {0} (analyze takes a folder)")]
    NotADirectory(PathBuf),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
