//! The Analysis pane's I/O, run by the driver for `Effect::Analyze` and `Effect::ExportAnalysis`:
//! the static stage on its own thread (progress throttled into `Msg`s), then the semantic stage
//! through the TUI's engine (the same `EngineModel` as `orchestrator-tui analyze`), the report
//! stored, and the result sent back; the Markdown export written to the data dir.

use super::action::Msg;
use super::analysis::AnalysisMsg;
use crate::analysis::{
    AnalysisProgress, AnalysisReport, analyze_static, render_markdown, semantic_stage,
};
use crate::engine::EngineHandle;
use crate::engine::EngineModel;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// At most one walking-progress message per this interval (the walker reports every 512 files).
const PROGRESS_EVERY: Duration = Duration::from_millis(50);

/// `~` and `~/x` are the home directory; anything else is taken as typed (relative to the
/// directory the TUI was started in).
pub fn expand(path: &str, home: Option<&Path>) -> PathBuf {
    match (path, home) {
        ("~", Some(h)) => h.to_path_buf(),
        (p, Some(h)) if p.starts_with("~/") => h.join(&p[2..]),
        (p, _) => PathBuf::from(p),
    }
}

/// Sends walking progress at most every `PROGRESS_EVERY`; other progress always.
struct Throttle {
    tx: UnboundedSender<Msg>,
    last: Mutex<Option<Instant>>,
}

impl Throttle {
    fn report(&self, p: AnalysisProgress) {
        if let AnalysisProgress::Walking { .. } = p {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|t| t.elapsed() < PROGRESS_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        let _ = self.tx.send(Msg::Analysis(AnalysisMsg::Progress(p)));
    }
}

/// The static stage on a plain thread: a huge tree never holds up the runtime, and quitting
/// does not wait for it.
async fn static_stage(root: PathBuf, tx: UnboundedSender<Msg>) -> Result<AnalysisReport, String> {
    let (otx, orx) = tokio::sync::oneshot::channel();
    let throttle = Throttle {
        tx,
        last: Mutex::new(None),
    };
    std::thread::Builder::new()
        .name("tui-analysis".into())
        .spawn(move || {
            let r = analyze_static(&root, &|p| throttle.report(p));
            let _ = otx.send(r.map_err(|e| e.to_string()));
        })
        .map_err(|e| format!("cannot start the analysis thread: {e}"))?;
    orx.await
        .map_err(|_| "the analysis thread stopped".to_string())?
}

/// Analyze `path`: static stage, semantic stage with the engine, stored; results as messages.
pub fn spawn_analysis(engine: EngineHandle, tx: UnboundedSender<Msg>, path: String) {
    tokio::spawn(async move {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let root = expand(&path, home.as_deref());
        let mut report = match static_stage(root.clone(), tx.clone()).await {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.send(Msg::Analysis(AnalysisMsg::Failed(e)));
                return;
            }
        };
        let _ = tx.send(Msg::Analysis(AnalysisMsg::Semantic));
        let model = EngineModel(engine.clone());
        semantic_stage(&mut report, &root, Some(&model), None).await;
        let saved = report.clone();
        let stored = engine
            .store()
            .call(move |c| crate::store::analyses::save(c, &saved))
            .await;
        let (id, warning) = match stored {
            Ok(id) => (Some(id), None),
            Err(e) => (None, Some(format!("the analysis was not saved: {e}"))),
        };
        let _ = tx.send(Msg::Analysis(AnalysisMsg::Done {
            id,
            report: Box::new(report),
            warning,
        }));
    });
}

/// `<data dir>/analysis-YYYYmmdd-HHMMSS.md` (UTC) for `now_ms`, with `-2`, `-3`... when taken.
pub fn export_path(data_dir: &Path, now_ms: i64) -> PathBuf {
    let stamp = chrono::DateTime::from_timestamp_millis(now_ms)
        .map(|t| t.format("%Y%m%d-%H%M%S").to_string())
        .unwrap_or_else(|| now_ms.to_string());
    let mut p = data_dir.join(format!("analysis-{stamp}.md"));
    let mut n = 2;
    while p.exists() {
        p = data_dir.join(format!("analysis-{stamp}-{n}.md"));
        n += 1;
    }
    p
}

/// Write `report` as Markdown in `data_dir`; returns the file written.
pub fn export(data_dir: &Path, report: &AnalysisReport, now_ms: i64) -> std::io::Result<PathBuf> {
    let p = export_path(data_dir, now_ms);
    std::fs::write(&p, render_markdown(report))?;
    Ok(p)
}

/// Export off the UI thread; the path (or the error) comes back as a message.
pub fn spawn_export(data_dir: PathBuf, tx: UnboundedSender<Msg>, report: Box<AnalysisReport>) {
    tokio::task::spawn_blocking(move || {
        let msg = match export(&data_dir, &report, super::runner::now_ms()) {
            Ok(p) => Msg::Analysis(AnalysisMsg::Exported(p.display().to_string())),
            Err(e) => Msg::Failed(format!(
                "cannot export the analysis to {}: {e}",
                data_dir.display()
            )),
        };
        let _ = tx.send(msg);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_is_expanded_and_other_paths_kept() {
        let h = Path::new("/home/u");
        assert_eq!(expand("~", Some(h)), PathBuf::from("/home/u"));
        assert_eq!(expand("~/src/x", Some(h)), PathBuf::from("/home/u/src/x"));
        assert_eq!(expand("~/x", None), PathBuf::from("~/x"));
        assert_eq!(expand("rel/dir", Some(h)), PathBuf::from("rel/dir"));
    }

    #[test]
    fn export_writes_markdown_with_a_timestamped_unique_name() {
        let d = tempfile::tempdir().expect("tempdir");
        let mut r = AnalysisReport::empty("/p");
        r.files = 3;
        let now = 1_773_489_600_000; // 2026-03-14 12:00:00 UTC
        let a = export(d.path(), &r, now).expect("export");
        assert_eq!(
            a.file_name().and_then(|n| n.to_str()),
            Some("analysis-20260314-120000.md")
        );
        let text = std::fs::read_to_string(&a).expect("read");
        assert!(text.starts_with("# Analysis of `/p`"), "{text}");
        let b = export(d.path(), &r, now).expect("export again");
        assert_eq!(
            b.file_name().and_then(|n| n.to_str()),
            Some("analysis-20260314-120000-2.md")
        );
    }
}
