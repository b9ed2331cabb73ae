//! Breakers on either backend. On SQLite every breaker is the machine's (`models.rs`). On the
//! org-wide PostgreSQL store (`pg/breakers.rs`) a breaker opened by an outage is the org's (the
//! provider is down for everyone), while a model disabled by an auth or billing answer is
//! disabled only for the API key that got it: each process names its keys by their hashes,
//! salted with the org's random salt (never the key itself).

use super::StoreError;
use super::pg;
use super::sql::{Dialect, Sql};
use crate::routing::Breaker;
use std::collections::HashMap;

/// Save `model`'s breaker; `key` is the hash of the API key this process calls it with.
pub fn save(
    c: &dyn Sql,
    model: &str,
    b: &Breaker,
    config_hash: &str,
    key: Option<&str>,
) -> Result<(), StoreError> {
    match c.dialect() {
        Dialect::Sqlite => super::models::save_breaker(c, model, b, config_hash),
        Dialect::Postgres => c.pg(|t| pg::breakers::save_breaker(t, model, b, config_hash, key)),
    }
}

/// Close `model`'s breaker (`models reset`): on PostgreSQL the disable of this process's key
/// goes too.
pub fn reset(
    c: &dyn Sql,
    model: &str,
    config_hash: &str,
    key: Option<&str>,
) -> Result<(), StoreError> {
    save(c, model, &Breaker::default(), config_hash, key)?;
    if let (Dialect::Postgres, Some(k)) = (c.dialect(), key) {
        c.pg(|t| pg::breakers::enable_for_key(t, model, k))?;
    }
    Ok(())
}

/// (model, breaker, config hash) as this process sees them: on PostgreSQL the org's breakers
/// with the models disabled for one of `keys` shown disabled.
pub fn load(c: &dyn Sql, keys: &[String]) -> Result<Vec<(String, Breaker, String)>, StoreError> {
    match c.dialect() {
        Dialect::Sqlite => super::models::load_breakers(c),
        Dialect::Postgres => c.pg(|t| pg::breakers::load_breakers_for(t, keys)),
    }
}

/// The hash each model's API key is known by in the store (PostgreSQL only; empty on SQLite),
/// from (model, key) pairs. The org's salt is made on first use.
pub fn key_hashes(
    c: &dyn Sql,
    keys: &[(String, String)],
) -> Result<HashMap<String, String>, StoreError> {
    if c.dialect() != Dialect::Postgres || keys.is_empty() {
        return Ok(HashMap::new());
    }
    let salt = c.pg(pg::breakers::org_salt)?;
    Ok(keys
        .iter()
        .map(|(m, k)| (m.clone(), pg::breakers::key_hash(&salt, k)))
        .collect())
}
