//! Writing a run's results under its output directory: one file per task, `summary.json`,
//! `README.md`. Paths are built by the engine only (never from model output) here.

use crate::store::{RunRow, TaskRow};
use std::path::Path;

/// Write one task's output. Returns the relative paths written.
pub fn write_task(
    out_dir: &Path,
    task: &TaskRow,
    output: &str,
) -> std::io::Result<Vec<(String, u64)>> {
    let dir = out_dir.join("tasks");
    std::fs::create_dir_all(&dir)?;
    let rel = format!("tasks/{}.md", sanitize(&task.spec.id));
    std::fs::write(out_dir.join(&rel), output)?;
    Ok(vec![(rel, output.len() as u64)])
}

fn sanitize(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `summary.json` and `README.md` for the run as it stands.
pub fn write_summary(
    out_dir: &Path,
    run: &RunRow,
    tasks: &[TaskRow],
    summary: &serde_json::Value,
) -> std::io::Result<()> {
    std::fs::create_dir_all(out_dir)?;
    let json = serde_json::to_string_pretty(summary).unwrap_or_else(|_| "{}".into());
    std::fs::write(out_dir.join("summary.json"), json)?;
    let mut md = format!(
        "# {}\n\nRun `{}`: **{}**, cost ${:.4}.\n\n| task | type | status | score | file |\n|---|---|---|---|---|\n",
        run.description.lines().next().unwrap_or(""),
        run.id,
        run.status,
        run.spent.usd()
    );
    for t in tasks {
        md.push_str(&format!(
            "| {} | {} | {} | {} | tasks/{}.md |\n",
            t.spec.id,
            t.spec.task_type,
            t.status,
            t.score.map_or("-".into(), |s| format!("{s:.2}")),
            sanitize(&t.spec.id)
        ));
    }
    std::fs::write(out_dir.join("README.md"), md)
}
