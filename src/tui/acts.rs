//! What the user can do to a run, shared by the panes that show runs (Runs: the selected run;
//! Tasks: the open one) and the Budget pane: cancel it (`c`, confirmed), raise a cap (`b`, a form
//! then a confirmation), resume it with a new budget (`r` after `budget_exhausted`), show its
//! outputs (`o`) and open one in the editor (`e`). Part of the pure `update`: it opens popups and
//! returns effects; the runner does the work through the engine.

use super::action::Effect;
use super::snapshot::{LevelItem, RunItem};
use super::state::{Confirm, Overlay, State};
use super::widgets::form::{CapLevel, CapTarget, Form};
use crate::domain::Micros;
use crate::domain::status::RunStatus;

/// `c`: ask to cancel the run (y confirms) when something drives it.
pub fn cancel(s: &mut State, id: &str) -> Vec<Effect> {
    let status = s.runs.iter().find(|r| r.id == id).map(|r| r.status);
    if s.active.contains(id) || status == Some(RunStatus::Running) {
        s.overlay = Overlay::Confirm(Confirm::Cancel(id.to_string()));
    } else {
        let st = status.map_or("unknown".to_string(), |st| st.to_string());
        s.flash(
            format!("run {id} is {st}: not running, nothing to cancel"),
            true,
        );
    }
    vec![]
}

/// A budget level of the Budget pane as a form target.
fn level_target(l: &LevelItem) -> Option<CapTarget> {
    let level = if l.level == "org" {
        CapLevel::Org
    } else {
        CapLevel::Team(l.level.strip_prefix("team:")?.to_string())
    };
    Some(CapTarget {
        level,
        cap: l.cap,
        spent: l.spent,
        period: l.period.clone(),
    })
}

/// Room left under a cap (no cap: unbounded).
fn room(cap: Option<Micros>, spent: Micros, reserved: Micros) -> i64 {
    cap.map_or(i64::MAX, |c| c.0 - spent.0 - reserved.0)
}

/// `b` on a run: its own cap, its team's and the org's; the one with the least room left (the
/// one that refuses first) is chosen.
pub fn raise_cap_for_run(s: &mut State, run: &RunItem) -> Vec<Effect> {
    let levels = &s.panes.budget.snap.levels;
    let find = |name: &str| levels.iter().find(|l| l.level == name);
    let mut targets = vec![(
        CapTarget {
            level: CapLevel::Run(run.id.clone()),
            cap: Some(run.budget),
            spent: run.spent,
            period: None,
        },
        room(Some(run.budget), run.spent, Micros(0)),
    )];
    let mut push = |name: String, level: CapLevel| {
        let l = find(&name);
        targets.push((
            CapTarget {
                level,
                cap: l.and_then(|l| l.cap),
                spent: l.map_or(Micros(0), |l| l.spent),
                period: l.and_then(|l| l.period.clone()),
            },
            l.map_or(i64::MAX, |l| room(l.cap, l.spent, l.reserved)),
        ));
    };
    if let Some(team) = &run.team {
        push(format!("team:{team}"), CapLevel::Team(team.clone()));
    }
    push("org".into(), CapLevel::Org);
    let tightest = targets
        .iter()
        .enumerate()
        .min_by_key(|(_, (_, r))| *r)
        .map_or(0, |(i, _)| i);
    let mut form = Form::raise_cap(targets.into_iter().map(|(t, _)| t).collect());
    form.choose(tightest);
    s.overlay = Overlay::Form(form);
    vec![]
}

/// `b` on the Budget pane: the selected level's cap.
pub fn raise_cap_for_level(s: &mut State) -> Vec<Effect> {
    let b = &s.panes.budget;
    match b.snap.levels.get(b.sel).and_then(level_target) {
        Some(t) => s.overlay = Overlay::Form(Form::raise_cap(vec![t])),
        None => s.flash(
            "no budget level yet: set one with `orchestrator-tui budget set-org` or set-team",
            true,
        ),
    }
    vec![]
}

/// `r` on a run whose last stop was `budget_exhausted`: a form for the new budget, then the
/// engine's resume with it.
pub fn resume_with_budget(s: &mut State, run: &RunItem) -> Vec<Effect> {
    s.overlay = Overlay::Form(Form::resume(run.id.clone(), run.budget, run.spent));
    vec![]
}

/// `o`: load the run's output directory and files into a popup.
pub fn outputs(s: &mut State, id: &str) -> Vec<Effect> {
    s.flash(format!("outputs of run {id}…"), false);
    vec![Effect::ShowOutputs(id.to_string())]
}

/// `e` on a task: open the first file written for it.
pub fn edit_task(run_id: &str, task_id: &str) -> Vec<Effect> {
    vec![Effect::EditArtifact {
        run_id: run_id.to_string(),
        path: None,
        task: Some(task_id.to_string()),
    }]
}
