//! The budget ledger shared by machines (issue 19), against both backends: SQLite (one file,
//! connections standing for processes) and PostgreSQL (`ORCHESTRATOR_TEST_PG_URL`; each test in
//! its own schema, dropped at the end; without the variable the PostgreSQL half is skipped with
//! a notice).
//!
//! (a) Several connections reserve, grow leases, settle with a call record and release at once
//!     against one org cap and one team cap: spend plus reserved never passes a cap (checked
//!     while they run), org spent equals the sum of recorded call costs to the micro-dollar,
//!     and nothing is reserved at the end.
//! (b) PostgreSQL liveness: sessions killed on the server (what a SIGKILL or a lost network
//!     does) leave reservations that the next opener settles, while a live session's
//!     reservation is untouched; a run whose driver died shows `interrupted` on another
//!     "machine", which takes it over; `runs` lists every machine's runs with host and user.

use crate::support::binary::call_record;
use orchestrator_tui::budget::ledger::Reserve;
use orchestrator_tui::budget::level::Level;
use orchestrator_tui::domain::Micros;
use orchestrator_tui::domain::status::RunStatus;
use orchestrator_tui::store::pg::{self, PgConn, PgTarget, liveness};
use orchestrator_tui::store::{self, BudgetStore, NewRun};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

use crate::support::pg::PgSchema;

/// What the concurrency test does through one connection of either backend.
trait Ledger: Send {
    fn reserve(&mut self, team: Option<&str>, amount: i64) -> Option<i64>;
    fn open_lease(&mut self, run: &str, team: Option<&str>) -> i64;
    fn grow(&mut self, lease: i64, amount: i64) -> bool;
    /// Settle a reservation (`lease == false`) or part of a lease, and record the call, in one
    /// transaction as the engine does.
    fn settle_call(
        &mut self,
        id: i64,
        lease: bool,
        run: Option<&str>,
        team: Option<&str>,
        cost: i64,
    );
    fn release(&mut self, id: i64);
    /// (org spent + reserved, team spent + reserved)
    fn load(&mut self) -> (i64, i64);
}

struct Sqlite(rusqlite::Connection);

impl Ledger for Sqlite {
    fn reserve(&mut self, team: Option<&str>, amount: i64) -> Option<i64> {
        let pid = std::process::id();
        let team = team.map(String::from);
        match store::immediate(&self.0, |tx| {
            tx.reserve(None, team.as_deref(), Micros(amount), pid, "")
        })
        .unwrap()
        {
            Reserve::Reserved(id) => Some(id),
            Reserve::Denied(_) => None,
        }
    }
    fn open_lease(&mut self, run: &str, team: Option<&str>) -> i64 {
        let pid = std::process::id();
        store::immediate(&self.0, |tx| tx.open_lease(run, team, pid)).unwrap()
    }
    fn grow(&mut self, lease: i64, amount: i64) -> bool {
        matches!(
            store::immediate(&self.0, |tx| tx.grow_lease(lease, Micros(amount), 0)).unwrap(),
            Reserve::Reserved(_)
        )
    }
    fn settle_call(
        &mut self,
        id: i64,
        lease: bool,
        run: Option<&str>,
        team: Option<&str>,
        cost: i64,
    ) {
        store::immediate(&self.0, |tx| {
            if lease {
                tx.settle_part(id, team, Micros(cost))?;
            } else {
                tx.settle(id, Micros(cost))?;
            }
            store::runs::insert_call(tx, &call_record(run, cost))?;
            Ok(())
        })
        .unwrap();
    }
    fn release(&mut self, id: i64) {
        store::immediate(&self.0, |tx| tx.release(id)).unwrap();
    }
    fn load(&mut self) -> (i64, i64) {
        store::immediate(&self.0, |tx| {
            let org = tx.level_state(&Level::Org)?.unwrap();
            let web = tx.level_state(&Level::Team("web".into()))?;
            Ok((
                org.spent.0 + org.reserved.0,
                web.map_or(0, |w| w.spent.0 + w.reserved.0),
            ))
        })
        .unwrap()
    }
}

struct Pg(PgConn);

impl Ledger for Pg {
    fn reserve(&mut self, team: Option<&str>, amount: i64) -> Option<i64> {
        match self
            .0
            .reserve(None, team, Micros(amount), std::process::id(), "")
            .unwrap()
        {
            Reserve::Reserved(id) => Some(id),
            Reserve::Denied(_) => None,
        }
    }
    fn open_lease(&mut self, run: &str, team: Option<&str>) -> i64 {
        self.0.open_lease(run, team, std::process::id()).unwrap()
    }
    fn grow(&mut self, lease: i64, amount: i64) -> bool {
        matches!(
            self.0.grow_lease(lease, Micros(amount), 0).unwrap(),
            Reserve::Reserved(_)
        )
    }
    fn settle_call(
        &mut self,
        id: i64,
        lease: bool,
        run: Option<&str>,
        team: Option<&str>,
        cost: i64,
    ) {
        self.0
            .tx(|t| {
                if lease {
                    pg::budget::settle_part(t, id, team, Micros(cost))?;
                } else {
                    pg::budget::settle(t, id, Micros(cost))?;
                }
                pg::runs::insert_call(t, &call_record(run, cost))?;
                Ok(())
            })
            .unwrap();
    }
    fn release(&mut self, id: i64) {
        BudgetStore::release(&self.0, id).unwrap();
    }
    fn load(&mut self) -> (i64, i64) {
        let org = self.0.level_state(&Level::Org).unwrap().unwrap();
        let web = self.0.level_state(&Level::Team("web".into())).unwrap();
        (
            org.spent.0 + org.reserved.0,
            web.map_or(0, |w| w.spent.0 + w.reserved.0),
        )
    }
}

const ORG_CAP: i64 = 2_000_000;
const WEB_CAP: i64 = 900_000;
const WORKERS: usize = 6;
const OPS: usize = 60;

fn new_run(id: &str, team: Option<&str>) -> NewRun {
    NewRun {
        id: id.into(),
        description: format!("run {id}"),
        criteria: String::new(),
        team: team.map(String::from),
        strategy: "quality".into(),
        budget: Micros(ORG_CAP),
        time_limit_secs: 60,
        concurrency: 1,
        output_dir: "/tmp/unused".into(),
        plan: None,
        simulated: true,
    }
}

/// A small deterministic generator per worker (xorshift), so a failure replays.
fn rng(seed: u64) -> impl FnMut(i64) -> i64 {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move |n| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s % n.max(1) as u64) as i64
    }
}

/// Worker `w`: half its calls reserve on their own, half draw on its run's lease (grown by
/// each call's worst case, as the engine's in-memory lease does when short). Every call is
/// charged between 0 and its worst case.
fn worker(mut l: impl Ledger, w: usize, over: &AtomicBool) {
    let team = if w.is_multiple_of(2) {
        Some("web")
    } else {
        None
    };
    let run = format!("r-{w}");
    let lease = l.open_lease(&run, team);
    let mut next = rng(w as u64 + 1);
    for _ in 0..OPS {
        let worst = 20_000 + next(60_000);
        let cost = next(worst + 1);
        if next(2) == 0 {
            if let Some(id) = l.reserve(team, worst) {
                l.settle_call(id, false, None, team, cost);
            }
        } else if l.grow(lease, worst) {
            l.settle_call(lease, true, Some(&run), team, cost);
        }
        let (org, web) = l.load();
        if org > ORG_CAP || web > WEB_CAP {
            over.store(true, Ordering::SeqCst);
        }
    }
    l.release(lease);
}

/// Run the workers at once and return whether any saw a level over its cap.
fn hammer<L: Ledger + 'static>(open: impl Fn() -> L) -> bool {
    let over = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(WORKERS));
    let handles: Vec<_> = (0..WORKERS)
        .map(|w| {
            let l = open();
            let (over, start) = (over.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                worker(l, w, &over);
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a worker panicked");
    }
    over.load(Ordering::SeqCst)
}

#[test]
fn concurrent_connections_never_overspend_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orchestrator.db");
    {
        let mut c = store::open_connection(&path).unwrap();
        store::migrations::migrate(&mut c).unwrap();
        store::budget::set_cap(&c, "org", Micros(ORG_CAP), None).unwrap();
        store::budget::set_cap(&c, "team:web", Micros(WEB_CAP), None).unwrap();
        for w in 0..WORKERS {
            let team = (w % 2 == 0).then_some("web");
            store::runs::insert_run(&c, &new_run(&format!("r-{w}"), team)).unwrap();
        }
    }
    let over = hammer(|| Sqlite(store::open_connection(&path).unwrap()));
    assert!(!over, "a level went over its cap");
    let c = store::open_connection(&path).unwrap();
    let org = store::budget::level(&c, "org").unwrap().unwrap();
    let calls: i64 = c
        .query_row("SELECT COALESCE(SUM(cost_micros), 0) FROM calls", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(org.spent.0, calls, "org spent is the sum of recorded calls");
    assert!(org.spent.0 <= ORG_CAP);
    for l in store::budget::all_levels(&c).unwrap() {
        assert_eq!(
            l.reserved,
            Micros::ZERO,
            "{} still holds a reservation",
            l.level
        );
    }
    // The caps were reached: the test exercised refusals, not just headroom.
    assert!(org.spent.0 > ORG_CAP / 2, "org spent only {}", org.spent.0);
}

#[test]
fn concurrent_connections_never_overspend_on_postgres() {
    let Some(schema) = PgSchema::new("overspend") else {
        return;
    };
    let first = PgConn::open(&schema.target).unwrap();
    first.set_cap(&Level::Org, Micros(ORG_CAP), None).unwrap();
    first
        .set_cap(&Level::Team("web".into()), Micros(WEB_CAP), None)
        .unwrap();
    first
        .tx(|t| {
            for w in 0..WORKERS {
                let team = (w % 2 == 0).then_some("web");
                pg::runs::insert_run(t, &new_run(&format!("r-{w}"), team))?;
            }
            Ok(())
        })
        .unwrap();
    let target = schema.target.clone();
    let over = hammer(move || Pg(PgConn::open(&target).unwrap()));
    assert!(!over, "a level went over its cap");
    let org = first.level_state(&Level::Org).unwrap().unwrap();
    let calls: i64 = first
        .client()
        .query_one(
            "SELECT COALESCE(SUM(cost_micros), 0)::BIGINT FROM calls",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(org.spent.0, calls, "org spent is the sum of recorded calls");
    assert!(org.spent.0 <= ORG_CAP);
    for l in first.all_levels().unwrap() {
        assert_eq!(
            l.reserved,
            Micros::ZERO,
            "{} still holds a reservation",
            l.level
        );
    }
    let runs_reserved: i64 = first
        .client()
        .query_one(
            "SELECT COALESCE(SUM(reserved_micros), 0)::BIGINT FROM runs",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(runs_reserved, 0);
    assert!(org.spent.0 > ORG_CAP / 2, "org spent only {}", org.spent.0);
}

/// End a session on the server, as a SIGKILL of its process or a lost network does.
fn kill_backend(admin: &PgConn, backend_pid: i32) {
    let ok: bool = admin
        .client()
        .query_one("SELECT pg_terminate_backend($1)", &[&backend_pid])
        .unwrap()
        .get(0);
    assert!(ok, "backend {backend_pid} was not terminated");
    // The server drops the session's locks as the backend exits; wait until it has.
    for _ in 0..200 {
        let alive: bool = admin
            .client()
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)",
                &[&backend_pid],
            )
            .unwrap()
            .get(0);
        if !alive {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("backend {backend_pid} did not exit");
}

#[test]
fn dead_sessions_reservations_are_settled_by_the_next_opener() {
    let Some(schema) = PgSchema::new("dead") else {
        return;
    };
    let admin = PgConn::open(&schema.target).unwrap();
    admin.set_cap(&Level::Org, Micros(1_000_000), None).unwrap();
    // Two "processes": each a session holding its process lock, and a store connection whose
    // reservations it owns.
    let mut alive = liveness::Session::open(&schema.target).unwrap();
    let mut doomed = liveness::Session::open(&schema.target).unwrap();
    let a = PgConn::open(&schema.target).unwrap();
    a.set_owner_lock(Some(alive.process_key()));
    let d = PgConn::open(&schema.target).unwrap();
    d.set_owner_lock(Some(doomed.process_key()));
    let pid = std::process::id();
    assert!(matches!(
        a.reserve(None, None, Micros(300_000), pid, "").unwrap(),
        Reserve::Reserved(_)
    ));
    for _ in 0..2 {
        assert!(matches!(
            d.reserve(None, None, Micros(250_000), pid, "").unwrap(),
            Reserve::Reserved(_)
        ));
    }
    // Nothing is dead yet: recovery settles nothing.
    assert_eq!(admin.recover_dead().unwrap().settled, 0);
    assert!(doomed.alive());
    kill_backend(&admin, doomed.backend_pid().unwrap());
    assert!(!doomed.alive());
    let r = admin.recover_dead().unwrap();
    assert_eq!(r.settled, 2);
    // Run-less reservations cover one call each: charged whole, as estimated spend.
    assert_eq!(r.charged, Micros(500_000));
    let org = admin.level_state(&Level::Org).unwrap().unwrap();
    assert_eq!(
        org.reserved,
        Micros(300_000),
        "the live session's hold stays"
    );
    assert_eq!(org.spent, Micros(500_000));
    assert_eq!(org.estimated, Micros(500_000));
    assert!(alive.alive());
    // Recovery is idempotent.
    assert_eq!(admin.recover_dead().unwrap().settled, 0);
}

#[test]
fn a_run_killed_on_one_machine_is_interrupted_on_the_other_and_resumes_there() {
    let Some(schema) = PgSchema::new("interrupt") else {
        return;
    };
    let machine_a = PgConn::open(&schema.target).unwrap();
    let machine_b = PgConn::open(&schema.target).unwrap();
    let mut driver_a = liveness::Session::open(&schema.target).unwrap();
    machine_a
        .tx(|t| pg::runs::insert_run(t, &new_run("r-a", None)))
        .unwrap();
    driver_a.claim_run("r-a").unwrap();
    let list = machine_b
        .tx(|t| pg::runs::list_runs(t, schema.target.schema()))
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, RunStatus::Running);
    let me = orchestrator_tui::store::owner::Owner::current();
    assert_eq!(list[0].host.as_deref(), Some(me.host.as_str()));
    assert_eq!(
        list[0].user.as_deref(),
        Some(orchestrator_tui::store::owner::os_user())
    );
    // Machine B cannot take a run that machine A drives.
    let mut driver_b = liveness::Session::open(&schema.target).unwrap();
    assert!(driver_b.claim_run("r-a").is_err());
    kill_backend(&machine_b, driver_a.backend_pid().unwrap());
    let list = machine_b
        .tx(|t| pg::runs::list_runs(t, schema.target.schema()))
        .unwrap();
    assert_eq!(list[0].status, RunStatus::Interrupted);
    // B resumes it: the lock is free, so B takes it, and the run is running again for all.
    driver_b.claim_run("r-a").unwrap();
    let list = machine_a
        .tx(|t| pg::runs::list_runs(t, schema.target.schema()))
        .unwrap();
    assert_eq!(list[0].status, RunStatus::Running);
    // A, reconnecting after its loss, finds the run taken and must stop.
    assert!(driver_a.reconnect().is_err());
}

#[test]
fn migrations_apply_once_and_a_newer_schema_is_refused() {
    let Some(schema) = PgSchema::new("migrate") else {
        return;
    };
    let c = PgConn::open(&schema.target).unwrap();
    let known = store::migrations::MIGRATIONS.len() as u32;
    assert_eq!(pg::schema::version(&mut c.client()).unwrap(), known);
    // A second opener finds the schema current and changes nothing.
    drop(PgConn::open(&schema.target).unwrap());
    c.client()
        .execute("UPDATE schema_version SET version = version + 1", &[])
        .unwrap();
    let e = PgConn::open(&schema.target).err().expect("a newer schema");
    assert!(e.is_unavailable(), "{e}");
    assert!(e.to_string().contains("newer"), "{e}");
}

#[test]
fn outage_breakers_are_org_wide_and_auth_disables_are_per_key() {
    use orchestrator_tui::routing::breaker::{Breaker, BreakerState};
    use orchestrator_tui::store::pg::breakers;
    let Some(schema) = PgSchema::new("breakers") else {
        return;
    };
    let (a, b) = (
        PgConn::open(&schema.target).unwrap(),
        PgConn::open(&schema.target).unwrap(),
    );
    let salt = a.tx(breakers::org_salt).unwrap();
    // The salt is made once and shared: the other machine reads the same one.
    assert_eq!(b.tx(breakers::org_salt).unwrap(), salt);
    let (key_a, key_b) = ("sk-alice-0123456789", "sk-bob-9876543210");
    let (ha, hb) = (
        breakers::key_hash(&salt, key_a),
        breakers::key_hash(&salt, key_b),
    );
    assert_ne!(ha, hb);
    let open = Breaker {
        state: BreakerState::Open,
        consecutive_failures: 3,
        trips: 1,
        open_until_ms: 99,
        ..Breaker::default()
    };
    let disabled = Breaker {
        state: BreakerState::Disabled,
        ..Breaker::default()
    };
    a.tx(|t| {
        breakers::save_breaker(t, "down-model", &open, "h", Some(&ha))?;
        breakers::save_breaker(t, "billing-model", &disabled, "h", Some(&ha))
    })
    .unwrap();
    let state = |c: &PgConn, key: &str, model: &str| {
        c.tx(|t| breakers::load_breakers(t, Some(key)))
            .unwrap()
            .into_iter()
            .find(|(m, _, _)| m == model)
            .map(|(_, b, _)| b.state)
    };
    // The outage is the provider's: open for everyone.
    assert_eq!(state(&b, &hb, "down-model"), Some(BreakerState::Open));
    // The billing refusal was alice's key's: bob's key still reaches the model.
    assert_eq!(
        state(&a, &ha, "billing-model"),
        Some(BreakerState::Disabled)
    );
    assert_eq!(state(&b, &hb, "billing-model"), None);
    // The key itself is nowhere in the store.
    let stored: Vec<String> = a
        .client()
        .query("SELECT key_hash FROM key_disables", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(stored, vec![ha.clone()]);
    assert!(stored.iter().all(|h| !h.contains("alice") && h.len() == 64));
}

#[test]
fn another_machines_changes_are_notified() {
    use orchestrator_tui::store::pg::notify::{Change, Listener};
    let Some(schema) = PgSchema::new("notify") else {
        return;
    };
    let writer = PgConn::open(&schema.target).unwrap();
    let mut tui = Listener::open(&schema.target).unwrap();
    // Generous waits: the assertion is that the notice arrives, not how fast.
    let wait = std::time::Duration::from_secs(10);
    writer
        .set_cap(&Level::Org, Micros(5_000_000), None)
        .unwrap();
    assert_eq!(tui.changes(wait).unwrap(), vec![Change::Budget]);
    writer
        .tx(|t| pg::runs::insert_run(t, &new_run("r-n", None)))
        .unwrap();
    assert_eq!(tui.changes(wait).unwrap(), vec![Change::Runs]);
    let b = orchestrator_tui::routing::breaker::Breaker::default();
    writer
        .tx(|t| pg::breakers::save_breaker(t, "m", &b, "h", None))
        .unwrap();
    assert_eq!(tui.changes(wait).unwrap(), vec![Change::Breakers]);
    // Nothing changed since: nothing heard.
    assert!(
        tui.changes(std::time::Duration::from_millis(50))
            .unwrap()
            .is_empty()
    );
}

/// The worker of the multi-process test: runs only when started by it (the variable names the
/// schema), as a process of its own with its own liveness session.
#[test]
#[ignore = "started by processes_on_two_machines_never_overspend_and_the_dead_are_settled"]
fn pg_worker_process() {
    let (Ok(url), Ok(schema), Ok(seed)) = (
        std::env::var("ORCHESTRATOR_TEST_PG_URL"),
        std::env::var("PG_WORKER_SCHEMA"),
        std::env::var("PG_WORKER_SEED"),
    ) else {
        return;
    };
    let target = PgTarget::parse(&url, &schema).unwrap();
    let session = liveness::Session::open(&target).unwrap();
    let conn = PgConn::open(&target).unwrap();
    conn.set_owner_lock(Some(session.process_key()));
    // What every opener does: settle what dead processes held.
    conn.recover_dead().unwrap();
    let seed: u64 = seed.parse().unwrap();
    let team = seed.is_multiple_of(2).then_some("web");
    let mut next = rng(seed);
    let mut l = Pg(conn);
    for _ in 0..80 {
        let worst = 20_000 + next(60_000);
        let cost = next(worst + 1);
        if let Some(id) = l.reserve(team, worst) {
            l.settle_call(id, false, None, team, cost);
        }
    }
    drop(session);
}

#[test]
fn processes_on_two_machines_never_overspend_and_the_dead_are_settled() {
    use std::process::{Command, Stdio};
    let Some(schema) = PgSchema::new("procs") else {
        return;
    };
    let admin = PgConn::open(&schema.target).unwrap();
    admin.set_cap(&Level::Org, Micros(ORG_CAP), None).unwrap();
    admin
        .set_cap(&Level::Team("web".into()), Micros(WEB_CAP), None)
        .unwrap();
    let url = std::env::var("ORCHESTRATOR_TEST_PG_URL").unwrap();
    let exe = std::env::current_exe().unwrap();
    // Two "machines" of four processes each (a machine is only a data dir to the binary; to
    // the ledger every process is a session of its own either way).
    let mut kids: Vec<_> = (0..8u64)
        .map(|i| {
            Command::new(&exe)
                .args([
                    "shared_store::pg_worker_process",
                    "--exact",
                    "--ignored",
                    "--quiet",
                ])
                .env("ORCHESTRATOR_TEST_PG_URL", &url)
                .env("PG_WORKER_SCHEMA", schema.target.schema())
                .env("PG_WORKER_SEED", (i + 11).to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    // SIGKILL three of them once they hold reservations (or have finished: then nothing is
    // left to settle for them, which the checks below cover too).
    let mut killed = 0;
    for _ in 0..500 {
        let held: i64 = admin
            .client()
            .query_one("SELECT COUNT(*) FROM reservations", &[])
            .unwrap()
            .get(0);
        if held > 0 {
            for k in kids.iter_mut().skip(killed * 3).take(1) {
                let _ = k.kill();
            }
            killed += 1;
            if killed == 3 {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for k in &mut kids {
        let _ = k.wait();
    }
    // The next start settles what the dead held.
    let next_start = PgConn::open(&schema.target).unwrap();
    next_start.recover_dead().unwrap();
    let org = next_start.level_state(&Level::Org).unwrap().unwrap();
    let web = next_start
        .level_state(&Level::Team("web".into()))
        .unwrap()
        .unwrap();
    let calls: i64 = next_start
        .client()
        .query_one(
            "SELECT COALESCE(SUM(cost_micros), 0)::BIGINT FROM calls",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(org.spent.0 <= ORG_CAP, "org over cap: {org:?}");
    assert!(web.spent.0 <= WEB_CAP, "team over cap: {web:?}");
    // Recorded calls, plus what dead processes held for calls never recorded (charged whole,
    // as estimated spend), to the micro-dollar.
    assert_eq!(org.spent.0, calls + org.estimated.0, "{org:?}");
    for l in next_start.all_levels().unwrap() {
        assert_eq!(
            l.reserved,
            Micros::ZERO,
            "{} still holds a reservation",
            l.level
        );
    }
    let left: i64 = next_start
        .client()
        .query_one("SELECT COUNT(*) FROM reservations", &[])
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    assert!(calls > 0);
}

#[test]
fn after_a_lost_connection_the_driver_takes_its_locks_again_before_going_on() {
    let Some(schema) = PgSchema::new("reconnect") else {
        return;
    };
    let admin = PgConn::open(&schema.target).unwrap();
    let mut driver = liveness::Session::open(&schema.target).unwrap();
    driver.claim_run("r-1").unwrap();
    let key = driver.process_key();
    // The network drops: the server ends the session and its locks go with it.
    kill_backend(&admin, driver.backend_pid().unwrap());
    assert!(!driver.alive());
    assert!(!liveness::held(&mut *admin.client(), key).unwrap());
    // Nobody took them meanwhile: the same locks are held again, and the run is the driver's.
    driver.reconnect().unwrap();
    assert!(driver.alive());
    assert!(liveness::held(&mut *admin.client(), key).unwrap());
    let run_key = liveness::run_key(schema.target.schema(), "r-1");
    assert!(liveness::held(&mut *admin.client(), run_key).unwrap());
    let mut other = liveness::Session::open(&schema.target).unwrap();
    assert!(other.claim_run("r-1").is_err());
}
