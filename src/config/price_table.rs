//! The README's price table, generated from `assets/models.toml` (a unit test fails when the
//! README drifts from the catalog and prints the table to paste).

use super::ModelInfo;

pub const BEGIN: &str =
    "<!-- price-table:begin (generated from assets/models.toml; see src/config/price_table.rs) -->";
pub const END: &str = "<!-- price-table:end -->";

fn usd(x: f64) -> String {
    // Whole dollars bare, cents always two digits, finer prices exact ($15, $0.30, $0.028).
    if x.fract() == 0.0 {
        return format!("${x:.0}");
    }
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0');
    let decimals = s.split_once('.').map_or(0, |(_, d)| d.len());
    if decimals < 2 {
        format!("${x:.2}")
    } else {
        format!("${s}")
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or("-".into(), usd)
}

fn tokens(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000_000 {
        format!("{:.2}M", n as f64 / 1e6)
    } else if n >= 1000 {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

/// Markdown table of the catalog: USD per million tokens.
pub fn markdown(models: &[ModelInfo]) -> String {
    let mut out = String::from(
        "| model | provider | input | cached input | cache write | output | long context (input / output) | context | max output |\n\
         |---|---|---:|---:|---:|---:|---|---:|---:|\n",
    );
    for m in models {
        let long = if m.has_long_tier() {
            let above = m
                .long_context_above
                .unwrap_or(super::catalog::DEFAULT_LONG_CONTEXT_ABOVE);
            format!(
                "above {}: {} / {}",
                tokens(above),
                opt(m.input_long),
                opt(m.output_long)
            )
        } else {
            "-".into()
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            m.id,
            m.provider,
            usd(m.input),
            usd(m.cached_input),
            opt(m.cache_write),
            usd(m.output),
            long,
            tokens(u64::from(m.window())),
            tokens(u64::from(m.max_output)),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Catalog;

    #[test]
    fn readme_price_table_matches_the_catalog() {
        let readme = include_str!("../../README.md");
        let want = markdown(&Catalog::embedded().unwrap().models);
        let got = readme
            .split_once(BEGIN)
            .and_then(|(_, rest)| rest.split_once(END))
            .map(|(table, _)| table.trim_start_matches('\n'))
            .unwrap_or("<markers missing>");
        assert!(
            got == want,
            "README.md's price table differs from assets/models.toml; paste this between the \
             price-table markers:\n\n{want}"
        );
    }

    #[test]
    fn prices_and_sizes_print_compactly() {
        assert_eq!(usd(0.028), "$0.028");
        assert_eq!(usd(0.3), "$0.30");
        assert_eq!(usd(15.0), "$15");
        assert_eq!(usd(1.25), "$1.25");
        assert_eq!(tokens(200_000), "200k");
        assert_eq!(tokens(1_048_576), "1.05M");
        assert_eq!(tokens(1_000_000), "1M");
    }
}
