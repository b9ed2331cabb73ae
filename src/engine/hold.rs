//! Holding a call's worst case against the budget before it starts, and what a call does when
//! every candidate is refused (wait for the run's own calls in flight, then for other owners).

use super::context::{EngineCtx, RunCtx};
use crate::budget::lease::Take;
use crate::budget::ledger::{Denial, Reserve};
use crate::domain::Micros;
use crate::store::BudgetStore;
use crate::store::{lease, waiters};
use std::time::Duration;

/// How a call's worst case is held: taken from the run's lease, or a reservation row of its own
/// (calls outside a run).
#[derive(Debug, Clone, Copy)]
pub(super) enum Hold {
    Lease(i64),
    Row(i64),
}

pub(super) enum Held {
    Denied(Denial),
    Error(String),
}

/// Hold `worst` against the budget before a call. In a run: from the lease in memory, growing it
/// in a transaction only when it falls short (and in the background before it does). `wait_as`:
/// a refusal at a shared level registers that owner as waiting (budget/waiters.rs).
pub(super) async fn hold_budget(
    ctx: &EngineCtx,
    run: Option<&RunCtx>,
    worst: Micros,
    wait_as: Option<String>,
) -> Result<Hold, Held> {
    let Some(run) = run else {
        let pid = std::process::id();
        let owner = wait_as.clone().unwrap_or_default();
        return match ctx
            .store
            .transact(move |tx| {
                let r = tx.reserve(None, None, worst, pid, &owner)?;
                if let (Reserve::Denied(d), Some(w)) = (&r, &wait_as)
                    && d.shared()
                {
                    tx.wait_for(w, &d.level, worst.0)?;
                }
                Ok(r)
            })
            .await
        {
            Ok(Reserve::Reserved(id)) => Ok(Hold::Row(id)),
            Ok(Reserve::Denied(d)) => Err(Held::Denied(d)),
            Err(e) => Err(Held::Error(e.to_string())),
        };
    };
    let lease = run.lease.clone();
    // Each round either takes from the lease or grows it (bounded by the caps) or is refused.
    for _ in 0..64 {
        match lease.with(|l| l.take(worst.0)) {
            Take::Taken { refill } => {
                if let Some(amount) = refill {
                    let (l2, id) = (lease.clone(), lease.id);
                    let queued = ctx.store.submit(
                        move |tx| lease::refill(tx, id, amount),
                        move |r| {
                            let ok = matches!(r, Ok(true));
                            l2.with(|l| l.refill_done(ok.then_some(amount)));
                        },
                    );
                    if queued.is_err() {
                        lease.with(|l| l.refill_done(None));
                    }
                }
                return Ok(Hold::Lease(lease.id));
            }
            Take::Short { grow, at_least } => {
                let (id, wait_as) = (lease.id, wait_as.clone());
                let grown = ctx
                    .store
                    .transact(move |tx| {
                        let r = lease::grow_short(tx, id, grow, at_least)?;
                        if let (Err(d), Some(w)) = (&r, &wait_as)
                            && d.shared()
                        {
                            tx.wait_for(w, &d.level, at_least)?;
                        }
                        Ok(r)
                    })
                    .await;
                match grown {
                    Ok(Ok(a)) => lease.with(|l| l.grown(a)),
                    Ok(Err(mut d)) => {
                        // Say it as the run sees it: the whole worst case against what it holds.
                        d.amount = worst;
                        d.own_inflight = Micros(lease.state().inflight.max(0));
                        return Err(Held::Denied(d));
                    }
                    Err(e) => return Err(Held::Error(e.to_string())),
                }
            }
        }
    }
    Err(Held::Error(
        "the run's budget lease kept being used up by other calls".into(),
    ))
}

/// How long a call refused at a shared level waits for other runs to give headroom back.
pub const CONTENTION_WAIT: Duration = Duration::from_secs(2);
/// How often it asks again meanwhile.
const CONTENTION_POLL: Duration = Duration::from_millis(50);

/// What a call does when every candidate was refused: its own run's calls in flight are waited
/// for (their worst cases go back as they settle), then headroom held by others at a shared
/// level for up to [`CONTENTION_WAIT`], registered as a waiter so they leave it free.
pub(super) struct BudgetWait {
    /// Candidates the budget refused this round (tried again after a wait).
    pub(super) refused: Vec<String>,
    /// The run's settle count when this round began.
    settles: u64,
    owner: String,
    until: Option<tokio::time::Instant>,
    registered: bool,
}

impl BudgetWait {
    pub(super) fn new(run: Option<&RunCtx>) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let owner = match run {
            Some(r) => waiters::lease_owner(r.lease.id),
            None => format!(
                "pid:{}:{}",
                std::process::id(),
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ),
        };
        BudgetWait {
            refused: Vec::new(),
            settles: run.map_or(0, |r| r.lease.state().settles),
            owner,
            until: None,
            registered: false,
        }
    }

    /// The owner to register on a refusal, once the call waits for others.
    pub(super) fn registering(&self) -> Option<String> {
        self.until.is_some().then(|| self.owner.clone())
    }

    /// After a round refused by `d` (the cheapest candidate's refusal): `Some(true)` to try
    /// again, `Some(false)` to give up, `None` when cancelled.
    pub(super) async fn after_refusal(
        &mut self,
        run: Option<&RunCtx>,
        d: &Denial,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Option<bool> {
        if let Some(r) = run {
            let s = r.lease.state();
            if s.inflight > 0 || s.settles != self.settles {
                // The run's own calls hold part of what this one needs: wait for one to end.
                tokio::select! {
                    _ = cancel.cancelled() => return None,
                    _ = r.lease.settle_after(self.settles) => {}
                }
                self.settles = r.lease.state().settles;
                return Some(true);
            }
        }
        if !(d.shared() && d.could_fit_later()) {
            return Some(false);
        }
        let now = tokio::time::Instant::now();
        match self.until {
            None => {
                // Ask again at once, registered as a waiter this time.
                self.until = Some(now + CONTENTION_WAIT);
                self.registered = true;
                Some(true)
            }
            Some(until) if now < until => {
                tokio::select! {
                    _ = cancel.cancelled() => return None,
                    _ = tokio::time::sleep(CONTENTION_POLL.min(until - now)) => {}
                }
                if let Some(r) = run {
                    self.settles = r.lease.state().settles;
                }
                Some(true)
            }
            Some(_) => Some(false),
        }
    }

    /// The call got its headroom or gave up: it no longer waits.
    pub(super) fn done(&mut self, ctx: &EngineCtx) {
        self.until = None;
        if std::mem::take(&mut self.registered) {
            let owner = self.owner.clone();
            let _ = ctx.store.submit(move |tx| tx.stop_waiting(&owner), |_| {});
        }
    }
}
