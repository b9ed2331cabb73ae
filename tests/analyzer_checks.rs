//! Each check of analyzer.md's table on fixture repositories: positive and negative cases,
//! priorities, and the ranked order.

mod analyzer_common;

use analyzer_common::*;
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

// Fake credentials are assembled at run time so that no scanner flags this source file.
fn aws() -> String {
    ["AKIA", "Z7QJ4N2MXK5P3WLR"].concat()
}

#[test]
fn committed_secrets_are_critical_first_and_masked() {
    let r = clean_rust();
    r.file("config/prod.py", format!("AWS_KEY = \"{}\"\n", aws()))
        .file("deploy/id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n")
        .file(".gitignore", "/target\n")
        .file(".env", "# local\nDATABASE_URL=postgres://app:Zx81Lq0Pm3Vb6Nc9@db/app\nEMPTY=\n");
    let rep = r.analyze();
    assert_eq!(rep.findings[0].id, "committed-secrets");
    let f = get(&rep, "committed-secrets");
    assert_eq!(
        (f.priority, f.category),
        (Priority::Critical, Category::Security)
    );
    let paths: Vec<_> = f
        .evidence
        .iter()
        .map(|e| (e.path.as_str(), e.line))
        .collect();
    assert_eq!(
        paths,
        vec![
            (".env", Some(2)),
            ("config/prod.py", Some(1)),
            ("deploy/id_rsa", Some(1))
        ]
    );
    let json = serde_json::to_string(&rep).expect("json");
    assert!(
        !json.contains(&aws()) && !json.contains("Zx81Lq0Pm3Vb6Nc9"),
        "secrets must be masked"
    );
    assert!(
        json.contains("AKIA"),
        "the masked form keeps the public prefix"
    );
}

#[test]
fn secret_negatives_templates_examples_and_ignored_env() {
    let r = clean_rust();
    r.file(".env", "API_TOKEN=Zx81Lq0Pm3Vb6Nc9Rt2Y\n") // ignored by .gitignore
        .file(".env.example", "API_TOKEN=Zx81Lq0Pm3Vb6Nc9Rt2Y\n")
        .file(
            "src/doc.py",
            "KEY = \"AKIAIOSFODNN7EXAMPLE\"\napi_key = os.environ[\"API_KEY\"]\n",
        );
    let rep = r.analyze();
    assert!(
        !has(&rep, "committed-secrets") && !has(&rep, "possible-secrets"),
        "{:?}",
        ids(&rep)
    );
}

#[test]
fn high_entropy_assignment_is_a_possible_secret() {
    let r = clean_rust();
    r.file(
        "src/client.js",
        "const apiKey = \"q8Zr2Lm9Xv4Tn7Wp1Ks6\";\n",
    );
    let rep = r.analyze();
    let f = get(&rep, "possible-secrets");
    assert_eq!(f.priority, Priority::High);
    assert_eq!(f.evidence[0].path, "src/client.js");
    assert!(
        !serde_json::to_string(&rep)
            .expect("json")
            .contains("q8Zr2Lm9Xv4Tn7Wp1Ks6")
    );
}

#[test]
fn dangerous_workflows() {
    let r = clean_rust();
    r.file(
        ".github/workflows/pr.yml",
        "on: pull_request_target\npermissions: write-all\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n        with:\n          ref: ${{ github.event.pull_request.head.sha }}\n      - run: echo \"${{ github.event.pull_request.title }}\"\n      - run: cargo test\n",
    );
    let rep = r.analyze();
    assert_eq!(priority(&rep, "ci-pr-target-checkout"), Priority::Critical);
    assert_eq!(get(&rep, "ci-pr-target-checkout").evidence[0].line, Some(9));
    assert_eq!(priority(&rep, "ci-script-injection"), Priority::High);
    assert_eq!(get(&rep, "ci-script-injection").evidence[0].line, Some(10));
    assert_eq!(priority(&rep, "unpinned-actions"), Priority::Medium);
    assert_eq!(
        get(&rep, "workflow-permissions").evidence[0].note,
        "permissions: write-all"
    );
    assert_eq!(ids(&rep)[0], "ci-pr-target-checkout");
}

#[test]
fn safe_workflows_are_not_flagged() {
    let r = clean_rust();
    r.file(
        ".github/workflows/label.yml",
        "on: pull_request_target\npermissions:\n  pull-requests: write\njobs:\n  l:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/labeler@8558fd74291d67161a8a78ce36a881fa63b766a9\n      - run: echo \"$TITLE\"\n        env:\n          TITLE: ${{ github.event.pull_request.title }}\n",
    );
    let rep = r.analyze();
    for id in [
        "ci-pr-target-checkout",
        "ci-script-injection",
        "unpinned-actions",
        "workflow-permissions",
    ] {
        assert!(!has(&rep, id), "{id} in {:?}", ids(&rep));
    }
    let r = clean_rust();
    r.file(
        ".github/workflows/ci.yml",
        CI.replace("permissions:\n  contents: read\n", ""),
    );
    assert!(
        get(&r.analyze(), "workflow-permissions").evidence[0]
            .note
            .contains("no top-level")
    );
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
fn dockerfile_practices() {
    let r = clean_rust();
    r.file(
        "Dockerfile",
        "FROM python:3.12\nRUN curl -fsSL https://get.example.sh | sh\nCOPY . /app\n",
    );
    let rep = r.analyze();
    assert_eq!(priority(&rep, "curl-pipe-shell"), Priority::High);
    assert_eq!(priority(&rep, "dockerfile-root-user"), Priority::Medium);
    assert_eq!(priority(&rep, "unpinned-docker-images"), Priority::Low);
    assert_eq!(priority(&rep, "missing-dockerignore"), Priority::Low);
    assert!(!has(&rep, "dockerfile-latest-tag"));

    r.file(
        "Dockerfile",
        "FROM node:latest AS build\nFROM build\nUSER root\n",
    );
    let rep = r.analyze();
    assert!(has(&rep, "dockerfile-latest-tag") && has(&rep, "dockerfile-root-user"));

    let digest = "a".repeat(64);
    r.file(
        "Dockerfile",
        format!(
            "FROM python:3.12@sha256:{digest}\nRUN pip install -r requirements.txt\nUSER app\n"
        ),
    )
    .file(".dockerignore", ".git\n.env\n");
    let rep = r.analyze();
    for id in [
        "curl-pipe-shell",
        "dockerfile-root-user",
        "unpinned-docker-images",
        "missing-dockerignore",
        "dockerfile-latest-tag",
    ] {
        assert!(!has(&rep, id), "{id} in {:?}", ids(&rep));
    }
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
fn framework_footguns() {
    let r = clean_rust();
    r.file("app/settings.py", "DEBUG = True\nSECRET_KEY = 'django-insecure-0123456789'\nCORS_ALLOW_ALL_ORIGINS = True\n")
        .file("app/api.py", "app.add_middleware(CORSMiddleware, allow_origins=[\"*\"])\nif __name__ == '__main__':\n    app.run(debug=True)\n")
        .file("web/server.js", "const app = express();\napp.use(cors());\n");
    let rep = r.analyze();
    let d: Vec<_> = get(&rep, "debug-mode-enabled")
        .evidence
        .iter()
        .map(|e| (e.path.as_str(), e.line))
        .collect();
    assert_eq!(
        d,
        vec![("app/api.py", Some(3)), ("app/settings.py", Some(1))]
    );
    assert_eq!(priority(&rep, "hardcoded-secret-key"), Priority::High);
    assert!(
        !serde_json::to_string(&rep)
            .expect("json")
            .contains("django-insecure-0123456789")
    );
    assert_eq!(get(&rep, "cors-wildcard").evidence.len(), 3);

    let r = clean_rust();
    r.file("app/settings.py", "import os\nDEBUG = os.environ.get('DEBUG') == '1'\nSECRET_KEY = os.environ['SECRET_KEY']\n")
        .file("app/api.py", "app.add_middleware(CORSMiddleware, allow_origins=[\"https://example.com\"])\n")
        .file("web/server.js", "app.use(cors({ origin: 'https://example.com' }));\n");
    let rep = r.analyze();
    for id in [
        "debug-mode-enabled",
        "hardcoded-secret-key",
        "cors-wildcard",
    ] {
        assert!(!has(&rep, id), "{id} in {:?}", ids(&rep));
    }
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
