//! `models`: catalog, breaker health, learned profiles and recommendations; `models reset`.

use crate::cli::{Cli, ModelsAction, exit};
use crate::domain::money::usd_json;
use crate::engine::ResetBy;
use crate::providers::ProviderRegistry;
use crate::routing::learning::{Profile, recommendations};
use crate::routing::{Breaker, BreakerState};
use crate::setup::{CliError, open_app, runtime};
use crate::store;
use serde_json::{Value, json};
use std::collections::HashMap;

fn symbol(s: BreakerState) -> &'static str {
    match s {
        BreakerState::Closed => "●",
        BreakerState::HalfOpen => "◐",
        BreakerState::Open => "○",
        BreakerState::Disabled => "✕",
    }
}

pub fn models(cli: &Cli, json_out: bool, action: Option<&ModelsAction>) -> Result<i32, CliError> {
    if let Some(ModelsAction::ImportLitellm {
        file,
        providers,
        dry_run,
    }) = action
    {
        return super::models_import::import_litellm(cli, json_out, file, providers, *dry_run);
    }
    let app = open_app(cli)?;
    // Models the config names but that cannot be used (no price): listed, never routed to.
    let overlay = crate::paths::imported_models_file(cli.config.clone());
    let unavailable = crate::config::sources::load(&app.cfg, overlay.as_deref())
        .map(|l| l.unavailable)
        .unwrap_or_default();
    let registry = ProviderRegistry::from_config(&app.cfg, &app.catalog).ok();
    let simulated = registry.as_ref().is_some_and(|r| r.is_simulated());
    if let Some(ModelsAction::Reset { model, all }) = action {
        let targets: Vec<String> = match (model, all) {
            (Some(m), _) => {
                if let Some(u) = unavailable.iter().find(|u| &u.id == m) {
                    return Err(CliError::BadInput(format!(
                        "model `{m}` of provider `{}` is unavailable: {}",
                        u.provider, u.reason
                    )));
                }
                if app.catalog.get(m).is_none() {
                    return Err(CliError::BadInput(format!(
                        "unknown model `{m}` (see `orchestrator-tui models`)"
                    )));
                }
                vec![m.clone()]
            }
            (None, true) => app.catalog.models.iter().map(|m| m.id.clone()).collect(),
            (None, false) => {
                return Err(CliError::BadInput(
                    "name a model to reset, or pass --all".into(),
                ));
            }
        };
        // Through the engine, as the TUI does: memory and store closed alike, each transition
        // recorded.
        let rt = runtime()?;
        let n = rt.block_on(async {
            let engine = app.admin_engine()?;
            let changed = engine.reset_breakers(&targets, ResetBy::Cli).await?;
            Ok::<_, CliError>(changed.len())
        })?;
        crate::errln!("reset {n} breaker(s)");
        if !json_out {
            return Ok(exit::OK);
        }
    }
    // On the PostgreSQL store, models disabled for this process's keys show disabled.
    let pairs = crate::engine::context::api_keys(&app.cfg, &app.catalog);
    let (breakers, profiles) = app.store.call_blocking(move |c| {
        let keys = crate::engine::context::distinct(&store::breakers::key_hashes(c, &pairs)?);
        Ok((
            store::breakers::load(c, &keys)?,
            store::models::load_profiles(c)?,
        ))
    })?;
    let breakers: HashMap<String, Breaker> = breakers.into_iter().map(|(m, b, _)| (m, b)).collect();
    let mut by_model: HashMap<String, Vec<(String, Profile)>> = HashMap::new();
    for (m, t, p) in &profiles {
        by_model
            .entry(m.clone())
            .or_default()
            .push((t.to_string(), p.clone()));
    }
    let ids: Vec<String> = app.catalog.models.iter().map(|m| m.id.clone()).collect();
    let stats = app.store.call_blocking(move |c| {
        ids.iter()
            .map(|id| store::models::call_stats(c, id).map(|s| (id.clone(), s)))
            .collect::<Result<HashMap<_, _>, _>>()
    })?;
    let mut rows = Vec::new();
    for m in &app.catalog.models {
        let b = breakers.get(&m.id).cloned().unwrap_or_default();
        let s = stats.get(&m.id);
        let served = registry.as_ref().is_some_and(|r| r.serves(m));
        let profiles: Vec<Value> = by_model
            .get(&m.id)
            .map(|v| {
                v.iter()
                    .filter(|(_, p)| p.samples > 0)
                    .map(|(t, p)| {
                        json!({"task_type": t, "samples": p.samples,
                               "quality": (p.quality * 1000.0).round() / 1000.0,
                               "mean_cost_usd": usd_json(p.mean_cost())})
                    })
                    .collect()
            })
            .unwrap_or_default();
        rows.push(json!({
            "id": m.id,
            "provider": m.provider,
            "simulated": simulated && served,
            "available": served,
            "breaker": b.state.as_str(),
            "consecutive_failures": b.consecutive_failures,
            "calls": s.map_or(0, |s| s.calls),
            "success_rate": s.map_or(1.0, |s| if s.calls == 0 { 1.0 } else { s.ok as f64 / s.calls as f64 }),
            "latency_p50_ms": s.and_then(|s| s.p50_ms),
            "latency_p95_ms": s.and_then(|s| s.p95_ms),
            "price_input_per_mtok": m.input,
            "price_output_per_mtok": m.output,
            "price_cached_input_per_mtok": m.cached_input,
            "price_cache_write_per_mtok": m.cache_write,
            "long_context_above": m.has_long_tier().then_some(m.long_context_above.unwrap_or(crate::config::catalog::DEFAULT_LONG_CONTEXT_ABOVE)),
            "price_input_long_per_mtok": m.input_long,
            "price_output_long_per_mtok": m.output_long,
            "context_window": m.context_window,
            "max_output": m.max_output,
            "price_source": m.price_source.as_deref().unwrap_or("catalog"),
            "profiles": profiles,
        }));
    }
    for u in &unavailable {
        rows.push(json!({
            "id": u.id,
            "provider": u.provider,
            "simulated": false,
            "available": false,
            "unavailable_reason": u.reason,
            "breaker": "closed",
            "consecutive_failures": 0,
            "calls": 0,
            "success_rate": 1.0,
            "latency_p50_ms": null,
            "latency_p95_ms": null,
            "price_input_per_mtok": null,
            "price_output_per_mtok": null,
            "price_source": null,
            "profiles": [],
        }));
    }
    let recs = recommendations(&profiles);
    if json_out {
        let v = json!({"models": rows, "recommendations": recs});
        crate::text_safe::out_json(&v);
        return Ok(exit::OK);
    }
    crate::outln!(
        "{:<22} {:<10} {:<13} {:>5} {:>6} {:>7} {:>7}  quality by task type",
        "model",
        "provider",
        "breaker",
        "calls",
        "ok%",
        "p50ms",
        "p95ms"
    );
    for (r, m) in rows.iter().zip(&app.catalog.models) {
        let st = BreakerState::parse(r["breaker"].as_str().unwrap_or("closed"));
        let q: Vec<String> = by_model
            .get(&m.id)
            .map(|v| {
                v.iter()
                    .filter(|(_, p)| p.samples > 0)
                    .map(|(t, p)| format!("{t}={:.2}({})", p.quality, p.samples))
                    .collect()
            })
            .unwrap_or_default();
        crate::outln!(
            "{:<22} {:<10} {:<13} {:>5} {:>5.0}% {:>7} {:>7}  {}{}",
            m.id,
            m.provider,
            format!("{} {}", symbol(st), st.as_str()),
            r["calls"],
            r["success_rate"].as_f64().unwrap_or(1.0) * 100.0,
            r["latency_p50_ms"]
                .as_u64()
                .map_or("-".into(), |v| v.to_string()),
            r["latency_p95_ms"]
                .as_u64()
                .map_or("-".into(), |v| v.to_string()),
            q.join(" "),
            if r["simulated"].as_bool().unwrap_or(false) {
                " [sim]"
            } else {
                ""
            }
        );
    }
    for u in &unavailable {
        crate::outln!("{:<22} {:<10} unavailable: {}", u.id, u.provider, u.reason);
    }
    if !recs.is_empty() {
        crate::outln!("\nrecommendations:");
        for r in &recs {
            crate::outln!("  {}", r.text);
        }
    }
    Ok(exit::OK)
}
