//! Per-language totals against tokei on real trees nobody here wrote (the crate sources in
//! cargo's registry, the machine's Python standard library). Needs the `tokei` binary (on PATH or
//! in $TOKEI) and takes a while, so it is ignored by default:
//!
//! `cargo test --release --test analyzer -- accuracy --ignored --nocapture`
//!
//! Trees can be given in $ANALYZER_TREES (separated by `:`). tokei runs with `--hidden` and the
//! analyzer's always-skipped folders excluded so both see the same files. Compared: code+comment
//! lines and blank lines per language, tokei's totals including embedded blocks (Markdown in Rust
//! doc comments, JavaScript in HTML), for languages with at least 1,000 such lines.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use orchestrator_tui::analysis::{analyze_static, known_files::SKIP_DIRS};
use serde_json::Value;

fn summarise(stats: &Value) -> (u64, u64, u64) {
    let n = |k: &str| stats[k].as_u64().unwrap_or(0);
    let (mut c, mut m, mut b) = (n("code"), n("comments"), n("blanks"));
    if let Some(blobs) = stats["blobs"].as_object() {
        for v in blobs.values() {
            let (x, y, z) = summarise(v);
            c += x;
            m += y;
            b += z;
        }
    }
    (c, m, b)
}

/// tokei's per-language (non-blank, blank) totals, by display name.
fn tokei(bin: &str, tree: &Path) -> Option<BTreeMap<String, (u64, u64)>> {
    let mut cmd = Command::new(bin);
    cmd.args(["--hidden", "-o", "json"]);
    for d in SKIP_DIRS {
        cmd.args(["-e", d]);
    }
    let out = cmd.arg(tree).output().ok()?;
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    let mut map = BTreeMap::new();
    for (lang, data) in v.as_object()? {
        if lang == "Total" {
            continue;
        }
        let (mut nb, mut bl) = (0, 0);
        for r in data["reports"].as_array()? {
            let (c, m, b) = summarise(&r["stats"]);
            nb += c + m;
            bl += b;
        }
        map.insert(lang.clone(), (nb, bl));
    }
    Some(map)
}

fn trees() -> Vec<PathBuf> {
    if let Ok(t) = std::env::var("ANALYZER_TREES") {
        return t
            .split(':')
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect();
    }
    let mut out = Vec::new();
    let home = std::env::var("HOME").unwrap_or_default();
    if let Ok(rd) = std::fs::read_dir(Path::new(&home).join(".cargo/registry/src")) {
        out.extend(
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .take(1),
        );
    }
    let py = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['stdlib'])",
        ])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    out.extend(py.filter(|p| !p.is_empty()).map(PathBuf::from));
    out
}

#[test]
#[ignore = "needs the tokei binary and large real trees; run with --ignored"]
fn per_language_totals_within_two_percent_of_tokei() {
    let bin = std::env::var("TOKEI").unwrap_or_else(|_| "tokei".into());
    if Command::new(&bin).arg("--version").output().is_err() {
        eprintln!("tokei not found ({bin}): skipping");
        return;
    }
    // tokei's JSON keys are its enum names; map the ones whose display name differs.
    let key_of = |name: &str| match name {
        "C++" => "Cpp".to_string(),
        "C Header" => "CHeader".into(),
        "C++ Header" => "CppHeader".into(),
        "C#" => "CSharp".into(),
        "Plain Text" => "Text".into(),
        "GNU Style Assembly" => "AssemblyGAS".into(),
        "Module-Definition" => "ModuleDef".into(),
        "Protocol Buffers" => "Protobuf".into(),
        "Shell" => "Sh".into(),
        "BASH" => "Bash".into(),
        "Objective-C" => "ObjectiveC".into(),
        "Objective-C++" => "ObjectiveCpp".into(),
        "F#" => "FSharp".into(),
        "Visual Basic" => "VisualBasic".into(),
        "LESS" => "Less".into(),
        "GraphQL" => "Graphql".into(),
        other => other.replace(' ', ""),
    };
    let mut failures = Vec::new();
    for tree in trees() {
        let Some(theirs) = tokei(&bin, &tree) else {
            continue;
        };
        let ours = analyze_static(&tree, &|_| {}).expect("analysis");
        eprintln!("{}: {} files", tree.display(), ours.files);
        for l in &ours.languages {
            let key = key_of(&l.name);
            let theirs = theirs.get(&key).or_else(|| theirs.get(&l.name)).copied();
            let Some((t_nb, t_bl)) = theirs else { continue };
            for (what, o, t) in [
                ("code+comments", l.code + l.comments, t_nb),
                ("blanks", l.blanks, t_bl),
            ] {
                if t < 1000 {
                    continue;
                }
                let diff = 100.0 * (o as f64 - t as f64) / t as f64;
                eprintln!(
                    "  {:<20} {what:<14} tokei {t:>9} ours {o:>9} {diff:+.3}%",
                    l.name
                );
                if diff.abs() > 2.0 {
                    failures.push(format!("{} {} {what}: {diff:+.2}%", tree.display(), l.name));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
