//! Plain data the UI shows: snapshots loaded from the store (compared for equality so unchanged
//! data never causes a redraw), list navigation and the new-run form. No I/O, no clock.

use super::action::NewRun;
use super::analysis::StoredAnalysis;
use crate::domain::Micros;
use crate::domain::status::{RunStatus, TaskStatus};
use crate::routing::breaker::BreakerState;

/// One load of everything the panes show.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    pub runs: Vec<RunItem>,
    /// The open run (Tasks pane), when one is open.
    pub detail: Option<RunDetail>,
    /// The task shown in the detail view, when one is.
    pub attempts: Option<TaskAttempts>,
    pub models: Vec<ModelRow>,
    pub budget: BudgetSnap,
    /// Stored history for the Events pane: only in the first load.
    pub history: Option<Vec<EventItem>>,
    /// The latest stored analysis, when it is new to this loader.
    pub analysis: Option<StoredAnalysis>,
    /// Breaker transitions stored (by any process) since the last load, oldest first. The
    /// Events pane lists breaker transitions from here only, so this process's own (also
    /// announced by the engine) are listed once.
    pub breaker_events: Vec<EventItem>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunItem {
    pub id: String,
    /// Liveness folded in: `running` without a live owner is `interrupted`.
    pub status: RunStatus,
    pub description: String,
    pub team: Option<String>,
    pub spent: Micros,
    pub budget: Micros,
    pub tasks_done: u64,
    pub tasks_total: u64,
    /// Creation time as shown (`MM-DD HH:MM`).
    pub created: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunDetail {
    pub id: String,
    pub description: String,
    pub status: RunStatus,
    pub status_reason: Option<String>,
    pub team: Option<String>,
    pub budget: Micros,
    pub spent: Micros,
    pub tasks: Vec<TaskItem>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskItem {
    pub id: String,
    pub task_type: String,
    pub status: TaskStatus,
    pub status_reason: Option<String>,
    pub model: Option<String>,
    pub iteration: u32,
    pub max_iterations: u32,
    pub score: Option<f64>,
    pub threshold: f64,
    pub cost: Micros,
    /// Epoch ms; elapsed is computed against the state's `now` when rendering.
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskAttempts {
    pub run_id: String,
    pub task_id: String,
    pub prompt: String,
    pub output: Option<String>,
    pub attempts: Vec<AttemptItem>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AttemptItem {
    pub n: u32,
    pub model: Option<String>,
    pub reviewer: Option<String>,
    pub score: Option<f64>,
    pub cost: Micros,
    pub failure_reason: Option<String>,
    /// Validator verdicts in one line (`length ✓, json ✕`).
    pub validators: String,
    pub critique: Option<String>,
    pub output: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelRow {
    pub id: String,
    pub provider: String,
    pub breaker: BreakerState,
    pub failures: u32,
    pub calls: u64,
    pub ok: u64,
    pub cost: Micros,
    pub p50_ms: Option<u64>,
    pub p95_ms: Option<u64>,
    /// Latencies of the latest successful calls, oldest first (sparkline).
    pub recent_ms: Vec<u64>,
    /// (task type, average score, attempts scored)
    pub quality: Vec<(String, f64, u64)>,
}

impl ModelRow {
    pub fn success_rate(&self) -> Option<f64> {
        (self.calls > 0).then(|| self.ok as f64 / self.calls as f64)
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BudgetSnap {
    pub levels: Vec<LevelItem>,
    /// (run id, description, spent), most expensive first.
    pub by_run: Vec<(String, String, Micros)>,
    /// (phase = call role, spent), most expensive first.
    pub by_phase: Vec<(String, Micros)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LevelItem {
    /// `org` or `team:<name>`.
    pub level: String,
    pub cap: Option<Micros>,
    pub spent: Micros,
    pub reserved: Micros,
    pub period: Option<String>,
    /// Part of `spent` charged as an estimate (calls cut short by a crash).
    pub estimated: Micros,
    /// (epoch ms, spent at that time), oldest first.
    pub series: Vec<(i64, Micros)>,
}

impl LevelItem {
    pub fn remaining(&self) -> Option<Micros> {
        crate::budget::remaining(self.cap, self.spent, self.reserved)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Breaker,
    Policy,
    Budget,
    Error,
    Warning,
    Info,
}

impl EventKind {
    pub fn label(self) -> &'static str {
        match self {
            EventKind::Breaker => "breaker",
            EventKind::Policy => "policy",
            EventKind::Budget => "budget",
            EventKind::Error => "error",
            EventKind::Warning => "warning",
            EventKind::Info => "info",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            EventKind::Breaker => "◐",
            EventKind::Policy => "§",
            EventKind::Budget => "$",
            EventKind::Error => "✕",
            EventKind::Warning => "!",
            EventKind::Info => "·",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventItem {
    /// Increasing number: the selection key.
    pub seq: u64,
    /// As shown (`HH:MM:SS`).
    pub time: String,
    pub kind: EventKind,
    pub run_id: Option<String>,
    pub text: String,
}

/// Selection and filter of one list. `selected` indexes the filtered view; `key` keeps the
/// selection on the same item when the list is reloaded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListNav {
    pub selected: usize,
    pub key: Option<String>,
    pub filter: String,
}

pub const PAGE: usize = 10;

impl ListNav {
    /// Indices of the items that pass the filter (case-insensitive substring of `text`).
    pub fn view<T>(&self, items: &[T], text: impl Fn(&T) -> String) -> Vec<usize> {
        if self.filter.is_empty() {
            return (0..items.len()).collect();
        }
        let f = self.filter.to_lowercase();
        items
            .iter()
            .enumerate()
            .filter(|(_, t)| text(t).to_lowercase().contains(&f))
            .map(|(i, _)| i)
            .collect()
    }

    /// Move by `delta` (clamped) within a view of `len` items.
    pub fn step(&mut self, delta: isize, len: usize) {
        if len == 0 {
            self.selected = 0;
            return;
        }
        let cur = self.selected.min(len - 1) as isize;
        self.selected = (cur + delta).clamp(0, len as isize - 1) as usize;
    }

    /// After a reload, find the selected key again (else clamp the index).
    pub fn reselect(&mut self, keys: &[String]) {
        if let Some(k) = &self.key
            && let Some(i) = keys.iter().position(|x| x == k)
        {
            self.selected = i;
            return;
        }
        self.selected = self.selected.min(keys.len().saturating_sub(1));
    }

    /// First visible row so that the selection is on screen in `height` rows.
    pub fn offset(&self, height: usize) -> usize {
        if height == 0 || self.selected < height {
            0
        } else {
            self.selected + 1 - height
        }
    }
}

/// The new-run form: description, criteria, budget (USD), team.
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub fields: [String; 4],
    pub focus: usize,
    pub error: Option<String>,
}

pub const FORM_LABELS: [&str; 4] = ["Description", "Criteria", "Budget (USD)", "Team"];

impl Form {
    pub fn new(default_budget_usd: f64) -> Form {
        Form {
            fields: [
                String::new(),
                String::new(),
                format!("{default_budget_usd}"),
                String::new(),
            ],
            focus: 0,
            error: None,
        }
    }

    pub fn input(&mut self, c: char) {
        if let Some(f) = self.fields.get_mut(self.focus) {
            f.push(c);
        }
        self.error = None;
    }

    /// Pasted text (already one line) at the end of the focused field.
    pub fn paste(&mut self, text: &str) {
        if let Some(f) = self.fields.get_mut(self.focus) {
            f.push_str(text);
        }
        self.error = None;
    }

    pub fn backspace(&mut self) {
        if let Some(f) = self.fields.get_mut(self.focus) {
            f.pop();
        }
    }

    /// Validate into a request, or say what is wrong.
    pub fn validate(&self) -> Result<NewRun, String> {
        let description = self.fields[0].trim().to_string();
        if description.is_empty() {
            return Err("describe what to build".into());
        }
        let b = self.fields[2].trim().trim_start_matches('$');
        let usd: f64 = b
            .parse()
            .map_err(|_| format!("budget `{b}` is not a number of USD"))?;
        if !usd.is_finite() || usd <= 0.0 {
            return Err("the budget must be a positive amount".into());
        }
        let team = self.fields[3].trim();
        if team.contains(char::is_whitespace) {
            return Err(format!("team `{team}`: use a name without spaces"));
        }
        Ok(NewRun {
            description,
            criteria: self.fields[1].trim().to_string(),
            budget: Micros::from_usd(usd),
            team: (!team.is_empty()).then(|| team.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nav_filters_steps_and_reselects() {
        let items = vec!["alpha", "beta", "gamma", "delta"];
        let mut n = ListNav {
            filter: "TA".into(),
            ..Default::default()
        };
        assert_eq!(n.view(&items, |s| s.to_string()), vec![1, 3]);
        n.step(5, 2);
        assert_eq!(n.selected, 1);
        n.step(-9, 2);
        assert_eq!(n.selected, 0);
        n.key = Some("c".into());
        n.reselect(&["a".into(), "b".into(), "c".into()]);
        assert_eq!(n.selected, 2);
        assert_eq!(n.offset(2), 1);
        assert_eq!(n.offset(3), 0);
    }

    #[test]
    fn form_validates_every_field() {
        let mut f = Form::new(8.0);
        assert!(f.validate().unwrap_err().contains("describe"));
        for c in "todo app".chars() {
            f.input(c);
        }
        let ok = f.validate().unwrap();
        assert_eq!(ok.budget, Micros::from_usd(8.0));
        assert_eq!(ok.team, None);
        f.fields[2] = "-1".into();
        assert!(f.validate().unwrap_err().contains("positive"));
        f.fields[2] = "lots".into();
        assert!(f.validate().unwrap_err().contains("not a number"));
        f.fields[2] = "$2.5".into();
        f.fields[3] = "a team".into();
        assert!(f.validate().unwrap_err().contains("without spaces"));
        f.fields[3] = "web".into();
        assert_eq!(f.validate().unwrap().team.as_deref(), Some("web"));
    }
}
