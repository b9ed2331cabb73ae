//! Committed secrets and framework footguns (from the content probes), Dockerfile practices.

use super::super::facts::Facts;
use super::super::known_files as known;
use super::super::probes::{HitKind, mask};
use super::super::report::{Category, Evidence, Finding, Priority};
use super::{finding, plural, push_counted};

pub fn run(f: &Facts, out: &mut Vec<Finding>) {
    secrets(f, out);
    footguns(f, out);
    dockerfiles(f, out);
}

fn hits_of(f: &Facts, kind: HitKind) -> Vec<Evidence> {
    f.acc
        .hits
        .iter()
        .filter(|h| h.kind == kind)
        .map(|h| Evidence::at(&f.record(h.file).rel, Some(h.line), &h.note))
        .collect()
}

/// `KEY=value` lines of a committed env file, masked.
fn env_assignments(text: &str) -> Vec<(u32, String)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let l = l.trim().trim_start_matches("export ");
            if l.starts_with('#') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            let v = v.trim().trim_matches(['"', '\'']);
            (!v.is_empty() && !k.trim().is_empty() && !v.starts_with("${"))
                .then(|| (i as u32 + 1, format!("{}={}", k.trim(), mask(v))))
        })
        .collect()
}

/// Tests, samples, docs and prose, where credentials are often fakes.
fn sample_location(rel: &str) -> bool {
    let prose = super::super::languages::extension(rel).is_some_and(|e| {
        matches!(
            e.to_ascii_lowercase().as_str(),
            "md" | "rst" | "txt" | "adoc"
        )
    });
    known::is_test_path(rel) || known::is_sample_path(rel) || known::is_docs_marker(rel) || prose
}

fn secrets(f: &Facts, out: &mut Vec<Finding>) {
    let mut ev = hits_of(f, HitKind::SecretPattern);
    let pattern_at: std::collections::HashSet<(String, Option<u32>)> =
        ev.iter().map(|e| (e.path.clone(), e.line)).collect();
    let pattern_files: std::collections::HashSet<String> =
        ev.iter().map(|e| e.path.clone()).collect();
    for (i, r) in f.acc.records.iter().enumerate() {
        let name = known::file_name(&r.rel);
        if known::is_env_file(name) {
            let vals = env_assignments(f.content(i as u32));
            if !vals.is_empty() {
                let n = vals.len();
                let first = vals.into_iter().next();
                if let Some((line, note)) = first {
                    ev.push(Evidence::at(
                        &r.rel,
                        Some(line),
                        format!(
                            "committed env file with {} (first: {note})",
                            plural(n, "value", "values")
                        ),
                    ));
                }
            }
        } else if (known::is_private_key_name(name) || known::is_keystore(name))
            && !pattern_files.contains(&r.rel)
        {
            ev.push(Evidence::at(
                &r.rel,
                None,
                "private key or keystore file committed",
            ));
        }
    }
    if !ev.is_empty() {
        ev.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
        ev.dedup_by(|a, b| a.path == b.path && a.line == b.line);
        let in_tests = ev.iter().all(|e| sample_location(&e.path));
        let files: std::collections::BTreeSet<_> = ev.iter().map(|e| e.path.as_str()).collect();
        let values = plural(ev.len(), "value", "values");
        let files = plural(files.len(), "file", "files");
        let verb = if ev.len() == 1 { "looks" } else { "look" };
        // Matches only in tests, samples or docs are most likely examples: worth a look, not an
        // incident, so they rank LOW and say so.
        let (priority, confidence, description) = if in_tests {
            (
                Priority::Low,
                0.4,
                format!(
                    "{values} that {verb} like credentials in {files} (masked), all in tests, samples or \
                     documentation: they may be examples. Check that none is live, and prefer obvious \
                     placeholders so scanners stay quiet."
                ),
            )
        } else {
            (
                Priority::Critical,
                0.9,
                format!(
                    "{values} that {verb} like live credentials in {files} (values masked). Revoke and rotate \
                     them, remove them from the history, and load secrets from the environment or a secret \
                     manager."
                ),
            )
        };
        out.push(finding(
            "committed-secrets",
            if in_tests {
                "Credential-like values in tests, samples or docs"
            } else {
                "Secrets committed to the repository"
            },
            priority,
            Category::Security,
            2.0,
            confidence,
            description,
            "Anyone with read access to the code (or its history) can use these credentials.",
            ev,
        ));
    }
    let mut ev = hits_of(f, HitKind::SecretAssignment);
    ev.retain(|e| !pattern_at.contains(&(e.path.clone(), e.line)));
    if !ev.is_empty() {
        out.push(finding(
            "possible-secrets",
            "High-entropy values assigned to secret-like names",
            Priority::High,
            Category::Security,
            1.0,
            0.5,
            format!(
                "{} of random-looking literals to names such as token, password or api_key (masked). \
                 Check each; move real ones to configuration that is not committed.",
                plural(ev.len(), "assignment", "assignments")
            ),
            "Hard-coded credentials leak with the code and cannot be rotated per environment.",
            ev,
        ));
    }
}

fn footguns(f: &Facts, out: &mut Vec<Finding>) {
    let specs = [
        (
            HitKind::DebugEnabled,
            "debug-mode-enabled",
            "Debug mode enabled in committed settings",
            Priority::High,
            0.5,
            0.7,
            "Django `DEBUG = True`, or Flask/FastAPI/uvicorn started with `debug=True`. Read it from the \
             environment and default to off.",
            "Debug pages expose stack traces, settings and sometimes an interactive console in production.",
        ),
        (
            HitKind::HardcodedSecretKey,
            "hardcoded-secret-key",
            "Framework secret key is a literal",
            Priority::High,
            0.5,
            0.8,
            "`SECRET_KEY` (Django) or `app.secret_key` (Flask) is set to a string in code (masked). Load it \
             from the environment.",
            "With the key, sessions and signed tokens can be forged.",
        ),
        (
            HitKind::CorsWildcard,
            "cors-wildcard",
            "CORS allows any origin",
            Priority::Medium,
            1.0,
            0.6,
            "CORS is configured with `*` (or `cors()` without options). List the origins that need access.",
            "Any website can call the API from a visitor's browser.",
        ),
        (
            HitKind::CurlPipeShell,
            "curl-pipe-shell",
            "Remote script piped into a shell",
            Priority::High,
            1.0,
            0.7,
            "A `curl ... | sh` (or wget) in scripts, CI or a Dockerfile runs whatever the server returns. \
             Download, verify a checksum or signature, then run.",
            "A compromised or spoofed server gets code execution in builds and images.",
        ),
    ];
    for (kind, id, title, prio, effort, conf, desc, impact) in specs {
        let ev = hits_of(f, kind);
        if !ev.is_empty() {
            let description = format!(
                "{desc} Found {}.",
                plural(ev.len(), "occurrence", "occurrences")
            );
            out.push(finding(
                id,
                title,
                prio,
                Category::Security,
                effort,
                conf,
                description,
                impact,
                ev,
            ));
        }
    }
}

/// `FROM image[:tag][@digest] [AS name]` lines: (line, image).
fn from_lines(text: &str) -> Vec<(u32, String)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let mut w = l.split_whitespace();
            if !w.next()?.eq_ignore_ascii_case("FROM") {
                return None;
            }
            let image = w.find(|t| !t.starts_with("--"))?;
            Some((i as u32 + 1, image.to_string()))
        })
        .collect()
}

fn dockerfiles(f: &Facts, out: &mut Vec<Finding>) {
    let (mut root_user, mut latest, mut unpinned, mut no_ignore) = (vec![], vec![], vec![], vec![]);
    for &i in &f.dockerfiles {
        let rel = &f.record(i).rel;
        let text = f.content(i);
        let froms = from_lines(text);
        let stages: Vec<String> = text
            .lines()
            .filter_map(|l| {
                let up = l.to_ascii_uppercase();
                let p = up.find(" AS ")?;
                up.trim_start()
                    .starts_with("FROM")
                    .then(|| l[p + 4..].trim().to_ascii_lowercase())
            })
            .collect();
        for (line, image) in &froms {
            let lower = image.to_ascii_lowercase();
            if lower == "scratch" || stages.contains(&lower) || image.contains('$') {
                continue;
            }
            let name_part = image.rsplit('/').next().unwrap_or(image);
            if !image.contains('@') {
                if !name_part.contains(':') || name_part.ends_with(":latest") {
                    latest.push(Evidence::at(rel, Some(*line), format!("FROM {image}")));
                }
                unpinned.push(Evidence::at(
                    rel,
                    Some(*line),
                    format!("FROM {image} (no @sha256 digest)"),
                ));
            }
        }
        let last_user = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim_start().to_ascii_uppercase().starts_with("USER "))
            .last();
        match last_user {
            None => root_user.push(Evidence::at(
                rel,
                None,
                "no USER instruction: the container runs as root",
            )),
            Some((n, l)) if matches!(l.split_whitespace().nth(1), Some("root" | "0" | "0:0")) => {
                root_user.push(Evidence::at(rel, Some(n as u32 + 1), "USER root"))
            }
            _ => {}
        }
        let dir = f.dir_of(rel);
        let ignore = if dir.is_empty() {
            ".dockerignore".to_string()
        } else {
            format!("{dir}/.dockerignore")
        };
        if !f.exists(&ignore) && !f.exists(".dockerignore") {
            no_ignore.push(Evidence::at(rel, None, "no .dockerignore next to it"));
        }
    }
    let specs = [
        (
            root_user,
            "dockerfile-root-user",
            "Container runs as root",
            Priority::Medium,
            Category::Security,
            0.5,
            0.7,
            "Add a non-root `USER` after installing packages.",
            "A process escaping the app has root in the container.",
        ),
        (
            latest,
            "dockerfile-latest-tag",
            "Base image uses `latest` or no tag",
            Priority::Low,
            Category::Hygiene,
            0.25,
            0.8,
            "Pin the base image to a version tag (and ideally a digest).",
            "Builds change silently when the base image moves.",
        ),
        (
            unpinned,
            "unpinned-docker-images",
            "Base images not pinned by digest",
            Priority::Low,
            Category::Security,
            0.5,
            0.6,
            "Reference base images as `image:tag@sha256:...` so builds are reproducible.",
            "A re-tagged or compromised image enters the build.",
        ),
        (
            no_ignore,
            "missing-dockerignore",
            "No .dockerignore",
            Priority::Low,
            Category::Performance,
            0.25,
            0.8,
            "Add a .dockerignore excluding .git, build outputs, dependencies and .env files.",
            "Large, slow build contexts that can leak local secrets into images.",
        ),
    ];
    push_counted(out, specs);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_are_masked() {
        let v = env_assignments("# c\nEMPTY=\nexport DB_PASS=\"hunter2hunter2\"\nX=${Y}\n");
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].0, 3);
        assert!(v[0].1.starts_with("DB_PASS=hu") && !v[0].1.contains("hunter2hunter2"));
    }

    #[test]
    fn from_lines_skip_flags() {
        let v = from_lines("FROM --platform=linux/amd64 python:3.12 AS base\nRUN x\nfrom base\n");
        assert_eq!(
            v,
            vec![(1, "python:3.12".to_string()), (3, "base".to_string())]
        );
    }
}
