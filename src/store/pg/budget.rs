//! The budget ledger on PostgreSQL, shared by every machine of an org: the same rules as
//! `store/budget.rs`, made safe across connections by row locks. Every operation that moves
//! money (reserve, grow, shrink, settle, release) runs in one transaction that first locks what
//! it touches in a fixed order: the reservation row, then the run row, then the `budget_levels`
//! rows sorted by name (`org` before `team:*`). Two machines can then never both take the last
//! dollars, and never deadlock on each other (a deadlock with another statement order is still
//! retried by `PgConn::tx`).

use crate::budget::fits;
use crate::budget::ledger::{Denial, LevelState, Reserve};
use crate::budget::level::{Level, levels, shared_levels};
use crate::budget::period::period_key;
use crate::domain::Micros;
use crate::store::owner::Owner;
use crate::store::pg::Cached;
use crate::store::recovery::{Holder, Recovered};
use crate::store::{StoreError, now_rfc3339};
use postgres::Transaction;

type Tx<'a, 'b> = &'a mut Transaction<'b>;

fn roll_period(t: Tx, level: &str) -> Result<(), StoreError> {
    let row = t.query_opt_c(
        "SELECT period, period_key FROM budget_levels WHERE level = $1",
        &[&level],
    )?;
    let Some(row) = row else { return Ok(()) };
    let (period, key): (Option<String>, Option<String>) = (row.get(0), row.get(1));
    if let Some(period) = period
        && let Some(now_key) = period_key(&period, chrono::Utc::now())
        && key.as_deref() != Some(now_key.as_str())
        && key.as_deref().is_none_or(|k| k < now_key.as_str())
    {
        t.exec_c(
            "UPDATE budget_levels SET spent_micros = 0, estimated_micros = 0, period_key = $2
             WHERE level = $1 AND period_key IS NOT DISTINCT FROM $3",
            &[&level, &now_key, &key],
        )?;
    }
    Ok(())
}

pub fn level(t: Tx, level: &str) -> Result<Option<LevelState>, StoreError> {
    roll_period(t, level)?;
    let row = t.query_opt_c(
        "SELECT level, cap_micros, spent_micros, reserved_micros, period, estimated_micros
         FROM budget_levels WHERE level = $1",
        &[&level],
    )?;
    Ok(row.map(|r| LevelState {
        level: r.get(0),
        cap: r.get::<_, Option<i64>>(1).map(Micros),
        spent: Micros(r.get(2)),
        reserved: Micros(r.get(3)),
        period: r.get(4),
        estimated: Micros(r.get(5)),
    }))
}

pub fn all_levels(t: Tx) -> Result<Vec<LevelState>, StoreError> {
    let names: Vec<String> = t
        .query(
            "SELECT level FROM budget_levels ORDER BY level = 'org' DESC, level",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = Vec::new();
    for n in names {
        if let Some(l) = level(t, &n)? {
            out.push(l);
        }
    }
    Ok(out)
}

pub fn set_cap(t: Tx, level: &str, cap: Micros, period: Option<&str>) -> Result<(), StoreError> {
    let key = period.and_then(|p| period_key(p, chrono::Utc::now()));
    t.exec_c(
        "INSERT INTO budget_levels (level, cap_micros, period, period_key) VALUES ($1, $2, $3, $4)
         ON CONFLICT (level) DO UPDATE SET cap_micros = EXCLUDED.cap_micros,
            period = EXCLUDED.period,
            period_key = COALESCE(budget_levels.period_key, EXCLUDED.period_key)",
        &[&level, &cap.0, &period, &key],
    )?;
    Ok(())
}

/// Lock the rows a change at these levels touches, in the fixed order (run, then levels by
/// name). A team's row is created on first use, before any lock is taken.
fn lock_levels(t: Tx, run: Option<&str>, team: Option<&str>) -> Result<(), StoreError> {
    if let Some(team) = team {
        t.exec_c(
            "INSERT INTO budget_levels (level) VALUES ($1) ON CONFLICT (level) DO NOTHING",
            &[&Level::Team(team.to_string()).to_string()],
        )?;
    }
    if let Some(run) = run {
        t.query_c("SELECT 1 FROM runs WHERE id = $1 FOR UPDATE", &[&run])?;
    }
    let mut names: Vec<String> = shared_levels(team).iter().map(|l| l.to_string()).collect();
    names.sort();
    t.query_c(
        "SELECT 1 FROM budget_levels WHERE level = ANY($1) ORDER BY level FOR UPDATE",
        &[&names],
    )?;
    Ok(())
}

struct Ask<'a> {
    amount: Micros,
    own: i64,
    margin: i64,
    owner: &'a str,
}

struct Room {
    cap: Micros,
    spent: Micros,
    reserved: Micros,
    waiting: i64,
}

fn headroom(t: Tx, l: &Level, owner: &str) -> Result<Option<Room>, StoreError> {
    if let Level::Run(run) = l {
        let r = t
            .query_opt(
                "SELECT budget_micros, spent_micros, reserved_micros FROM runs WHERE id = $1",
                &[run],
            )?
            .ok_or_else(|| StoreError::NotFound(format!("no run with id `{run}`")))?;
        return Ok(Some(Room {
            cap: Micros(r.get(0)),
            spent: Micros(r.get(1)),
            reserved: Micros(r.get(2)),
            waiting: 0,
        }));
    }
    let name = l.to_string();
    let Some(s) = level(t, &name)? else {
        return Ok(None);
    };
    let Some(cap) = s.cap else { return Ok(None) };
    Ok(Some(Room {
        cap,
        spent: s.spent,
        reserved: s.reserved,
        waiting: super::waiters::ahead_of(t, &name, owner)?,
    }))
}

/// Which level (run, team, org) cannot take the ask, if any. The caller holds the locks.
fn refusal(
    t: Tx,
    run: Option<&str>,
    team: Option<&str>,
    ask: &Ask,
) -> Result<Option<Denial>, StoreError> {
    for l in levels(run, team) {
        let Some(s) = headroom(t, &l, ask.owner)? else {
            continue;
        };
        let margin = if l.is_shared() { ask.margin } else { 0 };
        let kept = Micros(s.reserved.0 + s.waiting + margin);
        if !fits(Some(s.cap), s.spent, kept, ask.amount) {
            return Ok(Some(Denial {
                level: l.to_string(),
                cap: s.cap,
                spent: s.spent,
                reserved: s.reserved,
                own: Micros(ask.own),
                own_inflight: Micros::ZERO,
                waiting: Micros(s.waiting),
                amount: ask.amount,
            }));
        }
    }
    Ok(None)
}

fn adjust_reserved(
    t: Tx,
    run: Option<&str>,
    team: Option<&str>,
    delta: i64,
) -> Result<(), StoreError> {
    if delta == 0 {
        return Ok(());
    }
    if let Some(run) = run {
        t.exec_c(
            "UPDATE runs SET reserved_micros = GREATEST(0, reserved_micros + $2) WHERE id = $1",
            &[&run, &delta],
        )?;
    }
    let names: Vec<String> = shared_levels(team).iter().map(|l| l.to_string()).collect();
    t.exec_c(
        "UPDATE budget_levels SET reserved_micros = GREATEST(0, reserved_micros + $2)
         WHERE level = ANY($1)",
        &[&names, &delta],
    )?;
    Ok(())
}

/// (run, team, amount) of a reservation, its row locked.
type Held = (Option<String>, Option<String>, i64);

fn held(t: Tx, id: i64) -> Result<Option<Held>, StoreError> {
    Ok(t.query_opt_c(
        "SELECT run_id, team, amount_micros FROM reservations WHERE id = $1 FOR UPDATE",
        &[&id],
    )?
    .map(|r| (r.get(0), r.get(1), r.get(2))))
}

/// Who stamps a reservation: this process, and the advisory lock that proves it alive.
pub struct Stamp<'a> {
    pub pid: u32,
    pub host: Option<&'a str>,
    pub start: Option<&'a str>,
    pub lock: Option<i64>,
}

impl Stamp<'static> {
    /// Process `pid` (identity known only for this process), owned by advisory lock `lock`.
    pub fn of(pid: u32, lock: Option<i64>) -> Stamp<'static> {
        let (host, start) = crate::store::owner::stamp(pid);
        Stamp {
            pid,
            host,
            start,
            lock,
        }
    }
}

fn insert_reservation(
    t: Tx,
    run: Option<&str>,
    team: Option<&str>,
    amount: i64,
    s: &Stamp,
) -> Result<i64, StoreError> {
    let row = t.query_one_c(
        "INSERT INTO reservations (run_id, team, pid, amount_micros, created_at, owner_host,
            owner_start, owner_lock)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        &[
            &run,
            &team,
            &i64::from(s.pid),
            &amount,
            &now_rfc3339(),
            &s.host,
            &s.start,
            &s.lock,
        ],
    )?;
    Ok(row.get(0))
}

pub fn reserve_for(
    t: Tx,
    run: Option<&str>,
    team: Option<&str>,
    amount: Micros,
    stamp: &Stamp,
    owner: &str,
) -> Result<Reserve, StoreError> {
    lock_levels(t, run, team)?;
    let ask = Ask {
        amount,
        own: 0,
        margin: 0,
        owner,
    };
    if let Some(d) = refusal(t, run, team, &ask)? {
        return Ok(Reserve::Denied(d));
    }
    let id = insert_reservation(t, run, team, amount.0, stamp)?;
    adjust_reserved(t, run, team, amount.0)?;
    Ok(Reserve::Reserved(id))
}

pub fn open_lease(t: Tx, run: &str, team: Option<&str>, stamp: &Stamp) -> Result<i64, StoreError> {
    insert_reservation(t, Some(run), team, 0, stamp)
}

pub fn grow(t: Tx, id: i64, amount: Micros, margin: i64) -> Result<Reserve, StoreError> {
    let Some((run, team, held_now)) = held(t, id)? else {
        return Err(StoreError::NotFound(format!("budget lease {id} is gone")));
    };
    lock_levels(t, run.as_deref(), team.as_deref())?;
    let owner = crate::budget::waiters::lease_owner(id);
    let ask = Ask {
        amount,
        own: held_now,
        margin: margin.max(0),
        owner: &owner,
    };
    if let Some(d) = refusal(t, run.as_deref(), team.as_deref(), &ask)? {
        return Ok(Reserve::Denied(d));
    }
    t.exec_c(
        "UPDATE reservations SET amount_micros = amount_micros + $2 WHERE id = $1",
        &[&id, &amount.0],
    )?;
    adjust_reserved(t, run.as_deref(), team.as_deref(), amount.0)?;
    Ok(Reserve::Reserved(id))
}

pub fn shrink(t: Tx, id: i64, amount: Micros) -> Result<i64, StoreError> {
    let Some((run, team, held_now)) = held(t, id)? else {
        return Ok(0);
    };
    let part = amount.0.min(held_now).max(0);
    if part > 0 {
        lock_levels(t, run.as_deref(), team.as_deref())?;
        t.exec_c(
            "UPDATE reservations SET amount_micros = amount_micros - $2 WHERE id = $1",
            &[&id, &part],
        )?;
        adjust_reserved(t, run.as_deref(), team.as_deref(), -part)?;
    }
    Ok(part)
}

pub fn lease_pressed(t: Tx, id: i64, spare: Micros) -> Result<bool, StoreError> {
    let Some(row) = t.query_opt_c("SELECT team FROM reservations WHERE id = $1", &[&id])? else {
        return Ok(false);
    };
    let team: Option<String> = row.get(0);
    let owner = crate::budget::waiters::lease_owner(id);
    for l in shared_levels(team.as_deref()) {
        let l = l.to_string();
        if super::waiters::others_waiting(t, &l, &owner)? {
            return Ok(true);
        }
        if let Some(s) = level(t, &l)?
            && let Some(cap) = s.cap
            && cap.0 - s.spent.0 - s.reserved.0 < spare.0
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A call's charge against its run's lease: the part of the lease it used is no longer
/// reserved, and `actual` is spent at org (and team) level. One round trip: the server-side
/// function of migration 16 (`schema.rs`) runs what [`settle_part_steps`] does, in its order.
pub fn settle_part(t: Tx, id: i64, team: Option<&str>, actual: Micros) -> Result<(), StoreError> {
    if actual.0 <= 0 {
        return Ok(());
    }
    let series: Vec<String> = shared_levels(team)
        .iter()
        .map(|l| l.to_string())
        .filter(|l| crate::store::budget::series_due(l))
        .collect();
    t.exec_c(
        "SELECT settle_lease_part($1, $2, $3, $4, $5)",
        &[&id, &team, &actual.0, &now_rfc3339(), &series],
    )?;
    Ok(())
}

/// [`settle_part`] statement by statement (the function's reference; parity tests compare them).
pub fn settle_part_steps(
    t: Tx,
    id: i64,
    team: Option<&str>,
    actual: Micros,
) -> Result<(), StoreError> {
    if actual.0 <= 0 {
        return Ok(());
    }
    let Some((run, team, amount)) = held(t, id)? else {
        lock_levels(t, None, team)?;
        return charge(t, team, actual);
    };
    lock_levels(t, run.as_deref(), team.as_deref())?;
    let part = actual.0.min(amount);
    t.exec_c(
        "UPDATE reservations SET amount_micros = amount_micros - $2 WHERE id = $1",
        &[&id, &part],
    )?;
    adjust_reserved(t, run.as_deref(), team.as_deref(), -part)?;
    charge(t, team.as_deref(), actual)
}

fn take(t: Tx, id: i64) -> Result<Option<Held>, StoreError> {
    let row = held(t, id)?;
    if let Some((run, team, _)) = &row {
        lock_levels(t, run.as_deref(), team.as_deref())?;
        t.exec_c("DELETE FROM reservations WHERE id = $1", &[&id])?;
    }
    Ok(row)
}

pub fn settle(t: Tx, id: i64, actual: Micros) -> Result<(), StoreError> {
    let Some((run, team, amount)) = take(t, id)? else {
        return Ok(());
    };
    adjust_reserved(t, run.as_deref(), team.as_deref(), -amount)?;
    charge(t, team.as_deref(), actual)
}

/// Add spend at org (and team) level and record a burn-down point. The caller holds the level
/// locks (or takes them here when it has none).
pub fn charge(t: Tx, team: Option<&str>, actual: Micros) -> Result<(), StoreError> {
    if actual.0 == 0 {
        return Ok(());
    }
    let now = now_rfc3339();
    for l in shared_levels(team) {
        let l = l.to_string();
        t.exec_c(
            "UPDATE budget_levels SET spent_micros = spent_micros + $2 WHERE level = $1",
            &[&l, &actual.0],
        )?;
        // A burn-down point per level about every half second, as on SQLite: one per call
        // is a round trip on the hot path.
        if crate::store::budget::series_due(&l) {
            t.exec_c(
                "INSERT INTO spend_series (at, level, spent_micros)
                 SELECT $1, level, spent_micros FROM budget_levels WHERE level = $2",
                &[&now, &l],
            )?;
        }
    }
    Ok(())
}

pub fn release(t: Tx, id: i64) -> Result<(), StoreError> {
    if let Some((run, team, amount)) = take(t, id)? {
        adjust_reserved(t, run.as_deref(), team.as_deref(), -amount)?;
    }
    Ok(())
}

pub fn series(t: Tx, level: &str, limit: usize) -> Result<Vec<(String, Micros)>, StoreError> {
    let mut rows: Vec<(String, Micros)> = t
        .query(
            "SELECT at, spent_micros FROM spend_series WHERE level = $1 ORDER BY id DESC LIMIT $2",
            &[&level, &(limit as i64)],
        )?
        .iter()
        .map(|r| (r.get(0), Micros(r.get(1))))
        .collect();
    rows.reverse();
    Ok(rows)
}

/// A reservation with the advisory lock that owns it.
pub fn holders(t: Tx) -> Result<Vec<(Holder, Option<i64>)>, StoreError> {
    Ok(t.query_c(
        "SELECT id, run_id, team, pid, owner_host, owner_start, amount_micros, owner_lock
             FROM reservations ORDER BY id",
        &[],
    )?
    .iter()
    .map(|r| {
        let pid = r.get::<_, i64>(3).clamp(0, i64::from(u32::MAX)) as u32;
        let host: Option<String> = r.get(4);
        let start: Option<String> = r.get(5);
        (
            Holder {
                id: r.get(0),
                run_id: r.get(1),
                team: r.get(2),
                pid,
                owner: host
                    .zip(start)
                    .map(|(host, start)| Owner { host, pid, start }),
                amount: Micros(r.get(6)),
            },
            r.get(7),
        )
    })
    .collect())
}

/// Settle the reservations whose owner's process lock is free. Only owners seen in the snapshot
/// whose locks were checked count: a reservation made after it belongs to a process that took
/// its lock before making it, so it is alive.
pub fn recover_unlocked(t: Tx) -> Result<Recovered, StoreError> {
    let keys: std::collections::HashSet<i64> = holders(t)?.iter().filter_map(|(_, k)| *k).collect();
    let keys: Vec<i64> = keys.into_iter().collect();
    let live = super::liveness::held_set(t, &keys)?;
    recover(t, &|_, lock| {
        lock.is_some_and(|k| keys.contains(&k) && !live.contains(&k))
    })
}

/// Crash recovery, as `store/recovery.rs` does it: each reservation `dead` says is gone is
/// settled; its calls in flight are charged their worst case as `estimated` spend.
pub fn recover(
    t: Tx,
    dead: &dyn Fn(&Holder, Option<i64>) -> bool,
) -> Result<Recovered, StoreError> {
    let mut out = Recovered::default();
    for (h, lock) in holders(t)? {
        if !dead(&h, lock) {
            continue;
        }
        // Another opener may be settling the same holder: whoever locks the row first does it,
        // the other finds it gone and counts nothing.
        if held(t, h.id)?.is_none() {
            continue;
        }
        let calls = t.query_c(
            "DELETE FROM inflight_calls WHERE reservation_id = $1
             RETURNING run_id, task_id, attempt, role, provider, model, simulated, worst_micros",
            &[&h.id],
        )?;
        let mut charged: i64 = 0;
        for k in &calls {
            let run: Option<String> = k.get(0);
            let run = match run {
                Some(r)
                    if t.query_opt_c("SELECT 1 FROM runs WHERE id = $1", &[&r])?
                        .is_some() =>
                {
                    Some(r)
                }
                _ => None,
            };
            let worst: i64 = k.get(7);
            t.exec_c(
                "INSERT INTO calls (run_id, task_id, attempt, role, provider, model, simulated,
                    cost_micros, latency_ms, outcome, error, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $11)",
                &[
                    &run,
                    &k.get::<_, Option<String>>(1),
                    &k.get::<_, Option<i64>>(2),
                    &k.get::<_, String>(3),
                    &k.get::<_, String>(4),
                    &k.get::<_, String>(5),
                    &k.get::<_, i64>(6),
                    &worst,
                    &crate::store::recovery::ESTIMATED.as_str(),
                    &"the process died during this call: charged the worst case held for it",
                    &now_rfc3339(),
                ],
            )?;
            if let Some(r) = &run {
                t.exec_c(
                    "UPDATE runs SET spent_micros = spent_micros + $2 WHERE id = $1",
                    &[r, &worst],
                )?;
            }
            charged = charged.saturating_add(worst.max(0));
            out.charged_calls += 1;
        }
        if h.run_id.is_none() && calls.is_empty() && h.amount.0 > 0 {
            charged = h.amount.0;
            out.charged_calls += 1;
        }
        settle(t, h.id, Micros(charged))?;
        if charged > 0 {
            let names: Vec<String> = shared_levels(h.team.as_deref())
                .iter()
                .map(|l| l.to_string())
                .collect();
            t.exec_c(
                "UPDATE budget_levels SET estimated_micros = estimated_micros + $2
                 WHERE level = ANY($1)",
                &[&names, &charged],
            )?;
        }
        out.settled += 1;
        out.charged = Micros(out.charged.0.saturating_add(charged));
    }
    Ok(out)
}
