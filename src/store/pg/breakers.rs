//! Breakers in the shared store. A provider outage (5xx, 529, timeouts) is the same for
//! everyone: those breakers are org-wide rows, as in SQLite. A model disabled by an auth or
//! billing error (401, 403, 402, quota) is disabled only for the API key that got it: it is kept
//! per key hash (SHA-256 of the key salted with a random org-wide salt kept in the store; never
//! the key), so another engineer's key still reaches the model.

use crate::routing::breaker::{Breaker, BreakerState};
use crate::store::pg::Cached;
use crate::store::{StoreError, now_rfc3339};
use postgres::Transaction;

type Tx<'a, 'b> = &'a mut Transaction<'b>;

/// The org-wide salt, made on first use (32 random bytes, hex).
pub fn org_salt(t: Tx) -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| StoreError::Invalid("no randomness for the org salt".into()))?;
    t.exec_c(
        "INSERT INTO org_settings (name, value) VALUES ('key_salt', $1)
         ON CONFLICT (name) DO NOTHING",
        &[&hex(&bytes)],
    )?;
    Ok(t.query_one_c(
        "SELECT value FROM org_settings WHERE name = 'key_salt'",
        &[],
    )?
    .get(0))
}

/// The stored name of an API key: SHA-256 of salt and key, hex. Not reversible, and the salt
/// makes a table of hashes of known keys useless outside this store.
pub fn key_hash(salt: &str, key: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(salt.as_bytes());
    ctx.update(&[0]);
    ctx.update(key.as_bytes());
    hex(ctx.finish().as_ref())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Save a breaker. `disabled` (an auth or billing answer) with a key hash is kept for that key
/// only; every other state is the org's.
pub fn save_breaker(
    t: Tx,
    model: &str,
    b: &Breaker,
    config_hash: &str,
    key: Option<&str>,
) -> Result<(), StoreError> {
    if let (BreakerState::Disabled, Some(k)) = (b.state, key) {
        t.exec_c(
            "INSERT INTO key_disables (model, key_hash, reason, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (model, key_hash) DO UPDATE SET reason = EXCLUDED.reason,
                updated_at = EXCLUDED.updated_at",
            &[&model, &k, &"disabled", &now_rfc3339()],
        )?;
        return Ok(());
    }
    t.exec_c(
        "INSERT INTO breakers (model, state, consecutive_failures, trips, open_until_ms,
            not_before_ms, config_hash, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (model) DO UPDATE SET state = EXCLUDED.state,
            consecutive_failures = EXCLUDED.consecutive_failures, trips = EXCLUDED.trips,
            open_until_ms = EXCLUDED.open_until_ms, not_before_ms = EXCLUDED.not_before_ms,
            config_hash = EXCLUDED.config_hash, updated_at = EXCLUDED.updated_at",
        &[
            &model,
            &b.state.as_str(),
            &i64::from(b.consecutive_failures),
            &i64::from(b.trips),
            &(b.open_until_ms as i64),
            &(b.not_before_ms as i64),
            &config_hash,
            &now_rfc3339(),
        ],
    )?;
    Ok(())
}

/// A key works again for `model` (`models reset`).
pub fn enable_for_key(t: Tx, model: &str, key: &str) -> Result<(), StoreError> {
    t.exec_c(
        "DELETE FROM key_disables WHERE model = $1 AND key_hash = $2",
        &[&model, &key],
    )?;
    Ok(())
}

/// (model, breaker, config hash) as one process sees them: the org's breakers, with the models
/// disabled for its key (`key`: its hash) shown disabled.
pub fn load_breakers(
    t: Tx,
    key: Option<&str>,
) -> Result<Vec<(String, Breaker, String)>, StoreError> {
    let keys: Vec<String> = key.into_iter().map(String::from).collect();
    load_breakers_for(t, &keys)
}

/// [`load_breakers`] for a process with several keys (one per provider): `keys` their hashes.
pub fn load_breakers_for(
    t: Tx,
    keys: &[String],
) -> Result<Vec<(String, Breaker, String)>, StoreError> {
    let mut out: Vec<(String, Breaker, String)> = t
        .query(
            "SELECT model, state, consecutive_failures, trips, open_until_ms, not_before_ms,
                config_hash FROM breakers ORDER BY model",
            &[],
        )?
        .iter()
        .map(|r| {
            (
                r.get(0),
                Breaker {
                    state: BreakerState::parse(r.get(1)),
                    consecutive_failures: r.get::<_, i64>(2).clamp(0, i64::from(u32::MAX)) as u32,
                    trips: r.get::<_, i64>(3).clamp(0, i64::from(u32::MAX)) as u32,
                    open_until_ms: r.get::<_, i64>(4).max(0) as u64,
                    not_before_ms: r.get::<_, i64>(5).max(0) as u64,
                    probe_in_flight: false,
                },
                r.get(6),
            )
        })
        .collect();
    if !keys.is_empty() {
        for r in t.query_c(
            "SELECT DISTINCT model FROM key_disables WHERE key_hash = ANY($1)",
            &[&keys],
        )? {
            let model: String = r.get(0);
            let disabled = Breaker {
                state: BreakerState::Disabled,
                ..Breaker::default()
            };
            // No config hash: the key itself was refused, whatever the provider settings.
            match out.iter_mut().find(|(m, _, _)| *m == model) {
                Some(row) => *row = (model, disabled, String::new()),
                None => out.push((model, disabled, String::new())),
            }
        }
    }
    Ok(out)
}
