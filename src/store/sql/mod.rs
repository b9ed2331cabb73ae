//! One way to run SQL on either backend, so the store's queries are written once (issue 19: the
//! engine on an org-wide PostgreSQL store). Queries keep SQLite's `?N` placeholders and the
//! small dialect both servers read; the PostgreSQL side rewrites placeholders to `$N` and
//! converts values to whatever type the server infers for each parameter, so an `i64` binds to
//! a `BIGINT`, an `INT` or a `TEXT` column alike. Rows come back as owned values (`Row`), read
//! with `get` as rusqlite's rows are.
//!
//! Dialect rules for queries that run on both: no `INSERT OR ...` (use `ON CONFLICT`), no
//! `last_insert_rowid()` (use `RETURNING id`), no two-argument `MAX`/`MIN` (use `CASE`), every
//! selected column either aggregated or grouped, `CAST(SUM(x) AS BIGINT)` where an integer sum
//! is read back (PostgreSQL sums `BIGINT` into `NUMERIC`; decoded here too, as a fallback).

use super::StoreError;

/// A value bound to or read from a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// Which database a `Sql` runs on (for the few operations that differ, such as the budget
/// ledger's row locks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A connection or transaction of either backend.
pub trait Sql {
    /// Run one statement; the number of rows it changed.
    fn execute(&self, sql: &str, args: &[Value]) -> Result<usize, StoreError>;
    /// Run one query; every row it returns.
    fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Row>, StoreError>;
    /// Run statements without arguments (schema changes, savepoints).
    fn execute_batch(&self, sql: &str) -> Result<(), StoreError>;
    fn dialect(&self) -> Dialect;
    /// The SQLite connection behind this, if it is one (the SQLite-only budget ledger).
    fn sqlite(&self) -> Option<&rusqlite::Connection> {
        None
    }
    /// Run `f` on the PostgreSQL transaction behind this (its error leaves the transaction to
    /// be rolled back by the caller).
    fn with_pg(
        &self,
        _f: &mut dyn FnMut(&mut postgres::Transaction<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        Err(StoreError::Invalid("not a PostgreSQL connection".into()))
    }
}

impl dyn Sql + '_ {
    /// The first row mapped by `f`, or `StoreError::NotFound` when there is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        args: &[Value],
        f: impl FnOnce(&Row) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.query_opt(sql, args, f)?
            .ok_or_else(|| StoreError::NotFound("the query returned no rows".into()))
    }

    /// The first row mapped by `f`, if any.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        args: &[Value],
        f: impl FnOnce(&Row) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        match self.query(sql, args)?.first() {
            Some(r) => f(r).map(Some),
            None => Ok(None),
        }
    }

    /// Every row mapped by `f`.
    pub fn query_map<T>(
        &self,
        sql: &str,
        args: &[Value],
        f: impl FnMut(&Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.query(sql, args)?.iter().map(f).collect()
    }

    /// Run `f` on the PostgreSQL transaction behind this and return its result.
    pub fn pg<R>(
        &self,
        mut f: impl FnMut(&mut postgres::Transaction<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut out = None;
        self.with_pg(&mut |t| {
            out = Some(f(t)?);
            Ok(())
        })?;
        out.ok_or_else(|| StoreError::Invalid("the PostgreSQL operation did not run".into()))
    }
}

/// Build the argument list of a query: `args![run, task, cost.0]`.
#[macro_export]
macro_rules! args {
    () => { &[] as &[$crate::store::sql::Value] };
    ($($x:expr),+ $(,)?) => {
        &[$($crate::store::sql::ToValue::to_value(&$x)),+] as &[$crate::store::sql::Value]
    };
}

/// A row of a query's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    /// Column `i` as `T`; an error names the column and what it held.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T, StoreError> {
        let v = self.0.get(i).ok_or_else(|| {
            StoreError::Invalid(format!(
                "column {i} is not in the result ({} columns)",
                self.0.len()
            ))
        })?;
        T::from_value(v).map_err(|why| StoreError::Invalid(format!("column {i}: {why}")))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub trait ToValue {
    fn to_value(&self) -> Value;
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                // Counts and ids beyond i64 do not occur; saturate rather than wrap.
                Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
int_to_value!(i8, i16, i32, i64, u8, u16, u32, u64, usize);

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for crate::domain::Micros {
    fn to_value(&self) -> Value {
        Value::Int(self.0)
    }
}

pub trait FromValue: Sized {
    fn from_value(v: &Value) -> Result<Self, String>;
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Int(i) => format!("the integer {i}"),
        Value::Real(f) => format!("the number {f}"),
        Value::Text(_) => "text".into(),
    }
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Int(i) => Ok(*i),
            // An integral real (an aggregate over integers on some servers) reads as its value.
            Value::Real(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(*f as i64),
            other => Err(format!("expected an integer, found {}", describe(other))),
        }
    }
}

macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Value) -> Result<Self, String> {
                let i = i64::from_value(v)?;
                <$t>::try_from(i).map_err(|_| format!("{i} is out of range for {}", stringify!($t)))
            }
        }
    )*};
}
int_from_value!(i32, u32, u64, usize, u16, u8);

impl FromValue for f64 {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Real(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            other => Err(format!("expected a number, found {}", describe(other))),
        }
    }
}

impl FromValue for bool {
    fn from_value(v: &Value) -> Result<Self, String> {
        Ok(i64::from_value(v)? != 0)
    }
}

impl FromValue for String {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            other => Err(format!("expected text, found {}", describe(other))),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

impl FromValue for Value {
    fn from_value(v: &Value) -> Result<Self, String> {
        Ok(v.clone())
    }
}

// ---- SQLite ----

fn to_sqlite(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Null => V::Null,
        Value::Int(i) => V::Integer(*i),
        Value::Real(f) => V::Real(*f),
        Value::Text(s) => V::Text(s.clone()),
    }
}

fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef as V;
    match v {
        V::Null => Value::Null,
        V::Integer(i) => Value::Int(i),
        V::Real(f) => Value::Real(f),
        V::Text(t) | V::Blob(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
    }
}

impl Sql for rusqlite::Connection {
    fn execute(&self, sql: &str, args: &[Value]) -> Result<usize, StoreError> {
        let mut st = self.prepare_cached(sql)?;
        Ok(st.execute(rusqlite::params_from_iter(args.iter().map(to_sqlite)))?)
    }

    fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Row>, StoreError> {
        let mut st = self.prepare_cached(sql)?;
        let n = st.column_count();
        let mut rows = st.query(rusqlite::params_from_iter(args.iter().map(to_sqlite)))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut vals = Vec::with_capacity(n);
            for i in 0..n {
                vals.push(from_sqlite(r.get_ref(i)?));
            }
            out.push(Row(vals));
        }
        Ok(out)
    }

    fn execute_batch(&self, sql: &str) -> Result<(), StoreError> {
        Ok(rusqlite::Connection::execute_batch(self, sql)?)
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn sqlite(&self) -> Option<&rusqlite::Connection> {
        Some(self)
    }
}

/// A SQLite transaction is its connection (`BEGIN` was sent on it).
impl Sql for rusqlite::Transaction<'_> {
    fn execute(&self, sql: &str, args: &[Value]) -> Result<usize, StoreError> {
        Sql::execute(&**self, sql, args)
    }

    fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Row>, StoreError> {
        Sql::query(&**self, sql, args)
    }

    fn execute_batch(&self, sql: &str) -> Result<(), StoreError> {
        Sql::execute_batch(&**self, sql)
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn sqlite(&self) -> Option<&rusqlite::Connection> {
        Some(self)
    }
}

mod pg;
pub use pg::{PgSql, StatementCache, to_postgres};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            to_postgres("SELECT ?1, ?2 WHERE a = ?1"),
            "SELECT $1, $2 WHERE a = $1"
        );
        assert_eq!(to_postgres("VALUES (?, ?, '?')"), "VALUES ($1, $2, '?')");
        assert_eq!(
            to_postgres("INSERT OR IGNORE INTO t (a) VALUES (?1);"),
            "INSERT INTO t (a) VALUES ($1) ON CONFLICT DO NOTHING"
        );
    }

    #[test]
    fn values_round_trip_through_sqlite() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let db: &dyn Sql = &c;
        db.execute_batch("CREATE TABLE t (a INTEGER, b TEXT, c REAL, d INTEGER)")
            .unwrap();
        let n = db
            .execute(
                "INSERT INTO t VALUES (?1, ?2, ?3, ?4)",
                crate::args![7u32, "x", 1.5, None::<i64>],
            )
            .unwrap();
        assert_eq!(n, 1);
        let (a, b, c2, d): (u32, String, f64, Option<i64>) = db
            .query_row("SELECT a, b, c, d FROM t", crate::args![], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .unwrap();
        assert_eq!((a, b.as_str(), c2, d), (7, "x", 1.5, None));
        let none = db
            .query_opt("SELECT a FROM t WHERE a = ?1", crate::args![8], |r| {
                r.get::<i64>(0)
            })
            .unwrap();
        assert_eq!(none, None);
        let e = db
            .query_row("SELECT b FROM t", crate::args![], |r| r.get::<i64>(0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("column 0") && e.contains("text"), "{e}");
    }

    #[test]
    fn numeric_values_decode_to_integers_when_whole() {
        // 12345678 = digits [1234, 5678], weight 1, scale 0.
        let raw = [0, 2, 0, 1, 0, 0, 0, 0, 0x04, 0xD2, 0x16, 0x2E];
        assert_eq!(
            pg::pg_types::decode_numeric(&raw).unwrap(),
            Value::Int(12_345_678)
        );
        // -1.5 = digits [1, 5000], weight 0, negative, scale 1.
        let raw = [0, 2, 0, 0, 0x40, 0, 0, 1, 0, 1, 0x13, 0x88];
        assert_eq!(
            pg::pg_types::decode_numeric(&raw).unwrap(),
            Value::Real(-1.5)
        );
    }

    #[test]
    fn values_round_trip_through_postgres() {
        let Ok(url) = std::env::var("ORCHESTRATOR_TEST_PG_URL") else {
            eprintln!("skipped: ORCHESTRATOR_TEST_PG_URL is not set");
            return;
        };
        let schema = format!("sql_rt_{}", std::process::id());
        let target = crate::store::pg::PgTarget::parse(&url, &schema).unwrap();
        let mut client = target.connect().unwrap();
        let cache = StatementCache::default();
        let mut t = client.transaction().unwrap();
        {
            let db = PgSql::new(&mut t, &cache);
            let db: &dyn Sql = &db;
            db.execute_batch(
                "CREATE TABLE t (a BIGINT, b TEXT, c DOUBLE PRECISION, d BIGINT, e INT, f BOOLEAN)",
            )
            .unwrap();
            db.execute(
                "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                crate::args![7u32, "x", 1.5, None::<i64>, 3, true],
            )
            .unwrap();
            let r = db
                .query_row(
                    "SELECT a, b, c, d, e, f, a = 7, SUM(a) OVER () FROM t",
                    crate::args![],
                    |r| {
                        Ok((
                            r.get::<u32>(0)?,
                            r.get::<String>(1)?,
                            r.get::<f64>(2)?,
                            r.get::<Option<i64>>(3)?,
                            r.get::<i64>(4)?,
                            r.get::<bool>(5)?,
                            r.get::<bool>(6)?,
                            r.get::<i64>(7)?,
                        ))
                    },
                )
                .unwrap();
            assert_eq!(r, (7, "x".to_string(), 1.5, None, 3, true, true, 7));
            // An integer compared with a text parameter, and the same query again (cached).
            for _ in 0..2 {
                let n = db
                    .query_row(
                        "SELECT COUNT(*) FROM t WHERE b = ? AND a > ?",
                        crate::args!["x", 1],
                        |r| r.get::<i64>(0),
                    )
                    .unwrap();
                assert_eq!(n, 1);
            }
            let inner = db
                .pg(|t| Ok(t.query_one("SELECT 41 + 1", &[])?.get::<_, i32>(0)))
                .unwrap();
            assert_eq!(inner, 42);
        }
        t.rollback().unwrap();
        client
            .batch_execute(&format!(
                "DROP SCHEMA {} CASCADE",
                crate::store::pg::quote_ident(&schema)
            ))
            .unwrap();
    }
}
