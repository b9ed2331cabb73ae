//! Property tests of the parsers that read untrusted text (issue 10), bounded so they run in CI.
//! The same entry points have cargo-fuzz targets in `fuzz/` for long local runs.
//!
//! - decomposition parser: never panics; valid generated plans (fenced, wrapped, with prose or a
//!   trailing comma) come back with their ids, types and dependencies;
//! - score parser: never panics, a score is always within 0..=1, `{"score": x}` gives x back;
//! - SSE parser: the same events whatever the chunking of the bytes;
//! - config loading: arbitrary TOML never panics;
//! - `artifacts::safe_join`: never a path outside the output directory.

use orchestrator_tui::artifacts::safe_join;
use orchestrator_tui::config::Config;
use orchestrator_tui::domain::TaskType;
use orchestrator_tui::engine::decompose::parse_plan;
use orchestrator_tui::engine::feedback::parse_score;
use orchestrator_tui::providers::sse::{SseEvent, SseParser};
use proptest::prelude::*;
use std::path::{Component, Path};

/// `n` cases, or `PROPTEST_CASES` when set (long local runs).
fn cases(n: u32) -> ProptestConfig {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n);
    ProptestConfig {
        cases: n,
        ..ProptestConfig::default()
    }
}

fn config() -> ProptestConfig {
    cases(1024)
}

/// Text made of fragments that matter to the parsers, plus arbitrary characters.
fn texty(fragments: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            3 => proptest::sample::select(fragments).prop_map(String::from),
            1 => any::<char>().prop_map(|c| c.to_string()),
            1 => "[ -~]{0,6}",
        ],
        0..max,
    )
    .prop_map(|v| v.concat())
}

// ---------------------------------------------------------------------------------------------
// Decomposition parser

const PLAN_FRAGMENTS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "\"",
    "\\",
    "```",
    "```json\n",
    "\n",
    " ",
    "\"id\"",
    "\"type\"",
    "\"prompt\"",
    "\"dependencies\"",
    "\"tasks\"",
    "\"t1\"",
    "\"summarization\"",
    "\"code_generation\"",
    "1",
    "0.5",
    "null",
    "true",
    "-",
    "e",
    "é",
    "\u{0}",
    "//",
    "/*",
];

#[derive(Debug, Clone)]
struct PlanItem {
    id: String,
    ty: TaskType,
    prompt: String,
    deps: Vec<usize>,
}

fn plan_items() -> impl Strategy<Value = Vec<PlanItem>> {
    proptest::collection::vec(
        (
            "[a-zA-Z][a-zA-Z0-9_-]{0,15}",
            proptest::sample::select(TaskType::ALL.to_vec()),
            "[a-zA-Z0-9 .,!?'-]{1,40}",
            proptest::collection::vec(any::<usize>(), 0..3),
        ),
        1..=50,
    )
    .prop_map(|raw| {
        let mut seen = std::collections::HashSet::new();
        raw.into_iter()
            .filter(|(id, ..)| seen.insert(id.clone()))
            .map(|(id, ty, prompt, deps)| PlanItem {
                id,
                ty,
                prompt,
                deps,
            })
            .collect::<Vec<_>>()
    })
    .prop_filter("prompts must not be blank", |items| {
        items.iter().all(|i| !i.prompt.trim().is_empty())
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn plan_parser_never_panics(text in texty(PLAN_FRAGMENTS, 60)) {
        let _ = parse_plan(&text, &Config::defaults());
    }

    #[test]
    fn plan_parser_never_panics_on_any_string(text in any::<String>()) {
        let _ = parse_plan(&text, &Config::defaults());
    }

    #[test]
    fn valid_plans_round_trip(items in plan_items(), shape in 0u8..5) {
        // Dependencies point at earlier items only (a DAG the parser keeps as is).
        let json_items: Vec<serde_json::Value> = items
            .iter()
            .enumerate()
            .map(|(i, it)| {
                let deps: Vec<String> = if i == 0 {
                    vec![]
                } else {
                    let mut d: Vec<String> =
                        it.deps.iter().map(|k| items[k % i].id.clone()).collect();
                    d.dedup();
                    d
                };
                serde_json::json!({"id": it.id, "type": it.ty, "prompt": it.prompt, "dependencies": deps})
            })
            .collect();
        let list = serde_json::to_string_pretty(&json_items).unwrap();
        let text = match shape {
            0 => list.clone(),
            1 => format!("Here is the plan:\n```json\n{list}\n```\nGood luck."),
            2 => format!("{{\"tasks\": {list}}}"),
            // A trailing comma after the last item.
            3 => format!("{},\n]", list.trim_end().trim_end_matches(']').trim_end()),
            _ => format!("Sure! {list} Let me know."),
        };
        let parsed = parse_plan(&text, &Config::defaults())
            .unwrap_or_else(|e| panic!("{e} on:\n{text}"));
        prop_assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        let ids: Vec<&str> = parsed.tasks.iter().map(|t| t.id.as_str()).collect();
        let want: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        prop_assert_eq!(ids, want);
        for (t, (it, v)) in parsed.tasks.iter().zip(items.iter().zip(&json_items)) {
            prop_assert_eq!(t.task_type, it.ty);
            prop_assert_eq!(&t.prompt, &it.prompt.trim().to_string());
            let deps: Vec<String> = serde_json::from_value(v["dependencies"].clone()).unwrap();
            prop_assert_eq!(&t.dependencies, &deps);
            let (th, iters, max) = Config::defaults().task_defaults(it.ty);
            prop_assert_eq!((t.threshold, t.max_iterations, t.max_output_tokens), (th, iters, max));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Score parser

const SCORE_FRAGMENTS: &[&str] = &[
    "score",
    "Score",
    "SCORE",
    ":",
    "=",
    " ",
    "\"",
    "{",
    "}",
    "```",
    "/10",
    "/100",
    "%",
    ".",
    "0",
    "1",
    "9",
    "10",
    "100",
    "1000",
    "-",
    "e",
    "E",
    "NaN",
    "inf",
    "\"score\":",
    "reason",
    "\n",
    "0.85",
    "1e308",
    "é",
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn score_parser_never_panics_and_stays_in_range(text in texty(SCORE_FRAGMENTS, 40)) {
        if let Some((s, _)) = parse_score(&text) {
            prop_assert!((0.0..=1.0).contains(&s), "{s} from {text:?}");
        }
    }

    #[test]
    fn score_parser_on_any_string(text in any::<String>()) {
        if let Some((s, _)) = parse_score(&text) {
            prop_assert!((0.0..=1.0).contains(&s), "{s} from {text:?}");
        }
    }

    #[test]
    fn json_scores_come_back(x in 0.0f64..=1.0, prose in "[a-z ]{0,20}") {
        let text = format!("{prose}{{\"score\": {x}, \"reason\": \"{prose}\"}}");
        let (s, reason) = parse_score(&text).unwrap_or_else(|| panic!("no score in {text:?}"));
        // serde_json's default float parsing may be 1 ulp off (no `float_roundtrip`).
        prop_assert!((s - x).abs() < 1e-12, "{s} != {x}");
        prop_assert_eq!(reason.as_deref(), Some(prose.as_str()));
    }
}

// ---------------------------------------------------------------------------------------------
// SSE parser

const SSE_FRAGMENTS: &[&str] = &[
    "data:",
    "data: ",
    "event:",
    "event: ping",
    "id:",
    "id: 7",
    "retry: 10",
    ":",
    ": keep-alive",
    "\n",
    "\r",
    "\r\n",
    "\n\n",
    "\r\n\r\n",
    " ",
    "{\"a\":1}",
    "[DONE]",
    "\u{feff}",
    "é",
    "€",
    "\u{0}",
];

fn sse_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => texty(SSE_FRAGMENTS, 60).prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..200),
    ]
}

fn parse_in(bytes: &[u8], cuts: &[usize]) -> Vec<SseEvent> {
    let mut p = SseParser::new();
    let mut out = Vec::new();
    let mut at = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    for c in cuts.into_iter().chain([bytes.len()]) {
        p.feed(&bytes[at..c], &mut out)
            .expect("no line is too long here");
        at = c;
    }
    out.extend(p.finish());
    out
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn sse_events_do_not_depend_on_chunking(
        bytes in sse_bytes(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let whole = parse_in(&bytes, &[]);
        prop_assert_eq!(parse_in(&bytes, &cuts), whole.clone());
        // One byte at a time, the harshest chunking.
        let every: Vec<usize> = (0..bytes.len()).collect();
        prop_assert_eq!(parse_in(&bytes, &every), whole);
    }
}

// ---------------------------------------------------------------------------------------------
// Config loading

const TOML_FRAGMENTS: &[&str] = &[
    "[engine]\n",
    "[retry]\n",
    "[timeouts]\n",
    "[breaker]\n",
    "[simulated]\n",
    "[providers.x]\n",
    "[[policy]]\n",
    "[[models]]\n",
    "[task_types.summarization]\n",
    "[validators.commands.t]\n",
    "concurrency = ",
    "strategy = ",
    "max_retries = ",
    "cooldown_secs = ",
    "latency_ms_min = ",
    "latency_ms_max = ",
    "seed = ",
    "enabled = ",
    "base_url = ",
    "id = ",
    "provider = ",
    "quality = ",
    "threshold = ",
    "command = ",
    "\"cost\"",
    "\"always\"",
    "1",
    "0",
    "-1",
    "3.5",
    "1e400",
    "nan",
    "inf",
    "true",
    "\"x\"",
    "[1, 2]",
    "{ a = 1 }",
    "\n",
    "#",
    "'",
    "\"\"\"",
    "=",
    ".",
    "é",
];

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn config_load_never_panics(
        text in prop_oneof![3 => texty(TOML_FRAGMENTS, 40), 1 => any::<String>()],
    ) {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), &text).unwrap();
        match Config::load(Some(f.path())) {
            Ok(cfg) => {
                // Whatever loads passed validation.
                prop_assert!(cfg.engine.concurrency >= 1);
                prop_assert!(cfg.simulated.latency_ms_min <= cfg.simulated.latency_ms_max);
            }
            Err(e) => {
                // One line naming the file.
                let msg = e.to_string();
                prop_assert!(msg.contains(&f.path().display().to_string()), "{msg}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Artifact paths

const PATH_FRAGMENTS: &[&str] = &[
    "..",
    ".",
    "/",
    "\\",
    "a",
    "b.txt",
    "src",
    "~",
    "C:",
    "c:",
    "//",
    "\\\\",
    "link",
    "inside",
    "sub",
    ".git",
    "\u{0}",
    "\n",
    " ",
    "é",
    "%2e%2e",
    "...",
    ". .",
    "..\u{200b}",
];

/// An output dir with a subdirectory, a symlink to outside and a symlink to inside.
fn out_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    let outside = root.path().join("outside");
    std::fs::create_dir_all(out.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&outside, out.join("link")).unwrap();
        std::os::unix::fs::symlink(out.join("sub"), out.join("inside")).unwrap();
    }
    (root, out)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn safe_join_never_leaves_the_out_dir(
        rel in prop_oneof![3 => texty(PATH_FRAGMENTS, 12), 1 => any::<String>()],
    ) {
        let (_root, out) = out_dir();
        if let Ok(p) = safe_join(&out, &rel) {
            let tail = p.strip_prefix(&out).unwrap_or_else(|_| panic!("{p:?} not under {out:?}"));
            prop_assert!(
                tail.components().all(|c| matches!(c, Component::Normal(_))),
                "{rel:?} -> {p:?}"
            );
            prop_assert!(tail.components().count() >= 1);
            // Through whatever exists on disk, the path resolves inside the out dir.
            let base = out.canonicalize().unwrap();
            let mut existing = p.clone();
            while !existing.exists() {
                existing = existing.parent().unwrap().to_path_buf();
            }
            let real = existing.canonicalize().unwrap();
            prop_assert!(real.starts_with(&base), "{rel:?} resolves to {real:?}");
            prop_assert!(!is_symlink(&p), "{rel:?}: final component is a symlink");
        }
    }
}

fn is_symlink(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

#[test]
fn safe_join_refuses_the_known_escapes() {
    let (_root, out) = out_dir();
    for rel in [
        "../x",
        "a/../../x",
        "a\\..\\..\\x",
        "/etc/passwd",
        "\\\\server\\share",
        "C:\\x",
        "~/x",
        "link/x",
        "link",
        "inside",
        "",
        ".",
        "a\u{0}b",
    ] {
        assert!(safe_join(&out, rel).is_err(), "{rel:?} accepted");
    }
    assert!(safe_join(&out, "inside/ok.txt").is_ok());
    assert!(safe_join(&out, "sub/new/dir/f.py").is_ok());
}
