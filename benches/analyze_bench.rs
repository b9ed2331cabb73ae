//! Benchmark of the analyzer's static stage against `tokei` on the same tree.
//!
//! `cargo bench --bench analyze_bench -- PATH [--runs N] [--tokei]` prints one JSON
//! document: the median wall time of `analyze_static` over N runs and, with `--tokei` (when the
//! `tokei` binary is on PATH or in $TOKEI), the median of tokei run alternately with it on the same
//! tree (hidden files included and the analyzer's always-skipped folders excluded, so both see the
//! same files). `--report` prints the analysis report instead; `--languages` just the per-language
//! table; `--files LANGUAGE` the per-file counts of one language (to chase count differences).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use orchestrator_tui::analysis::{analyze_static, known_files::SKIP_DIRS, languages, walk};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn tokei_cmd(path: &PathBuf) -> Command {
    let bin = std::env::var("TOKEI").unwrap_or_else(|_| "tokei".into());
    let mut c = Command::new(bin);
    c.arg("--hidden");
    for d in SKIP_DIRS {
        c.args(["-e", d]);
    }
    c.arg(path).stdout(Stdio::null()).stderr(Stdio::null());
    c
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut path = PathBuf::from(".");
    let mut runs = 7usize;
    let (mut with_tokei, mut report, mut languages) = (false, false, false);
    let mut files_of: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => {
                runs = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(runs)
                    .max(1)
            }
            "--tokei" => with_tokei = true,
            "--report" => report = true,
            "--languages" => languages = true,
            "--files" => files_of = it.next().cloned(),
            // `cargo bench` appends `--bench` to the arguments it passes.
            "--bench" => {}
            p => path = PathBuf::from(p),
        }
    }
    if let Some(lang) = files_of {
        let acc = walk::walk(&path, 0, &|_| {});
        for r in acc
            .records
            .iter()
            .filter(|r| r.lang.is_some_and(|l| languages::name(l) == lang))
        {
            println!(
                "{} {} {} {}",
                r.rel, r.counts.code, r.counts.comments, r.counts.blanks
            );
        }
        return;
    }
    if report || languages {
        match analyze_static(&path, &|_| {}) {
            Ok(r) if languages => {
                println!(
                    "{}",
                    serde_json::json!({"languages": r.languages, "files": r.files})
                );
            }
            Ok(r) => println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default()),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        }
        return;
    }
    let tokei_ok = with_tokei && tokei_cmd(&path).status().is_ok_and(|s| s.success());
    // One warm-up of each so the page cache is equally warm.
    let _ = analyze_static(&path, &|_| {});
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        last = analyze_static(&path, &|_| {}).ok();
        ours.push(t.elapsed().as_secs_f64() * 1000.0);
        if tokei_ok {
            let t = Instant::now();
            let _ = tokei_cmd(&path).status();
            theirs.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let (files, code, findings) =
        last.map_or((0, 0, 0), |r| (r.files, r.lines.code, r.findings.len()));
    let ours_ms = median(ours.clone());
    let tokei_ms = tokei_ok.then(|| median(theirs.clone()));
    println!(
        "{}",
        serde_json::json!({
            "path": path,
            "runs": runs,
            "files": files,
            "code_lines": code,
            "findings": findings,
            "static_stage_median_ms": (ours_ms * 10.0).round() / 10.0,
            "static_stage_runs_ms": ours.iter().map(|x| (x * 10.0).round() / 10.0).collect::<Vec<_>>(),
            "tokei_median_ms": tokei_ms.map(|x| (x * 10.0).round() / 10.0),
            "tokei_runs_ms": theirs.iter().map(|x| (x * 10.0).round() / 10.0).collect::<Vec<_>>(),
            "ratio_ours_to_tokei": tokei_ms.map(|t| (ours_ms / t * 1000.0).round() / 1000.0),
        })
    );
}
