//! The `--out` guard. A run writes files whose names come from model output, so it may only write
//! into a directory given over to this program: a new or empty one, or an earlier output directory
//! (one holding the marker file, or a `summary.json` written by a run). Any other non-empty
//! directory needs `--overwrite`; `/`, `$HOME` and a directory holding the data directory are
//! refused even then (a model's `File: .bashrc` or `orchestrator.db` must never land there).

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Marks a directory as an output directory of this program (written when a run claims it and
/// with every summary).
pub const MARKER: &str = ".orchestrator-tui-output";

const MARKER_TEXT: &str = "This directory holds output of orchestrator-tui runs: `run --out` may \
write into it again without --overwrite.\n";

/// What `--out` names, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutDir {
    /// As the user gave it (the engine stores it canonicalised).
    pub path: PathBuf,
    pub state: OutDirState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutDirState {
    /// Does not exist yet.
    New,
    Empty,
    /// An output directory of an earlier run.
    Earlier,
    /// Non-empty and not ours, accepted because of `--overwrite`.
    Overwrite,
}

#[derive(Debug, thiserror::Error)]
pub enum OutDirError {
    #[error(
        "--out {0}: refusing to write run output into the filesystem root; name a new directory"
    )]
    Root(String),
    #[error(
        "--out {0}: refusing to write run output into your home directory itself; name a new \
         subdirectory"
    )]
    Home(String),
    #[error(
        "--out {dir}: it holds the data directory {data} (database, logs); name another directory"
    )]
    DataDir { dir: String, data: String },
    #[error("--out {0}: exists and is not a directory")]
    NotADirectory(String),
    #[error(
        "--out {dir}: the directory is not empty ({n}, e.g. `{example}`) and is not an output \
         directory of orchestrator-tui: files from model output could replace yours; name a new \
         or empty directory, or pass --overwrite",
        n = entries_text(.entries)
    )]
    NotEmpty {
        dir: String,
        entries: usize,
        example: String,
    },
    #[error("--out {dir}: {source}")]
    Io { dir: String, source: io::Error },
}

fn entries_text(n: &usize) -> String {
    match n {
        1 => "1 entry".into(),
        n => format!("{n} entries"),
    }
}

/// Check `dir` for `run --out` (nothing is created; see [`claim`]).
pub fn check(dir: &Path, data_dir: &Path, overwrite: bool) -> Result<OutDir, OutDirError> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    check_with_home(dir, data_dir, home.as_deref(), overwrite)
}

/// [`check`] with the home directory given (tests).
pub fn check_with_home(
    dir: &Path,
    data_dir: &Path,
    home: Option<&Path>,
    overwrite: bool,
) -> Result<OutDir, OutDirError> {
    let shown = dir.display().to_string();
    let io_err = |source| OutDirError::Io {
        dir: shown.clone(),
        source,
    };
    let real = resolve(dir).map_err(io_err)?;
    if real.parent().is_none() {
        return Err(OutDirError::Root(shown));
    }
    if let Some(h) = home.and_then(|h| resolve(h).ok())
        && real == h
    {
        return Err(OutDirError::Home(shown));
    }
    if let Ok(data) = resolve(data_dir)
        && data.starts_with(&real)
    {
        return Err(OutDirError::DataDir {
            dir: shown,
            data: data.display().to_string(),
        });
    }
    let state = match fs::metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => OutDirState::New,
        Err(e) => return Err(io_err(e)),
        Ok(m) if !m.is_dir() => return Err(OutDirError::NotADirectory(shown)),
        Ok(_) => {
            let (entries, example) = survey(dir).map_err(io_err)?;
            if entries == 0 {
                OutDirState::Empty
            } else if is_output_dir(dir) {
                OutDirState::Earlier
            } else if overwrite {
                OutDirState::Overwrite
            } else {
                return Err(OutDirError::NotEmpty {
                    dir: shown,
                    entries,
                    example: super::display_path(&example),
                });
            }
        }
    };
    Ok(OutDir {
        path: dir.to_path_buf(),
        state,
    })
}

/// Create the checked directory and mark it as an output directory.
pub fn claim(o: &OutDir) -> Result<(), OutDirError> {
    mark(&o.path).map_err(|source| OutDirError::Io {
        dir: o.path.display().to_string(),
        source,
    })
}

/// Create `dir` if needed and write the marker unless it is there.
pub fn mark(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    if fs::symlink_metadata(dir.join(MARKER)).is_ok_and(|m| m.is_file()) {
        return Ok(());
    }
    super::write_file(dir, MARKER, MARKER_TEXT.as_bytes())
        .map(|_| ())
        .map_err(|e| match e {
            super::WriteError::Io(e) => e,
            super::WriteError::Refused(r) => io::Error::new(io::ErrorKind::PermissionDenied, r),
        })
}

/// Was `dir` written by this program: the marker, or a run's `summary.json` (directories from
/// before the marker existed)?
pub fn is_output_dir(dir: &Path) -> bool {
    if fs::symlink_metadata(dir.join(MARKER)).is_ok_and(|m| m.is_file()) {
        return true;
    }
    let summary = dir.join("summary.json");
    let small = fs::symlink_metadata(&summary).is_ok_and(|m| m.is_file() && m.len() < 64 << 20);
    if !small {
        return false;
    }
    let Ok(text) = fs::read_to_string(&summary) else {
        return false;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    v["id"].as_str().is_some_and(|id| id.starts_with("r-"))
        && v["tasks"].is_array()
        && v["output_dir"].is_string()
}

/// Number of entries and the first name in sorted order (counting stops at 100,000).
fn survey(dir: &Path) -> io::Result<(usize, String)> {
    let mut n = 0;
    let mut first: Option<String> = None;
    for e in fs::read_dir(dir)?.take(100_000) {
        let name = e?.file_name().to_string_lossy().to_string();
        n += 1;
        if first.as_ref().is_none_or(|f| name < *f) {
            first = Some(name);
        }
    }
    Ok((n, first.unwrap_or_default()))
}

/// The absolute path `p` stands for, symlinks resolved. For a path that does not exist yet: its
/// nearest existing ancestor resolved, then the rest applied lexically (`new/..` is the parent,
/// which is what creating it would give).
fn resolve(p: &Path) -> io::Result<PathBuf> {
    if let Ok(real) = fs::canonicalize(p) {
        return Ok(real);
    }
    let abs = std::path::absolute(p)?;
    let mut base = abs.as_path();
    let mut rest: Vec<Component> = Vec::new();
    let mut real = loop {
        match fs::canonicalize(base) {
            Ok(r) => break r,
            Err(_) => {
                let Some(parent) = base.parent() else {
                    break PathBuf::from("/");
                };
                if let Some(last) = base.components().next_back() {
                    rest.push(last);
                }
                base = parent;
            }
        }
    };
    for c in rest.into_iter().rev() {
        match c {
            Component::ParentDir => {
                real.pop();
            }
            Component::Normal(x) => real.push(x),
            _ => {}
        }
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct T {
        _root: tempfile::TempDir,
        root: PathBuf,
        home: PathBuf,
        data: PathBuf,
    }

    fn setup() -> T {
        let r = tempfile::tempdir().expect("tempdir");
        let root = r.path().canonicalize().expect("canonical");
        let home = root.join("home");
        let data = home.join(".local/share/orchestrator-tui");
        fs::create_dir_all(&data).expect("data");
        fs::write(home.join(".bashrc"), "keep").expect("bashrc");
        T {
            _root: r,
            root,
            home,
            data,
        }
    }

    fn check(t: &T, dir: &Path, overwrite: bool) -> Result<OutDirState, OutDirError> {
        check_with_home(dir, &t.data, Some(&t.home), overwrite).map(|o| o.state)
    }

    #[test]
    fn root_home_and_data_dir_ancestors_are_refused_even_with_overwrite() {
        let t = setup();
        for ow in [false, true] {
            assert!(matches!(
                check(&t, Path::new("/"), ow),
                Err(OutDirError::Root(_))
            ));
            assert!(matches!(check(&t, &t.home, ow), Err(OutDirError::Home(_))));
            // The same directory spelled through `..` of a directory not created yet.
            let sneaky = t.home.join("new/..");
            assert!(matches!(check(&t, &sneaky, ow), Err(OutDirError::Home(_))));
            assert!(matches!(
                check(&t, &t.home.join(".local"), ow),
                Err(OutDirError::DataDir { .. })
            ));
            assert!(matches!(
                check(&t, &t.data, ow),
                Err(OutDirError::DataDir { .. })
            ));
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_to_home_is_home() {
        let t = setup();
        let link = t.root.join("link");
        std::os::unix::fs::symlink(&t.home, &link).expect("symlink");
        assert!(matches!(check(&t, &link, true), Err(OutDirError::Home(_))));
    }

    #[test]
    fn non_empty_foreign_directories_need_overwrite() {
        let t = setup();
        let proj = t.root.join("project");
        fs::create_dir_all(&proj).expect("dir");
        fs::write(proj.join("main.py"), "x").expect("file");
        let e = check(&t, &proj, false).unwrap_err().to_string();
        assert!(
            e.contains("not empty") && e.contains("main.py") && e.contains("--overwrite"),
            "{e}"
        );
        assert_eq!(check(&t, &proj, true).ok(), Some(OutDirState::Overwrite));
        let file = proj.join("main.py");
        assert!(matches!(
            check(&t, &file, true),
            Err(OutDirError::NotADirectory(_))
        ));
    }

    #[test]
    fn new_empty_and_earlier_output_directories_are_accepted() {
        let t = setup();
        let new = t.root.join("a/b/out");
        assert_eq!(check(&t, &new, false).ok(), Some(OutDirState::New));
        let o = check_with_home(&new, &t.data, Some(&t.home), false).expect("checked");
        claim(&o).expect("claim");
        assert!(new.join(MARKER).is_file());
        fs::write(new.join("app.py"), "x").expect("file");
        assert_eq!(check(&t, &new, false).ok(), Some(OutDirState::Earlier));
        let empty = t.root.join("empty");
        fs::create_dir_all(&empty).expect("dir");
        assert_eq!(check(&t, &empty, false).ok(), Some(OutDirState::Empty));
        // A run's summary.json from before the marker existed.
        let old = t.root.join("old");
        fs::create_dir_all(&old).expect("dir");
        fs::write(
            old.join("summary.json"),
            r#"{"id": "r-1a2b3c", "tasks": [], "output_dir": "/x"}"#,
        )
        .expect("summary");
        assert_eq!(check(&t, &old, false).ok(), Some(OutDirState::Earlier));
        // Any other summary.json is not proof.
        fs::write(old.join("summary.json"), r#"{"total": 3}"#).expect("summary");
        assert!(check(&t, &old, false).is_err());
    }
}
