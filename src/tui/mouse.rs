//! Mouse support (with `[tui] mouse = true`; it is off by default because capturing the mouse
//! breaks the terminal's own text selection). A click on a tab goes to that pane, a click on a
//! list row selects it (a second click on the selected row opens it, as Enter does), a click on a
//! popup's button presses it; the wheel scrolls the list (or help) under the pointer.
//!
//! Where the rows and buttons are is recorded by render in the last frame (`HitCell`: the only
//! thing render writes, read only here), so the hit test follows every pane's own layout.

use super::action::{Action, Effect};
use super::panes::Pane;
use super::state::{Overlay, State};
use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};
use std::cell::RefCell;

/// The last frame's clickable places.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hits {
    /// The current pane's list: the area of its rows and the view index of the first one shown.
    pub list: Option<(Rect, usize)>,
    /// Buttons of the popup on top.
    pub buttons: Vec<(Rect, Action)>,
}

/// [`Hits`] behind a `RefCell`, so render (which only reads `State`) can record them.
#[derive(Debug, Clone, Default)]
pub struct HitCell(RefCell<Hits>);

impl HitCell {
    /// A new frame: forget the last one's places.
    pub fn clear(&self) {
        *self.0.borrow_mut() = Hits::default();
    }

    /// The rows of the list drawn in `area`, the first being view index `first`.
    pub fn list(&self, area: Rect, first: usize) {
        self.0.borrow_mut().list = Some((area, first));
    }

    pub fn button(&self, area: Rect, action: Action) {
        self.0.borrow_mut().buttons.push((area, action));
    }

    pub fn get(&self) -> Hits {
        self.0.borrow().clone()
    }
}

/// The pane whose tab is at column `x` of the tab bar (the same layout as `view::tabs`: one
/// space, then ` N Title ` and a space for each pane).
pub fn tab_at(x: u16) -> Option<Pane> {
    let mut left = 1u16;
    for p in Pane::ALL {
        let w = format!(" {} {} ", p.index() + 1, p.title()).chars().count() as u16;
        if (left..left + w).contains(&x) {
            return Some(p);
        }
        left += w + 1;
    }
    None
}

/// The selected row of the current pane's list: its filtered list's, or the Budget pane's
/// level (a list without a filter).
fn selected(s: &State) -> Option<usize> {
    match s.pane {
        Pane::Budget => Some(s.panes.budget.sel),
        p => p.nav(&s.panes).map(|n| n.selected),
    }
}

/// Apply a mouse event (part of the pure `update`).
pub(super) fn mouse(s: &mut State, m: MouseEvent) -> Vec<Effect> {
    let hits = s.hits.get();
    let at = Position::new(m.column, m.row);
    match m.kind {
        MouseEventKind::Down(MouseButton::Left) => {
            if let Some((_, a)) = hits.buttons.iter().find(|(r, _)| r.contains(at)) {
                return super::input::action(s, *a);
            }
            if s.overlay != Overlay::None {
                return vec![];
            }
            if m.row == 0 {
                return match tab_at(m.column) {
                    Some(p) => super::input::action(s, Action::GoPane(p)),
                    None => vec![],
                };
            }
            if let Some((area, first)) = hits.list
                && area.contains(at)
            {
                let want = first + (m.row - area.y) as usize;
                let Some(cur) = selected(s) else {
                    return vec![];
                };
                if want == cur {
                    return super::input::action(s, Action::Open);
                }
                (s.pane.def().step)(s, want as isize - cur as isize);
                s.dirty = true;
                return vec![];
            }
            vec![]
        }
        MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
            let a = if m.kind == MouseEventKind::ScrollDown {
                Action::Down
            } else {
                Action::Up
            };
            // Help and the outputs popup scroll wherever the pointer is; a pane's list only
            // with the pointer over it (a pane without one: over its body).
            let over = match hits.list {
                Some((r, _)) => r.contains(at),
                None => m.row > 0,
            };
            if matches!(s.overlay, Overlay::Help { .. } | Overlay::Outputs(_)) || over {
                super::input::action(s, a)
            } else {
                vec![]
            }
        }
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabs_are_found_by_column() {
        assert_eq!(tab_at(0), None);
        assert_eq!(tab_at(1), Some(Pane::Runs));
        // " 1 Runs " is 8 wide, then a space: Tasks starts at 10.
        assert_eq!(tab_at(8), Some(Pane::Runs));
        assert_eq!(tab_at(9), None);
        assert_eq!(tab_at(10), Some(Pane::Tasks));
        assert_eq!(tab_at(500), None);
    }
}
