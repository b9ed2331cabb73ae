//! Render benchmark of the TUI: one full frame (layout, widgets, buffer diff) at 200x60 with
//! 1,000 tasks, 20 models and 5 teams, for every pane and the task detail (routing, failed
//! calls). Prints one JSON document.
//!
//! Run: `cargo bench --bench tui_bench` (target: under 2 ms per frame).

#[path = "../tests/support/tui_fixtures.rs"]
mod fixtures;
use orchestrator_tui::tui::action::{Action, Msg, Pane};
use orchestrator_tui::tui::app::update;
use orchestrator_tui::tui::theme::Theme;
use orchestrator_tui::tui::view::Screen;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::Instant;

const WARMUP: usize = 30;
const FRAMES: usize = 300;

fn main() {
    let theme = Theme::builtin("default").unwrap_or_else(|_| Theme::mono());
    let mut results = Vec::new();
    let mut worst = 0.0f64;
    // Every pane, then the task detail (attempts with their routing and failed calls).
    let screens: Vec<(Pane, bool)> = Pane::ALL
        .iter()
        .map(|p| (*p, false))
        .chain([(Pane::Tasks, true)])
        .collect();
    for (pane, detail) in screens {
        let mut state = fixtures::big_state(1000, 20, 5);
        update(&mut state, Msg::Action(Action::GoPane(pane)));
        if detail {
            // The fixture's attempts are t2's.
            update(&mut state, Msg::Action(Action::Down));
            update(&mut state, Msg::Action(Action::Down));
            update(&mut state, Msg::Action(Action::Open));
            let mut snap = fixtures::snapshot();
            snap.history = None;
            snap.detail = state.detail.clone();
            let mut a = fixtures::attempts();
            for n in 3..=6 {
                a.routing.push(fixtures::routing_record(n));
            }
            snap.attempts = Some(a);
            update(&mut state, Msg::Snapshot(Box::new(snap)));
        }
        let mut term = match Terminal::new(TestBackend::new(200, 60)) {
            Ok(t) => t,
            Err(e) => match e {},
        };
        let mut times = Vec::with_capacity(FRAMES);
        for i in 0..WARMUP + FRAMES {
            // Move the selection so every frame has something to diff.
            let a = if i % 2 == 0 { Action::Down } else { Action::Up };
            update(&mut state, Msg::Action(a));
            let t0 = Instant::now();
            let r = term.draw(|f| {
                f.render_widget(
                    Screen {
                        state: &state,
                        theme: &theme,
                    },
                    f.area(),
                )
            });
            let dt = t0.elapsed().as_secs_f64() * 1000.0;
            if r.is_err() {
                eprintln!("draw failed");
                std::process::exit(1);
            }
            if i >= WARMUP {
                times.push(dt);
            }
        }
        times.sort_by(|a, b| a.total_cmp(b));
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        let p50 = times[times.len() / 2];
        let p99 = times[times.len() * 99 / 100];
        worst = worst.max(p50);
        let over = times.iter().filter(|t| **t > 2.0).count();
        results.push(serde_json::json!({
            "pane": if detail { "Task detail" } else { pane.title() },
            "frames_over_2ms": over,
            "mean_ms": (mean * 1000.0).round() / 1000.0,
            "p50_ms": (p50 * 1000.0).round() / 1000.0,
            "p99_ms": (p99 * 1000.0).round() / 1000.0,
        }));
    }
    let doc = serde_json::json!({
        "benchmark": "tui_frame",
        "size": "200x60",
        "tasks": 1000,
        "models": 20,
        "teams": 5,
        "frames_per_pane": FRAMES,
        "worst_p50_ms": (worst * 1000.0).round() / 1000.0,
        "target_ms": 2.0,
        "panes": results,
    });
    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
}
