//! The store API as domain operations, so callers outside `store/` never see SQL or `rusqlite`:
//! they take `&impl Backend` (or one of its parts) and call these methods. SQLite implements it
//! for a plain connection and for a transaction (the same free functions behind both); a second
//! backend (issue 19: the org-wide store on PostgreSQL) implements the same traits. `RunStore`,
//! `AnalysisStore` and `ViewStore` are written once on `sql::Sql`, so every `Sql` (a PostgreSQL
//! transaction included) has them; `BudgetStore` differs per backend.

use super::owner::Owner;
use super::recovery::{Holder, Recovered};
use super::runs::CallCounts;
use super::sql::Sql;
use super::views::{AttemptView, HistoryRow, TaskView};
use super::{AttemptRow, BreakerEventRow, RunRow, RunSummary, StoreError, TaskRow};
use crate::analysis::report::AnalysisReport;
use crate::budget::ledger::{LevelState, Reserve};
use crate::budget::level::Level;
use crate::domain::Micros;
use crate::domain::TaskSpec;
use crate::domain::status::{RunStatus, TaskStatus};
use std::collections::HashMap;

/// Budget levels, reservations and leases (store/budget.rs, waiters.rs, recovery.rs).
pub trait BudgetStore {
    /// A level's state, rolled into its current period (`None`: never used).
    fn level_state(&self, level: &Level) -> Result<Option<LevelState>, StoreError>;
    /// Every stored level, org first.
    fn all_levels(&self) -> Result<Vec<LevelState>, StoreError>;
    /// Spend over time at one level, oldest first (at most `limit` points).
    fn spend_series(&self, level: &str, limit: usize) -> Result<Vec<(String, Micros)>, StoreError>;
    fn set_cap(&self, level: &Level, cap: Micros, period: Option<&str>) -> Result<(), StoreError>;
    /// Reserve `amount` at every level of the call for `owner` (`""`: nobody waiting).
    fn reserve(
        &self,
        run: Option<&str>,
        team: Option<&str>,
        amount: Micros,
        pid: u32,
        owner: &str,
    ) -> Result<Reserve, StoreError>;
    fn open_lease(&self, run: &str, team: Option<&str>, pid: u32) -> Result<i64, StoreError>;
    fn grow_lease(&self, id: i64, amount: Micros, margin: i64) -> Result<Reserve, StoreError>;
    fn shrink_lease(&self, id: i64, amount: Micros) -> Result<i64, StoreError>;
    fn lease_pressed(&self, id: i64, spare: Micros) -> Result<bool, StoreError>;
    fn settle(&self, id: i64, actual: Micros) -> Result<(), StoreError>;
    fn settle_part(&self, id: i64, team: Option<&str>, actual: Micros) -> Result<(), StoreError>;
    fn release(&self, id: i64) -> Result<(), StoreError>;
    fn holders(&self) -> Result<Vec<Holder>, StoreError>;
    fn recover_stale(&self, dead: &dyn Fn(&Holder) -> bool) -> Result<Recovered, StoreError>;
    fn wait_for(&self, owner: &str, level: &str, amount: i64) -> Result<(), StoreError>;
    fn stop_waiting(&self, owner: &str) -> Result<(), StoreError>;
}

/// A run as stored, with what liveness needs (`engine::report::effective_status`).
pub trait StoredRun {
    fn run_id(&self) -> &str;
    fn stored_status(&self) -> RunStatus;
    fn owner(&self) -> Option<&Owner>;
    /// Whether its run lock is held, where the store knows (PostgreSQL's advisory locks).
    fn lock_held(&self) -> Option<bool> {
        None
    }
}

impl StoredRun for RunRow {
    fn run_id(&self) -> &str {
        &self.id
    }
    fn stored_status(&self) -> RunStatus {
        self.status
    }
    fn owner(&self) -> Option<&Owner> {
        self.owner.as_ref()
    }
    fn lock_held(&self) -> Option<bool> {
        self.lock_held
    }
}

impl StoredRun for RunSummary {
    fn run_id(&self) -> &str {
        &self.id
    }
    fn stored_status(&self) -> RunStatus {
        self.status
    }
    fn owner(&self) -> Option<&Owner> {
        self.owner.as_ref()
    }
    fn lock_held(&self) -> Option<bool> {
        self.lock_held
    }
}

/// Runs, their tasks and attempts, and where a resumed run continues (runs/, resume.rs).
pub trait RunStore {
    fn run(&self, id: &str) -> Result<RunRow, StoreError>;
    /// Every run, newest first.
    fn list_runs(&self) -> Result<Vec<RunSummary>, StoreError>;
    fn tasks(&self, run: &str) -> Result<Vec<TaskRow>, StoreError>;
    fn attempts(&self, run: &str) -> Result<Vec<AttemptRow>, StoreError>;
    /// The routing record of every call of the run's task attempts.
    fn run_routing(&self, run: &str) -> Result<Vec<super::routing::RoutingRecord>, StoreError>;
    fn task_costs(&self, run: &str) -> Result<Vec<(String, Micros)>, StoreError>;
    fn call_counts(&self, run: &str) -> Result<CallCounts, StoreError>;
    fn any_call_simulated(&self, run: &str) -> Result<bool, StoreError>;
    fn run_breaker_events(&self, run: &str) -> Result<Vec<BreakerEventRow>, StoreError>;
    fn artifacts(&self, run: &str) -> Result<Vec<(String, Option<String>)>, StoreError>;
    /// Where each file is: the host that wrote it and its directory there.
    fn artifact_places(&self, run: &str) -> Result<Vec<super::runs::ArtifactPlace>, StoreError>;
    fn refusals(&self, run: &str) -> Result<HashMap<String, Vec<(String, String)>>, StoreError>;
    fn save_resume_state(
        &self,
        run: &str,
        task: &str,
        json: Option<&str>,
    ) -> Result<(), StoreError>;
    fn resume_states(&self, run: &str) -> Result<Vec<(String, String)>, StoreError>;
    fn last_attempts(&self, run: &str) -> Result<HashMap<String, u32>, StoreError>;
    /// The machine that drove the run last, once it was resumed (`None`: where it started).
    fn driven_host(&self, run: &str) -> Result<Option<String>, StoreError>;
    /// (run id, machine that drove it last) of every run resumed at least once.
    fn driven_hosts(&self) -> Result<HashMap<String, String>, StoreError>;
    fn requeue_running(&self, run: &str) -> Result<(), StoreError>;
    fn add_exec_ms(&self, run: &str, ms: u64) -> Result<(), StoreError>;
    /// Commit a run's task list (plan order).
    fn insert_tasks(&self, run: &str, tasks: &[TaskSpec]) -> Result<(), StoreError>;
    /// Record that no valid plan came back and the description runs as one task.
    fn mark_plan_fallback(&self, run: &str) -> Result<(), StoreError>;
    fn set_task_status(
        &self,
        run: &str,
        task: &str,
        status: TaskStatus,
        reason: Option<&str>,
    ) -> Result<(), StoreError>;
    fn insert_artifact(
        &self,
        run: &str,
        task: Option<&str>,
        path: &str,
        bytes: u64,
        dir: &str,
    ) -> Result<(), StoreError>;
    fn insert_refusal(
        &self,
        run: &str,
        task: &str,
        path: &str,
        reason: &str,
    ) -> Result<(), StoreError>;
    fn set_run_status(
        &self,
        run: &str,
        status: RunStatus,
        reason: Option<&str>,
    ) -> Result<(), StoreError>;
}

/// Stored analyses (analyses.rs).
pub trait AnalysisStore {
    fn save_analysis(&self, report: &AnalysisReport) -> Result<i64, StoreError>;
    fn latest_analysis(&self) -> Result<Option<AnalysisReport>, StoreError>;
    fn latest_analysis_id(&self) -> Result<Option<i64>, StoreError>;
}

/// What the TUI's snapshots read (views.rs).
pub trait ViewStore {
    /// Changes with every commit made through another connection.
    fn data_version(&self) -> Result<i64, StoreError>;
    fn task_views(&self, run: &str) -> Result<Vec<TaskView>, StoreError>;
    fn task_text(
        &self,
        run: &str,
        task: &str,
    ) -> Result<Option<(String, Option<String>)>, StoreError>;
    fn attempt_views(&self, run: &str, task: &str) -> Result<Vec<AttemptView>, StoreError>;
    fn call_totals(&self) -> Result<Vec<(String, u64, u64, Micros)>, StoreError>;
    fn cache_savings(&self) -> Result<Vec<(String, Micros)>, StoreError>;
    fn recent_calls(&self, per_model: usize) -> Result<Vec<(String, String, u64)>, StoreError>;
    fn last_breaker_states(&self) -> Result<Vec<(String, String, String)>, StoreError>;
    fn stored_breakers(&self) -> Result<Vec<(String, String, u32, String)>, StoreError>;
    fn last_breaker_event_id(&self) -> Result<i64, StoreError>;
    fn breaker_events_between(
        &self,
        after: i64,
        upto: i64,
        limit: usize,
    ) -> Result<Vec<(String, Option<String>, String)>, StoreError>;
    fn quality(&self) -> Result<Vec<(String, String, f64, u64)>, StoreError>;
    fn spend_by_run(&self, limit: usize) -> Result<Vec<(String, String, Micros)>, StoreError>;
    fn spend_by_phase(&self) -> Result<Vec<(String, Micros)>, StoreError>;
    fn history(&self, limit: usize, breaker_upto: i64) -> Result<Vec<HistoryRow>, StoreError>;
    /// (task, role, model, in flight) of each task's current or latest call.
    fn current_calls(&self, run: &str) -> Result<Vec<(String, String, String, bool)>, StoreError>;
    fn failed_calls(
        &self,
        run: &str,
        task: &str,
        limit: usize,
    ) -> Result<Vec<super::views::FailedCallView>, StoreError>;
    fn routing(
        &self,
        run: &str,
        task: &str,
    ) -> Result<Vec<super::routing::RoutingRecord>, StoreError>;
    /// Learned profiles: (model, task type, profile).
    fn profiles(
        &self,
    ) -> Result<
        Vec<(
            String,
            crate::domain::TaskType,
            crate::routing::learning::Profile,
        )>,
        StoreError,
    >;
}

/// Everything a store backend offers.
pub trait Backend: BudgetStore + RunStore + AnalysisStore + ViewStore {}

impl<T: BudgetStore + RunStore + AnalysisStore + ViewStore + ?Sized> Backend for T {}

/// The SQLite budget ledger: a connection, or a transaction on one (it derefs to the connection,
/// so the same free functions serve both). PostgreSQL has its own (`pg/backend.rs`).
macro_rules! sqlite_backend {
    ($($t:ty),*) => {$(
        impl BudgetStore for $t {
            fn level_state(&self, level: &Level) -> Result<Option<LevelState>, StoreError> {
                super::budget::level(self, &level.to_string())
            }
            fn all_levels(&self) -> Result<Vec<LevelState>, StoreError> {
                super::budget::all_levels(self)
            }
            fn spend_series(
                &self,
                level: &str,
                limit: usize,
            ) -> Result<Vec<(String, Micros)>, StoreError> {
                super::budget::series(self, level, limit)
            }
            fn set_cap(
                &self,
                level: &Level,
                cap: Micros,
                period: Option<&str>,
            ) -> Result<(), StoreError> {
                super::budget::set_cap(self, &level.to_string(), cap, period)
            }
            fn reserve(
                &self,
                run: Option<&str>,
                team: Option<&str>,
                amount: Micros,
                pid: u32,
                owner: &str,
            ) -> Result<Reserve, StoreError> {
                super::budget::reserve_for(self, run, team, amount, pid, owner)
            }
            fn open_lease(&self, run: &str, team: Option<&str>, pid: u32) -> Result<i64, StoreError> {
                super::budget::open_lease(self, run, team, pid)
            }
            fn grow_lease(&self, id: i64, amount: Micros, margin: i64) -> Result<Reserve, StoreError> {
                super::budget::grow(self, id, amount, margin)
            }
            fn shrink_lease(&self, id: i64, amount: Micros) -> Result<i64, StoreError> {
                super::budget::shrink(self, id, amount)
            }
            fn lease_pressed(&self, id: i64, spare: Micros) -> Result<bool, StoreError> {
                super::budget::lease_pressed(self, id, spare)
            }
            fn settle(&self, id: i64, actual: Micros) -> Result<(), StoreError> {
                super::budget::settle(self, id, actual)
            }
            fn settle_part(
                &self,
                id: i64,
                team: Option<&str>,
                actual: Micros,
            ) -> Result<(), StoreError> {
                super::budget::settle_part(self, id, team, actual)
            }
            fn release(&self, id: i64) -> Result<(), StoreError> {
                super::budget::release(self, id)
            }
            fn holders(&self) -> Result<Vec<Holder>, StoreError> {
                super::recovery::holders(self)
            }
            fn recover_stale(
                &self,
                dead: &dyn Fn(&Holder) -> bool,
            ) -> Result<Recovered, StoreError> {
                super::recovery::recover_stale(self, dead)
            }
            fn wait_for(&self, owner: &str, level: &str, amount: i64) -> Result<(), StoreError> {
                super::waiters::wait_for(self, owner, level, amount)
            }
            fn stop_waiting(&self, owner: &str) -> Result<(), StoreError> {
                super::waiters::stop_waiting(self, owner)
            }
        }

    )*};
}

sqlite_backend!(rusqlite::Connection, rusqlite::Transaction<'_>);

/// Runs, analyses and the TUI's views: the same SQL on either backend (`sql::Sql`), so a SQLite
/// connection or transaction and a PostgreSQL transaction (`sql::PgSql`) all serve them. Two
/// impls, since `&T` of an unsized `T` does not coerce to `&dyn Sql`: every sized `Sql`, and
/// `dyn Sql` itself.
macro_rules! sql_backend {
    ($(impl[$($g:tt)*] for $t:ty;)*) => {$(
        impl<$($g)*> RunStore for $t {
            fn run(&self, id: &str) -> Result<RunRow, StoreError> {
                super::runs::get_run(self, id)
            }
            fn list_runs(&self) -> Result<Vec<RunSummary>, StoreError> {
                super::runs::list_runs(self)
            }
            fn tasks(&self, run: &str) -> Result<Vec<TaskRow>, StoreError> {
                super::runs::get_tasks(self, run)
            }
            fn run_routing(
                &self,
                run: &str,
            ) -> Result<Vec<super::routing::RoutingRecord>, StoreError> {
                super::routing::for_run(self, run)
            }
            fn attempts(&self, run: &str) -> Result<Vec<AttemptRow>, StoreError> {
                super::runs::get_attempts(self, run)
            }
            fn task_costs(&self, run: &str) -> Result<Vec<(String, Micros)>, StoreError> {
                super::runs::task_costs(self, run)
            }
            fn call_counts(&self, run: &str) -> Result<CallCounts, StoreError> {
                super::runs::call_counts(self, run)
            }
            fn any_call_simulated(&self, run: &str) -> Result<bool, StoreError> {
                super::runs::any_call_simulated(self, run)
            }
            fn run_breaker_events(&self, run: &str) -> Result<Vec<BreakerEventRow>, StoreError> {
                super::runs::breaker_events(self, run)
            }
            fn artifacts(&self, run: &str) -> Result<Vec<(String, Option<String>)>, StoreError> {
                super::runs::artifacts(self, run)
            }
            fn artifact_places(
                &self,
                run: &str,
            ) -> Result<Vec<super::runs::ArtifactPlace>, StoreError> {
                super::runs::artifact_places(self, run)
            }
            fn refusals(
                &self,
                run: &str,
            ) -> Result<HashMap<String, Vec<(String, String)>>, StoreError> {
                super::runs::refusals(self, run)
            }
            fn save_resume_state(
                &self,
                run: &str,
                task: &str,
                json: Option<&str>,
            ) -> Result<(), StoreError> {
                super::resume::save_resume_state(self, run, task, json)
            }
            fn resume_states(&self, run: &str) -> Result<Vec<(String, String)>, StoreError> {
                super::resume::resume_states(self, run)
            }
            fn last_attempts(&self, run: &str) -> Result<HashMap<String, u32>, StoreError> {
                super::resume::last_attempts(self, run)
            }
            fn driven_host(&self, run: &str) -> Result<Option<String>, StoreError> {
                super::resume::driven_host(self, run)
            }
            fn driven_hosts(&self) -> Result<HashMap<String, String>, StoreError> {
                super::resume::driven_hosts(self)
            }
            fn requeue_running(&self, run: &str) -> Result<(), StoreError> {
                super::resume::requeue_running(self, run)
            }
            fn add_exec_ms(&self, run: &str, ms: u64) -> Result<(), StoreError> {
                super::runs::add_exec_ms(self, run, ms)
            }
            fn insert_tasks(&self, run: &str, tasks: &[TaskSpec]) -> Result<(), StoreError> {
                super::runs::insert_tasks(self, run, tasks)
            }
            fn mark_plan_fallback(&self, run: &str) -> Result<(), StoreError> {
                super::runs::mark_plan_fallback(self, run)
            }
            fn set_task_status(
                &self,
                run: &str,
                task: &str,
                status: TaskStatus,
                reason: Option<&str>,
            ) -> Result<(), StoreError> {
                super::runs::set_task_status(self, run, task, status, reason)
            }
            fn insert_artifact(
                &self,
                run: &str,
                task: Option<&str>,
                path: &str,
                bytes: u64,
                dir: &str,
            ) -> Result<(), StoreError> {
                super::runs::insert_artifact(self, run, task, path, bytes, dir)
            }
            fn insert_refusal(
                &self,
                run: &str,
                task: &str,
                path: &str,
                reason: &str,
            ) -> Result<(), StoreError> {
                super::runs::insert_refusal(self, run, task, path, reason)
            }
            fn set_run_status(
                &self,
                run: &str,
                status: RunStatus,
                reason: Option<&str>,
            ) -> Result<(), StoreError> {
                super::runs::set_run_status(self, run, status, reason)
            }
        }

        impl<$($g)*> AnalysisStore for $t {
            fn save_analysis(&self, report: &AnalysisReport) -> Result<i64, StoreError> {
                super::analyses::save(self, report)
            }
            fn latest_analysis(&self) -> Result<Option<AnalysisReport>, StoreError> {
                super::analyses::load_latest(self)
            }
            fn latest_analysis_id(&self) -> Result<Option<i64>, StoreError> {
                super::analyses::latest_id(self)
            }
        }

        impl<$($g)*> ViewStore for $t {
            fn data_version(&self) -> Result<i64, StoreError> {
                super::views::data_version(self)
            }
            fn task_views(&self, run: &str) -> Result<Vec<TaskView>, StoreError> {
                super::views::tasks(self, run)
            }
            fn task_text(
                &self,
                run: &str,
                task: &str,
            ) -> Result<Option<(String, Option<String>)>, StoreError> {
                super::views::task_text(self, run, task)
            }
            fn attempt_views(&self, run: &str, task: &str) -> Result<Vec<AttemptView>, StoreError> {
                super::views::attempts(self, run, task)
            }
            fn call_totals(&self) -> Result<Vec<(String, u64, u64, Micros)>, StoreError> {
                super::views::call_totals(self)
            }
            fn cache_savings(&self) -> Result<Vec<(String, Micros)>, StoreError> {
                super::views::cache_savings(self)
            }
            fn recent_calls(
                &self,
                per_model: usize,
            ) -> Result<Vec<(String, String, u64)>, StoreError> {
                super::views::recent_calls(self, per_model)
            }
            fn last_breaker_states(&self) -> Result<Vec<(String, String, String)>, StoreError> {
                super::views::last_breaker_states(self)
            }
            fn stored_breakers(&self) -> Result<Vec<(String, String, u32, String)>, StoreError> {
                super::views::stored_breakers(self)
            }
            fn last_breaker_event_id(&self) -> Result<i64, StoreError> {
                super::views::last_breaker_event_id(self)
            }
            fn breaker_events_between(
                &self,
                after: i64,
                upto: i64,
                limit: usize,
            ) -> Result<Vec<(String, Option<String>, String)>, StoreError> {
                super::views::breaker_events_between(self, after, upto, limit)
            }
            fn quality(&self) -> Result<Vec<(String, String, f64, u64)>, StoreError> {
                super::views::quality(self)
            }
            fn spend_by_run(&self, limit: usize) -> Result<Vec<(String, String, Micros)>, StoreError> {
                super::views::spend_by_run(self, limit)
            }
            fn spend_by_phase(&self) -> Result<Vec<(String, Micros)>, StoreError> {
                super::views::spend_by_phase(self)
            }
            fn history(&self, limit: usize, breaker_upto: i64) -> Result<Vec<HistoryRow>, StoreError> {
                super::views::history(self, limit, breaker_upto)
            }
            fn current_calls(
                &self,
                run: &str,
            ) -> Result<Vec<(String, String, String, bool)>, StoreError> {
                super::views::current_calls(self, run)
            }
            fn failed_calls(
                &self,
                run: &str,
                task: &str,
                limit: usize,
            ) -> Result<Vec<super::views::FailedCallView>, StoreError> {
                super::views::failed_calls(self, run, task, limit)
            }
            fn routing(
                &self,
                run: &str,
                task: &str,
            ) -> Result<Vec<super::routing::RoutingRecord>, StoreError> {
                super::routing::for_task(self, run, task)
            }
            fn profiles(
                &self,
            ) -> Result<Vec<(String, crate::domain::TaskType, crate::routing::learning::Profile)>, StoreError> {
                super::models::load_profiles(self)
            }
        }
    )*};
}

sql_backend! {
    impl[T: Sql] for T;
    impl['a] for dyn Sql + 'a;
}
