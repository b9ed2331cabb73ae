//! Artifacts: task outputs written under the run's output directory.
//!
//! Each task gets `tasks/<id>.<ext>` (its code, or the whole output as Markdown); files the model
//! annotated with a path (`File: src/app.py` before a fenced block, `### src/app.py`,
//! `**src/app.py**`, a first-line comment `# path: app.py`, or an info string `py:src/app.py`) are
//! written at that path. A path that is absolute, holds `..`, is too long, or resolves through a
//! symlink outside the directory is refused and reported; nothing is written outside it.
//! Hidden files (`.gitignore`, `.envrc`) are written but reported, so the run warns about each.
//! Which directory may be used at all is decided by [`out_dir`].
//!
//! Path checks and safe writes are in paths.rs, the task file's name and content in task_file.rs.

pub mod out_dir;
mod paths;
mod task_file;

pub use crate::model_output::annotate::{ExtractedFile, extract_files};
pub use paths::{
    MAX_COMPONENT_BYTES, MAX_PATH_BYTES, PathRefusal, WriteError, path_components, safe_join,
    write_file,
};
pub use task_file::task_file_name;

use serde::Serialize;
use std::fs;
use std::path::Path;
use task_file::main_artifact;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WrittenFile {
    /// Relative to the output directory, `/`-separated.
    pub path: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// The path as the model gave it (control characters escaped, cut to 200 characters).
    pub path: String,
    pub reason: String,
}

/// What writing one task's artifacts did; refusals are findings of the task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ArtifactReport {
    pub written: Vec<WrittenFile>,
    pub refused: Vec<Refusal>,
}

impl ArtifactReport {
    /// Written paths with a hidden component (`.envrc`, `.github/workflows/ci.yml`).
    pub fn hidden(&self) -> impl Iterator<Item = &str> {
        self.written
            .iter()
            .map(|w| w.path.as_str())
            .filter(|p| p.split('/').any(|c| c.starts_with('.')))
    }

    /// One warning line per refused path and per hidden file written, naming the task and file.
    pub fn warnings(&self, task_id: &str) -> Vec<String> {
        let refused = self.refused.iter().map(|r| {
            format!(
                "task {task_id}: refused to write `{}`: {}",
                r.path, r.reason
            )
        });
        let hidden = self.hidden().map(|p| {
            format!(
                "task {task_id}: wrote hidden file `{}` from model output (review it before use)",
                display_path(p)
            )
        });
        refused.chain(hidden).collect()
    }
}

/// Write a task's artifacts: `tasks/<task_file_name>` plus every path-annotated file.
pub fn write_task_artifacts(
    out_dir: &Path,
    task_id: &str,
    task_type: &str,
    output: &str,
) -> ArtifactReport {
    let mut report = ArtifactReport::default();
    let (language, content) = main_artifact(task_type, output);
    let name = format!(
        "tasks/{}",
        task_file_name(task_id, language.as_deref(), task_type)
    );
    record(&mut report, out_dir, &name, content.as_bytes());
    for f in extract_files(output) {
        if let Some(r) = reserved(&f.path) {
            report.refused.push(Refusal {
                path: display_path(&f.path),
                reason: r.to_string(),
            });
            continue;
        }
        record(&mut report, out_dir, &f.path, f.content.as_bytes());
    }
    report
}

fn record(report: &mut ArtifactReport, out_dir: &Path, rel: &str, bytes: &[u8]) {
    match write_file(out_dir, rel, bytes) {
        Ok(_) => {
            let path = path_components(rel)
                .map(|c| c.join("/"))
                .unwrap_or_else(|_| rel.to_string());
            report.written.push(WrittenFile {
                path,
                bytes: bytes.len() as u64,
            });
        }
        Err(e) => report.refused.push(Refusal {
            path: display_path(rel),
            reason: match e {
                WriteError::Refused(r) => r.to_string(),
                WriteError::Io(e) => format!("could not write: {e}"),
            },
        }),
    }
}

/// Top-level names the run writes itself.
fn reserved(rel: &str) -> Option<PathRefusal> {
    let comps = path_components(rel).ok()?;
    let first = comps[0].to_ascii_lowercase();
    if comps.len() == 1
        && (first == "summary.json" || first == "readme.md" || first == out_dir::MARKER)
    {
        return Some(PathRefusal::Reserved(comps[0].to_string()));
    }
    (first == "tasks").then(|| PathRefusal::Reserved("tasks/".into()))
}

/// Write `summary.json` (pretty) and `README.md` into `out_dir`, each atomically.
pub fn write_run_summary(
    out_dir: &Path,
    summary: &serde_json::Value,
    readme_markdown: &str,
) -> std::io::Result<()> {
    fs::create_dir_all(out_dir)?;
    let mut json = serde_json::to_vec_pretty(summary).map_err(std::io::Error::other)?;
    json.push(b'\n');
    let io = |e: WriteError| match e {
        WriteError::Io(e) => e,
        WriteError::Refused(r) => std::io::Error::new(std::io::ErrorKind::PermissionDenied, r),
    };
    write_file(out_dir, "summary.json", &json).map_err(io)?;
    write_file(out_dir, "README.md", readme_markdown.as_bytes()).map_err(io)?;
    // Marks the default output directory too, so a later `run --out` may reuse it.
    out_dir::mark(out_dir)
}

/// A path from model output made safe to show: control characters escaped, cut to 200 chars.
pub fn display_path(p: &str) -> String {
    let escaped: String = p
        .chars()
        .flat_map(|c| {
            let e: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            e
        })
        .collect();
    if escaped.chars().count() > 200 {
        let cut: String = escaped.chars().take(200).collect();
        format!("{cut}…")
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_files_are_reported_with_the_refusals() {
        let r = ArtifactReport {
            written: vec![
                WrittenFile {
                    path: "tasks/t1.md".into(),
                    bytes: 1,
                },
                WrittenFile {
                    path: ".envrc".into(),
                    bytes: 1,
                },
                WrittenFile {
                    path: ".github/workflows/ci.yml".into(),
                    bytes: 1,
                },
            ],
            refused: vec![Refusal {
                path: "/etc/x".into(),
                reason: "absolute path".into(),
            }],
        };
        let w = r.warnings("t1");
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].contains("refused to write `/etc/x`"));
        assert!(w[1].contains("hidden file `.envrc`"));
        assert!(w[2].contains("`.github/workflows/ci.yml`"));
    }

    #[test]
    fn display_path_escapes_and_cuts() {
        assert_eq!(display_path("a\nb"), "a\\nb");
        assert_eq!(display_path("..\\x"), "..\\x");
        assert!(display_path(&"x".repeat(500)).chars().count() <= 201);
    }
}
