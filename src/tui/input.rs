//! Keys and actions: what each `Action` does in each context (popups first, then the current
//! pane's own actions, then what every pane shares: switching panes, navigation, filter, help,
//! new run, quit). Part of the pure `update`; no I/O.

use super::action::{Action, Effect};
use super::state::{Confirm, Overlay, State};
use super::widgets::form::{Form, Submit};
use super::widgets::line_edit::Edit;
use super::widgets::list::{ListNav, PAGE};

pub(super) fn text_input(s: &mut State, c: char) {
    match &mut s.overlay {
        Overlay::Form(f) => f.input(c),
        Overlay::Prompt(p) => p.insert(c),
        Overlay::Filter => {
            if let Some(nav) = nav_mut(s) {
                nav.filter.insert(c);
                nav.selected = 0;
            }
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
        Overlay::Prompt(p) => p.insert_str(&line),
        Overlay::Filter => {
            if let Some(nav) = nav_mut(s) {
                nav.filter.insert_str(&line);
                nav.selected = 0;
            }
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

/// The filterable list of the current pane, if it has one.
fn nav_mut(s: &mut State) -> Option<&mut ListNav> {
    s.pane.nav_mut(&mut s.panes)
}

/// Move the selection of the current list (or scroll its open detail).
fn navigate(s: &mut State, delta: isize) {
    (s.pane.def().step)(s, delta);
}

const FAR: isize = 1_000_000_000;

pub(super) fn action(s: &mut State, a: Action) -> Vec<Effect> {
    // Ctrl-Z anywhere, popups and forms included: they stay as they are for `fg`.
    if a == Action::Suspend {
        return vec![Effect::Suspend];
    }
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
        return match (c, a) {
            // Ctrl-C in the quit dialog is the second Ctrl-C: quit at once, as headless does.
            (Confirm::Quit, Action::Confirm | Action::Quit) => {
                s.stopping = true;
                s.quit_cancelled = !s.active.is_empty();
                vec![Effect::Quit {
                    cancel_active: true,
                }]
            }
            (Confirm::Delete(id), Action::Confirm) => vec![Effect::DeleteRun(id)],
            (Confirm::Cancel(id), Action::Confirm) => {
                s.flash(format!("cancelling run {id}…"), false);
                vec![Effect::CancelRun(id)]
            }
            (Confirm::RaiseCap(c), Action::Confirm) => {
                s.flash(format!("setting the {} cap…", c.level.label()), false);
                vec![Effect::SetCap(c)]
            }
            // Ctrl-C over another dialog closes it and asks to quit as usual.
            (_, Action::Quit) => action(s, Action::Quit),
            _ => vec![],
        };
    }
    if let Overlay::Form(f) = &mut s.overlay {
        if let Some(e) = line_edit(a) {
            f.edit(e);
            return vec![];
        }
        match a {
            Action::NextField => f.next(),
            Action::PrevField => f.prev(),
            Action::Deny => s.overlay = Overlay::None,
            // Ctrl-C over a form closes it and asks to quit as usual.
            Action::Quit => {
                s.overlay = Overlay::None;
                return action(s, Action::Quit);
            }
            Action::Confirm => match f.validate() {
                Ok(Submit::NewRun(req)) => {
                    s.overlay = Overlay::None;
                    s.flash("starting run…", false);
                    return vec![Effect::StartRun(req)];
                }
                // A cap change is applied only once confirmed (y).
                Ok(Submit::RaiseCap(c)) => s.overlay = Overlay::Confirm(Confirm::RaiseCap(c)),
                Ok(Submit::Resume { run_id, budget }) => {
                    s.overlay = Overlay::None;
                    s.flash(format!("resuming run {run_id}…"), false);
                    return vec![Effect::ResumeWithBudget { run_id, budget }];
                }
                Err(e) => f.error = Some(e),
            },
            _ => {}
        }
        return vec![];
    }
    if let Overlay::Outputs(o) = &mut s.overlay {
        let n = o.files.len();
        match a {
            Action::Down if n > 0 => o.selected = (o.selected + 1).min(n - 1),
            Action::Up => o.selected = o.selected.saturating_sub(1),
            Action::Top => o.selected = 0,
            Action::Bottom => o.selected = n.saturating_sub(1),
            Action::EditArtifact | Action::Confirm => {
                if let Some((path, _)) = o.files.get(o.selected) {
                    let fx = Effect::EditArtifact {
                        run_id: o.run_id.clone(),
                        path: Some(path.clone()),
                        task: None,
                    };
                    return vec![fx];
                }
                s.flash("no file written yet", false);
            }
            Action::Quit => {
                s.overlay = Overlay::None;
                return action(s, Action::Quit);
            }
            _ => s.overlay = Overlay::None,
        }
        return vec![];
    }
    // The prompt belongs to the pane that opened it (the pane cannot change while it is open).
    if let Overlay::Prompt(_) = s.overlay {
        return (s.pane.def().action)(s, a).unwrap_or_default();
    }
    if s.overlay == Overlay::Filter {
        if let Some(e) = line_edit(a) {
            // Edited like the form's fields; the list follows the text as it changes.
            if let Some(nav) = nav_mut(s) {
                let before = nav.filter.value().to_string();
                nav.filter.edit(e);
                if nav.filter.value() != before {
                    nav.selected = 0;
                }
            }
            return vec![];
        }
        match a {
            Action::Deny => {
                if let Some(nav) = nav_mut(s) {
                    nav.filter.clear();
                }
                s.overlay = Overlay::None;
            }
            _ => s.overlay = Overlay::None,
        }
        return vec![];
    }
    if let Some(fx) = (s.pane.def().action)(s, a) {
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
        // Open on a pane without a detail: nothing to open.
        Action::Open => {}
        Action::Back => {
            if let Some(nav) = nav_mut(s) {
                nav.filter.clear();
            }
        }
        Action::Filter if s.pane.has_filter() => s.overlay = Overlay::Filter,
        Action::NewRun => s.overlay = Overlay::Form(Form::new(s.default_budget_usd)),
        _ => s.dirty = before,
    }
    vec![]
}

/// The line-editing command of an action in a text field, if it is one.
pub(super) fn line_edit(a: Action) -> Option<Edit> {
    Some(match a {
        Action::CursorLeft => Edit::Left,
        Action::CursorRight => Edit::Right,
        Action::LineStart => Edit::Home,
        Action::LineEnd => Edit::End,
        Action::WordLeft => Edit::WordLeft,
        Action::WordRight => Edit::WordRight,
        Action::Backspace => Edit::Backspace,
        Action::DeleteNext => Edit::Delete,
        Action::ClearInput => Edit::KillToStart,
        Action::DeleteWord => Edit::KillWord,
        _ => return None,
    })
}
