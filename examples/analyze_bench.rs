use std::path::PathBuf;

use orchestrator_tui::analysis::{languages, walk};

fn main() {
    let path = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    let t = std::time::Instant::now();
    let acc = walk::walk(&path, 0, &|_| {});
    let el = t.elapsed();
    if let Ok(l) = std::env::var("PER_FILE") {
        for r in &acc.records {
            if r.lang.is_some_and(|x| languages::name(x) == l) {
                println!(
                    "{} {} {} {}",
                    r.rel, r.counts.code, r.counts.comments, r.counts.blanks
                );
            }
        }
        return;
    }
    let mut per: std::collections::BTreeMap<&str, (u64, u64, u64, u64)> = Default::default();
    for r in &acc.records {
        if let Some(l) = r.lang {
            let e = per.entry(languages::name(l)).or_default();
            e.0 += 1;
            e.1 += r.counts.code;
            e.2 += r.counts.comments;
            e.3 += r.counts.blanks;
        }
    }
    let v: serde_json::Value = per
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                serde_json::json!({"files": v.0, "code": v.1, "comments": v.2, "blanks": v.3}),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    println!(
        "{}",
        serde_json::json!({"elapsed_ms": el.as_millis() as u64, "files": acc.records.len(), "languages": v})
    );
}
