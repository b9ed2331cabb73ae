//! Each check of analyzer.md's table on fixture repositories: positive and negative cases,
//! priorities, and the ranked order.

use crate::support::repo::*;
use orchestrator_tui::analysis::{Category, Priority};

#[test]
fn clean_repository_has_no_findings() {
    let r = clean_rust().analyze();
    assert_eq!(ids(&r), Vec::<&str>::new());
    assert!(r.has_tests && r.has_ci && r.has_docs);
    assert_eq!(r.project_types, vec!["rust"]);
    let ratio = r.test_to_source_ratio.expect("ratio");
    assert!(ratio > 0.2 && ratio < 1.0, "{ratio}");
    assert_eq!(r.semantic, None);
    assert!(r.semantic_note.is_some());
}

#[test]
fn tests_presence_and_ratio() {
    let r = clean_rust();
    r.remove("tests/it.rs");
    let rep = r.analyze();
    assert_eq!(priority(&rep, "no-tests"), Priority::High);
    assert!(!rep.has_tests);
    assert_eq!(rep.test_to_source_ratio, Some(0.0));

    let r = clean_rust();
    r.file("src/lib.rs", rust_source(80))
        .file("tests/it.rs", rust_tests(2));
    let rep = r.analyze();
    assert_eq!(priority(&rep, "low-test-ratio"), Priority::Medium);
    assert!(!has(&rep, "no-tests"));

    // Inline Rust test modules count as tests.
    let r = clean_rust();
    r.remove("tests/it.rs").file(
        "src/lib.rs",
        format!(
            "{}\n#[cfg(test)]\nmod tests {{\n{}}}\n",
            rust_source(12),
            rust_tests(12).replace("use demo::*;", "use super::*;")
        ),
    );
    let rep = r.analyze();
    assert!(
        rep.has_tests && !has(&rep, "no-tests") && !has(&rep, "low-test-ratio"),
        "{:?}",
        ids(&rep)
    );
    assert!(rep.test_code_lines > 30);
}

#[test]
fn ci_presence_and_test_step() {
    let r = clean_rust();
    r.remove(".github/workflows/ci.yml");
    let rep = r.analyze();
    assert_eq!(priority(&rep, "no-ci"), Priority::Medium);
    assert!(!rep.has_ci);

    let r = clean_rust();
    r.file(
        ".github/workflows/ci.yml",
        CI.replace("cargo test --all", "cargo build"),
    );
    let rep = r.analyze();
    assert_eq!(priority(&rep, "ci-without-tests"), Priority::Medium);
    assert!(!has(&rep, "no-ci"));

    let r = clean_rust();
    r.remove(".github/workflows/ci.yml")
        .file(".gitlab-ci.yml", "test:\n  script:\n    - make test\n");
    let rep = r.analyze();
    assert!(
        rep.has_ci && !has(&rep, "no-ci") && !has(&rep, "ci-without-tests"),
        "{:?}",
        ids(&rep)
    );
}

#[test]
fn readme_missing_or_thin() {
    let r = clean_rust();
    r.remove("README.md");
    assert_eq!(priority(&r.analyze(), "missing-readme"), Priority::High);
    r.file("README.md", "# Demo\n\nA library.\n");
    let rep = r.analyze();
    assert_eq!(priority(&rep, "thin-readme"), Priority::Medium);
    assert!(!has(&rep, "missing-readme"));
    r.file(
        "README.md",
        format!("# Demo\n\n{}\n", "Words about the project. ".repeat(40)),
    );
    assert!(
        get(&r.analyze(), "thin-readme")
            .description
            .contains("no install or usage section")
    );
}

#[test]
fn license_file_or_manifest_field() {
    let r = clean_rust();
    r.remove("LICENSE");
    assert!(
        !has(&r.analyze(), "missing-license"),
        "license field in Cargo.toml is enough"
    );
    r.file(
        "Cargo.toml",
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\n",
    );
    let rep = r.analyze();
    let f = get(&rep, "missing-license");
    assert_eq!((f.priority, f.category), (Priority::High, Category::Docs));
}

#[test]
fn lockfile_for_applications_only() {
    let r = clean_rust();
    r.remove("Cargo.lock");
    let rep = r.analyze();
    assert_eq!(priority(&rep, "missing-lockfile"), Priority::Medium);
    assert_eq!(get(&rep, "missing-lockfile").evidence[0].path, "Cargo.toml");
    r.remove("src/main.rs");
    assert!(
        !has(&r.analyze(), "missing-lockfile"),
        "a library needs no Cargo.lock"
    );

    let r = clean_rust();
    r.file(
        "web/package.json",
        r#"{"private": true, "dependencies": {"react": "18"}}"#,
    );
    assert!(has(&r.analyze(), "missing-lockfile"));
    r.file("web/package-lock.json", "{}");
    assert!(!has(&r.analyze(), "missing-lockfile"));
}

#[test]
fn dependency_update_tool() {
    let r = clean_rust();
    r.remove(".github/dependabot.yml");
    assert_eq!(
        priority(&r.analyze(), "no-dependency-updates"),
        Priority::Low
    );
    r.file("renovate.json", "{}");
    assert!(!has(&r.analyze(), "no-dependency-updates"));
}

#[test]
fn binary_artifacts_by_extension_and_magic() {
    let r = clean_rust();
    r.file("bin/tool.exe", b"MZ not really")
        .file("lib/libnative.so", b"\x7fELF\x02\x01\x01\0\0\0")
        .file("tools/runner", b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0")
        .file("assets/logo.png", b"\x89PNG\r\n\x1a\n\0\0");
    let rep = r.analyze();
    let f = get(&rep, "binary-artifacts");
    assert_eq!(f.priority, Priority::Medium);
    let paths: Vec<_> = f.evidence.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        vec!["bin/tool.exe", "lib/libnative.so", "tools/runner"]
    );
    assert!(f.evidence[2].note.starts_with("ELF"));
}

#[test]
fn huge_and_generated_files() {
    let r = clean_rust();
    let mut big = String::from("[\n");
    while big.len() < (1 << 20) + 10 {
        big.push_str("  {\"id\": 1, \"name\": \"a row of data\"},\n");
    }
    big.push_str("  {}\n]\n");
    r.file("data/big.json", &big)
        .file(
            "src/gen.rs",
            "// Code generated by protoc. DO NOT EDIT.\npub const X: u32 = 1;\n",
        )
        .file("web/app.min.js", format!("var a={};\n", "1,".repeat(2000)));
    let rep = r.analyze();
    let huge = get(&rep, "huge-files");
    assert_eq!(
        (huge.priority, huge.evidence[0].path.as_str()),
        (Priority::Low, "data/big.json")
    );
    assert_eq!(rep.large_files[0].path, "data/big.json");
    let json_lines = rep
        .languages
        .iter()
        .find(|l| l.name == "JSON")
        .expect("json counted");
    assert!(json_lines.code > 25_000, "huge files are still counted");
    let g: Vec<_> = get(&rep, "generated-files")
        .evidence
        .iter()
        .map(|e| e.path.as_str())
        .collect();
    assert_eq!(g, vec!["src/gen.rs", "web/app.min.js"]);
}

#[test]
fn oversized_files_and_long_functions() {
    let r = clean_rust();
    let mut long = String::from("pub fn long(x: u32) -> u32 {\n    let mut y = x;\n");
    for i in 0..120 {
        long.push_str(&format!("    y = y.wrapping_add({i});\n"));
    }
    long.push_str("    y\n}\n");
    r.file("src/long.rs", &long)
        .file("src/big.rs", rust_source(70));
    let rep = r.analyze();
    let f = get(&rep, "long-functions");
    assert_eq!(f.priority, Priority::Low);
    assert_eq!(
        (f.evidence[0].path.as_str(), f.evidence[0].line),
        ("src/long.rs", Some(1))
    );
    assert!(
        f.evidence[0].note.contains("fn long (124 lines)"),
        "{}",
        f.evidence[0].note
    );
    let o = get(&rep, "oversized-files");
    assert_eq!(o.evidence[0].path, "src/big.rs");
    assert_eq!(o.priority, Priority::Low);
}

#[test]
fn complexity_and_nesting() {
    let r = clean_rust();
    let mut c = String::from("pub fn classify(x: u32) -> u32 {\n");
    for i in 0..110 {
        c.push_str(&format!("    if x == {i} {{ return {i}; }}\n"));
    }
    c.push_str("    0\n}\n");
    let mut deep = String::from("pub fn deep(x: u32) -> u32 {\n");
    for i in 0..9 {
        deep.push_str(&format!("{}if x > {i} {{\n", "    ".repeat(i + 1)));
    }
    deep.push_str(&format!("{}return x;\n", "    ".repeat(10)));
    for i in (0..9).rev() {
        deep.push_str(&format!("{}}}\n", "    ".repeat(i + 1)));
    }
    deep.push_str("    0\n}\n");
    r.file("src/classify.rs", &c).file("src/deep.rs", &deep);
    let rep = r.analyze();
    let f = get(&rep, "high-complexity");
    assert_eq!(
        (f.priority, f.evidence[0].path.as_str()),
        (Priority::Medium, "src/classify.rs")
    );
    let d = get(&rep, "deep-nesting");
    assert_eq!(
        (d.evidence[0].path.as_str(), d.evidence[0].line),
        ("src/deep.rs", Some(10))
    );
    assert!(d.evidence[0].note.contains("depth 10"));
}

#[test]
fn duplicated_files_and_blocks() {
    let r = clean_rust();
    let body = rust_source(3);
    r.file("src/a.rs", &body).file("src/b.rs", &body);
    let mut block = String::new();
    for i in 0..300 {
        block.push_str(&format!(
            "    let value_{i} = compute_something({i}, \"label {i}\");\n"
        ));
    }
    r.file("src/c.rs", format!("pub fn c() {{\n{block}}}\n"))
        .file(
            "src/d.rs",
            format!("pub fn d() {{\n    let other = 1;\n{block}}}\n"),
        );
    let rep = r.analyze();
    let f = get(&rep, "duplicate-files");
    assert_eq!(f.evidence[0].path, "src/b.rs");
    assert!(f.evidence[0].note.contains("src/a.rs"));
    let d = get(&rep, "duplicated-code");
    assert!(
        d.evidence
            .iter()
            .all(|e| e.path == "src/c.rs" && e.note.contains("src/d.rs")),
        "{:?}",
        d.evidence
    );
}

#[test]
fn todo_density() {
    let r = clean_rust();
    let mut t = String::new();
    for i in 0..12 {
        t.push_str(&format!("// TODO: handle case {i}\npub fn g{i}() {{}}\n"));
    }
    r.file("src/todo.rs", &t);
    let rep = r.analyze();
    let f = get(&rep, "todo-density");
    assert_eq!(
        (f.priority, f.evidence[0].path.as_str()),
        (Priority::Low, "src/todo.rs")
    );
    assert!(f.description.starts_with("12 TODO"));
}

#[test]
fn weak_documentation() {
    let r = clean_rust();
    let mut plain = String::new();
    for i in 0..260 {
        plain.push_str(&format!(
            "pub fn h{i}(x: u32) -> u32 {{\n    let y = x + {i};\n    y * 2\n}}\n\n"
        ));
    }
    let mut more = String::new();
    for i in 0..300 {
        more.push_str(&format!(
            "pub fn k{i}(x: u32) -> u32 {{\n    let y = x + {i};\n    y * 3\n}}\n\n"
        ));
    }
    r.file("src/plain.rs", &plain).file("src/more.rs", &more);
    std::fs::remove_dir_all(r.abs("docs")).expect("rm docs");
    let rep = r.analyze();
    assert_eq!(priority(&rep, "no-docs"), Priority::Low);
    assert_eq!(priority(&rep, "low-comment-ratio"), Priority::Low);
    assert!(!rep.has_docs);
}

#[test]
fn community_files() {
    let r = clean_rust();
    r.remove("CONTRIBUTING.md")
        .remove("SECURITY.md")
        .file(".github/SECURITY.md", "# Security\n");
    let rep = r.analyze();
    let f = get(&rep, "missing-community-files");
    assert_eq!(f.evidence.len(), 1);
    assert_eq!(f.evidence[0].path, "CONTRIBUTING.md");
}

#[test]
fn linter_configuration_per_stack() {
    let r = clean_rust();
    r.remove(".editorconfig");
    let rep = r.analyze();
    assert!(get(&rep, "no-linter-config").description.contains("rust"));
    r.file("rustfmt.toml", "edition = \"2021\"\n");
    assert!(!has(&r.analyze(), "no-linter-config"));
    r.remove("rustfmt.toml").file(
        "Cargo.toml",
        "[package]\nname = \"demo\"\nlicense = \"MIT\"\n[lints.rust]\nunsafe_code = \"forbid\"\n",
    );
    assert!(!has(&r.analyze(), "no-linter-config"));
}

#[test]
fn gitignore_missing_or_weak() {
    let r = clean_rust();
    r.remove(".gitignore");
    assert_eq!(
        priority(&r.analyze(), "missing-gitignore"),
        Priority::Medium
    );
    r.file(".gitignore", "*.log\n");
    let rep = r.analyze();
    let f = get(&rep, "weak-gitignore");
    assert!(
        f.description.contains(".env") && f.description.contains("target"),
        "{}",
        f.description
    );
}

#[test]
fn ranking_of_a_messy_repository() {
    let r = Repo::new();
    r.file(
        "main.py",
        format!(
            "import os\nTOKEN = \"{}\"\n\ndef main():\n    print('hi')\n",
            ["ghp_", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"].concat()
        ),
    )
    .file(
        "app.py",
        (0..60)
            .map(|i| format!("def f{i}(x):\n    return x + {i}\n\n"))
            .collect::<String>(),
    )
    .file("requirements.txt", "flask==3.0\n")
    .file("Dockerfile", "FROM python:3.12\nCOPY . .\n");
    let rep = r.analyze();
    let got: Vec<(&str, Priority)> = rep
        .findings
        .iter()
        .map(|f| (f.id.as_str(), f.priority))
        .collect();
    assert_eq!(
        got,
        vec![
            ("committed-secrets", Priority::Critical),
            // Within a tier: confidence per hour of effort (0.9/0.5 before 0.95/1.0 before 0.8/8).
            ("missing-license", Priority::High),
            ("missing-readme", Priority::High),
            ("no-tests", Priority::High),
            ("missing-gitignore", Priority::Medium),
            ("dockerfile-root-user", Priority::Medium),
            ("no-ci", Priority::Medium),
            ("missing-dockerignore", Priority::Low),
            ("no-dependency-updates", Priority::Low),
            ("unpinned-docker-images", Priority::Low),
            ("missing-community-files", Priority::Low),
            ("no-linter-config", Priority::Low),
        ]
    );
    assert_eq!(rep.project_types, vec!["flask", "python"]);
}

fn git(dir: &std::path::Path, args: &[&str]) -> bool {
    std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.org",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn hotspots_from_git_history() {
    let r = clean_rust();
    if !git(r.path(), &["init", "-q"]) {
        eprintln!("git not available: skipping");
        return;
    }
    let branchy = |n: usize| {
        (0..12 + n)
            .map(|i| format!("pub fn b{i}(x: u32) -> bool {{\n    x > {i} && x < 100\n}}\n"))
            .collect::<String>()
    };
    for i in 0..4 {
        r.file("src/churn.rs", branchy(i));
        assert!(
            git(r.path(), &["add", "-A"]) && git(r.path(), &["commit", "-qm", &format!("c{i}")])
        );
    }
    let rep = r.analyze();
    let f = get(&rep, "hotspots");
    assert_eq!(f.priority, Priority::Medium);
    assert_eq!(f.evidence[0].path, "src/churn.rs");
    assert!(
        f.evidence[0].note.contains("x 4 commits"),
        "{}",
        f.evidence[0].note
    );
    assert!(f.hotspot > 0.0);
    // Without history there is no hotspot finding.
    assert!(!has(&clean_rust().analyze(), "hotspots"));
}

#[test]
fn runs_on_a_background_thread_and_streams_progress() {
    use orchestrator_tui::analysis::{AnalysisProgress, analyze_static};
    let r = clean_rust();
    for i in 0..1100 {
        r.file(&format!("gen/m{i}.py"), "x = 1\n");
    }
    let path = r.path().to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let handle = std::thread::spawn(move || {
        analyze_static(&path, &|p| {
            let _ = tx.lock().map(|t| t.send(p));
        })
    });
    let report = handle.join().expect("thread").expect("analysis");
    let events: Vec<AnalysisProgress> = rx.try_iter().collect();
    let walking = events
        .iter()
        .filter(|e| matches!(e, AnalysisProgress::Walking { .. }))
        .count();
    assert!(walking >= 2, "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AnalysisProgress::Checking { .. }))
    );
    assert_eq!(
        events.last(),
        Some(&AnalysisProgress::Done {
            files: report.files,
            duration_ms: report.duration_ms
        })
    );
    let max_files = events
        .iter()
        .filter_map(|e| match e {
            AnalysisProgress::Walking { files, .. } => Some(*files),
            _ => None,
        })
        .max();
    assert_eq!(
        max_files,
        Some(report.files),
        "the last walking event has the total"
    );
}
