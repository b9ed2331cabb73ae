//! Lines listed once whichever way they come. The Events pane hears this process's engine live
//! (`EngineEvent::log_lines`) and reads every process's stored events from the store (the same
//! lines, `store/events.rs`), so each of this process's lines arrives twice, in either order: a
//! settled call is stored before its event is sent, most others are sent before they are stored.
//! Stored rows carry no process, so the two are paired by content, one for one: a live line
//! takes an unpaired stored row with the same (kind, run, text), and the other way round. Counts
//! stay exact (two identical failures are two lines); what another process stores with the same
//! text as one of ours (only possible for lines without a run: a run has one driver at a time)
//! is at worst listed at the moment our own copy would have been. Pure: no clock but `now_ms`.

use super::snapshot::EventKind;
use std::collections::VecDeque;

/// (kind, run, text): what makes two lines the same.
pub type Line = (EventKind, Option<String>, String);

/// Unpaired lines kept per side (the oldest go first).
const KEEP: usize = 1000;
/// A stored row waits this long for its live twin: ours follows within milliseconds, and an old
/// row must not hide a new line that happens to read the same.
const STORED_WAIT_MS: i64 = 10_000;

#[derive(Debug, Clone, Default)]
pub struct Echo {
    /// Live lines listed whose stored row has not come yet.
    live: VecDeque<Line>,
    /// Stored rows listed before (or without) a live twin, with when they were listed.
    stored: VecDeque<(Line, i64)>,
}

impl Echo {
    /// A live line of this process: list it unless its stored row is already listed.
    pub fn live(&mut self, line: Line, now_ms: i64) -> bool {
        let fresh = |at: i64| now_ms.saturating_sub(at) <= STORED_WAIT_MS;
        if let Some(i) = self
            .stored
            .iter()
            .position(|(l, at)| fresh(*at) && *l == line)
        {
            self.stored.remove(i);
            return false;
        }
        push(&mut self.live, line);
        true
    }

    /// A stored row (any process's): list it unless it is one of ours already listed live.
    pub fn stored(&mut self, line: Line, now_ms: i64) -> bool {
        if let Some(i) = self.live.iter().position(|l| *l == line) {
            self.live.remove(i);
            return false;
        }
        push(&mut self.stored, (line, now_ms));
        true
    }

    /// A row of the stored history: listed unless ours and listed live already. History rows
    /// wait for no live twin (they are older than this process's next lines).
    pub fn history(&mut self, line: &Line) -> bool {
        match self.live.iter().position(|l| l == line) {
            Some(i) => {
                self.live.remove(i);
                false
            }
            None => true,
        }
    }
}

fn push<T>(q: &mut VecDeque<T>, x: T) {
    if q.len() >= KEEP {
        q.pop_front();
    }
    q.push_back(x);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(run: Option<&str>, text: &str) -> Line {
        (EventKind::Error, run.map(String::from), text.to_string())
    }

    #[test]
    fn each_line_is_listed_once_in_either_order_and_counts_stay_exact() {
        let mut e = Echo::default();
        let a = line(Some("r-1"), "generate call to m failed (timeout)");
        // Live first, then stored (most events): the stored copy is not listed again.
        assert!(e.live(a.clone(), 0));
        assert!(!e.stored(a.clone(), 0));
        // Stored first (a settled call): the live copy is not listed again.
        assert!(e.stored(a.clone(), 0));
        assert!(!e.live(a.clone(), 5));
        // Two identical failures are two lines, however they interleave.
        assert!(e.live(a.clone(), 10));
        assert!(e.live(a.clone(), 10));
        assert!(!e.stored(a.clone(), 10));
        assert!(!e.stored(a.clone(), 10));
        assert!(
            e.stored(a.clone(), 10),
            "a third stored row is another process's"
        );
        // Other runs and texts never pair.
        let b = line(Some("r-2"), "generate call to m failed (timeout)");
        assert!(e.live(b.clone(), 20));
        assert!(e.stored(line(Some("r-2"), "other"), 20));
        assert!(!e.stored(b, 20));
    }

    #[test]
    fn an_old_stored_row_does_not_hide_a_new_live_line() {
        let mut e = Echo::default();
        let a = line(None, "policy warning for m: x");
        assert!(e.stored(a.clone(), 0));
        assert!(e.live(a.clone(), STORED_WAIT_MS + 1));
        // Its own stored copy then pairs with it.
        assert!(!e.stored(a, STORED_WAIT_MS + 2));
    }

    #[test]
    fn history_rows_pair_only_with_lines_already_listed() {
        let mut e = Echo::default();
        let a = line(Some("r-1"), "run started: x");
        assert!(e.live(a.clone(), 0));
        assert!(!e.history(&a));
        assert!(
            e.history(&a),
            "a second copy in the history is another line"
        );
        // Nothing is left waiting: the next live line is listed.
        assert!(e.live(a, 0));
    }

    #[test]
    fn unpaired_lines_are_bounded() {
        let mut e = Echo::default();
        for i in 0..(KEEP + 50) {
            e.stored(line(None, &i.to_string()), 0);
            e.live(line(Some("r"), &i.to_string()), 0);
        }
        assert_eq!((e.stored.len(), e.live.len()), (KEEP, KEEP));
    }
}
