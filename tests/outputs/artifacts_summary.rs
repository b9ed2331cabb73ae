//! `summary.json` and `README.md` of a run, and path-annotated file extraction.

use orchestrator_tui::artifacts::{extract_files, write_run_summary};
use serde_json::json;
use std::fs;

#[test]
fn summary_and_readme_are_written_atomically() {
    let root = tempfile::tempdir().expect("tempdir");
    let out = root.path().join("new/out");
    let summary = json!({"run": "r1", "status": "completed", "tasks": [{"id": "t1"}]});
    write_run_summary(&out, &summary, "# Run r1\n").expect("write");
    let back: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("summary.json")).expect("read"))
            .expect("json");
    assert_eq!(back, summary);
    assert_eq!(
        fs::read_to_string(out.join("README.md")).expect("read"),
        "# Run r1\n"
    );
    // Rewriting replaces the files and leaves nothing else behind.
    write_run_summary(&out, &json!({"run": "r1", "status": "failed"}), "# again\n")
        .expect("rewrite");
    let mut names: Vec<String> = fs::read_dir(&out)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    // The marker says the directory is an output directory (`run --out` may reuse it).
    assert_eq!(
        names,
        [".orchestrator-tui-output", "README.md", "summary.json"]
    );
}

#[cfg(unix)]
#[test]
fn summary_replaces_a_planted_symlink_instead_of_following_it() {
    let root = tempfile::tempdir().expect("tempdir");
    let out = root.path().join("out");
    fs::create_dir_all(&out).expect("dir");
    let victim = root.path().join("victim.txt");
    fs::write(&victim, "keep").expect("victim");
    std::os::unix::fs::symlink(&victim, out.join("README.md")).expect("symlink");
    // Refused (the final component is a symlink); the target is untouched either way.
    let _ = write_run_summary(&out, &json!({}), "# x\n");
    assert_eq!(fs::read_to_string(&victim).expect("read"), "keep");
}

#[test]
fn annotation_forms_are_recognised() {
    let out = "\
File: src/app.py
```python
a = 1
```
### `lib/util.go`
```go
package util
```
**path/x.rs**
```rust
fn x() {}
```
```python
# path: scripts/run.py
print(1)
```
```ts:web/main.ts
let n = 1
```
Usage:
```bash
python src/app.py
```
";
    let files = extract_files(out);
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "src/app.py",
            "lib/util.go",
            "path/x.rs",
            "scripts/run.py",
            "web/main.ts"
        ]
    );
    assert_eq!(files[0].content, "a = 1\n");
    assert_eq!(files[1].language.as_deref(), Some("go"));
    assert_eq!(files[4].language.as_deref(), Some("typescript"));
}
