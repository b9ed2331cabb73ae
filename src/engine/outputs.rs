//! Writing a run's results under its output directory through `artifacts` (which refuses any path
//! that would escape it): one file per task, path-annotated files, `summary.json`, `README.md`.

use crate::artifacts::{self, ArtifactReport};
use crate::store::{RunRow, TaskRow};
use std::path::Path;

/// Write one task's artifacts; refusals are reported back as findings of the task.
pub fn write_task(out_dir: &Path, task: &TaskRow, output: &str) -> ArtifactReport {
    artifacts::write_task_artifacts(out_dir, &task.spec.id, task.spec.task_type.as_str(), output)
}

/// `summary.json` (the `show --json` document) and a browsable `README.md`.
pub fn write_summary(
    out_dir: &Path,
    run: &RunRow,
    tasks: &[TaskRow],
    files: &[(String, Option<String>)],
    summary: &serde_json::Value,
) -> std::io::Result<()> {
    let mut md = format!(
        "# {}\n\nRun `{}`: **{}**, cost ${:.4}.\n\n| task | type | status | score |\n|---|---|---|---|\n",
        run.description.lines().next().unwrap_or(""),
        run.id,
        summary["status"].as_str().unwrap_or(run.status.as_str()),
        run.spent.usd()
    );
    for t in tasks {
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            t.spec.id,
            t.spec.task_type,
            t.status,
            t.score.map_or("-".into(), |s| format!("{s:.2}")),
        ));
    }
    if !files.is_empty() {
        md.push_str("\n## Files\n\n");
        for (path, task) in files {
            md.push_str(&format!(
                "- [`{path}`]({path}){}\n",
                task.as_ref()
                    .map(|t| format!(" (task {t})"))
                    .unwrap_or_default()
            ));
        }
    }
    // The description, ids and file names are the user's and the model's: no escape sequences
    // in a file people `cat`.
    artifacts::write_run_summary(out_dir, summary, &crate::text_safe::clean(&md))
}
