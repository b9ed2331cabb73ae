//! `budget`: show caps, spend and reservations; set org and team caps.

use crate::budget::ledger::LevelState;
use crate::budget::level::Level;
use crate::budget::period::valid_period;
use crate::cli::{BudgetAction, Cli, exit};
use crate::domain::Micros;
use crate::domain::money::usd_json;
use crate::setup::{CliError, runtime};
use serde_json::{Value, json};

fn level_json(l: &LevelState) -> Value {
    json!({
        "cap_usd": l.cap.map(usd_json),
        "spent_usd": usd_json(l.spent),
        "reserved_usd": usd_json(l.reserved),
        // Part of spent charged as the held worst case of calls cut short by a crash.
        "estimated_usd": usd_json(l.estimated),
        "remaining_usd": crate::budget::remaining(l.cap, l.spent, l.reserved).map(usd_json),
        "period": l.period,
    })
}

pub fn budget_json(levels: &[LevelState]) -> Value {
    let org = levels
        .iter()
        .find(|l| l.level == "org")
        .map(level_json)
        .unwrap_or_else(
            || json!({"cap_usd": null, "spent_usd": 0.0, "reserved_usd": 0.0, "period": null}),
        );
    let teams: Vec<Value> = levels
        .iter()
        .filter_map(|l| {
            let Level::Team(name) = Level::parse(&l.level)? else {
                return None;
            };
            let mut v = level_json(l);
            v["name"] = json!(name);
            Some(v)
        })
        .collect();
    json!({ "org": org, "teams": teams })
}

fn check_period(p: Option<&String>) -> Result<Option<&str>, CliError> {
    match p {
        Some(p) if !valid_period(p) => Err(CliError::BadInput(format!(
            "--period `{p}`: use daily, weekly or monthly"
        ))),
        other => Ok(other.map(String::as_str)),
    }
}

fn cap(usd: f64) -> Result<Micros, CliError> {
    if !usd.is_finite() || usd < 0.0 {
        return Err(CliError::BadInput(format!(
            "cap must be a non-negative amount in USD, got {usd}"
        )));
    }
    Ok(Micros::from_usd(usd))
}

/// A cap as set: cents when whole, else every digit down to the micro-dollar ($0.015, not $0.01).
fn cap_text(m: Micros) -> String {
    if m.0 % 10_000 == 0 {
        format!("${:.2}", m.usd())
    } else {
        let s = format!("{:.6}", m.usd());
        format!("${}", s.trim_end_matches('0'))
    }
}

/// Set a cap through the engine (the TUI and the CLI change budgets the same way).
fn set_cap(
    app: &crate::setup::App,
    level: &str,
    cap: Micros,
    period: Option<&str>,
) -> Result<(), CliError> {
    if let Some(pg) = &app.shared {
        use crate::store::BudgetStore;
        let l = Level::parse(level)
            .ok_or_else(|| CliError::BadInput(format!("`{level}` is not a budget level")))?;
        pg.set_cap(&l, cap, period)?;
        return Ok(());
    }
    let rt = runtime()?;
    rt.block_on(async {
        let engine = app.admin_engine()?;
        engine.set_budget(level, cap, period).await?;
        Ok(())
    })
}

pub fn budget(cli: &Cli, json_out: bool, action: Option<&BudgetAction>) -> Result<i32, CliError> {
    let app = crate::setup::open_app_shared(cli)?;
    match action {
        Some(BudgetAction::SetOrg { usd, period }) => {
            let (c, p) = (cap(*usd)?, check_period(period.as_ref())?.map(String::from));
            set_cap(&app, "org", c, p.as_deref())?;
            crate::errln!("org cap set to {}", cap_text(c));
        }
        Some(BudgetAction::SetTeam { team, usd, period }) => {
            if team.trim().is_empty() || team.contains(char::is_whitespace) {
                return Err(CliError::BadInput(format!(
                    "team `{team}`: use a name without spaces"
                )));
            }
            let (c, p) = (cap(*usd)?, check_period(period.as_ref())?.map(String::from));
            let level = Level::Team(team.clone()).to_string();
            set_cap(&app, &level, c, p.as_deref())?;
            crate::errln!("team {team} cap set to {}", cap_text(c));
        }
        Some(BudgetAction::SetRun { run, usd }) => {
            let c = cap(*usd)?;
            if c.0 == 0 {
                return Err(CliError::BadInput(
                    "a run's cap must be a positive amount in USD".into(),
                ));
            }
            let rt = runtime()?;
            rt.block_on(async {
                let engine = app.admin_engine()?;
                engine.set_run_budget(run, c).await?;
                Ok::<_, CliError>(())
            })?;
            crate::errln!("run {run} cap set to {}", cap_text(c));
        }
        None => {}
    }
    let levels = match &app.shared {
        Some(pg) => crate::store::BudgetStore::all_levels(pg)?,
        None => app
            .store
            .call_blocking(|c| crate::store::BudgetStore::all_levels(c))?,
    };
    let v = budget_json(&levels);
    if json_out {
        crate::text_safe::out_json(&v);
    } else if action.is_none() {
        crate::outln!(
            "{:<16} {:>10} {:>10} {:>10} {:>10}  period",
            "level",
            "cap",
            "spent",
            "reserved",
            "remaining"
        );
        for l in &levels {
            let f = |m: Option<Micros>| m.map_or("-".to_string(), |m| format!("${:.4}", m.usd()));
            // `*`: part of the spend is an estimate (see the note below the table).
            let spent = f(Some(l.spent)) + if l.estimated.0 > 0 { "*" } else { "" };
            crate::outln!(
                "{:<16} {:>10} {:>10} {:>10} {:>10}  {}",
                l.level,
                f(l.cap),
                spent,
                f(Some(l.reserved)),
                f(crate::budget::remaining(l.cap, l.spent, l.reserved)),
                l.period.as_deref().unwrap_or("-")
            );
        }
        for l in levels.iter().filter(|l| l.estimated.0 > 0) {
            crate::outln!(
                "* {}: ${:.4} of the spend is estimated (calls cut short by a crash, charged the worst case held for them)",
                l.level,
                l.estimated.usd()
            );
        }
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cap_is_echoed_with_every_digit_it_has() {
        assert_eq!(cap_text(Micros::from_usd(0.015)), "$0.015");
        assert_eq!(cap_text(Micros::from_usd(40.0)), "$40.00");
        assert_eq!(cap_text(Micros::from_usd(2.5)), "$2.50");
        assert_eq!(cap_text(Micros(1)), "$0.000001");
    }
}
