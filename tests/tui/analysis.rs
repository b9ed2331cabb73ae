//! The Analysis pane: app-flow tests of the pure `update` (priority cycling, `/` filter, `Enter`
//! detail, `e` export, the path prompt and progress), snapshots of its popups, and the analysis
//! effect run for real (static stage, semantic stage on the simulated engine, stored).

use crate::support::tui_fixtures as fixtures;
use crate::support::tui_testkit as testkit;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use orchestrator_tui::analysis::{AnalysisProgress, Priority};
use orchestrator_tui::cli::Cli;
use orchestrator_tui::commands::open_app;
use orchestrator_tui::tui::action::{Action, Effect, Msg, Pane};
use orchestrator_tui::tui::analysis::{AnalysisMsg, StoredAnalysis};
use orchestrator_tui::tui::analysis_io;
use orchestrator_tui::tui::app::{Overlay, State, update};
use orchestrator_tui::tui::keymap::Ctx;
use orchestrator_tui::tui::state::Snapshot;
use std::time::Duration;
use testkit::*;

/// The fixture state on the Analysis pane (the stored analysis arrived with the snapshot).
fn on_analysis() -> State {
    let mut s = fixtures::state();
    ch(&mut s, '5');
    assert_eq!(s.pane, Pane::Analysis);
    s
}

fn selected_id(s: &State) -> Option<String> {
    s.panes.analysis.selected().map(|f| f.id.clone())
}

#[test]
fn p_cycles_the_priority_filter_through_every_tier() {
    let mut s = on_analysis();
    assert_eq!(s.panes.analysis.view().len(), 8);
    let expect = [
        (Some(Priority::Critical), 1, "‼ CRITICAL"),
        (Some(Priority::High), 2, "▲ HIGH"),
        (Some(Priority::Medium), 3, "◆ MEDIUM"),
        (Some(Priority::Low), 2, "▽ LOW"),
    ];
    for (p, n, shown) in expect {
        assert!(ch(&mut s, 'p').is_empty());
        assert_eq!(s.panes.analysis.priority, p);
        assert_eq!(s.panes.analysis.view().len(), n);
        let out = screen(&s, 120, 40);
        assert!(out.contains(&format!("priority: {shown}")), "{out}");
        let pos = match n {
            0 => "(0/0 of 8)".to_string(),
            8 => "(1/8)".to_string(),
            n => format!("(1/{n} of 8)"),
        };
        assert!(out.contains(&format!("Findings {pos}")), "{out}");
        assert!(
            s.panes
                .analysis
                .view()
                .iter()
                .all(|i| s.panes.analysis.findings()[*i].priority == p.unwrap_or(Priority::Low)),
            "only {p:?}"
        );
    }
    ch(&mut s, 'p');
    assert_eq!(s.panes.analysis.priority, None);
    assert_eq!(s.panes.analysis.view().len(), 8);
    // The selection follows the finding across filter changes.
    ch(&mut s, 'j');
    ch(&mut s, 'j');
    assert_eq!(selected_id(&s).as_deref(), Some("low-test-ratio"));
    ch(&mut s, 'p');
    ch(&mut s, 'p');
    assert_eq!(selected_id(&s).as_deref(), Some("low-test-ratio"));
    // Esc clears both filters.
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.panes.analysis.priority, None);
    assert_eq!(selected_id(&s).as_deref(), Some("low-test-ratio"));
}

#[test]
fn slash_filters_findings_by_text_and_evidence_path() {
    let mut s = on_analysis();
    ch(&mut s, '/');
    assert_eq!(s.overlay, Overlay::Filter);
    typed(&mut s, "orders.py");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.overlay, Overlay::None);
    let ids: Vec<&str> = s
        .panes
        .analysis
        .view()
        .iter()
        .map(|i| s.panes.analysis.findings()[*i].id.as_str())
        .collect();
    assert_eq!(
        ids,
        vec![
            "oversized-files",
            "llm-split-the-orders-module",
            "todo-density"
        ]
    );
    let out = screen(&s, 80, 24);
    assert!(out.contains("Findings (1/3 of 8) / orders.py"), "{out}");
    // Filters combine: text and priority.
    ch(&mut s, 'p');
    ch(&mut s, 'p');
    ch(&mut s, 'p');
    assert_eq!(
        s.panes.analysis.view().len(),
        2,
        "MEDIUM findings about orders.py"
    );
    ch(&mut s, 'p');
    assert_eq!(
        s.panes.analysis.view().len(),
        1,
        "LOW findings about orders.py"
    );
    // Nothing matches: the list says so.
    ch(&mut s, 'p');
    ch(&mut s, '/');
    typed(&mut s, "zzz");
    key(&mut s, KeyCode::Enter);
    assert!(screen(&s, 80, 24).contains("No finding matches the filters"));
    assert!(key(&mut s, KeyCode::Enter).is_empty(), "no detail to open");
    assert_eq!(s.panes.analysis.detail, None);
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.panes.analysis.view().len(), 8);
}

#[test]
fn enter_opens_the_detail_with_evidence_and_esc_closes_it() {
    let mut s = on_analysis();
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert_eq!(s.ctx(), Ctx::Detail(Pane::Analysis));
    let out = screen(&s, 120, 40);
    for want in [
        "Committed secret: AWS access key — Esc close",
        "‼ CRITICAL  #1 · security · effort ~1h · confidence 95%",
        "committed-secret · static check",
        "Description",
        "An AWS access key id is committed in the settings module.",
        "Impact",
        "Evidence (2)",
        "api/settings.py:12  AKIA… assigned to AWS_ACCESS_KEY_ID",
        ".env  tracked .env file",
        "Esc close",
    ] {
        assert!(out.contains(want), "missing {want:?}:\n{out}");
    }
    insta::assert_snapshot!("analysis_detail_120x40", out);
    // j scrolls the popup, not the list.
    ch(&mut s, 'j');
    assert_eq!(s.panes.analysis.detail.as_ref().map(|d| d.scroll), Some(1));
    assert_eq!(selected_id(&s).as_deref(), Some("committed-secret"));
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.panes.analysis.detail, None);
    assert_eq!(s.ctx(), Ctx::Pane(Pane::Analysis));
    // A model suggestion says where it comes from.
    for _ in 0..5 {
        ch(&mut s, 'j');
    }
    key(&mut s, KeyCode::Enter);
    let out = screen(&s, 80, 24);
    assert!(out.contains("suggested by the model"), "{out}");
    insta::assert_snapshot!("analysis_detail_80x24", out);
}

#[test]
fn e_exports_markdown_and_the_status_line_shows_the_path() {
    let mut s = on_analysis();
    let fx = ch(&mut s, 'e');
    assert_eq!(
        fx,
        vec![Effect::ExportAnalysis(Box::new(
            fixtures::analysis::report()
        ))]
    );
    // The driver runs the effect: the file is written in the data dir.
    let d = tempfile::tempdir().expect("tempdir");
    let Effect::ExportAnalysis(report) = &fx[0] else {
        unreachable!()
    };
    let path = analysis_io::export(d.path(), report, fixtures::NOW_MS).expect("export");
    let md = std::fs::read_to_string(&path).expect("read export");
    assert!(
        md.starts_with("# Analysis of `/home/dev/acme-shop`"),
        "{md}"
    );
    assert!(md.contains("Committed secret: AWS access key"), "{md}");
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    assert_eq!(name, "analysis-20260314-120000.md");
    let shown = path.display().to_string();
    update(&mut s, Msg::Analysis(AnalysisMsg::Exported(shown.clone())));
    let out = screen(&s, 200, 40);
    assert!(out.contains(&format!("exported to {shown}")), "{out}");
    // Nothing to export before any analysis.
    let mut empty = State::new(fixtures::NOW_MS, 8.0, true);
    update(&mut empty, Msg::Snapshot(Box::default()));
    ch(&mut empty, '5');
    assert!(ch(&mut empty, 'e').is_empty());
    assert!(empty.flash.as_ref().is_some_and(|f| f.error));
}

#[test]
fn the_prompt_starts_an_analysis_whose_progress_and_result_are_shown() {
    let mut s = State::new(fixtures::NOW_MS, 8.0, true);
    s.panes.analysis.cwd = "/home/dev/project".into();
    update(&mut s, Msg::Snapshot(Box::default()));
    ch(&mut s, '5');
    assert!(screen(&s, 80, 24).contains("No analysis yet."));
    // Enter on an empty pane opens the prompt, prefilled with the current directory.
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert_eq!(s.overlay, Overlay::Prompt("/home/dev/project".into()));
    assert_eq!(s.ctx(), Ctx::Prompt);
    insta::assert_snapshot!("analysis_prompt_80x24", screen(&s, 80, 24));
    // Typing is text (even `q` and `p`); Ctrl-U clears; Esc cancels.
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    typed(&mut s, "/src/qp");
    assert_eq!(s.overlay, Overlay::Prompt("/src/qp".into()));
    key(&mut s, KeyCode::Backspace);
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.overlay, Overlay::None);
    // `a` opens it too; an emptied prompt does not start anything.
    ch(&mut s, 'a');
    update(&mut s, Msg::Action(Action::ClearInput));
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    key(&mut s, KeyCode::Esc);
    ch(&mut s, 'a');
    assert_eq!(
        key(&mut s, KeyCode::Enter),
        vec![Effect::Analyze("/home/dev/project".into())]
    );
    assert_eq!(s.overlay, Overlay::None);
    // While it runs, a second analysis is refused.
    assert!(ch(&mut s, 'a').is_empty());
    assert_eq!(s.overlay, Overlay::None);
    assert!(
        s.flash
            .as_ref()
            .is_some_and(|f| f.error && f.text.contains("is running"))
    );
    for (p, want) in [
        (
            AnalysisProgress::Walking {
                files: 512,
                bytes: 3 << 20,
            },
            "reading: 512 files, 3.0 MB…",
        ),
        (
            AnalysisProgress::Checking { files: 700 },
            "checking 700 files…",
        ),
    ] {
        update(&mut s, Msg::Analysis(AnalysisMsg::Progress(p)));
        let out = screen(&s, 80, 24);
        assert!(out.contains(want), "{out}");
    }
    update(&mut s, Msg::Analysis(AnalysisMsg::Semantic));
    insta::assert_snapshot!("analysis_running_80x24", screen(&s, 80, 24));
    let mut report = fixtures::analysis::report();
    report.path = "/home/dev/project".into();
    update(
        &mut s,
        Msg::Analysis(AnalysisMsg::Done {
            id: Some(7),
            report: Box::new(report),
            warning: None,
        }),
    );
    assert!(s.panes.analysis.running.is_none());
    assert_eq!(s.panes.analysis.id, Some(7));
    let out = screen(&s, 120, 40);
    assert!(out.contains("Analysis · /home/dev/project"), "{out}");
    assert!(
        out.contains("analysis of /home/dev/project: 8 findings in 96 files"),
        "{out}"
    );
    // The same analysis arriving from the store changes nothing.
    s.dirty = false;
    let snap = Snapshot {
        analysis: Some(StoredAnalysis {
            id: 7,
            report: fixtures::analysis::report(),
        }),
        ..Snapshot::default()
    };
    update(&mut s, Msg::Snapshot(Box::new(snap)));
    assert!(!s.dirty);
    // A failure is said plainly and leaves the shown analysis.
    ch(&mut s, 'a');
    key(&mut s, KeyCode::Enter);
    update(
        &mut s,
        Msg::Analysis(AnalysisMsg::Failed("path not found: /nope".into())),
    );
    assert!(s.panes.analysis.running.is_none());
    assert_eq!(s.panes.analysis.id, Some(7));
    assert!(screen(&s, 120, 40).contains("analysis failed: path not found: /nope"));
}

#[test]
fn a_newer_stored_analysis_replaces_the_shown_one() {
    let mut s = on_analysis();
    assert_eq!(s.panes.analysis.id, Some(1));
    let mut newer = fixtures::analysis::stored();
    newer.id = 2;
    newer.report.path = "/srv/other".into();
    newer.report.findings.truncate(2);
    update(
        &mut s,
        Msg::Snapshot(Box::new(Snapshot {
            analysis: Some(newer),
            ..fixtures::snapshot()
        })),
    );
    assert_eq!(s.panes.analysis.id, Some(2));
    assert!(screen(&s, 120, 40).contains("Findings (1/2)"));
}

#[test]
fn the_keys_are_in_the_status_bar_and_the_help() {
    let s = on_analysis();
    let hints = s.keymap.hints(Ctx::Pane(Pane::Analysis));
    for (k, d) in [
        ("a", "analyze"),
        ("Enter", "detail"),
        ("p", "priority"),
        ("/", "filter"),
        ("e", "export"),
    ] {
        assert!(hints.contains(&(k, d)), "{k} {d} not in {hints:?}");
    }
    let out = screen(&s, 160, 40);
    assert!(
        out.contains("a analyze  Enter detail  p priority  / filter  e export"),
        "{out}"
    );
    let sections = s.keymap.sections();
    for title in ["Analysis", "Finding detail", "Analyze prompt"] {
        assert!(
            sections.iter().any(|(t, _)| *t == title),
            "{title} missing from help"
        );
    }
    for (k, d) in hints {
        assert!(sections.iter().any(|(_, v)| v.contains(&(k, d))));
    }
}

/// The effect for real: the static stage on its thread, the semantic stage through the engine
/// (simulated providers), the report stored; the messages drive `update` to the finished pane.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_analysis_effect_runs_both_stages_and_stores_the_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[simulated]\nenabled = \"always\"\nlatency_ms_min = 0\nlatency_ms_max = 3\n",
    )
    .expect("config");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("src")).expect("mkdir");
    std::fs::write(
        repo.join("Cargo.toml"),
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .expect("write");
    std::fs::write(
        repo.join("src/main.rs"),
        "fn main() {\n    println!(\"hi\");\n}\n",
    )
    .expect("write");
    let data = dir.path().join("data");
    let cli = <Cli as clap::Parser>::parse_from([
        "orchestrator-tui",
        "--data-dir",
        data.to_str().expect("utf-8"),
        "--config",
        cfg.to_str().expect("utf-8"),
    ]);
    let app = open_app(&cli).expect("app");
    let engine = app.engine().expect("engine");
    let mut s = State::new(fixtures::NOW_MS, 8.0, true);
    update(&mut s, Msg::Snapshot(Box::default()));
    ch(&mut s, '5');
    ch(&mut s, 'a');
    update(&mut s, Msg::Action(Action::ClearInput));
    typed(&mut s, repo.to_str().expect("utf-8"));
    let fx = key(&mut s, KeyCode::Enter);
    let [Effect::Analyze(path)] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    analysis_io::spawn_analysis(engine.clone(), tx, path.clone());
    let mut saw_semantic = false;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("the analysis reports within 60 s")
            .expect("channel open");
        let done = matches!(msg, Msg::Analysis(AnalysisMsg::Done { .. }));
        saw_semantic |= matches!(msg, Msg::Analysis(AnalysisMsg::Semantic));
        update(&mut s, msg);
        if done {
            break;
        }
    }
    assert!(saw_semantic);
    let r = s.panes.analysis.report.as_ref().expect("report shown");
    assert!(
        r.project_types.iter().any(|t| t.contains("rust")),
        "{:?}",
        r.project_types
    );
    assert!(r.semantic.is_some(), "note: {:?}", r.semantic_note);
    let id = s.panes.analysis.id.expect("stored");
    let stored = app
        .store
        .call_blocking(|c| orchestrator_tui::store::analyses::load_latest(c))
        .expect("load")
        .expect("a stored analysis");
    assert_eq!(&stored, r);
    assert!(id >= 1);
    let out = screen(&s, 120, 40);
    assert!(out.contains("Findings ("), "{out}");
    assert!(out.contains("Model A rust"), "{out}");
}
