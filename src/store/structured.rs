//! Structured-output modes learned per (provider, model): loaded when the engine starts, written
//! behind when a server rejects a mode (`providers::structured` holds them in memory).

use super::{StoreError, exec, now_rfc3339};
use rusqlite::{Connection, params};

/// One learned mode as stored (`mode`: `json_schema`, `json_object` or `off`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeRow {
    pub provider: String,
    pub model: String,
    pub base_url: String,
    pub mode: String,
}

/// Keep the mode learned for a model (one row per provider and model: a new server replaces
/// the old one's).
pub fn save(c: &Connection, r: &ModeRow) -> Result<(), StoreError> {
    exec(
        c,
        "INSERT INTO structured_modes (provider, model, base_url, mode, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(provider, model) DO UPDATE SET base_url = ?3, mode = ?4, updated_at = ?5",
        params![r.provider, r.model, r.base_url, r.mode, now_rfc3339()],
    )?;
    Ok(())
}

/// Every learned mode.
pub fn load(c: &Connection) -> Result<Vec<ModeRow>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT provider, model, base_url, mode FROM structured_modes ORDER BY provider, model",
    )?;
    let rows = st
        .query_map([], |r| {
            Ok(ModeRow {
                provider: r.get(0)?,
                model: r.get(1)?,
                base_url: r.get(2)?,
                mode: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mode_is_kept_per_model_and_replaced_by_a_newer_one() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::migrations::migrate(&mut c).unwrap();
        let row = |model: &str, url: &str, mode: &str| ModeRow {
            provider: "local".into(),
            model: model.into(),
            base_url: url.into(),
            mode: mode.into(),
        };
        save(&c, &row("a", "http://h/v1", "json_object")).unwrap();
        save(&c, &row("b", "http://h/v1", "off")).unwrap();
        save(&c, &row("a", "http://h2/v1", "off")).unwrap();
        assert_eq!(
            load(&c).unwrap(),
            vec![
                row("a", "http://h2/v1", "off"),
                row("b", "http://h/v1", "off")
            ]
        );
    }
}
