//! The settle of a lease as one server-side function (migration 16) leaves the ledger exactly
//! as the statements it replaces do.

use super::budget::{self, Stamp};
use super::{TestSchema, schema};
use crate::domain::Micros;
use postgres::Client;

/// A migrated schema with an org cap and one run.
fn ledger(tag: &str) -> Option<(TestSchema, Client)> {
    let s = TestSchema::new(tag)?;
    let mut c = s.0.connect().expect("connect");
    schema::migrate(&mut c, &s.0).expect("migrate");
    c.batch_execute(
        "INSERT INTO runs (id, description, norm_description, strategy, budget_micros,
            time_limit_secs, concurrency, output_dir, status, created_at, started_at, updated_at)
         VALUES ('r', 'd', 'd', 's', 5000000, 1, 1, 'o', 'running', 't', 't', 't');",
    )
    .expect("run row");
    let mut t = c.transaction().expect("tx");
    budget::set_cap(&mut t, "org", Micros(10_000_000), None).expect("cap");
    t.commit().expect("commit");
    Some((s, c))
}

/// Every number of the ledger: levels, the run, reservations.
fn dump(c: &mut Client) -> Vec<String> {
    let mut out = Vec::new();
    for r in c
        .query(
            "SELECT level, cap_micros, spent_micros, reserved_micros FROM budget_levels
             ORDER BY level",
            &[],
        )
        .expect("levels")
    {
        let (l, cap, s, res): (String, Option<i64>, i64, i64) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        out.push(format!("{l} cap={cap:?} spent={s} reserved={res}"));
    }
    for r in c
        .query("SELECT id, spent_micros, reserved_micros FROM runs", &[])
        .expect("runs")
    {
        let (id, s, res): (String, i64, i64) = (r.get(0), r.get(1), r.get(2));
        out.push(format!("run {id} spent={s} reserved={res}"));
    }
    for r in c
        .query(
            "SELECT id, run_id, team, amount_micros FROM reservations ORDER BY id",
            &[],
        )
        .expect("reservations")
    {
        let (id, run, team, a): (i64, Option<String>, Option<String>, i64) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        out.push(format!("reservation {id} {run:?} {team:?} {a}"));
    }
    out
}

#[test]
fn the_settle_function_matches_the_statements_it_replaces() {
    let (Some((_a, mut a)), Some((_b, mut b))) = (ledger("settle_fn"), ledger("settle_steps"))
    else {
        return;
    };
    let mut after = Vec::new();
    for (c, one_trip) in [(&mut a, true), (&mut b, false)] {
        let settle = |c: &mut Client, id: i64, team: Option<&str>, actual: i64| {
            let mut t = c.transaction().expect("tx");
            if one_trip {
                budget::settle_part(&mut t, id, team, Micros(actual)).expect("settle");
            } else {
                budget::settle_part_steps(&mut t, id, team, Micros(actual)).expect("settle");
            }
            t.commit().expect("commit");
        };
        let mut t = c.transaction().expect("tx");
        let stamp = Stamp::of(std::process::id(), Some(7));
        let lease = budget::open_lease(&mut t, "r", Some("web"), &stamp).expect("lease");
        budget::grow(&mut t, lease, Micros(1000), 0).expect("grow");
        let plain = budget::open_lease(&mut t, "r", None, &stamp).expect("lease");
        budget::grow(&mut t, plain, Micros(500), 0).expect("grow");
        t.commit().expect("commit");
        settle(c, lease, Some("web"), 300); // part of the lease
        settle(c, lease, Some("web"), 900); // more than is left of it
        settle(c, plain, None, 200); // no team
        settle(c, plain, None, 0); // nothing
        settle(c, 999_999, Some("ops"), 50); // the lease is gone: charged all the same
        after.push(dump(c));
    }
    assert_eq!(after[0], after[1]);
    // And the numbers are the ones the rules give.
    assert!(after[0].contains(&"org cap=Some(10000000) spent=1450 reserved=300".to_string()));
    assert!(after[0].contains(&"team:web cap=None spent=1200 reserved=0".to_string()));
    assert!(after[0].contains(&"team:ops cap=None spent=50 reserved=0".to_string()));
    assert!(after[0].contains(&"run r spent=0 reserved=300".to_string()));
}
