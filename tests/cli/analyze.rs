//! `analyze` through the real binary: the `--json` contract (with the simulated providers'
//! semantic stage, and without it under `--no-llm`), bad paths, Markdown, and the stored analysis.

use crate::support::binary::*;
use std::path::{Path, PathBuf};

/// A small Python project: a package with a test, a README, no CI, no licence.
fn fixture_repo(root: &Path) -> PathBuf {
    let repo = root.join("repo");
    let files: &[(&str, &str)] = &[
        (
            "README.md",
            "# Todo\n\nA tiny todo list.\n\n## Install\n\npip install .\n\n## Usage\n\ntodo add milk\n",
        ),
        (
            "pyproject.toml",
            "[project]\nname = \"todo\"\nversion = \"0.1.0\"\ndependencies = [\"click\"]\n",
        ),
        (
            "todo/__init__.py",
            "\"\"\"Todo package.\"\"\"\n\nITEMS = []\n\n\ndef add(item):\n    # keep order\n    ITEMS.append(item)\n    return len(ITEMS)\n",
        ),
        (
            "todo/cli.py",
            "import sys\n\nfrom todo import add\n\n\ndef main():\n    if len(sys.argv) > 2:\n        print(add(sys.argv[2]))\n    else:\n        print(\"usage: todo add ITEM\")\n",
        ),
        (
            "tests/test_add.py",
            "from todo import add\n\n\ndef test_add():\n    assert add(\"x\") == 1\n",
        ),
    ];
    for (rel, text) in files {
        let p = repo.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    repo
}

const PRIORITIES: [&str; 4] = ["CRITICAL", "HIGH", "MEDIUM", "LOW"];

fn check_contract(v: &serde_json::Value) {
    for k in [
        "path",
        "files",
        "lines",
        "languages",
        "project_types",
        "has_tests",
        "has_ci",
        "has_docs",
        "findings",
        "semantic",
        "duration_ms",
    ] {
        assert!(v.get(k).is_some(), "missing {k} in {v}");
    }
    assert_eq!(v["files"], 5);
    for k in ["code", "comments", "blanks"] {
        assert!(v["lines"][k].is_u64(), "lines.{k}");
    }
    let langs = v["languages"].as_array().expect("languages");
    let py = langs
        .iter()
        .find(|l| l["name"] == "Python")
        .expect("Python in languages");
    for k in ["files", "code", "comments", "blanks"] {
        assert!(py[k].is_u64(), "languages[].{k}");
    }
    assert_eq!(py["files"], 3);
    assert!(v["project_types"].is_array());
    assert_eq!(v["has_tests"], true);
    assert_eq!(v["has_ci"], false);
    assert!(v["duration_ms"].is_u64());
    let findings = v["findings"].as_array().expect("findings");
    assert!(!findings.is_empty());
    let mut last_tier = 0;
    for f in findings {
        for k in [
            "id",
            "title",
            "description",
            "impact",
            "priority",
            "category",
            "effort_hours",
            "confidence",
            "evidence",
        ] {
            assert!(f.get(k).is_some(), "finding without {k}: {f}");
        }
        let p = f["priority"].as_str().expect("priority");
        let tier = PRIORITIES
            .iter()
            .position(|x| *x == p)
            .unwrap_or_else(|| panic!("unknown priority {p}"));
        assert!(tier >= last_tier, "findings not sorted by priority");
        last_tier = tier;
        for e in f["evidence"].as_array().expect("evidence") {
            assert!(e["path"].is_string() && e["note"].is_string(), "{e}");
            assert!(e["line"].is_null() || e["line"].is_u64(), "{e}");
        }
    }
    let ids: Vec<&str> = findings.iter().filter_map(|f| f["id"].as_str()).collect();
    assert!(ids.contains(&"missing-license"), "{ids:?}");
}

fn stored_analyses(data: &Path) -> Vec<(String, bool)> {
    let c = rusqlite::Connection::open(data.join("orchestrator.db")).expect("open db");
    let mut st = c
        .prepare("SELECT path, has_semantic FROM analyses ORDER BY id")
        .expect("prepare");
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[test]
fn json_has_the_contract_fields_and_the_semantic_object() {
    let env = Env::new("");
    let repo = fixture_repo(env.dir.path());
    let (v, out) = env.json(&["analyze", repo.to_str().expect("utf-8"), "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    check_contract(&v);
    let sem = v["semantic"].as_object().expect("semantic is an object");
    assert!(sem["purpose"].as_str().is_some_and(|p| !p.is_empty()));
    assert!(v["semantic_note"].is_null());
    assert!(
        v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["source"] == "llm"),
        "the model's suggestion is merged"
    );
    let stored = stored_analyses(&env.data());
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0], (v["path"].as_str().expect("path").into(), true));
}

#[test]
fn no_llm_gives_a_null_semantic_and_a_note() {
    let env = Env::new("");
    let repo = fixture_repo(env.dir.path());
    let (v, out) = env.json(&[
        "analyze",
        repo.to_str().expect("utf-8"),
        "--json",
        "--no-llm",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    check_contract(&v);
    assert!(v["semantic"].is_null());
    let note = v["semantic_note"].as_str().expect("semantic_note");
    assert!(note.contains("--no-llm"), "{note}");
    assert!(
        v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .all(|f| f["source"] == "static")
    );
    assert!(!stored_analyses(&env.data())[0].1);
}

#[test]
fn the_current_directory_is_the_default_path() {
    let env = Env::new("");
    let repo = fixture_repo(env.dir.path());
    let out = env
        .cmd()
        .args(["analyze", "--json", "--no-llm"])
        .current_dir(&repo)
        .output()
        .expect("run");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(v["files"], 5);
}

#[test]
fn a_missing_path_and_a_file_exit_2_with_one_line() {
    let env = Env::new("");
    let repo = fixture_repo(env.dir.path());
    let missing = env.dir.path().join("no-such-folder");
    let file = repo.join("README.md");
    for (p, says) in [(&missing, "not found"), (&file, "is a file")] {
        let out = env.run(&["analyze", p.to_str().expect("utf-8"), "--json"]);
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.contains(says), "{err}");
        assert!(out.stdout.is_empty(), "nothing on stdout");
    }
    // Bad input changes nothing: no data directory was created.
    assert!(!env.data().join("orchestrator.db").exists());
}

#[test]
fn markdown_prints_markdown() {
    let env = Env::new("");
    let repo = fixture_repo(env.dir.path());
    let out = env.run(&[
        "analyze",
        repo.to_str().expect("utf-8"),
        "--markdown",
        "--no-llm",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.starts_with("# Analysis of `"), "{md}");
    assert!(md.contains("|---:|"), "a Markdown table: {md}");
    assert!(md.contains("## Languages"), "{md}");
    assert!(md.contains("Python"), "{md}");
    // The default is the plain-text rendering, not Markdown.
    let out = env.run(&["analyze", repo.to_str().expect("utf-8"), "--no-llm"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Analysis of "), "{text}");
    assert!(text.contains("Findings ("), "{text}");
}
