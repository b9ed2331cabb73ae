//! Codebase analyzer (issue 9). The static stage walks the tree (gitignore-aware, parallel),
//! counts lines per language, detects project types, runs the deterministic checks and ranks the
//! findings; the semantic stage (`semantic.rs`) optionally asks a model to enrich the result.
//!
//! Entry points: [`analyze_static`] (callable from a background thread, streams
//! [`AnalysisProgress`]), [`semantic::semantic_stage`], [`render::render_text`] /
//! [`render::render_markdown`], `store::analyses::{save, load_latest}`.

pub mod bytes;
pub mod checks;
pub mod counter;
pub mod facts;
pub mod git;
pub mod known_files;
pub mod lang_table;
pub mod languages;
pub mod metrics;
pub mod probes;
pub mod project_types;
pub mod rank;
pub mod render;
pub mod report;
pub mod scan;
pub mod semantic;
pub mod walk;

use std::path::Path;
use std::time::{Duration, Instant};

pub use render::{render_markdown, render_text};
pub use report::*;
pub use semantic::{SemanticModel, semantic_stage};

use scan::FileKind;

/// How long to wait for `git log` after the walk before giving up on hotspots.
const GIT_GRACE: Duration = Duration::from_secs(5);

/// Run the static stage on the folder `path`. `progress` is called from the walker threads.
pub fn analyze_static(
    path: &Path,
    progress: &(dyn Fn(AnalysisProgress) + Sync),
) -> Result<AnalysisReport, AnalysisError> {
    analyze_static_with(path, 0, progress)
}

/// [`analyze_static`] with an explicit number of walker threads (0: one per core).
pub fn analyze_static_with(
    path: &Path,
    threads: usize,
    progress: &(dyn Fn(AnalysisProgress) + Sync),
) -> Result<AnalysisReport, AnalysisError> {
    let start = Instant::now();
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => AnalysisError::NotFound(path.to_path_buf()),
        _ => AnalysisError::Io {
            path: path.to_path_buf(),
            source: e,
        },
    })?;
    if !meta.is_dir() {
        return Err(AnalysisError::NotADirectory(path.to_path_buf()));
    }
    let shown = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let git = git::spawn(path);
    let acc = walk::walk(path, threads, progress);
    progress(AnalysisProgress::Checking {
        files: acc.records.len() as u64,
    });
    let commits = git.map(|g| g.collect(GIT_GRACE)).unwrap_or_default();
    let facts = facts::gather(&acc, commits);
    let mut findings = checks::run_all(&facts);
    rank::rank(&mut findings);

    let mut per: Vec<LanguageStats> = Vec::new();
    let mut totals = LineTotals::default();
    let mut skipped = Skipped {
        symlinks: acc.symlinks,
        unreadable: acc.unreadable.len() as u64,
        ..Skipped::default()
    };
    let mut large_files = Vec::new();
    for r in &acc.records {
        match r.kind {
            FileKind::Binary => skipped.binary += 1,
            FileKind::Other => skipped.other += 1,
            FileKind::Text => {}
        }
        if r.kind == FileKind::Text && r.is_huge() {
            large_files.push(LargeFile {
                path: r.rel.clone(),
                bytes: r.size,
                lines: r.lines,
            });
        }
        let Some(l) = r.lang.filter(|_| r.kind == FileKind::Text) else {
            continue;
        };
        let name = languages::name(l);
        let entry = match per.iter_mut().position(|s| s.name == name) {
            Some(p) => &mut per[p],
            None => {
                per.push(LanguageStats {
                    name: name.to_string(),
                    files: 0,
                    code: 0,
                    comments: 0,
                    blanks: 0,
                });
                let n = per.len() - 1;
                &mut per[n]
            }
        };
        entry.files += 1;
        entry.code += r.counts.code;
        entry.comments += r.counts.comments;
        entry.blanks += r.counts.blanks;
        totals.code += r.counts.code;
        totals.comments += r.counts.comments;
        totals.blanks += r.counts.blanks;
    }
    per.sort_by(|a, b| b.code.cmp(&a.code).then_with(|| a.name.cmp(&b.name)));
    large_files.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
    let duration_ms = start.elapsed().as_millis() as u64;
    let report = AnalysisReport {
        path: shown.to_string_lossy().into_owned(),
        files: acc.records.len() as u64,
        lines: totals,
        languages: per,
        project_types: facts.project.types.clone(),
        has_tests: facts.has_tests,
        has_ci: facts.has_ci,
        has_docs: facts.has_docs,
        findings,
        semantic: None,
        semantic_note: Some("semantic stage not run".into()),
        duration_ms,
        test_to_source_ratio: facts.ratio(),
        test_code_lines: facts.test_code,
        source_code_lines: facts.source_code,
        bytes: acc.bytes,
        skipped,
        large_files,
        analyzed_at: chrono::Utc::now().to_rfc3339(),
    };
    progress(AnalysisProgress::Done {
        files: report.files,
        duration_ms,
    });
    Ok(report)
}
