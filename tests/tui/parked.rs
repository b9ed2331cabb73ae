//! A task parked at a call the budget refused (`EngineEvent::TaskParked`): its row goes back to
//! pending with the refusal as its reason, and the Events pane says which call was refused.

use crate::support::tui_fixtures as fixtures;
use orchestrator_tui::domain::status::TaskStatus;
use orchestrator_tui::engine::EngineEvent;
use orchestrator_tui::tui::action::Msg;
use orchestrator_tui::tui::app::update;

#[test]
fn a_parked_task_is_pending_with_its_refusal_and_listed_in_events() {
    let mut s = fixtures::state();
    let refusal = "run budget: $0.0500 needed, $0.0100 left of $1.00 (spent $0.9900, held by \
                   this run's calls in flight $0.0000)";
    update(
        &mut s,
        Msg::Engine(Box::new(EngineEvent::TaskParked {
            run_id: "r-7f3a9c".into(),
            task_id: "t3".into(),
            iteration: 2,
            role: "evaluate".into(),
            model: "gpt-5-mini".into(),
            refusal: refusal.into(),
            reason: format!("budget exhausted: {refusal}"),
        })),
    );
    let detail = s.detail.as_ref().expect("the open run");
    let t3 = detail.tasks.iter().find(|t| t.id == "t3").expect("t3");
    assert_eq!(t3.status, TaskStatus::Pending);
    assert_eq!(
        t3.status_reason.as_deref(),
        Some(format!("budget exhausted: {refusal}").as_str())
    );
    let line = s
        .events
        .iter()
        .find(|e| e.text.contains("t3 parked"))
        .unwrap_or_else(|| panic!("not in Events: {:?}", s.events));
    assert_eq!(
        line.text,
        format!(
            "task t3 parked: budget refused the evaluate call to gpt-5-mini (iteration 2): \
             {refusal}; it goes on from that call when budget frees up, or resume with a larger \
             budget"
        )
    );
}
