//! CI checks: presence, tests run in CI, dangerous GitHub workflows, unpinned actions, tokens.

use super::super::facts::Facts;
use super::super::known_files as known;
use super::super::project_types::Stack;
use super::super::report::{Category, Evidence, Finding, Priority};
use super::{finding, plural, push_counted};

pub fn run(f: &Facts, out: &mut Vec<Finding>) {
    presence(f, out);
    workflows(f, out);
}

/// Commands that run each stack's tests.
fn test_commands(stack: Stack) -> &'static [&'static str] {
    match stack {
        Stack::Rust => &[
            "cargo test",
            "cargo nextest",
            "cargo t ",
            "cargo hack",
            "cross test",
        ],
        Stack::Python => &[
            "pytest",
            "unittest",
            "tox",
            "nox",
            "manage.py test",
            "hatch test",
            "hatch run test",
        ],
        Stack::Node => &[
            "npm test",
            "npm run test",
            "yarn test",
            "pnpm test",
            "npm t",
            "jest",
            "vitest",
            "bun test",
            "npx playwright",
        ],
        Stack::Go => &["go test", "gotestsum"],
        Stack::Java => &[
            "mvn test",
            "mvn verify",
            "mvn package",
            "mvn install",
            "gradle test",
            "gradlew test",
            "gradlew check",
            "gradlew build",
            "gradle build",
            "gradle check",
        ],
        Stack::DotNet => &["dotnet test"],
        Stack::Ruby => &["rspec", "rake test", "rails test", "bundle exec rake"],
        Stack::Php => &["phpunit", "pest", "composer test"],
    }
}

const GENERIC_TEST: &[&str] = &[
    "make test",
    "make check",
    "just test",
    "task test",
    "./test",
    "run-tests",
];

fn presence(f: &Facts, out: &mut Vec<Finding>) {
    if f.source_code < 50 {
        return;
    }
    if f.ci_files.is_empty() {
        out.push(finding(
            "no-ci",
            "No continuous integration",
            Priority::Medium,
            Category::Ci,
            2.0,
            0.9,
            "No CI configuration (GitHub Actions workflows, GitLab CI, CircleCI, Azure Pipelines, Jenkinsfile...). \
             Add a pipeline that builds, lints and tests every push and pull request."
                .into(),
            "Regressions reach the main branch unnoticed.",
            vec![],
        ));
        return;
    }
    let all: String = f
        .ci_files
        .iter()
        .map(|&i| f.content(i))
        .collect::<Vec<_>>()
        .join("\n")
        .to_ascii_lowercase();
    let runs_tests = f
        .project
        .stacks
        .iter()
        .flat_map(|s| test_commands(*s))
        .chain(GENERIC_TEST)
        .any(|c| all.contains(c));
    if !runs_tests && !f.project.stacks.is_empty() {
        let stacks: Vec<_> = f.project.stacks.iter().map(|s| s.name()).collect();
        let ev = f
            .ci_files
            .iter()
            .map(|&i| Evidence::at(&f.record(i).rel, None, "no test command found"))
            .collect();
        out.push(finding(
            "ci-without-tests",
            "CI does not run the tests",
            Priority::Medium,
            Category::Ci,
            1.0,
            0.6,
            format!(
                "None of the {} runs a test command for this stack ({}). Add the test step.",
                plural(f.ci_files.len(), "CI file", "CI files"),
                stacks.join(", ")
            ),
            "CI passes while tests fail.",
            ev,
        ));
    }
}

fn indent(l: &str) -> usize {
    l.len() - l.trim_start().len()
}

/// Lines of `run:` steps (inline or block scalars), with their 1-based numbers.
pub fn run_lines(text: &str) -> Vec<(u32, &str)> {
    let mut out = Vec::new();
    let mut block: Option<usize> = None;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim_start();
        if let Some(ind) = block {
            if t.is_empty() || indent(l) > ind {
                out.push((i as u32 + 1, l));
                continue;
            }
            block = None;
        }
        let key = t.strip_prefix("- ").unwrap_or(t);
        if let Some(v) = key.strip_prefix("run:") {
            let v = v.trim();
            if v.is_empty() || v.starts_with('|') || v.starts_with('>') {
                block = Some(indent(l));
            } else {
                out.push((i as u32 + 1, l));
            }
        }
    }
    out
}

fn is_sha(r: &str) -> bool {
    r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit())
}

fn workflows(f: &Facts, out: &mut Vec<Finding>) {
    let (mut pr_target, mut injection, mut unpinned, mut perms) = (vec![], vec![], vec![], vec![]);
    for &i in f
        .ci_files
        .iter()
        .filter(|&&i| known::is_workflow(&f.record(i).rel))
    {
        let rel = &f.record(i).rel;
        let text = f.content(i);
        let code: Vec<(u32, &str)> = text
            .lines()
            .enumerate()
            .map(|(n, l)| (n as u32 + 1, l))
            .filter(|(_, l)| !l.trim_start().starts_with('#'))
            .collect();
        if code.iter().any(|(_, l)| l.contains("pull_request_target")) {
            let head = [
                "github.event.pull_request.head",
                "refs/pull/",
                "github.head_ref",
            ];
            for (n, l) in &code {
                if l.trim_start().starts_with("ref:") && head.iter().any(|h| l.contains(h)) {
                    pr_target.push(Evidence::at(
                        rel,
                        Some(*n),
                        "pull_request_target checks out the PR head",
                    ));
                }
            }
        }
        for (n, l) in run_lines(text) {
            if l.contains("${{") && (l.contains("github.event.") || l.contains("github.head_ref")) {
                injection.push(Evidence::at(
                    rel,
                    Some(n),
                    super::super::probes::quote_line(l.as_bytes()),
                ));
            }
        }
        for (n, l) in &code {
            let t = l.trim_start().trim_start_matches("- ");
            let Some(u) = t.strip_prefix("uses:") else {
                continue;
            };
            let u = u.trim().trim_matches(['"', '\'']);
            let u = u.split_whitespace().next().unwrap_or("");
            if u.starts_with("./") || u.starts_with("docker://") {
                continue;
            }
            match u.split_once('@') {
                Some((_, r)) if is_sha(r) => {}
                _ => unpinned.push(Evidence::at(rel, Some(*n), format!("uses: {u}"))),
            }
        }
        let top = code.iter().find(|(_, l)| l.starts_with("permissions:"));
        let write_all = code
            .iter()
            .find(|(_, l)| l.contains("permissions:") && l.contains("write-all"));
        match (top, write_all) {
            (_, Some((n, _))) => perms.push(Evidence::at(rel, Some(*n), "permissions: write-all")),
            (None, None) => perms.push(Evidence::at(
                rel,
                None,
                "no top-level permissions: block (token gets the repository default)",
            )),
            _ => {}
        }
    }
    let specs = [
        (
            pr_target,
            "ci-pr-target-checkout",
            "pull_request_target workflow checks out untrusted PR code",
            Priority::Critical,
            Category::Security,
            1.0,
            0.9,
            "A `pull_request_target` workflow runs with secrets and a write token, and it checks out the pull request's head. \
          Code from any fork then runs with those privileges. Use `pull_request`, or never check out or run PR code there.",
            "Repository takeover and secret theft from a fork's pull request.",
        ),
        (
            injection,
            "ci-script-injection",
            "Untrusted event data interpolated into shell steps",
            Priority::High,
            Category::Security,
            1.0,
            0.8,
            "`${{ github.event.* }}` (titles, bodies, branch names) is expanded inside `run:` scripts. Pass it through `env:` and quote it.",
            "Anyone who can open an issue or PR can run commands in CI.",
        ),
        (
            unpinned,
            "unpinned-actions",
            "Actions not pinned to a commit SHA",
            Priority::Medium,
            Category::Security,
            1.0,
            0.9,
            "Third-party actions referenced by tag or branch (`@v3`, `@main`) can change under you. Pin each to a full commit SHA (with the tag in a comment).",
            "A compromised or re-tagged action runs in CI with its secrets.",
        ),
        (
            perms,
            "workflow-permissions",
            "Workflow token permissions not restricted",
            Priority::Medium,
            Category::Security,
            0.5,
            0.8,
            "Workflows without a top-level `permissions:` block (or with `write-all`) get a broad GITHUB_TOKEN. Declare `permissions: contents: read` and widen per job.",
            "A compromised step can push code, create releases or alter issues.",
        ),
    ];
    push_counted(out, specs);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_blocks_and_inline() {
        let wf = "jobs:\n  a:\n    steps:\n      - run: echo ${{ github.event.issue.title }}\n      - name: b\n        run: |\n          echo one\n          echo two\n      - uses: x/y@v1\n";
        let lines: Vec<u32> = run_lines(wf).into_iter().map(|(n, _)| n).collect();
        assert_eq!(lines, vec![4, 7, 8]);
        assert!(is_sha("0123456789abcdef0123456789abcdef01234567"));
        assert!(!is_sha("v4"));
    }
}
