//! Deterministic fixture data for render snapshots, app-flow tests and the render benchmark.
//! Not used by the application itself.
#![allow(clippy::too_many_arguments, dead_code)]

#[path = "tui_fixtures_analysis.rs"]
pub mod analysis;

use orchestrator_tui::domain::Micros;
use orchestrator_tui::domain::status::{RunStatus, TaskStatus};
use orchestrator_tui::routing::breaker::BreakerState;
use orchestrator_tui::tui::action::Msg;
use orchestrator_tui::tui::app::{State, update};
use orchestrator_tui::tui::state::*;

/// 2026-03-14 12:00:00 UTC.
pub const NOW_MS: i64 = 1_773_489_600_000;

fn usd(x: f64) -> Micros {
    Micros::from_usd(x)
}

fn run(
    id: &str,
    status: RunStatus,
    desc: &str,
    team: Option<&str>,
    spent: f64,
    done: u64,
    total: u64,
    created: &str,
) -> RunItem {
    RunItem {
        id: id.into(),
        status,
        description: desc.into(),
        team: team.map(String::from),
        spent: usd(spent),
        budget: usd(8.0),
        tasks_done: done,
        tasks_total: total,
        created: created.into(),
        host: None,
        user: None,
        blocked: false,
    }
}

/// The host and OS user fixture states run as (`State::me`).
pub fn me() -> Me {
    Me {
        host: "dev-laptop".into(),
        user: "ana".into(),
    }
}

/// Where each fixture run was started: most by `me`, two on another machine, one unrecorded.
fn started_by(runs: &mut [RunItem]) {
    let by = [
        Some(("dev-laptop", "ana")),
        Some(("build-02.example.internal", "ci")),
        Some(("dev-laptop", "ana")),
        Some(("ben-desktop", "ben")),
        Some(("dev-laptop", "ana")),
        None,
    ];
    for (r, b) in runs.iter_mut().zip(by) {
        r.host = b.map(|b| b.0.to_string());
        r.user = b.map(|b| b.1.to_string());
    }
}

pub fn runs() -> Vec<RunItem> {
    let mut runs = vec![
        run(
            "r-7f3a9c",
            RunStatus::Running,
            "Build a todo app in Python with a CLI and tests",
            Some("web"),
            0.4213,
            2,
            6,
            "03-14 11:58",
        ),
        run(
            "r-51be02",
            RunStatus::Interrupted,
            "Summarise the quarterly reports",
            None,
            0.1120,
            3,
            5,
            "03-14 10:12",
        ),
        run(
            "r-c0ffee",
            RunStatus::Success,
            "Write a haiku about circuit breakers",
            None,
            0.0210,
            1,
            1,
            "03-13 17:40",
        ),
        run(
            "r-0d4e11",
            RunStatus::CompletedDegraded,
            "Extract invoice fields to JSON",
            Some("data"),
            1.2034,
            4,
            4,
            "03-13 09:05",
        ),
        run(
            "r-aa01b2",
            RunStatus::BudgetExhausted,
            "Review the payment service for race conditions",
            Some("web"),
            2.0000,
            1,
            3,
            "03-12 16:30",
        ),
        run(
            "r-9d8e7f",
            RunStatus::SystemFailure,
            "Plan a data migration",
            None,
            0.0,
            0,
            0,
            "03-12 08:00",
        ),
    ];
    started_by(&mut runs);
    runs
}

fn task(
    i: usize,
    status: TaskStatus,
    ty: &str,
    model: Option<&str>,
    iter: u32,
    score: Option<f64>,
    cost: f64,
    started: Option<i64>,
    finished: Option<i64>,
) -> TaskItem {
    TaskItem {
        id: format!("t{i}"),
        task_type: ty.into(),
        status,
        status_reason: (status == TaskStatus::Failed)
            .then(|| "no model met the threshold after 3 iterations".into()),
        model: model.map(String::from),
        iteration: iter,
        max_iterations: 3,
        score,
        threshold: 0.85,
        cost: usd(cost),
        started_ms: started.map(|s| NOW_MS - s * 1000),
        finished_ms: finished.map(|s| NOW_MS - s * 1000),
        title: TITLES[i % TITLES.len()].into(),
        dependencies: if i > 1 && i.is_multiple_of(2) {
            vec![format!("t{}", i - 1)]
        } else {
            vec![]
        },
        // A running task shows the call it makes: critique on odd ids, generation on even.
        call: (status == TaskStatus::Running).then(|| CallNow {
            role: if i % 2 == 1 { "critique" } else { "generate" }.into(),
            model: if i % 2 == 1 {
                "gpt-5"
            } else {
                "gemini-2.5-pro"
            }
            .into(),
            in_flight: true,
        }),
    }
}

/// Task titles (first lines of their prompts).
const TITLES: &[&str] = &[
    "Summarize the findings",
    "Design the data model",
    "Write the CLI entry point",
    "Implement storage in SQLite",
    "Review the storage code",
    "Write the README",
    "Extract the config keys",
];

pub fn detail() -> RunDetail {
    RunDetail {
        id: "r-7f3a9c".into(),
        description: "Build a todo app in Python with a CLI and tests".into(),
        status: RunStatus::Running,
        status_reason: None,
        team: Some("web".into()),
        budget: usd(8.0),
        spent: usd(0.4213),
        ended_ms: None,
        output_dir: "/home/dev/todo-app/out".into(),
        binding: None,
        tasks: vec![
            task(
                1,
                TaskStatus::Completed,
                "complex_reasoning",
                Some("claude-opus-4-1"),
                1,
                Some(0.93),
                0.2101,
                Some(300),
                Some(240),
            ),
            task(
                2,
                TaskStatus::Degraded,
                "code_generation",
                Some("gpt-5"),
                3,
                Some(0.78),
                0.1210,
                Some(240),
                Some(60),
            ),
            task(
                3,
                TaskStatus::Running,
                "code_generation",
                Some("claude-sonnet-4-6"),
                2,
                Some(0.81),
                0.0702,
                Some(75),
                None,
            ),
            task(
                4,
                TaskStatus::Running,
                "code_review",
                Some("gemini-2.5-pro"),
                1,
                None,
                0.0200,
                Some(12),
                None,
            ),
            task(
                5,
                TaskStatus::Pending,
                "summarization",
                None,
                0,
                None,
                0.0,
                None,
                None,
            ),
            task(
                6,
                TaskStatus::Failed,
                "data_extraction",
                Some("deepseek-chat"),
                3,
                Some(0.61),
                0.0,
                Some(200),
                Some(100),
            ),
        ],
    }
}

pub fn attempts() -> TaskAttempts {
    TaskAttempts {
        run_id: "r-7f3a9c".into(),
        task_id: "t2".into(),
        prompt: "Write the CLI entry point (argparse) for the todo app.".into(),
        output: Some(
            "import argparse\n\ndef main():\n    parser = argparse.ArgumentParser()".into(),
        ),
        attempts: vec![
            AttemptItem {
                n: 1,
                model: Some("gpt-5".into()),
                reviewer: Some("claude-sonnet-4-6".into()),
                score: Some(0.62),
                cost: usd(0.0410),
                failure_reason: None,
                validators: "length ✓, syntax ✕".into(),
                critique: Some("Missing the `done` subcommand.\nNo tests.".into()),
                output: None,
                self_evaluated: false,
                score_note: None,
            },
            AttemptItem {
                n: 2,
                model: Some("gpt-5".into()),
                reviewer: Some("claude-sonnet-4-6".into()),
                score: Some(0.78),
                cost: usd(0.0800),
                failure_reason: Some("below threshold 0.85 after the last iteration".into()),
                validators: "length ✓, syntax ✓".into(),
                critique: Some("Tests are thin.".into()),
                output: None,
                self_evaluated: false,
                score_note: None,
            },
        ],
        failed_calls: vec![orchestrator_tui::store::views::FailedCallView {
            attempt: Some(2),
            role: "generate".into(),
            model: "claude-sonnet-4-6".into(),
            outcome: "rate_limited".into(),
            error: Some("429 Too Many Requests".into()),
            retry: 0,
            at: "2026-03-14T11:58:00Z".into(),
        }],
        routing: vec![routing_record(2)],
    }
}

/// The routing of attempt `n`'s generation: two ranked, one filtered by its breaker, one by a
/// policy, the unserved counted; the first failed, the second answered.
pub fn routing_record(n: u32) -> orchestrator_tui::store::routing::RoutingRecord {
    use orchestrator_tui::store::routing::{Candidate, RoutingRecord};
    let ranked = |m: &str, rank: u32, q: f64, cost: i64, outcome: Option<&str>| Candidate {
        model: m.into(),
        rank: Some(rank),
        quality: Some(q),
        cost_micros: Some(cost),
        filtered: None,
        outcome: outcome.map(String::from),
    };
    let filtered = |m: &str, why: &str| Candidate {
        model: m.into(),
        rank: None,
        quality: None,
        cost_micros: None,
        filtered: Some(why.into()),
        outcome: None,
    };
    RoutingRecord {
        run_id: "r-7f3a9c".into(),
        task_id: "t2".into(),
        attempt: n,
        role: "generate".into(),
        strategy: "balanced".into(),
        chosen: Some("gpt-5".into()),
        reason: "balanced strategy: best quality per √cost among models expected to reach the threshold 0.82 (quality 0.91, $0.0190 a typical call)".into(),
        candidates: vec![
            ranked("claude-sonnet-4-6", 1, 0.91, 19_000, Some("failed: rate limited (429)")),
            ranked("gpt-5", 2, 0.9, 12_500, Some("answered")),
            filtered("gemini-2.5-pro", "breaker open"),
            filtered("deepseek-chat", "policy no-cn: provider deepseek is blocked"),
            filtered("31 models", "not served: no provider or key configured"),
        ],
    }
}

fn model(
    id: &str,
    provider: &str,
    breaker: BreakerState,
    failures: u32,
    calls: u64,
    ok: u64,
    base: u64,
) -> ModelRow {
    let recent: Vec<u64> = (0..24).map(|i| base + (i * 37 % 11) * base / 10).collect();
    let mut sorted = recent.clone();
    sorted.sort_unstable();
    ModelRow {
        id: id.into(),
        provider: provider.into(),
        breaker,
        failures,
        calls,
        ok,
        cost: Micros(calls as i64 * 1_234),
        p50_ms: (ok > 0).then(|| sorted[sorted.len() / 2]),
        p95_ms: (ok > 0).then(|| sorted[sorted.len() * 95 / 100]),
        recent_ms: if ok > 0 { recent } else { vec![] },
        quality: if ok > 0 {
            vec![
                ("code_generation".into(), 0.84, 12),
                ("summarization".into(), 0.91, 4),
            ]
        } else {
            vec![]
        },
        cache_saving: Micros::ZERO,
    }
}

pub fn models() -> Vec<ModelRow> {
    vec![
        model(
            "claude-sonnet-4-6",
            "anthropic",
            BreakerState::Closed,
            0,
            42,
            41,
            900,
        ),
        model(
            "claude-opus-4-1",
            "anthropic",
            BreakerState::Closed,
            0,
            12,
            12,
            2100,
        ),
        model("gpt-5", "openai", BreakerState::HalfOpen, 2, 30, 25, 1500),
        model(
            "gemini-2.5-pro",
            "google",
            BreakerState::Open,
            3,
            18,
            12,
            1300,
        ),
        model(
            "deepseek-chat",
            "deepseek",
            BreakerState::Disabled,
            1,
            5,
            0,
            800,
        ),
        model(
            "kimi-k2-0905-preview",
            "kimi",
            BreakerState::Closed,
            0,
            0,
            0,
            1000,
        ),
    ]
}

fn series(n: usize, step_usd: f64) -> Vec<(i64, Micros)> {
    (0..n)
        .map(|i| {
            (
                NOW_MS - (n - i) as i64 * 300_000,
                usd(step_usd * (i + 1) as f64),
            )
        })
        .collect()
}

pub fn budget() -> BudgetSnap {
    BudgetSnap {
        levels: vec![
            LevelItem {
                level: "org".into(),
                cap: Some(usd(20.0)),
                spent: usd(3.7577),
                reserved: usd(0.25),
                period: Some("monthly".into()),
                estimated: Micros::ZERO,
                series: series(24, 0.156),
            },
            LevelItem {
                level: "team:data".into(),
                cap: None,
                spent: usd(1.2034),
                reserved: Micros::ZERO,
                period: None,
                estimated: Micros::ZERO,
                series: series(4, 0.3),
            },
            LevelItem {
                level: "team:web".into(),
                cap: Some(usd(3.0)),
                spent: usd(2.4213),
                reserved: usd(0.25),
                period: Some("weekly".into()),
                estimated: Micros::ZERO,
                series: series(10, 0.24),
            },
        ],
        by_run: vec![
            (
                "r-aa01b2".into(),
                "Review the payment service for race conditions".into(),
                usd(2.0),
            ),
            (
                "r-0d4e11".into(),
                "Extract invoice fields to JSON".into(),
                usd(1.2034),
            ),
            (
                "r-7f3a9c".into(),
                "Build a todo app in Python with a CLI and tests".into(),
                usd(0.4213),
            ),
            (
                "r-51be02".into(),
                "Summarise the quarterly reports".into(),
                usd(0.1120),
            ),
        ],
        by_phase: vec![
            ("generate".into(), usd(2.1)),
            ("critique".into(), usd(0.9)),
            ("evaluate".into(), usd(0.5)),
            ("revise".into(), usd(0.2)),
            ("decompose".into(), usd(0.0577)),
        ],
    }
}

fn ev(time: &str, kind: EventKind, run: Option<&str>, text: &str) -> EventItem {
    EventItem {
        seq: 0,
        time: time.into(),
        kind,
        run_id: run.map(String::from),
        text: text.into(),
    }
}

pub fn history() -> Vec<EventItem> {
    vec![
        ev(
            "11:59:40",
            EventKind::Breaker,
            Some("r-7f3a9c"),
            "gemini-2.5-pro: closed → open (3 consecutive failures)",
        ),
        ev(
            "11:59:12",
            EventKind::Error,
            Some("r-7f3a9c"),
            "generate call to gemini-2.5-pro failed (transient): HTTP 503",
        ),
        ev(
            "11:58:30",
            EventKind::Budget,
            Some("r-7f3a9c"),
            "team:web budget: 82% of $3.00 used",
        ),
        ev(
            "11:58:02",
            EventKind::Policy,
            Some("r-7f3a9c"),
            "policy eu-only: denied kimi-k2-0905-preview (region cn)",
        ),
        ev(
            "11:58:00",
            EventKind::Info,
            Some("r-7f3a9c"),
            "run started: Build a todo app in Python with a CLI and tests",
        ),
        ev(
            "10:40:00",
            EventKind::Breaker,
            None,
            "gpt-5: open → half_open (cooldown elapsed; probing)",
        ),
        ev(
            "10:12:55",
            EventKind::Warning,
            Some("r-51be02"),
            "decomposition: dropped an item without a prompt",
        ),
    ]
}

pub fn snapshot() -> Snapshot {
    Snapshot {
        runs: runs(),
        detail: Some(detail()),
        attempts: None,
        models: models(),
        budget: budget(),
        history: Some(history()),
        analysis: Some(analysis::stored()),
        breaker_events: vec![],
        stored_events: vec![],
        recommendations: vec![
            "route code_generation to deepseek-chat instead of claude-sonnet-4-6: -88% cost at 98% of its quality, from 14 tasks".into(),
        ],
    }
}

/// A state with every pane populated; the newest run is open and active.
pub fn state() -> State {
    let mut s = State::new(NOW_MS, 8.0, true);
    s.me = me();
    s.open_run = Some("r-7f3a9c".into());
    s.active.insert("r-7f3a9c".into());
    update(&mut s, Msg::Snapshot(Box::new(snapshot())));
    s
}

/// A large state for the render benchmark: `tasks` tasks, `models` models, `teams` teams.
pub fn big_state(tasks: usize, models: usize, teams: usize) -> State {
    let mut snap = snapshot();
    let statuses = [
        TaskStatus::Completed,
        TaskStatus::Running,
        TaskStatus::Pending,
        TaskStatus::Degraded,
        TaskStatus::Failed,
    ];
    if let Some(d) = snap.detail.as_mut() {
        d.tasks = (0..tasks)
            .map(|i| {
                task(
                    i,
                    statuses[i % statuses.len()],
                    "code_generation",
                    Some("claude-sonnet-4-6"),
                    (i % 3) as u32 + 1,
                    Some(0.5 + (i % 50) as f64 / 100.0),
                    0.001 * (i % 17) as f64,
                    Some(600 - (i % 500) as i64),
                    None,
                )
            })
            .collect();
    }
    let base = self::models();
    snap.models = (0..models)
        .map(|i| {
            let mut m = base[i % base.len()].clone();
            m.id = format!("{}-{i}", m.id);
            m.recent_ms = (0..60).map(|k| 500 + (k * 97 % 23) * 40).collect();
            m
        })
        .collect();
    let mut levels = vec![snap.budget.levels[0].clone()];
    for i in 0..teams {
        let mut l = snap.budget.levels[2].clone();
        l.level = format!("team:t{i}");
        l.series = series(500, 0.004);
        levels.push(l);
    }
    levels[0].series = series(500, 0.01);
    snap.budget.levels = levels;
    let mut s = State::new(NOW_MS, 8.0, true);
    s.me = me();
    s.open_run = Some("r-7f3a9c".into());
    s.active.insert("r-7f3a9c".into());
    update(&mut s, Msg::Snapshot(Box::new(snap)));
    for i in 0..200 {
        s.push_event(
            EventKind::Info,
            Some("r-7f3a9c".into()),
            format!("event {i}"),
        );
    }
    s
}
