//! A call's writes that need not go at once (policy audit rows, the events they raise, the
//! routing record) travel in the store job of the next write that must go: the in-flight row
//! queued before the request is sent, or the call's settle and record after it. A call then
//! costs the store thread one wake-up (and one commit, or one transaction on PostgreSQL) before
//! the request and one after it, instead of one per write: on two cores each wake-up of the
//! store thread can preempt the runtime threads serving other calls (issue 14's tail latency).
//! Order holds: each part is queued before anything the call writes later, and a job runs its
//! parts in the order they were added. A job is all or nothing: a part that fails undoes the
//! job it rides in (these are plain inserts that fail only when the whole database does).

use super::record::not_recorded;
use crate::engine::context::EngineCtx;
use crate::store::StoreError;
use crate::store::sql::Sql;

/// One write of a call, re-runnable (a job retried while the database cannot commit runs it
/// again after the rollback).
pub(crate) type Part = Box<dyn FnMut(&dyn Sql) -> Result<(), StoreError> + Send>;

/// Writes waiting for the call's next job.
#[derive(Default)]
pub(crate) struct Pending {
    parts: Vec<Part>,
}

impl Pending {
    pub(crate) fn push(&mut self, p: Part) {
        self.parts.push(p);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// The parts, in the order they were added; none are left.
    pub(crate) fn take(&mut self) -> Parts {
        Parts(std::mem::take(&mut self.parts))
    }
}

/// Parts taken out of a [`Pending`] to run in a job.
#[derive(Default)]
pub(crate) struct Parts(Vec<Part>);

impl Parts {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Run every part in order, in the job's transaction.
    pub(crate) fn run(&mut self, tx: &dyn Sql) -> Result<(), StoreError> {
        for p in self.0.iter_mut() {
            p(tx)?;
        }
        Ok(())
    }

    /// Queue the parts as a job of their own (nothing else of the call is going now).
    pub(crate) fn submit(mut self, ctx: &EngineCtx, run_id: Option<&str>) {
        if self.is_empty() {
            return;
        }
        let (events, err_run) = (ctx.events.clone(), run_id.map(String::from));
        let queued = ctx.store.submit(
            move |tx| self.run(tx),
            move |r| {
                if let Err(e) = r {
                    not_recorded(&events, err_run, "a policy decision or event", &e);
                }
            },
        );
        if let Err(e) = queued {
            not_recorded(
                &ctx.events,
                run_id.map(String::from),
                "a policy decision or event",
                &e,
            );
        }
    }
}
