//! Per-file code checks: binaries, huge and generated files, oversized files and functions,
//! complexity, nesting, hotspots, duplication and TODO density.

use std::collections::HashMap;

use super::super::facts::Facts;
use super::super::known_files as known;
use super::super::languages::{self, Family};
use super::super::metrics::SAMPLE_MASK;
use super::super::report::{Category, Evidence, Finding, Priority};
use super::super::scan::{FileKind, HUGE_BYTES, HUGE_LINES};
use super::{finding, plural};

pub const OVERSIZED_LINES: u64 = 500;
pub const COMPLEX_BRANCHES: u32 = 100;
pub const LONG_FUNCTION: u32 = 80;

pub fn run(f: &Facts, out: &mut Vec<Finding>) {
    binaries(f, out);
    huge_and_generated(f, out);
    oversized(f, out);
    functions(f, out);
    complexity(f, out);
    hotspots(f, out);
    duplicates(f, out);
    todos(f, out);
}

fn binaries(f: &Facts, out: &mut Vec<Finding>) {
    let ev: Vec<_> = f
        .acc
        .records
        .iter()
        .filter(|r| r.kind == FileKind::Binary && r.binary.is_some())
        .map(|r| {
            Evidence::at(
                &r.rel,
                None,
                format!(
                    "{} ({} bytes)",
                    r.binary.as_deref().unwrap_or("binary"),
                    r.size
                ),
            )
        })
        .collect();
    if !ev.is_empty() {
        out.push(finding(
            "binary-artifacts",
            "Binary build artifacts committed",
            Priority::Medium,
            Category::Hygiene,
            1.0,
            0.8,
            format!(
                "{} (executables, libraries, archives, bytecode) are in the tree. Build them in CI and publish \
                 them as releases; remove them from the repository.",
                plural(ev.len(), "binary artifact", "binary artifacts")
            ),
            "Bloated clones, unreviewable changes, and binaries that may not match the source.",
            ev,
        ));
    }
}

fn huge_and_generated(f: &Facts, out: &mut Vec<Finding>) {
    // Lock files are generated and may be large by design.
    let lock = |rel: &str| known::LOCKFILES.contains(&known::file_name(rel));
    let mut huge: Vec<_> = f
        .acc
        .records
        .iter()
        .filter(|r| r.kind == FileKind::Text && r.is_huge() && !lock(&r.rel))
        .collect();
    huge.sort_by(|a, b| b.size.cmp(&a.size).then(a.rel.cmp(&b.rel)));
    if !huge.is_empty() {
        let ev = huge
            .iter()
            .map(|r| Evidence::at(&r.rel, None, format!("{} bytes, {} lines", r.size, r.lines)))
            .collect();
        out.push(finding(
            "huge-files",
            "Huge text files",
            Priority::Low,
            Category::Performance,
            1.0,
            0.8,
            format!(
                "{} over {} MB or {} lines. Data and generated outputs belong in releases, LFS or build steps.",
                plural(huge.len(), "file is", "files are"),
                HUGE_BYTES >> 20,
                HUGE_LINES
            ),
            "Slow clones, editors and reviews; diffs nobody reads.",
            ev,
        ));
    }
    let generated: Vec<_> = f
        .acc
        .records
        .iter()
        .filter(|r| r.kind == FileKind::Text && (r.generated || r.minified) && !lock(&r.rel))
        .collect();
    if !generated.is_empty() {
        let ev = generated
            .iter()
            .map(|r| {
                Evidence::at(
                    &r.rel,
                    None,
                    if r.minified {
                        "minified (long lines hold nearly all its bytes)"
                    } else {
                        "generated-file header"
                    },
                )
            })
            .collect();
        out.push(finding(
            "generated-files",
            "Generated or minified files committed",
            Priority::Low,
            Category::Hygiene,
            0.5,
            0.5,
            format!(
                "{} carry a \"generated/do not edit\" header or are minified. Generate them in the build where \
                 practical, or mark them (e.g. linguist-generated) so reviews skip them.",
                plural(generated.len(), "file", "files")
            ),
            "Noise in reviews and merge conflicts in files nobody edits by hand.",
            ev,
        ));
    }
}

fn oversized(f: &Facts, out: &mut Vec<Finding>) {
    let mut big: Vec<_> = f
        .code_files()
        .filter(|(_, r)| r.lines > OVERSIZED_LINES && !r.generated && !r.minified && !r.is_huge())
        .collect();
    if big.is_empty() {
        return;
    }
    big.sort_by(|a, b| b.1.lines.cmp(&a.1.lines).then(a.1.rel.cmp(&b.1.rel)));
    let worst = big[0].1.lines;
    let ev = big
        .iter()
        .map(|(_, r)| {
            Evidence::at(
                &r.rel,
                None,
                format!("{} lines ({} code)", r.lines, r.counts.code),
            )
        })
        .collect();
    out.push(finding(
        "oversized-files",
        "Oversized source files",
        if worst > 2000 {
            Priority::Medium
        } else {
            Priority::Low
        },
        Category::Maintainability,
        4.0,
        0.6,
        format!(
            "{} over {OVERSIZED_LINES} lines (largest {worst}). Split them along responsibilities.",
            plural(big.len(), "source file is", "source files are")
        ),
        "Large files are hard to navigate, review and test in isolation.",
        ev,
    ));
}

fn functions(f: &Facts, out: &mut Vec<Finding>) {
    let mut fns: Vec<_> = f
        .code_files()
        .filter_map(|(_, r)| r.metrics.as_ref().map(|m| (r, m)))
        .flat_map(|(r, m)| {
            m.long_fns
                .iter()
                .filter(|s| s.len >= LONG_FUNCTION)
                .map(move |s| (r, s))
        })
        .collect();
    if fns.is_empty() {
        return;
    }
    fns.sort_by(|a, b| {
        b.1.len
            .cmp(&a.1.len)
            .then(a.0.rel.cmp(&b.0.rel))
            .then(a.1.line.cmp(&b.1.line))
    });
    let worst = fns[0].1.len;
    let ev = fns
        .iter()
        .map(|(r, s)| {
            Evidence::at(
                &r.rel,
                Some(s.line),
                format!("fn {} ({} lines)", s.name, s.len),
            )
        })
        .collect();
    out.push(finding(
        "long-functions",
        "Long functions",
        if worst >= 150 { Priority::Medium } else { Priority::Low },
        Category::Maintainability,
        4.0,
        0.6,
        format!(
            "{} of {LONG_FUNCTION}+ lines (longest {worst}). Extract the steps into named functions.",
            plural(fns.len(), "function", "functions")
        ),
        "Long functions hide bugs and resist testing.",
        ev,
    ));
}

fn complexity(f: &Facts, out: &mut Vec<Finding>) {
    let mut complex: Vec<_> = f
        .code_files()
        .filter_map(|(_, r)| r.metrics.as_ref().map(|m| (r, m)))
        .filter(|(_, m)| m.branches >= COMPLEX_BRANCHES)
        .collect();
    complex.sort_by(|a, b| b.1.branches.cmp(&a.1.branches).then(a.0.rel.cmp(&b.0.rel)));
    if !complex.is_empty() {
        let ev = complex
            .iter()
            .map(|(r, m)| {
                let per_kloc = 1000.0 * m.branches as f64 / r.counts.code.max(1) as f64;
                Evidence::at(
                    &r.rel,
                    None,
                    format!("{} branches ({per_kloc:.0} per 1k lines)", m.branches),
                )
            })
            .collect();
        out.push(finding(
            "high-complexity",
            "Complex files",
            Priority::Medium,
            Category::Maintainability,
            6.0,
            0.5,
            format!(
                "{} with {COMPLEX_BRANCHES}+ branch points (if/for/while/case/catch/&&/||). Simplify or split them, \
                 and test their paths.",
                plural(complex.len(), "file", "files")
            ),
            "Branch-heavy code is where defects concentrate.",
            ev,
        ));
    }
    let mut deep: Vec<_> = f
        .code_files()
        .filter_map(|(_, r)| r.metrics.as_ref().map(|m| (r, m)))
        .filter(|(r, m)| {
            let family = r.lang.map(|l| languages::get(l).family);
            let limit = if family == Some(Family::Brace) || family == Some(Family::Shell) {
                8
            } else {
                7
            };
            m.max_depth >= limit
        })
        .collect();
    deep.sort_by(|a, b| {
        b.1.max_depth
            .cmp(&a.1.max_depth)
            .then(a.0.rel.cmp(&b.0.rel))
    });
    if !deep.is_empty() {
        let ev = deep
            .iter()
            .map(|(r, m)| {
                Evidence::at(
                    &r.rel,
                    Some(m.deepest_line),
                    format!("nesting depth {}", m.max_depth),
                )
            })
            .collect();
        out.push(finding(
            "deep-nesting",
            "Deeply nested code",
            Priority::Low,
            Category::Maintainability,
            2.0,
            0.5,
            format!(
                "{} nest blocks very deeply. Use early returns and extract inner blocks.",
                plural(deep.len(), "file", "files")
            ),
            "Deep nesting makes control flow hard to follow.",
            ev,
        ));
    }
}

fn hotspots(f: &Facts, out: &mut Vec<Finding>) {
    if f.commits.is_empty() {
        return;
    }
    let mut spots: Vec<_> = f
        .code_files()
        .filter_map(|(_, r)| {
            let m = r.metrics.as_ref()?;
            let c = *f.commits.get(&r.rel)?;
            (c >= 3 && m.branches >= 10).then_some((r, m.branches, c, m.branches as f64 * c as f64))
        })
        .collect();
    if spots.is_empty() {
        return;
    }
    spots.sort_by(|a, b| b.3.total_cmp(&a.3).then(a.0.rel.cmp(&b.0.rel)));
    spots.truncate(10);
    let score = spots[0].3;
    let ev = spots
        .iter()
        .map(|(r, b, c, _)| Evidence::at(&r.rel, None, format!("{b} branches x {c} commits")))
        .collect();
    let mut fd = finding(
        "hotspots",
        "Complex files that change often",
        Priority::Medium,
        Category::Maintainability,
        4.0,
        0.5,
        format!(
            "The files below are both branch-heavy and frequently changed (from git history): the best places for \
             refactoring and tests. Top score {score:.0}."
        ),
        "Most defects come from code that is complex and keeps changing.",
        ev,
    );
    fd.hotspot = score;
    out.push(fd);
}

fn duplicates(f: &Facts, out: &mut Vec<Finding>) {
    let mut by_hash: HashMap<u64, Vec<u32>> = HashMap::new();
    for (i, r) in f.code_files() {
        if r.hash != 0 {
            by_hash.entry(r.hash).or_default().push(i);
        }
    }
    let mut groups: Vec<Vec<u32>> = by_hash.into_values().filter(|g| g.len() > 1).collect();
    groups.iter_mut().for_each(|g| g.sort_unstable());
    groups.sort();
    let dup_files: std::collections::HashSet<u32> = groups.iter().flatten().copied().collect();
    if !groups.is_empty() {
        let ev = groups
            .iter()
            .flat_map(|g| {
                let first = &f.record(g[0]).rel;
                g[1..].iter().map(move |&i| {
                    Evidence::at(&f.record(i).rel, None, format!("identical to {first}"))
                })
            })
            .collect::<Vec<_>>();
        out.push(finding(
            "duplicate-files",
            "Identical source files",
            Priority::Low,
            Category::Maintainability,
            1.0,
            0.9,
            format!(
                "{} of identical source files. Share one copy.",
                plural(groups.len(), "group", "groups")
            ),
            "Fixes applied to one copy miss the others.",
            ev,
        ));
    }
    // Sampled windows of normalised lines seen in two places (outside identical files).
    let mut w: Vec<_> = f
        .acc
        .windows
        .iter()
        .filter(|(_, file, _)| !dup_files.contains(file))
        .copied()
        .collect();
    w.sort_unstable();
    let mut pairs = Vec::new();
    let mut i = 0;
    while i < w.len() {
        let mut j = i + 1;
        while j < w.len() && w[j].0 == w[i].0 {
            j += 1;
        }
        if j - i > 1 {
            let (a, b) = (w[i], w[i + 1]);
            let near = a.1 == b.1 && a.2.abs_diff(b.2) < 6;
            if !near {
                pairs.push((j - i, a, b));
            }
        }
        i = j;
    }
    if pairs.len() >= 3 {
        pairs.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
        let est = pairs.len() as u64 * (SAMPLE_MASK + 1);
        let ev = pairs
            .iter()
            .map(|(n, a, b)| {
                let other = &f.record(b.1).rel;
                Evidence::at(
                    &f.record(a.1).rel,
                    Some(a.2),
                    format!("same 6 lines at {other}:{} ({n} copies)", b.2),
                )
            })
            .collect();
        out.push(finding(
            "duplicated-code",
            "Repeated blocks of code",
            if pairs.len() >= 50 { Priority::Medium } else { Priority::Low },
            Category::Maintainability,
            4.0,
            0.5,
            format!(
                "{} repeated blocks of 6+ normalised lines found by sampling (about {est} repeated windows in \
                 all). Extract the shared logic.",
                pairs.len()
            ),
            "Copy-pasted code drifts apart and multiplies fixes.",
            ev,
        ));
    }
}

fn todos(f: &Facts, out: &mut Vec<Finding>) {
    let total: u64 = f.code_files().map(|(_, r)| r.todo as u64).sum();
    let code: u64 = f.code_files().map(|(_, r)| r.counts.code).sum();
    let per_kloc = 1000.0 * total as f64 / code.max(1) as f64;
    if total < 5 || per_kloc < 5.0 {
        return;
    }
    let mut files: Vec<_> = f
        .code_files()
        .filter(|(_, r)| r.todo > 0)
        .map(|(_, r)| r)
        .collect();
    files.sort_by(|a, b| b.todo.cmp(&a.todo).then(a.rel.cmp(&b.rel)));
    let ev = files
        .iter()
        .map(|r| Evidence::at(&r.rel, None, plural(r.todo as usize, "marker", "markers")))
        .collect();
    out.push(finding(
        "todo-density",
        "Many TODO/FIXME markers",
        Priority::Low,
        Category::Maintainability,
        2.0,
        0.6,
        format!("{total} TODO/FIXME/HACK/XXX markers ({per_kloc:.1} per 1k lines of code). Turn the important ones into issues and resolve or delete the rest."),
        "Known gaps and shortcuts pile up without an owner.",
        ev,
    ));
}
