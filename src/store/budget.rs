//! SQL of the budget hierarchy. Every function runs inside the caller's transaction; the engine
//! calls `reserve` in a `BEGIN IMMEDIATE` transaction so two processes can never both take the
//! last dollars. Which levels a call touches comes from `budget::level`.

use crate::budget::fits;
use crate::budget::level::{Level, levels, shared_levels};
use crate::budget::period::period_key;
use crate::domain::Micros;
use crate::store::{StoreError, now_rfc3339};
use rusqlite::{Connection, OptionalExtension, params};

pub use crate::budget::ledger::{Denial, LevelState, Reserve};

/// The stored name of a team's level.
fn team_level(team: &str) -> String {
    Level::Team(team.to_string()).to_string()
}

/// Roll a level into its current period: compare-and-swap on the period key, so a late or
/// repeated reset can never erase spend of the new period.
fn roll_period(c: &Connection, level: &str) -> Result<(), StoreError> {
    let row: Option<(Option<String>, Option<String>)> = c
        .query_row(
            "SELECT period, period_key FROM budget_levels WHERE level = ?1",
            [level],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((Some(period), key)) = row
        && let Some(now_key) = period_key(&period, chrono::Utc::now())
        && key.as_deref() != Some(now_key.as_str())
        && key.as_deref().is_none_or(|k| k < now_key.as_str())
    {
        crate::store::exec(
            c,
            "UPDATE budget_levels SET spent_micros = 0, estimated_micros = 0, period_key = ?2
             WHERE level = ?1 AND period_key IS ?3",
            params![level, now_key, key],
        )?;
    }
    Ok(())
}

pub fn level(c: &Connection, level: &str) -> Result<Option<LevelState>, StoreError> {
    roll_period(c, level)?;
    Ok(crate::store::query_row(c,
        "SELECT level, cap_micros, spent_micros, reserved_micros, period, estimated_micros FROM budget_levels WHERE level = ?1",
        [level],
        |r| {
            Ok(LevelState {
                level: r.get(0)?,
                cap: r.get::<_, Option<i64>>(1)?.map(Micros),
                spent: Micros(r.get(2)?),
                reserved: Micros(r.get(3)?),
                period: r.get(4)?,
                estimated: Micros(r.get(5)?),
            })
        },
    )
    .optional()?)
}

pub fn all_levels(c: &Connection) -> Result<Vec<LevelState>, StoreError> {
    let names: Vec<String> = c
        .prepare("SELECT level FROM budget_levels ORDER BY level = 'org' DESC, level")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for n in names {
        if let Some(l) = level(c, &n)? {
            out.push(l);
        }
    }
    Ok(out)
}

/// Set a cap (USD micros) and optional period at `org` or `team:<name>`.
pub fn set_cap(
    c: &Connection,
    level: &str,
    cap: Micros,
    period: Option<&str>,
) -> Result<(), StoreError> {
    let key = period.and_then(|p| period_key(p, chrono::Utc::now()));
    crate::store::exec(
        c,
        "INSERT INTO budget_levels (level, cap_micros, period, period_key) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(level) DO UPDATE SET cap_micros = ?2, period = ?3,
            period_key = COALESCE(budget_levels.period_key, ?4)",
        params![level, cap.0, period, key],
    )?;
    Ok(())
}

/// Set a run's own cap (its budget). A run driven elsewhere sees it at its next lease growth.
pub fn set_run_cap(c: &Connection, run_id: &str, cap: Micros) -> Result<(), StoreError> {
    let n = crate::store::exec(
        c,
        "UPDATE runs SET budget_micros = ?2 WHERE id = ?1",
        params![run_id, cap.0],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("no run with id `{run_id}`")));
    }
    Ok(())
}

/// Reserve `amount` at run, team and org level, or say which level refused.
pub fn reserve(
    c: &Connection,
    run_id: Option<&str>,
    team: Option<&str>,
    amount: Micros,
    pid: u32,
) -> Result<Reserve, StoreError> {
    reserve_for(c, run_id, team, amount, pid, "")
}

/// [`reserve`] for `owner` (see budget/waiters.rs): headroom kept for owners that were
/// waiting before it is not taken.
pub fn reserve_for(
    c: &Connection,
    run_id: Option<&str>,
    team: Option<&str>,
    amount: Micros,
    pid: u32,
    owner: &str,
) -> Result<Reserve, StoreError> {
    let ask = Ask {
        amount,
        own: 0,
        margin: 0,
        owner,
    };
    if let Some(d) = refusal(c, run_id, team, &ask)? {
        return Ok(Reserve::Denied(d));
    }
    let (host, start) = crate::store::owner::stamp(pid);
    crate::store::exec(
        c,
        "INSERT INTO reservations (run_id, team, pid, amount_micros, created_at, owner_host, owner_start)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![run_id, team, pid, amount.0, now_rfc3339(), host, start],
    )?;
    let id = c.last_insert_rowid();
    adjust_reserved(c, run_id, team, amount.0)?;
    Ok(Reserve::Reserved(id))
}

/// Open a run's lease: a reservation row that starts empty and grows with [`grow`], so calls can
/// take their worst case from it in memory (budget/lease.rs). Released like any reservation.
pub fn open_lease(
    c: &Connection,
    run_id: &str,
    team: Option<&str>,
    pid: u32,
) -> Result<i64, StoreError> {
    let (host, start) = crate::store::owner::stamp(pid);
    crate::store::exec(
        c,
        "INSERT INTO reservations (run_id, team, pid, amount_micros, created_at, owner_host, owner_start)
         VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6)",
        params![run_id, team, pid, now_rfc3339(), host, start],
    )?;
    Ok(c.last_insert_rowid())
}

/// Add `amount` to lease `id` if it fits at run, team and org level (the same checks as
/// [`reserve`]), or say which level refused. At the shared levels (team, org) `margin` more
/// must stay free after it: headroom a lease holds beyond its calls in flight is taken only far
/// from a cap, so it never makes another run fail.
pub fn grow(c: &Connection, id: i64, amount: Micros, margin: i64) -> Result<Reserve, StoreError> {
    let Some((run, team, held_now)) = held(c, id)? else {
        return Err(StoreError::NotFound(format!("budget lease {id} is gone")));
    };
    let owner = super::waiters::lease_owner(id);
    let ask = Ask {
        amount,
        own: held_now,
        margin: margin.max(0),
        owner: &owner,
    };
    if let Some(d) = refusal(c, run.as_deref(), team.as_deref(), &ask)? {
        return Ok(Reserve::Denied(d));
    }
    crate::store::exec(
        c,
        "UPDATE reservations SET amount_micros = amount_micros + ?2 WHERE id = ?1",
        params![id, amount.0],
    )?;
    adjust_reserved(c, run.as_deref(), team.as_deref(), amount.0)?;
    Ok(Reserve::Reserved(id))
}

/// Give back up to `amount` of lease `id` (headroom beyond its calls in flight, already taken
/// out of the run's memory). Returns what the row gave back.
pub fn shrink(c: &Connection, id: i64, amount: Micros) -> Result<i64, StoreError> {
    let Some((run, team, held_now)) = held(c, id)? else {
        return Ok(0);
    };
    let part = amount.0.min(held_now).max(0);
    if part > 0 {
        crate::store::exec(
            c,
            "UPDATE reservations SET amount_micros = amount_micros - ?2 WHERE id = ?1",
            params![id, part],
        )?;
        adjust_reserved(c, run.as_deref(), team.as_deref(), -part)?;
    }
    Ok(part)
}

/// Should lease `id`, holding `spare` beyond its calls in flight, give it back? Yes when a
/// shared level it draws on has less free than that spare, or another owner waits there.
pub fn lease_pressed(c: &Connection, id: i64, spare: Micros) -> Result<bool, StoreError> {
    let Some((_, team, _)) = held(c, id)? else {
        return Ok(false);
    };
    let owner = super::waiters::lease_owner(id);
    for l in shared_levels(team.as_deref()) {
        let l = l.to_string();
        if super::waiters::others_waiting(c, &l, &owner)? {
            return Ok(true);
        }
        if let Some(s) = level(c, &l)?
            && let Some(cap) = s.cap
            && cap.0 - s.spent.0 - s.reserved.0 < spare.0
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Charge `actual` against lease `id`: the lease shrinks by it (never below zero) and the spend
/// is added at team and org level, in one step, so headroom seen by others never grows.
pub fn settle_part(
    c: &Connection,
    id: i64,
    team: Option<&str>,
    actual: Micros,
) -> Result<(), StoreError> {
    if actual.0 <= 0 {
        return Ok(());
    }
    let Some((run, team, amount)) = held(c, id)? else {
        // The lease is gone (released already): the money was still spent.
        return charge(c, team, actual);
    };
    let part = actual.0.min(amount);
    crate::store::exec(
        c,
        "UPDATE reservations SET amount_micros = amount_micros - ?2 WHERE id = ?1",
        params![id, part],
    )?;
    adjust_reserved(c, run.as_deref(), team.as_deref(), -part)?;
    charge(c, team.as_deref(), actual)
}

/// What a reservation or lease growth asks of the levels.
struct Ask<'a> {
    amount: Micros,
    /// The asking lease's row (0 for a reservation of its own).
    own: i64,
    /// Must stay free at shared levels after `amount`.
    margin: i64,
    /// Who asks: headroom kept for owners waiting before it is not taken.
    owner: &'a str,
}

/// Which level (run, team, org) cannot take the ask, if any.
fn refusal(
    c: &Connection,
    run_id: Option<&str>,
    team: Option<&str>,
    ask: &Ask,
) -> Result<Option<Denial>, StoreError> {
    let amount = ask.amount;
    for l in levels(run_id, team) {
        if let (Level::Org, Some(t)) = (&l, team) {
            // Past the run's own level: a team's row is created on first use, so `budget`
            // lists the teams that ran.
            crate::store::exec(
                c,
                "INSERT OR IGNORE INTO budget_levels (level) VALUES (?1)",
                [team_level(t)],
            )?;
        }
        let Some(s) = headroom(c, &l, ask.owner)? else {
            continue;
        };
        // The run's own level: nobody else draws on it, so no margin and no waiters.
        let margin = if l.is_shared() { ask.margin } else { 0 };
        let kept = Micros(s.reserved.0 + s.waiting + margin);
        if !fits(Some(s.cap), s.spent, kept, amount) {
            return Ok(Some(Denial {
                level: l.to_string(),
                cap: s.cap,
                spent: s.spent,
                reserved: s.reserved,
                own: Micros(ask.own),
                own_inflight: Micros::ZERO,
                waiting: Micros(s.waiting),
                amount,
            }));
        }
    }
    Ok(None)
}

/// What a capped level holds, as a refusal weighs it.
struct Room {
    cap: Micros,
    spent: Micros,
    reserved: Micros,
    /// Kept for owners waiting there before the asker.
    waiting: i64,
}

/// The state of level `l` for an ask by `owner` (`None`: uncapped).
fn headroom(c: &Connection, l: &Level, owner: &str) -> Result<Option<Room>, StoreError> {
    if let Level::Run(run) = l {
        let (cap, spent, reserved): (i64, i64, i64) = crate::store::query_row(
            c,
            "SELECT budget_micros, spent_micros, reserved_micros FROM runs WHERE id = ?1",
            [run],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        return Ok(Some(Room {
            cap: Micros(cap),
            spent: Micros(spent),
            reserved: Micros(reserved),
            waiting: 0,
        }));
    }
    let name = l.to_string();
    let Some(s) = level(c, &name)? else {
        return Ok(None);
    };
    let Some(cap) = s.cap else { return Ok(None) };
    Ok(Some(Room {
        cap,
        spent: s.spent,
        reserved: s.reserved,
        waiting: super::waiters::ahead_of(c, &name, owner)?,
    }))
}

fn adjust_reserved(
    c: &Connection,
    run_id: Option<&str>,
    team: Option<&str>,
    delta: i64,
) -> Result<(), StoreError> {
    for l in levels(run_id, team) {
        match &l {
            Level::Run(run) => crate::store::exec(
                c,
                "UPDATE runs SET reserved_micros = MAX(0, reserved_micros + ?2) WHERE id = ?1",
                params![run, delta],
            )?,
            _ => crate::store::exec(
                c,
                "UPDATE budget_levels SET reserved_micros = MAX(0, reserved_micros + ?2) WHERE level = ?1",
                params![l.to_string(), delta],
            )?,
        };
    }
    Ok(())
}

/// (run, team, amount) of a reservation.
type Held = (Option<String>, Option<String>, i64);

fn held(c: &Connection, id: i64) -> Result<Option<Held>, StoreError> {
    Ok(crate::store::query_row(
        c,
        "SELECT run_id, team, amount_micros FROM reservations WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()?)
}

fn take(c: &Connection, id: i64) -> Result<Option<Held>, StoreError> {
    let row = held(c, id)?;
    if row.is_some() {
        crate::store::exec(c, "DELETE FROM reservations WHERE id = ?1", [id])?;
    }
    Ok(row)
}

/// Replace a reservation by the actual cost at team and org level (the run's own spend is
/// charged with the call record). Idempotent: a second settle finds nothing.
pub fn settle(c: &Connection, id: i64, actual: Micros) -> Result<(), StoreError> {
    let Some((run, team, amount)) = take(c, id)? else {
        return Ok(());
    };
    adjust_reserved(c, run.as_deref(), team.as_deref(), -amount)?;
    charge(c, team.as_deref(), actual)
}

/// Add spend at org (and team) level and record the burn-down point.
pub fn charge(c: &Connection, team: Option<&str>, actual: Micros) -> Result<(), StoreError> {
    if actual.0 == 0 {
        return Ok(());
    }
    let now = now_rfc3339();
    for l in shared_levels(team) {
        let l = l.to_string();
        crate::store::exec(
            c,
            "UPDATE budget_levels SET spent_micros = spent_micros + ?2 WHERE level = ?1",
            params![l, actual.0],
        )?;
        if series_due(&l) {
            crate::store::exec(
                c,
                "INSERT INTO spend_series (at, level, spent_micros)
                 SELECT ?1, level, spent_micros FROM budget_levels WHERE level = ?2",
                params![now, l],
            )?;
        }
    }
    Ok(())
}

/// The burn-down series needs a point per level every ~half second, not one per call (writes on
/// the hot path cost tail latency).
pub(crate) fn series_due(level: &str) -> bool {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};
    static LAST: Mutex<Option<HashMap<String, Instant>>> = Mutex::new(None);
    let mut g = LAST.lock().unwrap_or_else(|p| p.into_inner());
    let map = g.get_or_insert_with(HashMap::new);
    let now = Instant::now();
    match map.get(level) {
        Some(t) if now.duration_since(*t) < Duration::from_millis(500) => false,
        _ => {
            map.insert(level.to_string(), now);
            true
        }
    }
}

/// Give a reservation back untouched (error, cancel). Idempotent.
pub fn release(c: &Connection, id: i64) -> Result<(), StoreError> {
    if let Some((run, team, amount)) = take(c, id)? {
        adjust_reserved(c, run.as_deref(), team.as_deref(), -amount)?;
    }
    Ok(())
}

/// Release reservations whose owner is gone. `alive(run_id, pid)` decides.
pub fn release_stale(
    c: &Connection,
    alive: &dyn Fn(Option<&str>, u32) -> bool,
) -> Result<usize, StoreError> {
    let rows: Vec<(i64, Option<String>, u32)> = c
        .prepare("SELECT id, run_id, pid FROM reservations")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut n = 0;
    for (id, run, pid) in rows {
        if !alive(run.as_deref(), pid) {
            release(c, id)?;
            n += 1;
        }
    }
    Ok(n)
}

/// Spend over time at one level, oldest first (for the burn-down chart).
pub fn series(
    c: &Connection,
    level: &str,
    limit: usize,
) -> Result<Vec<(String, Micros)>, StoreError> {
    let mut rows: Vec<(String, Micros)> = c
        .prepare(
            "SELECT at, spent_micros FROM spend_series WHERE level = ?1 ORDER BY id DESC LIMIT ?2",
        )?
        .query_map(params![level, limit as i64], |r| {
            Ok((r.get(0)?, Micros(r.get(1)?)))
        })?
        .collect::<Result<_, _>>()?;
    rows.reverse();
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::migrations::migrate;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        c
    }

    fn usd(x: f64) -> Micros {
        Micros::from_usd(x)
    }

    fn reserved(r: Reserve) -> i64 {
        match r {
            Reserve::Reserved(id) => id,
            Reserve::Denied(d) => panic!("denied: {d}"),
        }
    }

    #[test]
    fn originals_org_case() {
        // org $10: reserve 9 -> charge 9 -> remaining 1; 2 rejected; 0.8 accepted; then 0.3 rejected.
        let c = db();
        set_cap(&c, "org", usd(10.0), None).unwrap();
        let id = reserved(reserve(&c, None, None, usd(9.0), 1).unwrap());
        settle(&c, id, usd(9.0)).unwrap();
        let org = level(&c, "org").unwrap().unwrap();
        assert_eq!(
            crate::budget::remaining(org.cap, org.spent, org.reserved),
            Some(usd(1.0))
        );
        assert!(matches!(
            reserve(&c, None, None, usd(2.0), 1).unwrap(),
            Reserve::Denied(_)
        ));
        reserved(reserve(&c, None, None, usd(0.8), 1).unwrap());
        assert!(matches!(
            reserve(&c, None, None, usd(0.3), 1).unwrap(),
            Reserve::Denied(_)
        ));
    }

    #[test]
    fn five_jobs_of_thirty_on_a_hundred() {
        let c = db();
        set_cap(&c, "org", usd(100.0), None).unwrap();
        let ok = (0..5)
            .filter(|_| {
                matches!(
                    reserve(&c, None, None, usd(30.0), 1).unwrap(),
                    Reserve::Reserved(_)
                )
            })
            .count();
        assert_eq!(ok, 3);
    }

    #[test]
    fn team_cap_with_reservations_rejects() {
        let c = db();
        set_cap(&c, "team:web", usd(80.0), None).unwrap();
        reserved(reserve(&c, None, Some("web"), usd(60.0), 1).unwrap());
        match reserve(&c, None, Some("web"), usd(30.0), 1).unwrap() {
            Reserve::Denied(d) => assert_eq!(d.level, "team:web"),
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn releases_are_idempotent_and_never_negative() {
        let c = db();
        let id = reserved(reserve(&c, None, Some("a"), usd(5.0), 1).unwrap());
        release(&c, id).unwrap();
        release(&c, id).unwrap();
        settle(&c, id, usd(5.0)).unwrap();
        for l in all_levels(&c).unwrap() {
            assert_eq!(l.reserved, Micros::ZERO, "{}", l.level);
            assert_eq!(l.spent, Micros::ZERO, "{}", l.level);
        }
    }

    #[test]
    fn stale_reservations_are_released() {
        let c = db();
        reserved(reserve(&c, None, None, usd(5.0), 4242).unwrap());
        reserved(reserve(&c, None, None, usd(1.0), 7).unwrap());
        let n = release_stale(&c, &|_, pid| pid == 7).unwrap();
        assert_eq!(n, 1);
        assert_eq!(level(&c, "org").unwrap().unwrap().reserved, usd(1.0));
    }

    #[test]
    fn late_period_reset_cannot_erase_new_spend() {
        let c = db();
        set_cap(&c, "org", usd(10.0), Some("daily")).unwrap();
        // Pretend the stored period is old: rolling resets spend once.
        crate::store::exec(&c, "UPDATE budget_levels SET spent_micros = 5000000, period_key = '2000-01-01' WHERE level = 'org'", []).unwrap();
        assert_eq!(level(&c, "org").unwrap().unwrap().spent, Micros::ZERO);
        charge(&c, None, usd(2.0)).unwrap();
        // A second (late) roll finds the current key and changes nothing.
        assert_eq!(level(&c, "org").unwrap().unwrap().spent, usd(2.0));
    }
}
