//! Bad input: a missing path, a file instead of a folder, unreadable folders, symlink loops,
//! non-UTF-8 names and contents, huge files. A clear error or a finding; no hang, no panic.

use std::io::Write;

use crate::support::repo::*;
use orchestrator_tui::analysis::{AnalysisError, analyze_static};

#[test]
fn missing_path_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope");
    let err = analyze_static(&missing, &|_| {}).expect_err("missing path");
    assert!(matches!(err, AnalysisError::NotFound(_)));
    assert_eq!(
        err.to_string(),
        format!("path not found: {}", missing.display())
    );
}

#[test]
fn a_file_is_not_a_folder() {
    let r = Repo::new();
    r.file("main.rs", "fn main() {}\n");
    let err = analyze_static(&r.abs("main.rs"), &|_| {}).expect_err("file");
    assert!(matches!(err, AnalysisError::NotADirectory(_)));
    assert!(err.to_string().starts_with("not a directory: "), "{err}");
    assert!(err.to_string().ends_with("(analyze takes a folder)"));
}

#[test]
fn empty_folder_is_fine() {
    let r = Repo::new();
    let rep = r.analyze();
    assert_eq!((rep.files, rep.lines.code), (0, 0));
    assert!(rep.findings.is_empty(), "{:?}", ids(&rep));
    assert_eq!(rep.test_to_source_ratio, None);
}

#[cfg(unix)]
#[test]
fn unreadable_folders_and_files_are_reported() {
    use std::os::unix::fs::PermissionsExt;
    let r = clean_rust();
    r.file("secret/inner.rs", "fn x() {}\n")
        .file("locked.rs", "fn y() {}\n");
    let set = |p: &str, mode| {
        std::fs::set_permissions(r.abs(p), std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    set("secret", 0o000);
    set("locked.rs", 0o000);
    // Root reads anything: then there is nothing unreadable to report, but it must not fail.
    let privileged = std::fs::read_dir(r.abs("secret")).is_ok();
    let rep = r.analyze();
    set("secret", 0o755);
    set("locked.rs", 0o644);
    if privileged {
        eprintln!("running with privileges that bypass permissions: only checking it completes");
        return;
    }
    let f = get(&rep, "unreadable-paths");
    let paths: Vec<_> = f.evidence.iter().map(|e| e.path.clone()).collect();
    assert!(paths.iter().any(|p| p.ends_with("secret")), "{paths:?}");
    assert!(paths.iter().any(|p| p.ends_with("locked.rs")), "{paths:?}");
    assert_eq!(rep.skipped.unreadable, 2);
}

#[cfg(unix)]
#[test]
fn symlink_loops_are_not_followed() {
    let r = clean_rust();
    std::os::unix::fs::symlink("..", r.abs("src/up")).expect("symlink");
    std::os::unix::fs::symlink("loop", r.abs("loop")).expect("self loop");
    std::os::unix::fs::symlink("src/lib.rs", r.abs("lib-link.rs")).expect("file link");
    let rep = r.analyze();
    assert_eq!(rep.skipped.symlinks, 3);
    let rust = rep
        .languages
        .iter()
        .find(|l| l.name == "Rust")
        .expect("rust");
    assert_eq!(
        rust.files, 3,
        "src/main.rs, src/lib.rs, tests/it.rs once each"
    );
}

#[cfg(unix)]
#[test]
fn non_utf8_names_and_contents() {
    use std::os::unix::ffi::OsStrExt;
    let r = clean_rust();
    let name = std::ffi::OsStr::from_bytes(b"src/caf\xe9_\xff.py");
    std::fs::write(
        r.path().join(name),
        b"# caf\xe9\nx = '\xff\xfe'\n\nprint(x)\n",
    )
    .expect("write");
    r.file("src/latin1.c", b"/* \xe9t\xe9 */\nint x = 1; /* \xff */\n");
    let rep = r.analyze();
    let py = rep
        .languages
        .iter()
        .find(|l| l.name == "Python")
        .expect("python counted");
    assert_eq!((py.code, py.comments, py.blanks), (2, 1, 1));
    let c = rep
        .languages
        .iter()
        .find(|l| l.name == "C")
        .expect("c counted");
    assert_eq!((c.code, c.comments), (1, 1));
    let json = serde_json::to_string(&rep).expect("serialises");
    let back: orchestrator_tui::analysis::AnalysisReport =
        serde_json::from_str(&json).expect("round trip");
    assert_eq!(back.files, rep.files);
}

#[test]
fn a_200_mb_file_is_streamed_counted_and_reported() {
    let r = clean_rust();
    let path = r.abs("data/dump.sql");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let mut f =
        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).expect("create"));
    let line = format!("INSERT INTO t VALUES (1, '{}');\n", "x".repeat(90));
    let (mut n, mut size) = (0usize, 0usize);
    while size < 200 << 20 {
        let l = if n % 10 == 9 { "\n" } else { line.as_str() };
        f.write_all(l.as_bytes()).expect("write");
        size += l.len();
        n += 1;
    }
    f.flush().expect("flush");
    drop(f);
    // One 12 MB line: longer than the streaming buffer.
    r.file("data/one-line.txt", "y".repeat(12 << 20));
    let rep = r.analyze();
    let sql = rep
        .languages
        .iter()
        .find(|l| l.name == "SQL")
        .expect("sql counted");
    assert_eq!(sql.code + sql.blanks, n as u64);
    assert_eq!(sql.blanks, (n / 10) as u64);
    let text = rep
        .languages
        .iter()
        .find(|l| l.name == "Plain Text")
        .expect("text counted");
    assert_eq!(text.code + text.comments + text.blanks, 1);
    let huge = get(&rep, "huge-files");
    assert_eq!(huge.evidence[0].path, "data/dump.sql");
    assert_eq!(huge.evidence[1].path, "data/one-line.txt");
    assert_eq!(rep.large_files[0].bytes, size as u64);
    assert!(size >= 200 << 20);
}

#[cfg(unix)]
#[test]
fn fifos_and_devices_are_not_opened() {
    let r = clean_rust();
    let made = std::process::Command::new("mkfifo")
        .arg(r.abs("pipe.rs"))
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        eprintln!("mkfifo unavailable: skipping");
        return;
    }
    // Opening a FIFO for reading would block forever; the walk only reads regular files.
    let rep = r.analyze();
    let rust = rep
        .languages
        .iter()
        .find(|l| l.name == "Rust")
        .expect("rust");
    assert_eq!(rust.files, 3);
}

#[cfg(unix)]
#[test]
fn a_symlink_to_the_folder_is_analysed() {
    let r = clean_rust();
    let outer = tempfile::tempdir().expect("tempdir");
    let link = outer.path().join("repo");
    std::os::unix::fs::symlink(r.path(), &link).expect("symlink");
    let via_link = analyze_static(&link, &|_| {}).expect("analysis");
    let direct = r.analyze();
    assert_eq!(
        (via_link.files, via_link.lines),
        (direct.files, direct.lines)
    );
}
