//! Paths from model output: which are refused and why, joining under the output directory
//! without escaping it (symlinks included), and writing a file atomically there.

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
}
