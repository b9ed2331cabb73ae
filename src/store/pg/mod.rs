//! The org-wide store on PostgreSQL (issue 19): where it is (`[store] url`, or
//! `ORCHESTRATOR_STORE_URL`, and `[store] schema`), connecting (TLS through rustls when
//! `sslmode` asks for it), the migrations by version (`schema.rs`), the budget ledger shared by
//! every machine (`budget.rs`), liveness by advisory locks (`liveness.rs`) and runs with their
//! host and user (`runs.rs`), breakers shared by the org or kept per API key (`breakers.rs`),
//! and change notifications (`notify.rs`).
//!
//! The client is the synchronous `postgres` crate: it runs its own small runtime, so it is only
//! used on threads that are not inside the engine's tokio runtime (the store's own threads, tests,
//! one-shot commands).

mod backend;
pub mod breakers;
pub mod budget;
#[cfg(test)]
mod budget_tests;
pub mod import;
pub mod liveness;
pub mod notify;
pub mod runs;
pub mod schema;
pub mod thread;
#[cfg(test)]
mod thread_tests;
pub mod waiters;

use super::StoreError;
use postgres::config::{Host, SslMode};
use postgres::{Client, NoTls};
use std::cell::{RefCell, RefMut};
use std::str::FromStr;

/// Where the PostgreSQL store is: the parsed URL, the schema, and a description safe to print
/// (never the password).
#[derive(Clone)]
pub struct PgTarget {
    config: postgres::Config,
    schema: String,
    described: String,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config holds the password: only the description is shown.
        f.write_str(&self.described)
    }
}

impl PgTarget {
    /// Parse `url` (`postgres://user@host:port/db?sslmode=...`) and check `schema` is a plain
    /// identifier (it is spliced into `SET search_path`).
    pub fn parse(url: &str, schema: &str) -> Result<PgTarget, StoreError> {
        let config = postgres::Config::from_str(url).map_err(|e| StoreError::Open {
            path: "[store] url".into(),
            message: format!("not a PostgreSQL URL ({e}); expected postgres://user@host:5432/db"),
        })?;
        if !valid_identifier(schema) {
            return Err(StoreError::Open {
                path: "[store] schema".into(),
                message: format!(
                    "`{schema}` is not a schema name (letters, digits and _, not starting with a \
                     digit, at most 63)"
                ),
            });
        }
        let described = describe(&config, schema);
        Ok(PgTarget {
            config,
            schema: schema.to_string(),
            described,
        })
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// `postgres://user@host:port/db (schema s)`: what errors and `store status` name.
    pub fn describe(&self) -> &str {
        &self.described
    }

    /// Open a connection with the search path set to the schema (created if missing).
    pub fn connect(&self) -> Result<Client, StoreError> {
        let mut client = self.connect_raw().map_err(|message| StoreError::Open {
            path: self.described.clone(),
            message,
        })?;
        let q = quote_ident(&self.schema);
        client
            .batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {q}; SET search_path TO {q}"
            ))
            .or_else(|e| {
                // Two processes creating the schema at once: one loses the race on the catalog.
                if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) {
                    client.batch_execute(&format!("SET search_path TO {q}"))
                } else {
                    Err(e)
                }
            })
            .map_err(|e| StoreError::Open {
                path: self.described.clone(),
                message: self.scrub(&e.to_string()),
            })?;
        Ok(client)
    }

    fn connect_raw(&self) -> Result<Client, String> {
        let plain = || {
            self.config
                .connect(NoTls)
                .map_err(|e| self.scrub(&e.to_string()))
        };
        match self.config.get_ssl_mode() {
            SslMode::Disable => plain(),
            SslMode::Require => self
                .config
                .connect(tls())
                .map_err(|e| self.scrub(&e.to_string())),
            // `prefer` (the default): TLS when the server offers it and its certificate checks
            // out, else a plain connection, as libpq does.
            _ => self.config.connect(tls()).or_else(|_| plain()),
        }
    }

    /// An error text with the password cut out, should a driver ever echo it.
    fn scrub(&self, text: &str) -> String {
        match self.config.get_password() {
            Some(p) if !p.is_empty() => {
                let p = String::from_utf8_lossy(p).to_string();
                text.replace(&p, "***")
            }
            _ => text.to_string(),
        }
    }
}

fn tls() -> tokio_postgres_rustls::MakeRustlsConnect {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map(|b| b.with_root_certificates(roots).with_no_client_auth());
    match config {
        Ok(c) => tokio_postgres_rustls::MakeRustlsConnect::new(c),
        // The ring provider supports the default versions; kept total rather than unwrapped.
        Err(_) => tokio_postgres_rustls::MakeRustlsConnect::new(
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        ),
    }
}

fn describe(c: &postgres::Config, schema: &str) -> String {
    let host = match c.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432);
    let user = c.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    let db = c.get_dbname().or(c.get_user()).unwrap_or("postgres");
    format!("postgres://{user}{host}:{port}/{db} (schema {schema})")
}

pub fn valid_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        // The server ending the connection (shutdown, restart, `pg_terminate_backend`) or
        // refusing new ones for now: class 57P (operator intervention) and 08 (connection).
        let ended = e
            .code()
            .is_some_and(|c| c.code().starts_with("57P") || c.code().starts_with("08"));
        if e.is_closed() || io || ended {
            // The connection is gone (server down, network lost): the store is unavailable.
            return StoreError::Unavailable {
                path: "postgres".into(),
                message: format!("connection lost: {e}"),
            };
        }
        // The server's own message is the error's source (its Display says only "db error"):
        // keep it, so errors say what failed and `retryable` can see a deadlock.
        match std::error::Error::source(&e) {
            Some(why) => StoreError::Postgres(format!("{e}: {why}")),
            None => StoreError::Postgres(e.to_string()),
        }
    }
}

type Params<'a> = &'a [&'a (dyn postgres::types::ToSql + Sync)];

/// A transaction's statements prepared once per connection (`sql::StatementCache::prepared`):
/// on the store thread a statement is then one round trip, not two (prepare, execute).
pub trait Cached {
    fn exec_c(&mut self, sql: &str, p: Params) -> Result<u64, StoreError>;
    fn query_c(&mut self, sql: &str, p: Params) -> Result<Vec<postgres::Row>, StoreError>;
    fn query_one_c(&mut self, sql: &str, p: Params) -> Result<postgres::Row, StoreError>;
    fn query_opt_c(&mut self, sql: &str, p: Params) -> Result<Option<postgres::Row>, StoreError>;
}

impl Cached for postgres::Transaction<'_> {
    fn exec_c(&mut self, sql: &str, p: Params) -> Result<u64, StoreError> {
        let st = super::sql::StatementCache::prepared(self, sql)?;
        Ok(self.execute(&st, p)?)
    }
    fn query_c(&mut self, sql: &str, p: Params) -> Result<Vec<postgres::Row>, StoreError> {
        let st = super::sql::StatementCache::prepared(self, sql)?;
        Ok(self.query(&st, p)?)
    }
    fn query_one_c(&mut self, sql: &str, p: Params) -> Result<postgres::Row, StoreError> {
        let st = super::sql::StatementCache::prepared(self, sql)?;
        Ok(self.query_one(&st, p)?)
    }
    fn query_opt_c(&mut self, sql: &str, p: Params) -> Result<Option<postgres::Row>, StoreError> {
        let st = super::sql::StatementCache::prepared(self, sql)?;
        Ok(self.query_opt(&st, p)?)
    }
}

/// Is `e` a deadlock or serialization failure that running the transaction again resolves?
pub fn retryable(e: &StoreError) -> bool {
    matches!(e, StoreError::Postgres(m) if m.contains("deadlock detected")
        || m.contains("could not serialize"))
}

/// One connection to the PostgreSQL store, serving the backend traits (`&self`, one thread).
/// Each domain operation runs in its own transaction, retried on a deadlock.
pub struct PgConn {
    client: RefCell<Client>,
    target: PgTarget,
    /// The process lock stamped on reservations made through this connection.
    owner_lock: std::cell::Cell<Option<i64>>,
}

impl PgConn {
    /// Connect and bring the schema to this binary's version.
    pub fn open(target: &PgTarget) -> Result<PgConn, StoreError> {
        let mut client = target.connect()?;
        schema::migrate(&mut client, target)?;
        Ok(PgConn {
            client: RefCell::new(client),
            target: target.clone(),
            owner_lock: std::cell::Cell::new(None),
        })
    }

    /// Reservations made from now on are owned by advisory lock `key` (a `liveness::Session`'s
    /// process key): they are settled as dead once that lock is free.
    pub fn set_owner_lock(&self, key: Option<i64>) {
        self.owner_lock.set(key);
    }

    pub fn owner_lock(&self) -> Option<i64> {
        self.owner_lock.get()
    }

    pub fn target(&self) -> &PgTarget {
        &self.target
    }

    pub fn client(&self) -> RefMut<'_, Client> {
        self.client.borrow_mut()
    }

    /// Run `f` in a transaction (again after a deadlock, a few times).
    pub fn tx<R>(
        &self,
        mut f: impl FnMut(&mut postgres::Transaction<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut client = self.client.borrow_mut();
        let mut tries = 0;
        loop {
            let mut t = client.transaction()?;
            let r = f(&mut t).and_then(|r| t.commit().map(|_| r).map_err(StoreError::from));
            match r {
                Err(e) if retryable(&e) && tries < 8 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(2 * tries));
                }
                // Name the server in errors about it (never the password).
                Err(StoreError::Unavailable { message, .. }) => {
                    return Err(StoreError::Unavailable {
                        path: self.target.describe().to_string(),
                        message,
                    });
                }
                r => return r,
            }
        }
    }
}

/// A PostgreSQL schema of its own for one unit test (`ORCHESTRATOR_TEST_PG_URL`), dropped when
/// it goes; `None` (with a notice) without the variable.
#[cfg(test)]
pub struct TestSchema(pub PgTarget);

#[cfg(test)]
impl TestSchema {
    pub fn new(tag: &str) -> Option<TestSchema> {
        let Ok(url) = std::env::var("ORCHESTRATOR_TEST_PG_URL") else {
            eprintln!("note: ORCHESTRATOR_TEST_PG_URL is not set: {tag} skipped");
            return None;
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("u_{tag}_{}_{nanos}", std::process::id());
        Some(TestSchema(
            PgTarget::parse(&url, &name).expect("the test URL parses"),
        ))
    }
}

#[cfg(test)]
impl Drop for TestSchema {
    fn drop(&mut self) {
        if let Ok(mut c) = self.0.connect() {
            let _ = c.batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                quote_ident(self.0.schema())
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_never_holds_the_password() {
        let t = PgTarget::parse(
            "postgres://alice:s3cret@db.example:6543/org",
            "orchestrator",
        )
        .unwrap();
        assert_eq!(
            t.describe(),
            "postgres://alice@db.example:6543/org (schema orchestrator)"
        );
        assert!(!format!("{t:?}").contains("s3cret"));
        assert_eq!(t.scrub("bad password s3cret"), "bad password ***");
    }

    #[test]
    fn bad_urls_and_schemas_are_refused_by_name() {
        let e = PgTarget::parse("mysql://x", "o").unwrap_err().to_string();
        assert!(e.contains("[store] url"), "{e}");
        let e = PgTarget::parse("postgres://u@h/db", "a;drop")
            .unwrap_err()
            .to_string();
        assert!(e.contains("[store] schema"), "{e}");
        assert!(valid_identifier("orchestrator_test_1"));
        assert!(!valid_identifier("1abc"));
    }

    #[test]
    fn an_unreachable_server_names_host_and_database() {
        // Port 1 on loopback: nothing listens there.
        let t = PgTarget::parse(
            "postgres://bob:pw12345@127.0.0.1:1/teamdb?connect_timeout=2",
            "s",
        )
        .unwrap();
        let e = t.connect().err().expect("no server on port 1");
        assert!(e.is_unavailable());
        let text = e.to_string();
        assert!(text.contains("127.0.0.1:1/teamdb"), "{text}");
        assert!(!text.contains("pw12345"), "{text}");
    }
}
