//! The vocabulary of the UI: one serde `Action` enum (snake_case) used by the keymap, the help
//! popup, the status bar and `update`. Inputs that are not keys (engine events, snapshots, ticks,
//! command results) arrive as `Msg`; what the UI asks the outside world to do is an `Effect`.

use crate::domain::Micros;
use crate::engine::EngineEvent;
use serde::{Deserialize, Serialize};

use super::panes::analysis::AnalysisMsg;
use super::snapshot::Snapshot;
use crate::analysis::AnalysisReport;

pub use super::panes::Pane;

/// What a key (or a test) asks the UI to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Quit,
    Help,
    NextPane,
    PrevPane,
    GoPane(Pane),
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// `Enter` on a list: open the run / the task detail.
    Open,
    /// `Esc`: close the popup, the detail or the filter.
    Back,
    Filter,
    NewRun,
    Resume,
    Delete,
    ResetBreaker,
    /// Popups: yes / submit.
    Confirm,
    /// Popups: no / cancel.
    Deny,
    NextField,
    PrevField,
    /// Text input: delete the character before the cursor.
    Backspace,
    /// Text input: clear the line.
    ClearInput,
    /// Analysis: open the path prompt.
    Analyze,
    /// Analysis: all → CRITICAL → HIGH → MEDIUM → LOW → all.
    CyclePriority,
    /// Analysis: write the report as Markdown in the data dir.
    Export,
    /// `c`: cancel the selected run (confirmed), here or through the store.
    Cancel,
    /// `b`: raise the run's, its team's or the org's cap (a form, then a confirmation).
    RaiseCap,
    /// `o`: show a run's output directory and its files.
    ShowOutputs,
    /// `e`: open the selected artifact in `$VISUAL`/`$EDITOR` (the TUI steps aside meanwhile).
    EditArtifact,
    /// Ctrl-Z: suspend the app (the shell's `fg` brings it back).
    Suspend,
    /// Text fields: shell-like line editing.
    CursorLeft,
    CursorRight,
    LineStart,
    LineEnd,
    WordLeft,
    WordRight,
    DeleteNext,
    DeleteWord,
    /// Tasks: show each task's dependencies instead of its reason.
    ToggleDeps,
    /// Tasks: keep the selection on the running task.
    Follow,
    /// Runs: only this host's and OS user's runs, or every run.
    ToggleMine,
}

/// The new-run form's values, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    pub description: String,
    pub criteria: String,
    pub budget: Micros,
    pub team: Option<String>,
}

/// Everything `update` can receive.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A key event (only `Press` kinds are acted on).
    Key(crossterm::event::KeyEvent),
    /// Pasted text (bracketed paste): always text for the focused input, never keys.
    Paste(String),
    /// An action directly (tests, future mouse support).
    Action(Action),
    Engine(Box<EngineEvent>),
    /// Fresh data from the store; parts equal to what is shown change nothing.
    Snapshot(Box<Snapshot>),
    /// The clock, epoch milliseconds (render never reads the clock itself).
    Tick(i64),
    Resize,
    /// A run was started or resumed by this UI.
    Started {
        run_id: String,
        resumed: bool,
    },
    Deleted(String),
    BreakerReset(String),
    /// A command failed: shown in the status bar and the Events pane.
    Failed(String),
    /// Some of the engine's events were dropped because the UI fell behind.
    Lagged(u64),
    /// Progress and results of an analysis or an export.
    Analysis(AnalysisMsg),
    /// A mouse event (only with `[tui] mouse = true`), hit-tested against the last frame.
    Mouse(crossterm::event::MouseEvent),
    /// A run's output directory and files, for the `o` popup.
    Outputs(Outputs),
    /// A command done: shown in the status bar, then the data is reloaded.
    Done(String),
}

/// What the `o` popup shows: a run's output directory and the files written in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outputs {
    pub run_id: String,
    pub dir: String,
    /// (path relative to `dir`, task id)
    pub files: Vec<(String, Option<String>)>,
    pub selected: usize,
}

/// What the UI asks the driver to do (engine commands and store work, never done in `update`).
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Reload the snapshot (coalesced and rate-limited by the driver).
    Refresh,
    StartRun(NewRun),
    ResumeRun(String),
    DeleteRun(String),
    ResetBreaker {
        model: String,
        from: String,
    },
    /// Analyze this folder (static stage on a thread, then the semantic stage, then saved).
    Analyze(String),
    /// Write this report as Markdown to `analysis-<timestamp>.md` in the data dir.
    ExportAnalysis(Box<AnalysisReport>),
    /// Cancel a run: here if this process drives it, else through the store (its driver takes
    /// the request within a second).
    CancelRun(String),
    /// Set a cap (`b`, confirmed), as `budget set-org/set-team/set-run` do.
    SetCap(super::widgets::form::CapChange),
    /// Resume with a new run budget (`r` after `budget_exhausted`).
    ResumeWithBudget {
        run_id: String,
        budget: Micros,
    },
    /// Load a run's output directory and files for the `o` popup.
    ShowOutputs(String),
    /// Open a file of a run's outputs in the editor: `path` relative to its output directory,
    /// or the first file written for `task`.
    EditArtifact {
        run_id: String,
        path: Option<String>,
        task: Option<String>,
    },
    /// Give the terminal back and stop the process (SIGTSTP) until the shell continues it.
    Suspend,
    /// Leave the UI; with `cancel_active`, cancel the runs in flight and wait until they are
    /// stored `partial_success` first.
    Quit {
        cancel_active: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_snake_case_json() {
        let j = serde_json::to_string(&Action::ResetBreaker).unwrap();
        assert_eq!(j, "\"reset_breaker\"");
        let j = serde_json::to_string(&Action::GoPane(Pane::Budget)).unwrap();
        assert_eq!(j, "{\"go_pane\":\"budget\"}");
        let back: Action = serde_json::from_str(&j).unwrap();
        assert_eq!(back, Action::GoPane(Pane::Budget));
    }
}
