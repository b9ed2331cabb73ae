//! Mouse rows on the Analysis findings and the Budget levels (issue 18 "Act"): a click selects the
//! row under the pointer (a second click opens a finding, as Enter does), the wheel moves the
//! selection of the list under the pointer and nowhere else. The Budget levels scroll to keep the
//! selected level in view when there are more than fit.

use crate::support::tui_fixtures as fixtures;
use crate::support::tui_testkit as testkit;
use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use orchestrator_tui::domain::Micros;
use orchestrator_tui::tui::action::{Action, Effect, Msg, Pane};
use orchestrator_tui::tui::app::{State, update};
use orchestrator_tui::tui::state::LevelItem;
use testkit::*;

const W: u16 = 120;
const H: u16 = 40;

fn mouse(s: &mut State, kind: MouseEventKind, col: u16, row: u16) -> Vec<Effect> {
    // The hit test reads where the last frame put things.
    screen(s, W, H);
    update(
        s,
        Msg::Mouse(MouseEvent {
            kind,
            column: col,
            row,
            modifiers: KeyModifiers::NONE,
        }),
    )
}

fn click(s: &mut State, col: u16, row: u16) -> Vec<Effect> {
    mouse(s, MouseEventKind::Down(MouseButton::Left), col, row)
}

fn wheel(s: &mut State, down: bool, col: u16, row: u16) {
    let kind = if down {
        MouseEventKind::ScrollDown
    } else {
        MouseEventKind::ScrollUp
    };
    mouse(s, kind, col, row);
}

/// The first screen row showing `needle`.
fn row_of(s: &State, needle: &str) -> u16 {
    let text = screen(s, W, H);
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not on screen:\n{text}")) as u16
}

fn on(pane: Pane) -> State {
    let mut s = fixtures::state();
    update(&mut s, Msg::Action(Action::GoPane(pane)));
    s
}

fn finding(s: &State) -> Option<String> {
    s.panes.analysis.selected().map(|f| f.id.clone())
}

#[test]
fn clicks_select_findings_a_second_click_opens_one_and_the_wheel_scrolls_the_list() {
    let mut s = on(Pane::Analysis);
    assert_eq!(finding(&s).as_deref(), Some("committed-secret"));
    let y = row_of(&s, "Oversized files");
    assert!(click(&mut s, 40, y).is_empty());
    assert_eq!(finding(&s).as_deref(), Some("oversized-files"));
    assert!(screen(&s, W, H).contains("Findings (5/8)"));
    // A second click on the selected row opens its detail.
    click(&mut s, 40, y);
    assert_eq!(
        s.panes.analysis.detail.as_ref().map(|d| d.id.as_str()),
        Some("oversized-files")
    );
    // Under the detail popup the rows do not take clicks; the wheel scrolls the detail.
    let other = row_of(&s, "Findings");
    click(&mut s, 40, other + 2);
    assert_eq!(finding(&s).as_deref(), Some("oversized-files"));
    wheel(&mut s, true, 40, y);
    assert_eq!(s.panes.analysis.detail.as_ref().map(|d| d.scroll), Some(1));
    update(&mut s, Msg::Action(Action::Back));
    // The wheel over the list moves its selection; over the summary above it, nothing.
    wheel(&mut s, true, 40, y);
    assert_eq!(finding(&s).as_deref(), Some("llm-split-the-orders-module"));
    let summary = row_of(&s, "findings ·");
    wheel(&mut s, false, 40, summary);
    assert_eq!(finding(&s).as_deref(), Some("llm-split-the-orders-module"));
    wheel(&mut s, false, 40, y);
    assert_eq!(finding(&s).as_deref(), Some("oversized-files"));
    // Clicks follow a filtered view: the first row shown is the first match.
    update(&mut s, Msg::Action(Action::CyclePriority));
    update(&mut s, Msg::Action(Action::CyclePriority));
    let y = row_of(&s, "Low test-to-source ratio");
    click(&mut s, 40, y);
    assert_eq!(finding(&s).as_deref(), Some("low-test-ratio"));
}

fn level(s: &State) -> String {
    s.panes.budget.snap.levels[s.panes.budget.sel].level.clone()
}

#[test]
fn clicks_select_budget_levels_and_the_wheel_moves_over_the_table_only() {
    let mut s = on(Pane::Budget);
    assert_eq!(level(&s), "org");
    let y = row_of(&s, "team:web");
    assert!(click(&mut s, 5, y).is_empty());
    assert_eq!(level(&s), "team:web");
    assert!(screen(&s, W, H).contains("Burn-down · team:web"));
    // A second click changes nothing (a level has no detail).
    assert!(click(&mut s, 5, y).is_empty());
    assert_eq!(level(&s), "team:web");
    wheel(&mut s, false, 5, y);
    assert_eq!(level(&s), "team:data");
    // Over the chart the wheel does nothing.
    let chart = row_of(&s, "Burn-down") + 3;
    wheel(&mut s, true, 5, chart);
    assert_eq!(level(&s), "team:data");
    wheel(&mut s, true, 5, y);
    assert_eq!(level(&s), "team:web");
}

#[test]
fn budget_levels_scroll_to_keep_the_selected_one_in_view_and_clicks_follow() {
    let mut s = fixtures::state();
    let mut snap = fixtures::snapshot();
    snap.history = None;
    for i in 0..9 {
        snap.budget.levels.push(LevelItem {
            level: format!("team:t{i}"),
            cap: Some(Micros::from_usd(1.0)),
            spent: Micros::from_usd(0.1 * i as f64),
            reserved: Micros::ZERO,
            period: None,
            estimated: Micros::ZERO,
            series: vec![],
        });
    }
    update(&mut s, Msg::Snapshot(Box::new(snap)));
    update(&mut s, Msg::Action(Action::GoPane(Pane::Budget)));
    update(&mut s, Msg::Action(Action::Bottom));
    assert_eq!(level(&s), "team:t8");
    let text = screen(&s, W, H);
    assert!(text.contains("› team:t8"), "{text}");
    assert!(
        !text.contains(" org "),
        "scrolled past the first rows:\n{text}"
    );
    // A click on the first row shown selects that level, not the list's first.
    let first_shown = text
        .lines()
        .find_map(|l| l.split_whitespace().find(|w| w.starts_with("team:t")))
        .expect("a level row")
        .to_string();
    let y = row_of(&s, &first_shown);
    click(&mut s, 5, y);
    assert_eq!(level(&s), first_shown);
}
