//! `models import-litellm FILE [--providers a,b] [--dry-run]`: LiteLLM's price map into the
//! user's catalog overlay (`models.imported.toml` beside the config), with a report of what was
//! added, changed and skipped. Re-importing the same file changes nothing.

use crate::cli::{Cli, exit};
use crate::config::litellm::{self, PROVIDER_MAP, Parsed};
use crate::config::presets;
use crate::config::sources::{self, CatalogFile};
use crate::config::{Config, ModelInfo};
use crate::setup::{CliError, load_config};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;

/// Lines of ids listed in the text report before "... and N more".
const LIST_LIMIT: usize = 40;

pub fn import_litellm(
    cli: &Cli,
    json_out: bool,
    file: &Path,
    providers: &[String],
    dry_run: bool,
) -> Result<i32, CliError> {
    let cfg = load_config(cli)?;
    let wanted = wanted_providers(&cfg, providers)?;
    let text = read_bounded(file)?;
    let source = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.display().to_string());
    let parsed = litellm::parse(&text, &source, &|p| wanted.contains(p))
        .map_err(|e| CliError::BadInput(e.to_string()))?;
    let overlay = crate::paths::imported_models_file(cli.config.clone()).ok_or_else(|| {
        CliError::BadInput("no config directory: pass --config or set HOME".into())
    })?;
    let existing =
        sources::read_overlay(&overlay).map_err(|e| CliError::BadInput(e.to_string()))?;
    let merged = merge(existing, &parsed);
    if !dry_run && (!merged.added.is_empty() || !merged.changed.is_empty()) {
        write_overlay(&overlay, &merged.rows, &source)?;
    }
    report(json_out, file, &overlay, dry_run, &wanted, &parsed, &merged);
    Ok(exit::OK)
}

/// `--providers` (our names, checked) or every built-in and configured provider we can map.
fn wanted_providers(cfg: &Config, asked: &[String]) -> Result<BTreeSet<String>, CliError> {
    let ours: BTreeSet<&str> = PROVIDER_MAP.iter().map(|(_, o)| *o).collect();
    if !asked.is_empty() {
        let mut out = BTreeSet::new();
        for p in asked.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
            if !ours.contains(p) {
                let known: Vec<&str> = ours.iter().copied().collect();
                return Err(CliError::BadInput(format!(
                    "--providers: unknown provider `{}` (known: {})",
                    crate::text_safe::clean_line(p),
                    known.join(", ")
                )));
            }
            out.insert(p.to_string());
        }
        return Ok(out);
    }
    let mut out = BTreeSet::new();
    for (name, p) in &cfg.providers {
        for n in [Some(name.as_str()), presets::preset_name(name, p)]
            .into_iter()
            .flatten()
        {
            if ours.contains(n) {
                out.insert(n.to_string());
            }
        }
    }
    Ok(out)
}

fn read_bounded(file: &Path) -> Result<String, CliError> {
    let shown = file.display();
    let meta = std::fs::metadata(file)
        .map_err(|e| CliError::BadInput(format!("cannot read {shown}: {e}")))?;
    if meta.len() > litellm::MAX_FILE_BYTES {
        return Err(CliError::BadInput(format!(
            "{shown}: {} bytes, more than the {} accepted",
            meta.len(),
            litellm::MAX_FILE_BYTES
        )));
    }
    std::fs::read_to_string(file)
        .map_err(|e| CliError::BadInput(format!("cannot read {shown}: {e}")))
}

#[derive(Default)]
struct Merged {
    rows: Vec<ModelInfo>,
    added: Vec<String>,
    /// (provider/id, fields that changed)
    changed: Vec<(String, Vec<&'static str>)>,
    unchanged: usize,
}

fn merge(existing: Vec<ModelInfo>, parsed: &Parsed) -> Merged {
    let mut m = Merged {
        rows: existing,
        ..Default::default()
    };
    for new in &parsed.models {
        let label = format!("{}/{}", new.provider, new.id);
        match m
            .rows
            .iter_mut()
            .find(|x| x.id == new.id && x.provider == new.provider)
        {
            Some(old) => {
                let fields = differences(old, new);
                if fields.is_empty() {
                    m.unchanged += 1;
                } else {
                    *old = new.clone();
                    m.changed.push((label, fields));
                }
            }
            None => {
                m.rows.push(new.clone());
                m.added.push(label);
            }
        }
    }
    m.rows
        .sort_by(|a, b| (&a.provider, &a.id).cmp(&(&b.provider, &b.id)));
    m
}

fn differences(a: &ModelInfo, b: &ModelInfo) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |name: &'static str, same: bool| {
        if !same {
            out.push(name);
        }
    };
    check("input", a.input == b.input);
    check("cached_input", a.cached_input == b.cached_input);
    check("output", a.output == b.output);
    check("cache_write", a.cache_write == b.cache_write);
    check(
        "long_context_above",
        a.long_context_above == b.long_context_above,
    );
    check("input_long", a.input_long == b.input_long);
    check(
        "cached_input_long",
        a.cached_input_long == b.cached_input_long,
    );
    check("output_long", a.output_long == b.output_long);
    check("context_window", a.context_window == b.context_window);
    check("max_output", a.max_output == b.max_output);
    check(
        "supports_response_schema",
        a.supports_response_schema == b.supports_response_schema,
    );
    check("reasoning", a.reasoning == b.reasoning);
    check("price_source", a.price_source == b.price_source);
    out
}

fn write_overlay(path: &Path, rows: &[ModelInfo], source: &str) -> Result<(), CliError> {
    let io =
        |e: std::io::Error| CliError::BadInput(format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let body = toml::to_string(&CatalogFile {
        model: rows.to_vec(),
    })
    .map_err(|e| CliError::BadInput(format!("cannot encode the overlay: {e}")))?;
    let text = format!(
        "# Written by `orchestrator-tui models import-litellm` (last import: {source}).\n\
         # Prices in USD per million tokens; loaded over the built-in catalog and under your\n\
         # config's [[models]]. Re-run the import to refresh it; delete the file to drop it.\n\n{body}"
    );
    // Write then rename: a crash never leaves a half-written overlay that fails every start.
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

fn report(
    json_out: bool,
    file: &Path,
    overlay: &Path,
    dry_run: bool,
    wanted: &BTreeSet<String>,
    parsed: &Parsed,
    m: &Merged,
) {
    // A provider asked for but absent from the file (LiteLLM 1.106.2 has no `openrouter` rows,
    // for one) would otherwise read as "0 added" with no hint why its models stay unpriced.
    let without_rows: Vec<&String> = wanted
        .iter()
        .filter(|w| !parsed.models.iter().any(|m| &m.provider == *w))
        .collect();
    let skipped = json!({
        "no_price": parsed.skipped_no_price,
        "not_chat": parsed.skipped_not_chat,
        "other_provider": parsed.skipped_provider,
        "duplicate": parsed.skipped_duplicate,
    });
    if json_out {
        let changed: Vec<Value> = m
            .changed
            .iter()
            .map(|(id, f)| json!({"model": id, "fields": f}))
            .collect();
        crate::text_safe::out_json(&json!({
            "file": file.display().to_string(),
            "overlay": overlay.display().to_string(),
            "dry_run": dry_run,
            "providers": wanted,
            "added": m.added,
            "changed": changed,
            "unchanged": m.unchanged,
            "skipped": skipped,
            "providers_without_rows": without_rows,
        }));
        return;
    }
    let verb = if dry_run { "would import" } else { "imported" };
    crate::outln!(
        "{verb} {} for {}: {} added, {} changed, {} unchanged",
        file.display(),
        wanted.iter().cloned().collect::<Vec<_>>().join(", "),
        m.added.len(),
        m.changed.len(),
        m.unchanged
    );
    crate::outln!(
        "skipped: {} without a price, {} not chat models, {} of other providers, {} duplicates",
        parsed.skipped_no_price,
        parsed.skipped_not_chat,
        parsed.skipped_provider,
        parsed.skipped_duplicate
    );
    if !without_rows.is_empty() {
        let names: Vec<&str> = without_rows.iter().map(|s| s.as_str()).collect();
        crate::outln!(
            "no priced chat rows in this file for: {} (price their models with [[models]] in your config)",
            names.join(", ")
        );
    }
    let lines = m.added.iter().map(|id| format!("  + {id}")).chain(
        m.changed
            .iter()
            .map(|(id, f)| format!("  ~ {id} ({})", f.join(", "))),
    );
    let total = m.added.len() + m.changed.len();
    for l in lines.take(LIST_LIMIT) {
        crate::outln!("{l}");
    }
    if total > LIST_LIMIT {
        crate::outln!(
            "  ... and {} more (--json lists them all)",
            total - LIST_LIMIT
        );
    }
    if dry_run {
        crate::outln!("dry run: {} not written", overlay.display());
    } else if total > 0 {
        crate::outln!("overlay: {}", overlay.display());
    }
}
