//! `analyze [PATH]`: the static stage on a blocking thread (progress on stderr), then the semantic
//! stage through the engine (unless `--no-llm` or no model is usable), the report saved in the
//! store, and the result on stdout as text, Markdown or one JSON document.
//!
//! [`EngineModel`] (in the engine) adapts its call path to the analyzer's `SemanticModel` seam;
//! the TUI uses it too.

use crate::analysis::{
    AnalysisProgress, AnalysisReport, SemanticModel, analyze_static, render_markdown, render_text,
    semantic_stage,
};
use crate::cli::{Cli, exit};
use crate::engine::EngineModel;
use crate::setup::{CliError, open_app, runtime};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The folder to analyze: PATH or the current directory; it must exist and be a folder.
pub fn resolve_path(path: Option<&Path>) -> Result<PathBuf, CliError> {
    let p = match path {
        Some(p) => p.to_path_buf(),
        None => std::env::current_dir().map_err(|e| {
            CliError::BadInput(format!("analyze: cannot read the current directory: {e}"))
        })?,
    };
    match std::fs::metadata(&p) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(CliError::BadInput(format!(
            "analyze: path not found: {}",
            p.display()
        ))),
        Err(e) => Err(CliError::BadInput(format!(
            "analyze: cannot read {}: {e}",
            p.display()
        ))),
        Ok(m) if !m.is_dir() => Err(CliError::BadInput(format!(
            "analyze: {} is a file; analyze takes a folder",
            p.display()
        ))),
        Ok(_) => Ok(p),
    }
}

/// Progress of the static stage on stderr: one updating line on a terminal, a few plain lines
/// otherwise (logs, CI).
struct StderrProgress {
    tty: bool,
    /// Last time the terminal line was redrawn (walker threads report often).
    last: Mutex<Option<Instant>>,
}

const REDRAW_EVERY: Duration = Duration::from_millis(100);

impl StderrProgress {
    fn new() -> Self {
        StderrProgress {
            tty: std::io::stderr().is_terminal(),
            last: Mutex::new(None),
        }
    }

    /// A line of its own (ends the updating line on a terminal). The text names paths and
    /// model notes: made terminal-safe before our own line-clearing sequence goes in front.
    fn line(&self, text: &str) {
        let text = crate::text_safe::clean_line(text);
        let mut err = std::io::stderr().lock();
        let _ = if self.tty {
            writeln!(err, "\r\x1b[2K{text}")
        } else {
            writeln!(err, "{text}")
        };
    }

    fn report(&self, p: AnalysisProgress) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        match p {
            AnalysisProgress::Walking { files, bytes } if self.tty => {
                if last.is_some_and(|t| t.elapsed() < REDRAW_EVERY) {
                    return;
                }
                *last = Some(Instant::now());
                let mb = bytes as f64 / 1_048_576.0;
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2Kreading: {files} files, {mb:.1} MB");
                let _ = err.flush();
            }
            // Plain output: the start and end lines say enough.
            AnalysisProgress::Walking { .. } => {}
            AnalysisProgress::Checking { files } => {
                if self.tty {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "\r\x1b[2Kchecking {files} files…");
                    let _ = err.flush();
                } else {
                    self.line(&format!("checking {files} files"));
                }
            }
            AnalysisProgress::Done { files, duration_ms } => {
                self.line(&format!("static stage: {files} files in {duration_ms} ms"));
            }
        }
    }
}

/// Run the static stage on a blocking thread of `rt`, reporting progress on stderr.
fn static_stage(
    rt: &tokio::runtime::Runtime,
    root: &Path,
    progress: Arc<StderrProgress>,
) -> Result<AnalysisReport, CliError> {
    let root = root.to_path_buf();
    let task = rt.spawn_blocking(move || analyze_static(&root, &|p| progress.report(p)));
    let joined = rt.block_on(task);
    match joined {
        Ok(r) => r.map_err(|e| CliError::BadInput(format!("analyze: {e}"))),
        Err(e) => Err(CliError::BadInput(format!(
            "analyze: the analysis thread failed: {e}"
        ))),
    }
}

pub fn analyze(
    cli: &Cli,
    path: Option<&Path>,
    json: bool,
    markdown: bool,
    no_llm: bool,
) -> Result<i32, CliError> {
    // Bad input is reported before anything is created or opened.
    let root = resolve_path(path)?;
    let app = open_app(cli)?;
    let rt = runtime()?;
    let progress = Arc::new(StderrProgress::new());
    progress.line(&format!("analyzing {}", root.display()));
    let mut report = static_stage(&rt, &root, progress.clone())?;

    let (model, skipped) = if no_llm {
        (None, Some("--no-llm".to_string()))
    } else {
        match rt.block_on(async { app.engine() }) {
            Ok(engine) => (Some(EngineModel(engine)), None),
            Err(e) => (None, Some(format!("no model available ({e})"))),
        }
    };
    if model.is_some() {
        progress.line("semantic stage: asking a model…");
    }
    rt.block_on(semantic_stage(
        &mut report,
        &root,
        model.as_ref().map(|m| m as &dyn SemanticModel),
        skipped.as_deref(),
    ));
    match (&report.semantic, &report.semantic_note) {
        (Some(s), _) => progress.line(&format!(
            "semantic stage: done ({} suggestion{})",
            s.suggestions,
            if s.suggestions == 1 { "" } else { "s" }
        )),
        (None, Some(note)) => progress.line(note),
        (None, None) => {}
    }

    let saved = report.clone();
    if let Err(e) = app
        .store
        .call_blocking(move |c| crate::store::analyses::save(c, &saved))
    {
        progress.line(&format!("warning: the analysis was not saved: {e}"));
    }

    // Through text_safe: a closed pipe (`| head`) is not an error of the analysis, and the text
    // renderings show file names and model text without escape sequences.
    if json {
        let mut j = serde_json::to_string_pretty(&report)
            .map_err(|e| CliError::BadInput(format!("analyze: cannot encode the report: {e}")))?;
        j.push('\n');
        crate::text_safe::out_raw(&j);
    } else if markdown {
        crate::text_safe::out(&render_markdown(&report));
    } else {
        crate::text_safe::out(&render_text(&report));
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_path_or_a_file_is_bad_input() {
        let d = tempfile::tempdir().expect("tempdir");
        let missing = d.path().join("nope");
        let e = resolve_path(Some(&missing)).expect_err("missing");
        assert_eq!(e.exit_code(), exit::BAD_INPUT);
        assert!(e.to_string().contains("path not found"), "{e}");
        let file = d.path().join("f.txt");
        std::fs::write(&file, "x").expect("write");
        let e = resolve_path(Some(&file)).expect_err("file");
        assert!(e.to_string().contains("is a file"), "{e}");
        assert!(!e.to_string().contains('\n'));
        assert_eq!(resolve_path(Some(d.path())).expect("dir"), d.path());
    }
}
