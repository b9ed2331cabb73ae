//! Artifacts: task outputs written under the run's output directory.
//!
//! Each task gets `tasks/<id>.<ext>` (its code, or the whole output as Markdown); files the model
//! annotated with a path (`File: src/app.py` before a fenced block, `### src/app.py`,
//! `**src/app.py**`, a first-line comment `# path: app.py`, or an info string `py:src/app.py`) are
//! written at that path. A path that is absolute, holds `..`, is too long, or resolves through a
//! symlink outside the directory is refused and reported; nothing is written outside it.
//! Hidden files (`.gitignore`, `.envrc`) are written but reported, so the run warns about each.
//! Which directory may be used at all is decided by [`out_dir`].

pub mod out_dir;

pub use crate::model_output::annotate::{ExtractedFile, extract_files};
use crate::model_output::detect;
use crate::model_output::extract::{self, CodeBlock};
use serde::Serialize;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Longest accepted path component, in bytes.
pub const MAX_COMPONENT_BYTES: usize = 255;
/// Longest accepted relative path, in bytes.
pub const MAX_PATH_BYTES: usize = 4096;

/// Why a path from model output is not written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathRefusal {
    #[error("empty path")]
    Empty,
    #[error("absolute path")]
    Absolute,
    #[error("home-relative path (`~`)")]
    HomeRelative,
    #[error("path contains a `..` component")]
    ParentDir,
    #[error("path contains a NUL byte")]
    Nul,
    #[error("path contains a control character")]
    Control,
    #[error("a path component is longer than {MAX_COMPONENT_BYTES} bytes")]
    ComponentTooLong,
    #[error("path is longer than {MAX_PATH_BYTES} bytes")]
    TooLong,
    #[error("path resolves through a symlink outside the output directory")]
    SymlinkEscape,
    #[error("path names an existing symlink")]
    SymlinkTarget,
    #[error("`{0}` is reserved in the output directory")]
    Reserved(String),
    #[error("the output directory cannot be used: {0}")]
    OutDir(String),
}

/// A failed write: a refused path or an I/O error.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("refused: {0}")]
    Refused(#[from] PathRefusal),
    #[error("could not write: {0}")]
    Io(#[from] std::io::Error),
}

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

/// The normal components of a relative path from model output (`/` and `\` both separate).
pub fn path_components(rel: &str) -> Result<Vec<&str>, PathRefusal> {
    if rel.contains('\0') {
        return Err(PathRefusal::Nul);
    }
    if rel.len() > MAX_PATH_BYTES {
        return Err(PathRefusal::TooLong);
    }
    if rel.chars().any(|c| c.is_control()) {
        return Err(PathRefusal::Control);
    }
    let t = rel.trim();
    if t.starts_with(['/', '\\']) {
        return Err(PathRefusal::Absolute); // `/x`, `\x`, `\\server\share`, `//server`
    }
    let b = t.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return Err(PathRefusal::Absolute); // `C:\x`, `C:x`
    }
    let mut out = Vec::new();
    for c in t.split(['/', '\\']) {
        match c {
            "" | "." => {}
            ".." => return Err(PathRefusal::ParentDir),
            "~" if out.is_empty() => return Err(PathRefusal::HomeRelative),
            c if c.len() > MAX_COMPONENT_BYTES => return Err(PathRefusal::ComponentTooLong),
            c if c.eq_ignore_ascii_case(".git") => {
                return Err(PathRefusal::Reserved(".git".into()));
            }
            c => out.push(c),
        }
    }
    if out.is_empty() {
        return Err(PathRefusal::Empty);
    }
    Ok(out)
}

/// `out_dir` joined with `rel`, or why `rel` may not be written there.
///
/// Refuses absolute paths (unix, Windows drive and UNC forms), `..` components (either
/// separator), empty paths, components over 255 bytes, paths over 4096 bytes, NUL and control
/// characters, existing ancestors that resolve through a symlink outside `out_dir`, and an
/// existing symlink as the final component.
pub fn safe_join(out_dir: &Path, rel: &str) -> Result<PathBuf, PathRefusal> {
    let comps = path_components(rel)?;
    let base = canonical_base(out_dir)?;
    let mut cur = out_dir.to_path_buf();
    let last = comps.len() - 1;
    for (i, c) in comps.iter().enumerate() {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Err(_) => break, // the rest does not exist yet and is created as plain directories
            Ok(m) if m.file_type().is_symlink() => {
                if i == last {
                    return Err(PathRefusal::SymlinkTarget);
                }
                let real = fs::canonicalize(&cur).map_err(|_| PathRefusal::SymlinkEscape)?;
                if !real.starts_with(&base) {
                    return Err(PathRefusal::SymlinkEscape);
                }
            }
            Ok(_) => {}
        }
    }
    let mut joined = out_dir.to_path_buf();
    joined.extend(comps);
    Ok(joined)
}

fn canonical_base(out_dir: &Path) -> Result<PathBuf, PathRefusal> {
    match fs::canonicalize(out_dir) {
        Ok(p) => Ok(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::path::absolute(out_dir).map_err(|e| PathRefusal::OutDir(e.to_string()))
        }
        Err(e) => Err(PathRefusal::OutDir(e.to_string())),
    }
}

/// Write `bytes` at `rel` under `out_dir` (checked by [`safe_join`]), creating directories, and
/// re-checking after they exist; the file is written to a temp name and renamed into place.
pub fn write_file(out_dir: &Path, rel: &str, bytes: &[u8]) -> Result<PathBuf, WriteError> {
    let target = safe_join(out_dir, rel)?;
    let parent = target
        .parent()
        .ok_or(WriteError::Refused(PathRefusal::Empty))?;
    fs::create_dir_all(parent)?;
    // Final check now that every directory exists: nothing was swapped for an escaping symlink.
    let base = canonical_base(out_dir)?;
    let real_parent = fs::canonicalize(parent)?;
    if !real_parent.starts_with(&base) {
        return Err(PathRefusal::SymlinkEscape.into());
    }
    if fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(PathRefusal::SymlinkTarget.into());
    }
    atomic_write(&real_parent, &target, bytes)?;
    Ok(target)
}

/// Write a temp file in `dir` (created exclusively, so never through a symlink) and rename it to
/// `target` (a rename replaces a link rather than following it).
fn atomic_write(dir: &Path, target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".orch-tmp-{}-{n}", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.flush()?;
        drop(f);
        fs::rename(&tmp, target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The artifact file name of a task: `t2.py`, `t4.md`. Unique per task id: an id that is not
/// already a plain lowercase name (`[a-z0-9._-]`, no leading dot, at most 100 bytes) is cleaned
/// and gets a hash of the exact id (`a b` -> `a_b-5b0e7c1a.md`, `a?b` -> `a_b-08d2f1c3.md`), so
/// ids that clean to the same name never overwrite each other's files, even on a file system
/// that ignores case. A plain id that itself ends like such a hash gets one too.
pub fn task_file_name(task_id: &str, language: Option<&str>, task_type: &str) -> String {
    let ext = match language {
        Some(l) => extract::extension_for(l).map(str::to_string).or_else(|| {
            let l = l.trim().to_ascii_lowercase();
            (!l.is_empty() && l.len() <= 10 && l.chars().all(|c| c.is_ascii_alphanumeric()))
                .then_some(l)
        }),
        None => None,
    };
    format!(
        "{}.{}",
        task_file_stem(task_id, task_type),
        ext.unwrap_or_else(|| "md".into())
    )
}

fn task_file_stem(task_id: &str, task_type: &str) -> String {
    let plain =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.');
    let clean = |s: &str| -> String {
        let mut c: String = s
            .trim()
            .chars()
            .map(|c| {
                if plain(c.to_ascii_lowercase()) {
                    c
                } else {
                    '_'
                }
            })
            .take(100)
            .collect();
        while c.starts_with('.') {
            c.remove(0);
        }
        c
    };
    let is_plain = !task_id.is_empty()
        && task_id.len() <= 100
        && !task_id.starts_with('.')
        && task_id.chars().all(plain)
        && !looks_hashed(task_id);
    if is_plain {
        return task_id.to_string();
    }
    let mut stem = clean(task_id);
    if stem.is_empty() {
        stem = clean(task_type);
    }
    if stem.is_empty() {
        stem = "task".into();
    }
    format!("{stem}-{:08x}", fnv1a32(task_id))
}

/// Ends in `-` and 8 lowercase hex digits, like the names [`task_file_stem`] makes.
fn looks_hashed(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 9
        && b[b.len() - 9] == b'-'
        && b[b.len() - 8..]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

/// FNV-1a, 32 bits: stable across versions and platforms (file names must not change on resume).
fn fnv1a32(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    })
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

/// The task file's language and content: for code and data tasks the code of the language with
/// the most fenced code, else the whole output (as Markdown).
fn main_artifact(task_type: &str, output: &str) -> (Option<String>, String) {
    let t = task_type
        .trim()
        .to_ascii_lowercase()
        .replace(['-', ' '], "_");
    if t != "code_generation" && t != "data_extraction" {
        return (None, output.to_string());
    }
    let blocks = extract::code_blocks(output);
    if blocks.is_empty() {
        // A bare answer that is clearly code (a model that skipped the fences) keeps its language.
        return match detect::code_language(output) {
            Some(l) if extract::is_code_language(l) => (Some(l.to_string()), output.to_string()),
            _ => (None, output.to_string()),
        };
    }
    // An untagged block takes its detected language (`.py`, not `.md`); an unknown tag its tag.
    let key = |b: &CodeBlock<'_>| -> Option<String> {
        match extract::block_language(b) {
            Some(l) if extract::is_code_language(l) => Some(l.to_string()),
            Some(_) => None,
            None => b.tag.clone(),
        }
    };
    let mut sizes: Vec<(String, usize)> = Vec::new();
    for b in &blocks {
        if let Some(k) = key(b) {
            match sizes.iter_mut().find(|(l, _)| *l == k) {
                Some(e) => e.1 += b.code.len(),
                None => sizes.push((k, b.code.len())),
            }
        }
    }
    let Some((lang, _)) = sizes
        .iter()
        .fold(None::<&(String, usize)>, |best, x| match best {
            Some(b) if b.1 >= x.1 => Some(b),
            _ => Some(x),
        })
    else {
        return (None, output.to_string());
    };
    let parts: Vec<&str> = blocks
        .iter()
        .filter(|b| key(b).as_deref() == Some(lang.as_str()))
        .map(|b| b.code.trim_end_matches(['\n', '\r']))
        .collect();
    (Some(lang.clone()), parts.join("\n\n") + "\n")
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
    fn components_refuse_unsafe_forms() {
        use PathRefusal::*;
        let cases: &[(&str, PathRefusal)] = &[
            ("", Empty),
            ("./.", Empty),
            ("/etc/passwd", Absolute),
            ("\\\\server\\share\\x", Absolute),
            ("C:\\Windows\\x", Absolute),
            ("c:x", Absolute),
            ("~/x", HomeRelative),
            ("a/../../b", ParentDir),
            ("a\\..\\b", ParentDir),
            ("a\0b", Nul),
            ("a\nb", Control),
            (".git/hooks/pre-commit", Reserved(".git".into())),
        ];
        for (p, want) in cases {
            assert_eq!(path_components(p).as_ref().err(), Some(want), "{p:?}");
        }
        assert_eq!(path_components(&"a".repeat(256)), Err(ComponentTooLong));
        assert_eq!(path_components(&"ab/".repeat(1400)), Err(TooLong));
        assert_eq!(path_components("./src//a.py"), Ok(vec!["src", "a.py"]));
        assert_eq!(path_components("src\\win.py"), Ok(vec!["src", "win.py"]));
    }

    #[test]
    fn task_file_names() {
        assert_eq!(
            task_file_name("t2", Some("python"), "code_generation"),
            "t2.py"
        );
        assert_eq!(task_file_name("t4", None, "creative_writing"), "t4.md");
        assert_eq!(task_file_name("t1.v2", None, "x"), "t1.v2.md");
        let odd = task_file_name("../x y", Some("rs"), "code_generation");
        assert!(odd.starts_with("_x_y-") && odd.ends_with(".rs"), "{odd}");
        let empty = task_file_name("", Some("elm"), "code_generation");
        assert!(empty.starts_with("code_generation-"), "{empty}");
        assert_eq!(task_file_name("t1", Some("c#"), "x"), "t1.cs");
        assert_eq!(task_file_name("t1", Some("weird lang"), "x"), "t1.md");
    }

    #[test]
    fn ids_that_clean_to_the_same_name_get_different_files() {
        let ids = [
            "a b",
            "a_b",
            "a?b",
            "A_B",
            "a*b",
            "a_b-00000000",
            "...",
            "..",
            "?",
            "a\tb",
        ];
        let mut names: Vec<String> = ids
            .iter()
            .map(|id| task_file_name(id, None, "summarization").to_ascii_lowercase())
            .collect();
        assert_eq!(names[1], "a_b.md", "a plain id keeps its name");
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ids.len(), "{names:?}");
        // Stable: the same id always gets the same name (resume rewrites the same file).
        assert_eq!(
            task_file_name("a b", None, "x"),
            task_file_name("a b", None, "x")
        );
    }

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
    fn main_artifact_picks_the_dominant_code() {
        let out = "Intro\n```bash\nls\n```\n```python\nx = 1\n```\n```python\ny = 2\n```\n";
        let (l, c) = main_artifact("code_generation", out);
        assert_eq!(l.as_deref(), Some("python"));
        assert_eq!(c, "x = 1\n\ny = 2\n");
        assert_eq!(main_artifact("summarization", out).0, None);
        assert_eq!(main_artifact("code_generation", "no code").1, "no code");
    }

    #[test]
    fn untagged_and_bare_code_take_the_detected_language() {
        let out = "Here:\n```\nimport sys\n\ndef rev(s):\n    return s[::-1]\n```\n";
        let (l, c) = main_artifact("code_generation", out);
        assert_eq!(l.as_deref(), Some("python"));
        assert_eq!(
            task_file_name("t1", l.as_deref(), "code_generation"),
            "t1.py"
        );
        assert!(c.starts_with("import sys"));
        let bare = "package main\n\nfunc main() {\n}\n";
        assert_eq!(
            main_artifact("code_generation", bare).0.as_deref(),
            Some("go")
        );
        // Unknown stays Markdown, as before.
        assert_eq!(
            main_artifact("code_generation", "```\nhello\n```\n").0,
            None
        );
        assert_eq!(main_artifact("code_generation", "Some prose.").0, None);
    }

    #[test]
    fn display_path_escapes_and_cuts() {
        assert_eq!(display_path("a\nb"), "a\\nb");
        assert_eq!(display_path("..\\x"), "..\\x");
        assert!(display_path(&"x".repeat(500)).chars().count() <= 201);
    }
}
