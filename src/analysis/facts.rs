//! What the checks know about the tree after the walk: files by role, captured contents,
//! project types, tests/CI/docs presence and the test-to-source ratio.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::known_files as known;
use super::languages::{self, Class};
use super::project_types::{self, ProjectInfo};
use super::scan::{Acc, FileKind, FileRecord};

pub struct Facts<'a> {
    pub acc: &'a Acc,
    pub contents: HashMap<u32, &'a str>,
    pub paths: HashSet<&'a str>,
    pub project: ProjectInfo,
    pub has_tests: bool,
    pub has_ci: bool,
    pub has_docs: bool,
    pub test_code: u64,
    pub source_code: u64,
    pub source_comments: u64,
    /// Indices of test files (by path or inline Rust test module).
    pub test_files: HashSet<u32>,
    pub readme: Option<u32>,
    pub has_license_file: bool,
    pub community: BTreeSet<&'static str>,
    pub linters: BTreeSet<&'static str>,
    pub dependency_bot: bool,
    pub ci_files: Vec<u32>,
    pub dockerfiles: Vec<u32>,
    pub gitignore: Option<u32>,
    /// Commits touching each path (from `git log`), when the root is a repository.
    pub commits: HashMap<String, u32>,
}

impl<'a> Facts<'a> {
    pub fn record(&self, i: u32) -> &'a FileRecord {
        &self.acc.records[i as usize]
    }

    pub fn content(&self, i: u32) -> &'a str {
        self.contents.get(&i).copied().unwrap_or("")
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.paths.contains(rel)
    }

    /// Records of programming-language files (the "source" of ratios and per-file checks).
    pub fn code_files(&self) -> impl Iterator<Item = (u32, &'a FileRecord)> + '_ {
        self.acc
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.lang
                    .is_some_and(|l| languages::get(l).class == Class::Code)
            })
            .map(|(i, r)| (i as u32, r))
    }

    pub fn has_stack(&self, s: project_types::Stack) -> bool {
        self.project.stacks.contains(&s)
    }
}

fn dir_of(rel: &str) -> &str {
    rel.rfind('/').map_or("", |p| &rel[..p])
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

pub fn gather(acc: &Acc, commits: HashMap<String, u32>) -> Facts<'_> {
    let contents: HashMap<u32, &str> = acc.contents.iter().map(|(i, t)| (*i, t.as_str())).collect();
    let paths: HashSet<&str> = acc.records.iter().map(|r| r.rel.as_str()).collect();
    let mut f = Facts {
        acc,
        contents,
        paths,
        project: ProjectInfo::default(),
        has_tests: false,
        has_ci: false,
        has_docs: false,
        test_code: 0,
        source_code: 0,
        source_comments: 0,
        test_files: HashSet::new(),
        readme: None,
        has_license_file: false,
        community: BTreeSet::new(),
        linters: BTreeSet::new(),
        dependency_bot: false,
        ci_files: Vec::new(),
        dockerfiles: Vec::new(),
        gitignore: None,
        commits,
    };
    let mut manifests = Vec::new();
    for (i, r) in acc.records.iter().enumerate() {
        let i = i as u32;
        let rel = r.rel.as_str();
        let name = known::file_name(rel);
        if known::is_readme(rel) && f.readme.is_none() {
            f.readme = Some(i);
        }
        f.has_license_file |= known::is_license(rel);
        f.community.extend(known::community_kind(rel));
        f.linters.extend(known::linter_config(name));
        f.dependency_bot |= known::is_dependency_bot(rel);
        f.has_docs |= known::is_docs_marker(rel);
        if known::is_ci(rel) {
            f.ci_files.push(i);
        }
        if known::is_dockerfile(name) {
            f.dockerfiles.push(i);
        }
        if rel == ".gitignore" {
            f.gitignore = Some(i);
        }
        if known::is_manifest(name) && !known::is_sample_path(rel) && r.kind == FileKind::Text {
            let dir = dir_of(rel);
            let sibling = |p: &str| f.paths.contains(join(dir, p).as_str());
            manifests.push(project_types::parse_manifest(rel, f.content(i), &sibling));
        }
        let is_code = r
            .lang
            .is_some_and(|l| languages::get(l).class == Class::Code);
        if !is_code {
            continue;
        }
        if known::is_test_path(rel) {
            f.test_files.insert(i);
            f.test_code += r.counts.code;
        } else if let Some(line) = r.cfg_test_line.filter(|_| r.lines > 0) {
            // An inline Rust test module: the lines from `#[cfg(test)]` on are test code.
            f.test_files.insert(i);
            let share = (r.lines + 1 - (line as u64).min(r.lines)) as f64 / r.lines as f64;
            let test = (r.counts.code as f64 * share).round() as u64;
            f.test_code += test;
            f.source_code += r.counts.code - test;
            f.source_comments += r.counts.comments;
        } else {
            f.source_code += r.counts.code;
            f.source_comments += r.counts.comments;
        }
    }
    f.has_tests = !f.test_files.is_empty();
    f.has_ci = !f.ci_files.is_empty();
    f.project = project_types::detect(manifests);
    f
}

impl Facts<'_> {
    pub fn ratio(&self) -> Option<f64> {
        (self.source_code > 0).then(|| {
            let r = self.test_code as f64 / self.source_code as f64;
            (r * 1000.0).round() / 1000.0
        })
    }

    /// A lock file in `dir` or one of its parents (workspaces keep one at the root).
    pub fn lockfile_near(&self, dir: &str, names: &[&str]) -> bool {
        let mut d = dir.to_string();
        loop {
            if names.iter().any(|n| self.exists(&join(&d, n))) {
                return true;
            }
            if d.is_empty() {
                return false;
            }
            d = dir_of(&d).to_string();
        }
    }

    pub fn dir_of<'b>(&self, rel: &'b str) -> &'b str {
        dir_of(rel)
    }
}
