//! What SQLite's prepared statements cost over time: a statement SQLite compiles again after
//! its first preparation (a schema change, or a plan that depends on a bound value) pays the
//! parser and planner on every execution, which the statement cache exists to avoid. Counted
//! on the store thread's connection, so tests and benchmarks can hold the hot path to zero.

use super::{Store, StoreError};
use rusqlite::{Connection, ffi};
use std::ffi::CStr;

/// A statement SQLite prepared again, with how many times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reprepared {
    pub sql: String,
    pub times: u32,
}

/// The statements open on `conn` that were prepared again, with their SQL.
pub fn reprepared_on(conn: &Connection) -> Vec<Reprepared> {
    let mut out = Vec::new();
    // SAFETY: `conn` is borrowed for the whole walk, so its handle and the statements it owns
    // (kept by rusqlite's statement cache or by live `Statement`s on this thread) stay valid;
    // sqlite3_next_stmt, sqlite3_stmt_status and sqlite3_sql only read them.
    unsafe {
        let db = conn.handle();
        let mut st = ffi::sqlite3_next_stmt(db, std::ptr::null_mut());
        while !st.is_null() {
            let times = ffi::sqlite3_stmt_status(st, ffi::SQLITE_STMTSTATUS_REPREPARE, 0);
            let sql = ffi::sqlite3_sql(st);
            if times > 0 && !sql.is_null() {
                out.push(Reprepared {
                    sql: CStr::from_ptr(sql).to_string_lossy().into_owned(),
                    times: times.unsigned_abs(),
                });
            }
            st = ffi::sqlite3_next_stmt(db, st);
        }
    }
    out
}

impl Store {
    /// The store thread's statements SQLite prepared again (none on PostgreSQL, whose server
    /// plans on its side), queued behind every write sent so far.
    pub async fn reprepared(&self) -> Result<Vec<Reprepared>, StoreError> {
        self.call(|c| Ok(c.sqlite().map(reprepared_on).unwrap_or_default()))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_that_depends_on_a_bound_value_is_counted_and_a_plain_one_is_not() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)")
            .unwrap();
        // The pattern of LIKE is a bound value the plan depends on: compiled again per binding.
        let like = "SELECT v FROM t WHERE k LIKE ?1";
        let plain = "SELECT v FROM t WHERE k = ?1";
        for p in ["a%", "b%", "c%"] {
            for sql in [like, plain] {
                let mut st = c.prepare_cached(sql).unwrap();
                let mut rows = st.query([p]).unwrap();
                while rows.next().unwrap().is_some() {}
            }
        }
        let r = reprepared_on(&c);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].sql, like);
        assert!(r[0].times >= 2, "{r:?}");
    }
}
