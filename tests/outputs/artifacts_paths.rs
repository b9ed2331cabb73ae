//! Artifact writing: unsafe paths from model output are refused and reported; nothing is written
//! outside the output directory; valid nested paths are written.

use orchestrator_tui::artifacts::{
    PathRefusal, WriteError, safe_join, write_file, write_task_artifacts,
};
use std::fs;
use std::path::Path;

/// A run's output dir inside a sandbox, with a sibling `outside/` that must stay empty.
struct Sandbox {
    _root: tempfile::TempDir,
    out: std::path::PathBuf,
    outside: std::path::PathBuf,
}

fn sandbox() -> Sandbox {
    let root = tempfile::tempdir().expect("tempdir");
    let out = root.path().join("run").join("out");
    let outside = root.path().join("outside");
    fs::create_dir_all(&out).expect("out");
    fs::create_dir_all(&outside).expect("outside");
    Sandbox {
        _root: root,
        out,
        outside,
    }
}

fn assert_empty(dir: &Path) {
    let n = fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(n, 0, "{} should be empty", dir.display());
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(
                    p.strip_prefix(dir)
                        .map(|r| r.to_string_lossy().to_string())
                        .unwrap_or_default(),
                );
            }
        }
    }
    out.sort();
    out
}

#[test]
fn traversal_and_absolute_paths_are_refused() {
    let s = sandbox();
    let refused = [
        ("../../etc/passwd", PathRefusal::ParentDir),
        ("../outside/x.py", PathRefusal::ParentDir),
        ("src/../../x.py", PathRefusal::ParentDir),
        ("/tmp/x", PathRefusal::Absolute),
        ("/etc/passwd", PathRefusal::Absolute),
        (
            "..\\..\\Windows\\System32\\evil.dll",
            PathRefusal::ParentDir,
        ),
        ("src\\..\\..\\x.py", PathRefusal::ParentDir),
        ("C:\\Users\\x.txt", PathRefusal::Absolute),
        ("\\\\server\\share\\x.txt", PathRefusal::Absolute),
        ("~/.bashrc", PathRefusal::HomeRelative),
        ("", PathRefusal::Empty),
        (".", PathRefusal::Empty),
        ("a\0b", PathRefusal::Nul),
    ];
    for (p, want) in refused {
        assert_eq!(safe_join(&s.out, p), Err(want.clone()), "{p:?}");
        match write_file(&s.out, p, b"x") {
            Err(WriteError::Refused(r)) => assert_eq!(r, want, "{p:?}"),
            other => panic!("{p:?} was not refused: {other:?}"),
        }
    }
    assert_empty(&s.outside);
    assert_empty(&s.out);
}

#[test]
fn very_long_names_are_refused() {
    let s = sandbox();
    let long_component = format!("{}.py", "a".repeat(300));
    assert_eq!(
        safe_join(&s.out, &long_component),
        Err(PathRefusal::ComponentTooLong)
    );
    let long_path = "d/".repeat(2100) + "x.py";
    assert_eq!(safe_join(&s.out, &long_path), Err(PathRefusal::TooLong));
    // 255 bytes is still fine.
    let max = format!("{}.py", "b".repeat(252));
    assert!(write_file(&s.out, &max, b"ok").is_ok());
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_directory_are_refused() {
    use std::os::unix::fs::symlink;
    let s = sandbox();
    symlink(&s.outside, s.out.join("escape")).expect("symlink");
    assert_eq!(
        safe_join(&s.out, "escape/x.py"),
        Err(PathRefusal::SymlinkEscape)
    );
    assert!(write_file(&s.out, "escape/deeper/x.py", b"x").is_err());
    // A symlinked file at the final component is not written through.
    let target = s.outside.join("victim.txt");
    symlink(&target, s.out.join("victim.txt")).expect("symlink");
    assert_eq!(
        safe_join(&s.out, "victim.txt"),
        Err(PathRefusal::SymlinkTarget)
    );
    assert!(write_file(&s.out, "victim.txt", b"x").is_err());
    // A dangling link is refused as well.
    symlink("/nonexistent/dir", s.out.join("dangling")).expect("symlink");
    assert!(safe_join(&s.out, "dangling/x").is_err());
    assert_empty(&s.outside);
    assert!(!target.exists());

    // A link that stays inside the directory is followed.
    fs::create_dir_all(s.out.join("real")).expect("dir");
    symlink(s.out.join("real"), s.out.join("alias")).expect("symlink");
    assert!(write_file(&s.out, "alias/ok.txt", b"ok").is_ok());
    assert!(s.out.join("real/ok.txt").exists());
}

#[test]
fn valid_nested_paths_are_written() {
    let s = sandbox();
    for p in [
        "src/app.py",
        "src/pkg/deep/mod.rs",
        "./docs//guide.md",
        "win\\style\\f.txt",
        ".gitignore",
    ] {
        let full = write_file(&s.out, p, p.as_bytes()).expect(p);
        assert!(full.starts_with(&s.out), "{p}");
        assert_eq!(fs::read(&full).expect("read"), p.as_bytes());
    }
    assert!(s.out.join("win/style/f.txt").exists());
    // Overwriting is atomic and leaves no temp files.
    write_file(&s.out, "src/app.py", b"v2").expect("rewrite");
    assert_eq!(fs::read(s.out.join("src/app.py")).expect("read"), b"v2");
    assert!(
        files_under(&s.out)
            .iter()
            .all(|f| !f.contains(".orch-tmp-"))
    );
}

#[test]
fn task_artifacts_report_written_and_refused() {
    let s = sandbox();
    let output = "\
Here is the implementation.

File: src/app.py
```python
def add(a, b):
    return a + b
```

### tests/test_app.py
```python
from src.app import add
```

File: ../../etc/passwd
```
root::0:0
```

**/tmp/x.sh**
```bash
rm -rf /
```

File: ..\\..\\evil.bat
```
echo evil
```

File: summary.json
```json
{}
```
";
    let report = write_task_artifacts(&s.out, "t2", "code_generation", output);
    let written: Vec<&str> = report.written.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(written, ["tasks/t2.py", "src/app.py", "tests/test_app.py"]);
    let refused: Vec<&str> = report.refused.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        refused,
        [
            "../../etc/passwd",
            "/tmp/x.sh",
            "..\\..\\evil.bat",
            "summary.json"
        ]
    );
    assert!(
        report.refused[0].reason.contains(".."),
        "{:?}",
        report.refused
    );
    assert!(report.refused[1].reason.contains("absolute"));
    assert!(report.refused[3].reason.contains("reserved"));

    let main = fs::read_to_string(s.out.join("tasks/t2.py")).expect("task file");
    assert!(main.contains("def add") && main.contains("from src.app import add"));
    assert_eq!(report.written[1].bytes, 32);
    assert_eq!(
        files_under(&s.out),
        ["src/app.py", "tasks/t2.py", "tests/test_app.py"]
    );
    assert_empty(&s.outside);

    // The report serialises for `show --json`.
    let json = serde_json::to_value(&report).expect("json");
    assert_eq!(json["refused"][0]["path"], "../../etc/passwd");
    assert_eq!(json["written"][0]["bytes"], main.len());
}

#[test]
fn prose_tasks_are_written_as_markdown() {
    let s = sandbox();
    let r = write_task_artifacts(&s.out, "t5", "creative_writing", "# README\n\nUse it.\n");
    assert_eq!(r.written[0].path, "tasks/t5.md");
    assert!(r.refused.is_empty());
    let r = write_task_artifacts(
        &s.out,
        "../t6",
        "data_extraction",
        "```json\n{\"a\": 1}\n```\n",
    );
    let p = &r.written[0].path;
    assert!(p.starts_with("tasks/_t6-") && p.ends_with(".json"), "{p}");
}

#[test]
fn task_ids_that_clean_to_one_name_do_not_overwrite_each_other() {
    let s = sandbox();
    let ids = ["a b", "a_b", "a?b", "A_B"];
    let mut paths = Vec::new();
    for id in ids {
        let r = write_task_artifacts(&s.out, id, "summarization", &format!("output of {id}\n"));
        assert!(r.refused.is_empty(), "{id}: {:?}", r.refused);
        paths.push(r.written[0].path.clone());
    }
    assert_eq!(paths[1], "tasks/a_b.md", "a plain id keeps its plain name");
    for (id, p) in ids.iter().zip(&paths) {
        let text = fs::read_to_string(s.out.join(p)).expect(p);
        assert_eq!(text, format!("output of {id}\n"), "{p}");
    }
    assert_eq!(
        files_under(&s.out).len(),
        ids.len(),
        "{:?}",
        files_under(&s.out)
    );
}

#[test]
fn hidden_files_from_model_output_are_written_and_reported() {
    let s = sandbox();
    let output = "File: .envrc\n```bash\nexport X=1\n```\n\nFile: .github/workflows/ci.yml\n```yaml\non: push\n```\n\nFile: src/app.py\n```python\nx = 1\n```\n";
    let r = write_task_artifacts(&s.out, "t1", "code_generation", output);
    let hidden: Vec<&str> = r.hidden().collect();
    assert_eq!(hidden, [".envrc", ".github/workflows/ci.yml"]);
    let warnings = r.warnings("t1");
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("task t1") && warnings[0].contains("`.envrc`"));
    assert!(s.out.join(".envrc").is_file());
    // The marker of an output directory is the program's own: model output may not write it.
    let r = write_task_artifacts(
        &s.out,
        "t2",
        "summarization",
        "File: .orchestrator-tui-output\n```\nx\n```\n",
    );
    assert_eq!(r.refused.len(), 1, "{r:?}");
    assert!(r.refused[0].reason.contains("reserved"));
}
