//! The PostgreSQL side of the SQL surface: placeholders rewritten to `$N`, values converted to
//! the type the server infers for each parameter (and back, `NUMERIC` included), prepared
//! statements cached per connection, and `PgSql`, a transaction as a `Sql`.

use super::{Dialect, Row, Sql, Value};
use crate::store::StoreError;
use std::cell::RefCell;
use std::collections::HashMap;

/// SQLite's placeholders as PostgreSQL reads them: `?N` becomes `$N`, a bare `?` the next
/// number; string literals and quoted names are left alone. `INSERT OR IGNORE` becomes an
/// `ON CONFLICT DO NOTHING` insert.
pub fn to_postgres(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 1u32;
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                out.push(c);
            }
            '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                out.push('$');
                if digits.is_empty() {
                    out.push_str(&next.to_string());
                    next += 1;
                } else {
                    out.push_str(&digits);
                }
            }
            _ => out.push(c),
        }
    }
    if let Some(rest) = out.strip_prefix("INSERT OR IGNORE INTO") {
        return format!(
            "INSERT INTO{} ON CONFLICT DO NOTHING",
            rest.trim_end().trim_end_matches(';')
        );
    }
    out
}

pub(super) mod pg_types {
    use super::Value;
    use bytes::BytesMut;
    use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
    use std::error::Error;

    type BoxError = Box<dyn Error + Sync + Send>;

    impl ToSql for Value {
        fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
            match (self, ty) {
                (Value::Null, _) => Ok(IsNull::Yes),
                (Value::Int(i), &Type::INT8) => i.to_sql(ty, out),
                (Value::Int(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
                (Value::Int(i), &Type::INT2) => i16::try_from(*i)?.to_sql(ty, out),
                (Value::Int(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
                (Value::Int(i), &Type::FLOAT4) => (*i as f32).to_sql(ty, out),
                (Value::Int(i), &Type::BOOL) => (*i != 0).to_sql(ty, out),
                (Value::Int(i), &Type::NUMERIC) => numeric(*i, out),
                (Value::Int(i), _) => i.to_string().as_str().to_sql(&Type::TEXT, out),
                (Value::Real(f), &Type::FLOAT8) => f.to_sql(ty, out),
                (Value::Real(f), &Type::FLOAT4) => (*f as f32).to_sql(ty, out),
                (Value::Real(f), &Type::INT8) if f.fract() == 0.0 => (*f as i64).to_sql(ty, out),
                (Value::Real(f), _) => f.to_string().as_str().to_sql(&Type::TEXT, out),
                (Value::Text(s), &Type::INT8) => s.trim().parse::<i64>()?.to_sql(ty, out),
                (Value::Text(s), &Type::INT4) => s.trim().parse::<i32>()?.to_sql(ty, out),
                (Value::Text(s), &Type::FLOAT8) => s.trim().parse::<f64>()?.to_sql(ty, out),
                (Value::Text(s), _) => s.as_str().to_sql(&Type::TEXT, out),
            }
        }

        fn accepts(_: &Type) -> bool {
            true
        }

        to_sql_checked!();
    }

    /// An integer as PostgreSQL's binary NUMERIC (base-10000 digits, most significant first).
    fn numeric(i: i64, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let mut n = i.unsigned_abs();
        let mut digits: Vec<i16> = Vec::new();
        while n > 0 {
            digits.push((n % 10_000) as i16);
            n /= 10_000;
        }
        digits.reverse();
        let weight = digits.len().saturating_sub(1) as i16;
        out.extend_from_slice(&(digits.len() as i16).to_be_bytes());
        out.extend_from_slice(&weight.to_be_bytes());
        out.extend_from_slice(&(if i < 0 { 0x4000u16 } else { 0 }).to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
        for d in digits {
            out.extend_from_slice(&d.to_be_bytes());
        }
        Ok(IsNull::No)
    }

    impl<'a> FromSql<'a> for Value {
        fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Value, BoxError> {
            Ok(match *ty {
                Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
                Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
                Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
                Type::OID => Value::Int(u32::from_sql(ty, raw)?.into()),
                Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
                Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
                Type::BOOL => Value::Int(bool::from_sql(ty, raw)?.into()),
                Type::NUMERIC => decode_numeric(raw)?,
                _ => Value::Text(String::from_utf8_lossy(raw).into_owned()),
            })
        }

        fn from_sql_null(_: &Type) -> Result<Value, BoxError> {
            Ok(Value::Null)
        }

        fn accepts(_: &Type) -> bool {
            true
        }
    }

    /// PostgreSQL's binary NUMERIC: an integer when it has no fraction and fits, else a float.
    pub fn decode_numeric(raw: &[u8]) -> Result<Value, BoxError> {
        let word = |i: usize| -> Result<i16, BoxError> {
            raw.get(i..i + 2)
                .map(|b| i16::from_be_bytes([b[0], b[1]]))
                .ok_or_else(|| "short NUMERIC value".into())
        };
        let ndigits = word(0)?.max(0) as usize;
        let weight = word(2)? as i32;
        let sign = word(4)? as u16;
        let dscale = word(6)?;
        if sign == 0xC000 {
            return Ok(Value::Real(f64::NAN));
        }
        let mut int: i128 = 0;
        let mut exact = true;
        let mut f = 0.0f64;
        for i in 0..ndigits {
            let d = word(8 + 2 * i)? as i128;
            let power = weight - i as i32;
            f += d as f64 * 10000f64.powi(power);
            if power >= 0 {
                let place = 10000i128.checked_pow(power as u32).unwrap_or(i128::MAX);
                int = int.saturating_add(d.saturating_mul(place));
            } else if d != 0 {
                exact = false;
            }
        }
        let neg = sign == 0x4000;
        if exact && dscale >= 0 && int <= i64::MAX as i128 {
            let i = int as i64;
            return Ok(Value::Int(if neg { -i } else { i }));
        }
        Ok(Value::Real(if neg { -f } else { f }))
    }
}

/// Prepared statements of one PostgreSQL connection, by SQL text (a statement prepared on a
/// client is valid in its transactions). Clones share the statements.
#[derive(Default, Clone)]
pub struct StatementCache(std::sync::Arc<std::sync::Mutex<HashMap<String, postgres::Statement>>>);

thread_local! {
    /// The cache of the `PgSql` whose `with_pg` runs on this thread: code written against
    /// the PostgreSQL transaction itself (store/pg/) prepares through it too.
    static CURRENT: RefCell<Option<StatementCache>> = const { RefCell::new(None) };
}

impl StatementCache {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, postgres::Statement>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get_or_prepare(
        &self,
        sql: &str,
        prepare: impl FnOnce() -> Result<postgres::Statement, StoreError>,
    ) -> Result<postgres::Statement, StoreError> {
        if let Some(s) = self.map().get(sql) {
            return Ok(s.clone());
        }
        let st = prepare()?;
        let mut cache = self.map();
        // Bound the cache: queries built with format! could otherwise grow it without end.
        if cache.len() > 512 {
            cache.clear();
        }
        cache.insert(sql.to_string(), st.clone());
        Ok(st)
    }

    /// `sql` (PostgreSQL's dialect) prepared on `t`'s connection: from the cache of the
    /// `with_pg` running on this thread (one round trip less per use), else prepared anew.
    pub fn prepared(
        t: &mut postgres::Transaction<'_>,
        sql: &str,
    ) -> Result<postgres::Statement, StoreError> {
        match CURRENT.with(|c| c.borrow().clone()) {
            Some(cache) => cache.get_or_prepare(sql, || Ok(t.prepare(sql)?)),
            None => Ok(t.prepare(sql)?),
        }
    }
}

/// A PostgreSQL transaction as a `Sql`.
pub struct PgSql<'t, 'c> {
    tx: RefCell<&'t mut postgres::Transaction<'c>>,
    cache: &'t StatementCache,
}

impl<'t, 'c> PgSql<'t, 'c> {
    pub fn new(tx: &'t mut postgres::Transaction<'c>, cache: &'t StatementCache) -> Self {
        PgSql {
            tx: RefCell::new(tx),
            cache,
        }
    }

    fn statement(&self, sql: &str) -> Result<postgres::Statement, StoreError> {
        self.cache.get_or_prepare(sql, || {
            Ok(self.tx.borrow_mut().prepare(&to_postgres(sql))?)
        })
    }
}

fn pg_args(args: &[Value]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    args.iter()
        .map(|v| v as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

impl Sql for PgSql<'_, '_> {
    fn execute(&self, sql: &str, args: &[Value]) -> Result<usize, StoreError> {
        let st = self.statement(sql)?;
        let n = self.tx.borrow_mut().execute(&st, &pg_args(args))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Row>, StoreError> {
        let st = self.statement(sql)?;
        let rows = self.tx.borrow_mut().query(&st, &pg_args(args))?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.try_get::<_, Value>(i).map_err(StoreError::from))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Row)
            })
            .collect()
    }

    fn execute_batch(&self, sql: &str) -> Result<(), StoreError> {
        Ok(self.tx.borrow_mut().batch_execute(sql)?)
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn with_pg(
        &self,
        f: &mut dyn FnMut(&mut postgres::Transaction<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // In the transaction itself, no savepoint: that is two round trips per budget or
        // breaker operation, and a job's error already undoes its own writes (its savepoint or
        // its transaction, store/serve.rs).
        let mut outer = self.tx.borrow_mut();
        let before = CURRENT.with(|c| c.replace(Some(self.cache.clone())));
        let r = f(&mut outer);
        CURRENT.with(|c| *c.borrow_mut() = before);
        r
    }
}
