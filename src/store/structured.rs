//! Structured-output modes learned per (provider, model): loaded when the engine starts, written
//! behind when a server rejects a mode (`providers::structured` holds them in memory).

use super::sql::Sql;
use super::{StoreError, now_rfc3339};
use crate::args;

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
pub fn save(c: &dyn Sql, r: &ModeRow) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO structured_modes (provider, model, base_url, mode, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(provider, model) DO UPDATE SET base_url = ?3, mode = ?4, updated_at = ?5",
        args![r.provider, r.model, r.base_url, r.mode, now_rfc3339()],
    )?;
    Ok(())
}

/// Every learned mode.
pub fn load(c: &dyn Sql) -> Result<Vec<ModeRow>, StoreError> {
    c.query_map(
        "SELECT provider, model, base_url, mode FROM structured_modes ORDER BY provider, model",
        args![],
        |r| {
            Ok(ModeRow {
                provider: r.get(0)?,
                model: r.get(1)?,
                base_url: r.get(2)?,
                mode: r.get(3)?,
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

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
