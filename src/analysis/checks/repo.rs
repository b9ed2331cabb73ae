//! Repository-level checks: tests, README, LICENSE, lock files, dependency updates, community
//! files, linter configuration, `.gitignore`, documentation and unreadable paths.

use super::super::facts::Facts;
use super::super::known_files as known;
use super::super::project_types::Stack;
use super::super::report::{Category, Evidence, Finding, Priority};
use super::{finding, plural};

pub fn run(f: &Facts, out: &mut Vec<Finding>) {
    tests(f, out);
    readme(f, out);
    license(f, out);
    lockfiles(f, out);
    dependency_bot(f, out);
    community(f, out);
    linters(f, out);
    gitignore(f, out);
    docs(f, out);
    unreadable(f, out);
}

fn tests(f: &Facts, out: &mut Vec<Finding>) {
    if f.source_code < 50 {
        return;
    }
    if !f.has_tests {
        out.push(finding(
            "no-tests",
            "No automated tests",
            Priority::High,
            Category::Testing,
            8.0,
            0.8,
            format!(
                "No test folders or test files were found for {} lines of code. Start with tests of the core \
                 logic and the bugs fixed so far.",
                f.source_code
            ),
            "Every change risks regressions that only users will find.",
            vec![],
        ));
    } else if let Some(r) = f.ratio().filter(|&r| r < 0.1 && f.source_code >= 500) {
        out.push(finding(
            "low-test-ratio",
            "Little test code for the amount of source",
            Priority::Medium,
            Category::Testing,
            6.0,
            0.6,
            format!(
                "Test code is {:.0}% of source code ({} test lines for {} source lines). Cover the most changed \
                 and most complex modules first.",
                r * 100.0,
                f.test_code,
                f.source_code
            ),
            "Large parts of the code change without a safety net.",
            vec![],
        ));
    }
}

fn readme(f: &Facts, out: &mut Vec<Finding>) {
    if f.acc.records.is_empty() {
        return;
    }
    let Some(i) = f.readme else {
        // With no README, "no docs beyond the README" is the same gap: one finding says both.
        let no_docs = if no_docs(f) {
            " There is no docs folder either; start with the README."
        } else {
            ""
        };
        out.push(finding(
            "missing-readme",
            "No README",
            Priority::High,
            Category::Docs,
            1.0,
            0.95,
            format!(
                "There is no README at the root. Say what the project does, how to install it and how to \
                 use it.{no_docs}"
            ),
            "Newcomers and users cannot tell what the project is or how to start.",
            vec![],
        ));
        return;
    };
    let r = f.record(i);
    let text = f.content(i).to_ascii_lowercase();
    let sections = [
        "install",
        "usage",
        "getting started",
        "quick start",
        "quickstart",
        "how to",
        "example",
        "setup",
        "build",
    ];
    let has_section = sections.iter().any(|s| text.contains(s));
    if r.size < 500 || !has_section {
        let why = if r.size < 500 {
            format!("only {} bytes", r.size)
        } else {
            "no install or usage section".to_string()
        };
        out.push(finding(
            "thin-readme",
            "README is thin",
            Priority::Medium,
            Category::Docs,
            1.0,
            0.7,
            format!(
                "The README has {why}. Add what the project does, installation and a usage example."
            ),
            "People give up before they get it running.",
            vec![Evidence::at(&r.rel, None, why)],
        ));
    }
}

fn license(f: &Facts, out: &mut Vec<Finding>) {
    let spdx = f.project.manifests.iter().any(|m| m.license);
    if !f.has_license_file && !spdx && !f.acc.records.is_empty() {
        out.push(finding(
            "missing-license",
            "No license",
            Priority::High,
            Category::Docs,
            0.5,
            0.9,
            "No LICENSE/COPYING file at the root and no license field in the manifests. Without one, nobody \
             may legally use, change or share the code."
                .into(),
            "Users and contributors cannot rely on the code legally.",
            vec![],
        ));
    }
}

fn lockfiles(f: &Facts, out: &mut Vec<Finding>) {
    let mut ev = Vec::new();
    for m in f.project.manifests.iter().filter(|m| m.app) {
        let dir = f.dir_of(&m.rel);
        let (names, need): (&[&str], bool) = match m.stack {
            Some(Stack::Rust) => (&["Cargo.lock"], true),
            Some(Stack::Node) => (
                &[
                    "package-lock.json",
                    "npm-shrinkwrap.json",
                    "yarn.lock",
                    "pnpm-lock.yaml",
                    "bun.lockb",
                    "bun.lock",
                ],
                !m.deps.is_empty(),
            ),
            Some(Stack::Python) => {
                let req = known::is_requirements(known::file_name(&m.rel));
                (
                    &[
                        "uv.lock",
                        "poetry.lock",
                        "Pipfile.lock",
                        "pdm.lock",
                        "requirements.lock",
                    ],
                    !req && !m.deps.is_empty(),
                )
            }
            Some(Stack::Go) => (&["go.sum"], true),
            Some(Stack::Ruby) => (&["Gemfile.lock"], true),
            Some(Stack::Php) => (&["composer.lock"], true),
            _ => (&[], false),
        };
        if need && !names.is_empty() && !f.lockfile_near(dir, names) {
            ev.push(Evidence::at(
                &m.rel,
                None,
                format!("no {} next to it or above", names[0]),
            ));
        }
    }
    if !ev.is_empty() {
        out.push(finding(
            "missing-lockfile",
            "Application without a lock file",
            Priority::Medium,
            Category::Dependencies,
            0.5,
            0.7,
            format!(
                "{} of applications have no committed lock file. Commit it so builds use the versions you tested.",
                plural(ev.len(), "manifest", "manifests")
            ),
            "Builds pick up new dependency versions (and their bugs or compromises) unannounced.",
            ev,
        ));
    }
}

fn dependency_bot(f: &Facts, out: &mut Vec<Finding>) {
    if !f.dependency_bot && !f.project.manifests.is_empty() {
        out.push(finding(
            "no-dependency-updates",
            "No automated dependency updates",
            Priority::Low,
            Category::Dependencies,
            0.5,
            0.8,
            "No Dependabot or Renovate configuration. Add one so security fixes in dependencies arrive as pull requests.".into(),
            "Known vulnerabilities in dependencies stay until someone notices.",
            vec![],
        ));
    }
}

fn community(f: &Facts, out: &mut Vec<Finding>) {
    if f.source_code < 50 {
        return;
    }
    let missing: Vec<_> = ["CONTRIBUTING", "SECURITY", "CHANGELOG", "CODE_OF_CONDUCT"]
        .into_iter()
        .filter(|k| !f.community.contains(k))
        .collect();
    if !missing.is_empty() {
        let ev = missing
            .iter()
            .map(|m| Evidence::at(format!("{m}.md"), None, "missing"))
            .collect();
        out.push(finding(
            "missing-community-files",
            "Missing community files",
            Priority::Low,
            Category::Docs,
            1.0,
            0.8,
            format!("Missing: {}. They tell contributors how to help and reporters where to send vulnerabilities.", missing.join(", ")),
            "Contributions and security reports get lost or go public.",
            ev,
        ));
    }
}

fn linters(f: &Facts, out: &mut Vec<Finding>) {
    if f.source_code < 50 || f.linters.contains("any") {
        return;
    }
    let in_manifest = |s: Stack| {
        f.project
            .manifests
            .iter()
            .any(|m| m.stack == Some(s) && m.lint_config)
    };
    let missing: Vec<_> = f
        .project
        .stacks
        .iter()
        .filter(|s| !matches!(s, Stack::DotNet))
        .filter(|s| !f.linters.contains(s.name()) && !in_manifest(**s))
        .map(|s| s.name())
        .collect();
    if !missing.is_empty() {
        out.push(finding(
            "no-linter-config",
            "No linter or formatter configuration",
            Priority::Low,
            Category::Maintainability,
            1.0,
            0.7,
            format!(
                "No lint/format configuration for {} (ruff, eslint/biome, rustfmt/clippy, golangci-lint, \
                 .editorconfig or pre-commit). Add one and run it in CI.",
                missing.join(", ")
            ),
            "Style debates in review and bugs a linter would have caught.",
            vec![],
        ));
    }
}

fn gitignore(f: &Facts, out: &mut Vec<Finding>) {
    if f.source_code < 50 {
        return;
    }
    let Some(i) = f.gitignore else {
        out.push(finding(
            "missing-gitignore",
            "No .gitignore",
            Priority::Medium,
            Category::Hygiene,
            0.25,
            0.9,
            "No .gitignore at the root: build outputs, dependencies and .env files are easy to commit by mistake.".into(),
            "Secrets and large generated files end up in history.",
            vec![],
        ));
        return;
    };
    let entries: Vec<String> = f
        .content(i)
        .lines()
        .map(|l| {
            l.trim()
                .trim_start_matches("**/")
                .trim_matches('/')
                .to_string()
        })
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let covered = |want: &str| {
        entries.iter().any(|e| {
            e == want
                || e.starts_with(&format!("{want}*"))
                || (want == ".env" && (e == "*.env" || e == ".env*"))
        })
    };
    let mut missing = Vec::new();
    if !covered(".env") {
        missing.push(".env");
    }
    for s in &f.project.stacks {
        let want: &[&str] = match s {
            Stack::Rust => &["target"],
            Stack::Node => &["node_modules"],
            Stack::Python => &["__pycache__"],
            Stack::Java => &["target", "build"],
            Stack::DotNet => &["bin", "obj"],
            _ => &[],
        };
        let alt_ok = matches!(s, Stack::Java) && want.iter().any(|w| covered(w));
        for w in want {
            let pyc = *w == "__pycache__" && (covered("*.pyc") || covered("*.py[cod]"));
            if !covered(w) && !alt_ok && !pyc && !missing.contains(w) {
                missing.push(w);
            }
        }
    }
    if !missing.is_empty() {
        out.push(finding(
            "weak-gitignore",
            ".gitignore misses common entries",
            Priority::Low,
            Category::Hygiene,
            0.25,
            0.7,
            format!("The .gitignore does not cover: {}.", missing.join(", ")),
            "Build outputs or local secrets can be committed by accident.",
            vec![Evidence::at(
                ".gitignore",
                None,
                format!("missing {}", missing.join(", ")),
            )],
        ));
    }
}

fn no_docs(f: &Facts) -> bool {
    !f.has_docs && f.source_code >= 2000
}

fn docs(f: &Facts, out: &mut Vec<Finding>) {
    if no_docs(f) && f.readme.is_some() {
        out.push(finding(
            "no-docs",
            "No documentation beyond the README",
            Priority::Low,
            Category::Docs,
            4.0,
            0.5,
            format!(
                "No docs folder or documentation site configuration for {} lines of code.",
                f.source_code
            ),
            "Design and operations knowledge lives only in people's heads.",
            vec![],
        ));
    }
    let total = f.source_code + f.source_comments;
    if f.source_code >= 1000 && (f.source_comments as f64) < 0.05 * total as f64 {
        out.push(finding(
            "low-comment-ratio",
            "Very few comments",
            Priority::Low,
            Category::Docs,
            4.0,
            0.5,
            format!(
                "Comments are {:.1}% of source lines ({} comment lines). Document public interfaces and non-obvious decisions.",
                100.0 * f.source_comments as f64 / total.max(1) as f64,
                f.source_comments
            ),
            "Code is harder to review and to change safely.",
            vec![],
        ));
    }
}

fn unreadable(f: &Facts, out: &mut Vec<Finding>) {
    if f.acc.unreadable.is_empty() {
        return;
    }
    let ev: Vec<_> = f
        .acc
        .unreadable
        .iter()
        .map(|(p, m)| Evidence::at(p, None, m))
        .collect();
    out.push(finding(
        "unreadable-paths",
        "Some paths could not be read",
        Priority::Low,
        Category::Hygiene,
        0.25,
        1.0,
        format!(
            "{} could not be read (permissions, broken links or loops); the analysis skipped them.",
            plural(ev.len(), "path", "paths")
        ),
        "Counts and checks do not cover these paths.",
        ev,
    ));
}
