//! Keys and actions: what each `Action` does in each context (popups first, then the pane).
//! Part of the pure `update`; no I/O.

use super::action::{Action, Effect, Pane};
use super::app::{Confirm, Overlay, State, TaskView};
use super::state::*;
use crate::routing::breaker::BreakerState;

pub(super) fn text_input(s: &mut State, c: char) {
    match &mut s.overlay {
        Overlay::Form(f) => f.input(c),
        Overlay::Prompt(p) => p.push(c),
        Overlay::Filter => {
            nav_mut(s).filter.push(c);
            nav_mut(s).selected = 0;
        }
        _ => return,
    }
    s.dirty = true;
}

/// Longest paste taken, in characters (a description, a path or a filter, not a file).
pub const MAX_PASTE_CHARS: usize = 100_000;

/// Pasted text into the focused input, as one line: newlines (and tabs) become spaces, other
/// control characters are dropped. A paste never submits a form or runs a command; with no
/// input focused it is ignored, and the status bar says so.
pub(super) fn paste(s: &mut State, text: &str) {
    let mut line: String = text
        .replace("\r\n", " ")
        .chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    let cut = line.chars().count() > MAX_PASTE_CHARS;
    if cut {
        line = line.chars().take(MAX_PASTE_CHARS).collect();
    }
    match &mut s.overlay {
        Overlay::Form(f) => f.paste(&line),
        Overlay::Prompt(p) => p.push_str(&line),
        Overlay::Filter => {
            nav_mut(s).filter.push_str(&line);
            nav_mut(s).selected = 0;
        }
        _ => {
            s.flash(
                "paste ignored: no text field is open (n opens the new-run form)",
                false,
            );
            return;
        }
    }
    if cut {
        s.flash(format!("paste cut to {MAX_PASTE_CHARS} characters"), true);
    }
    s.dirty = true;
}

fn nav_mut(s: &mut State) -> &mut ListNav {
    match s.pane {
        Pane::Tasks => &mut s.tasks_nav,
        Pane::Models => &mut s.models_nav,
        Pane::Events => &mut s.events_nav,
        Pane::Analysis => &mut s.analysis.nav,
        _ => &mut s.runs_nav,
    }
}

/// Move the selection of the current list and remember its key.
fn navigate(s: &mut State, delta: isize) {
    match s.pane {
        Pane::Runs => {
            let v = s.runs_view();
            s.runs_nav.step(delta, v.len());
            s.runs_nav.key = s.selected_run().map(|r| r.id.clone());
        }
        Pane::Tasks => {
            if let Some(tv) = &mut s.task_view {
                tv.scroll = (tv.scroll as isize + delta).clamp(0, u16::MAX as isize) as u16;
                return;
            }
            let v = s.tasks_view();
            s.tasks_nav.step(delta, v.len());
            s.tasks_nav.key = s.selected_task().map(|t| t.id.clone());
        }
        Pane::Models => {
            let v = s.models_view();
            s.models_nav.step(delta, v.len());
            s.models_nav.key = s.selected_model().map(|m| m.id.clone());
        }
        Pane::Budget => {
            let n = s.budget.levels.len();
            if n > 0 {
                s.budget_sel = (s.budget_sel as isize + delta).clamp(0, n as isize - 1) as usize;
            }
        }
        Pane::Events => {
            let v = s.events_view();
            s.events_nav.step(delta, v.len());
            s.events_nav.key = v
                .get(s.events_nav.selected)
                .and_then(|i| s.events.get(*i))
                .map(|e| e.seq.to_string());
        }
        Pane::Analysis => s.analysis.step(delta),
    }
}

const FAR: isize = 1_000_000_000;

pub(super) fn action(s: &mut State, a: Action) -> Vec<Effect> {
    let before = s.dirty;
    s.dirty = true;
    // Modal overlays first.
    if let Overlay::Help { scroll } = &mut s.overlay {
        match a {
            Action::Down => *scroll = scroll.saturating_add(1),
            Action::Up => *scroll = scroll.saturating_sub(1),
            _ => s.overlay = Overlay::None,
        }
        return vec![];
    }
    if let Overlay::Confirm(c) = &s.overlay {
        let c = c.clone();
        s.overlay = Overlay::None;
        if a != Action::Confirm {
            return vec![];
        }
        return match c {
            Confirm::Quit => {
                s.stopping = true;
                vec![Effect::Quit {
                    cancel_active: true,
                }]
            }
            Confirm::Delete(id) => vec![Effect::DeleteRun(id)],
        };
    }
    if let Overlay::Form(f) = &mut s.overlay {
        match a {
            Action::NextField => f.focus = (f.focus + 1) % FORM_LABELS.len(),
            Action::PrevField => f.focus = (f.focus + FORM_LABELS.len() - 1) % FORM_LABELS.len(),
            Action::Backspace => f.backspace(),
            Action::Deny => s.overlay = Overlay::None,
            Action::Confirm => match f.validate() {
                Ok(req) => {
                    s.overlay = Overlay::None;
                    s.flash("starting run…", false);
                    return vec![Effect::StartRun(req)];
                }
                Err(e) => f.error = Some(e),
            },
            _ => {}
        }
        return vec![];
    }
    if let Overlay::Prompt(_) = s.overlay {
        return super::analysis::prompt_action(s, a);
    }
    if s.overlay == Overlay::Filter {
        match a {
            Action::Backspace => {
                nav_mut(s).filter.pop();
            }
            Action::Deny => {
                nav_mut(s).filter.clear();
                s.overlay = Overlay::None;
            }
            _ => s.overlay = Overlay::None,
        }
        return vec![];
    }
    if s.pane == Pane::Analysis
        && let Some(fx) = super::analysis::action(s, a)
    {
        return fx;
    }
    match a {
        Action::Quit => {
            if s.active.is_empty() {
                s.stopping = true;
                return vec![Effect::Quit {
                    cancel_active: false,
                }];
            }
            s.overlay = Overlay::Confirm(Confirm::Quit);
        }
        Action::Help => s.overlay = Overlay::Help { scroll: 0 },
        Action::NextPane => s.pane = s.pane.next(),
        Action::PrevPane => s.pane = s.pane.prev(),
        Action::GoPane(p) => s.pane = p,
        Action::Down => navigate(s, 1),
        Action::Up => navigate(s, -1),
        Action::PageDown => navigate(s, PAGE as isize),
        Action::PageUp => navigate(s, -(PAGE as isize)),
        Action::Top => navigate(s, -FAR),
        Action::Bottom => navigate(s, FAR),
        Action::Open => match s.pane {
            Pane::Runs => {
                if let Some(id) = s.selected_run().map(|r| r.id.clone()) {
                    s.open(&id);
                    return vec![Effect::Refresh];
                }
            }
            Pane::Tasks if s.task_view.is_none() => {
                if let Some(id) = s.selected_task().map(|t| t.id.clone()) {
                    s.task_view = Some(TaskView {
                        task_id: id,
                        scroll: 0,
                    });
                    s.attempts = None;
                    return vec![Effect::Refresh];
                }
            }
            _ => {}
        },
        Action::Back => {
            if s.pane == Pane::Tasks && s.task_view.is_some() {
                s.task_view = None;
                s.attempts = None;
            } else if s.pane.has_filter() {
                nav_mut(s).filter.clear();
            }
        }
        Action::Filter if s.pane.has_filter() => s.overlay = Overlay::Filter,
        Action::NewRun => s.overlay = Overlay::Form(Form::new(s.default_budget_usd)),
        Action::Resume if s.pane == Pane::Runs => return resume(s),
        Action::Delete if s.pane == Pane::Runs => {
            if let Some(r) = s.selected_run() {
                let id = r.id.clone();
                if s.active.contains(&id) || r.status == crate::domain::status::RunStatus::Running {
                    s.flash(format!("run {id} is running: it cannot be deleted"), true);
                } else {
                    s.overlay = Overlay::Confirm(Confirm::Delete(id));
                }
            }
        }
        Action::ResetBreaker if s.pane == Pane::Models => {
            if let Some(m) = s.selected_model() {
                let (model, from) = (m.id.clone(), m.breaker);
                if from == BreakerState::Closed {
                    s.flash(format!("the breaker of {model} is already closed"), false);
                } else {
                    s.flash(format!("resetting the breaker of {model}…"), false);
                    return vec![Effect::ResetBreaker {
                        model,
                        from: from.as_str().to_string(),
                    }];
                }
            }
        }
        _ => s.dirty = before,
    }
    vec![]
}

fn resume(s: &mut State) -> Vec<Effect> {
    let Some(r) = s.selected_run() else {
        return vec![];
    };
    let (id, status) = (r.id.clone(), r.status);
    if s.active.contains(&id) {
        s.flash(format!("run {id} is already running here"), true);
        return vec![];
    }
    if !status.is_resumable() {
        let why = if status.is_terminal() {
            "it finished; start a new run with n"
        } else {
            "another process is driving it"
        };
        s.flash(format!("run {id} is {status}: not resumable ({why})"), true);
        return vec![];
    }
    s.flash(format!("resuming run {id}…"), false);
    vec![Effect::ResumeRun(id)]
}
