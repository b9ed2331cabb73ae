//! Project types from manifests and their dependencies (several for a monorepo), and the stacks
//! the checks reason about (lock files, linters, test commands, `.gitignore` entries).

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::known_files as known;

/// Order in which project types are listed.
pub const TYPE_ORDER: &[&str] = &[
    "nextjs",
    "react",
    "vue",
    "svelte",
    "express",
    "fastapi",
    "django",
    "flask",
    "rails",
    "rust-workspace",
    "rust",
    "go",
    "python",
    "node",
    "maven",
    "gradle",
    "dotnet",
    "ruby",
    "php",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stack {
    Rust,
    Python,
    Node,
    Go,
    Java,
    DotNet,
    Ruby,
    Php,
}

impl Stack {
    pub fn name(self) -> &'static str {
        match self {
            Stack::Rust => "rust",
            Stack::Python => "python",
            Stack::Node => "node",
            Stack::Go => "go",
            Stack::Java => "java",
            Stack::DotNet => "dotnet",
            Stack::Ruby => "ruby",
            Stack::Php => "php",
        }
    }
}

/// One manifest and what it says.
#[derive(Clone, Debug, Default)]
pub struct Manifest {
    pub rel: String,
    pub stack: Option<Stack>,
    /// Dependency names, lower-case with `_` as `-`.
    pub deps: BTreeSet<String>,
    /// An application (binary, private package, web framework) rather than a library.
    pub app: bool,
    /// A license field or SPDX id.
    pub license: bool,
    /// Lint/format configuration inside the manifest (`[tool.ruff]`, `[lints]`, `eslintConfig`).
    pub lint_config: bool,
    pub types: BTreeSet<&'static str>,
}

#[derive(Clone, Debug, Default)]
pub struct ProjectInfo {
    pub types: Vec<String>,
    pub stacks: BTreeSet<Stack>,
    pub manifests: Vec<Manifest>,
}

fn norm(dep: &str) -> String {
    dep.trim().to_ascii_lowercase().replace('_', "-")
}

/// The package name at the start of a requirement (`Django>=4; python_version...`).
fn requirement_name(req: &str) -> Option<String> {
    let req = req.trim();
    if req.is_empty() || req.starts_with('#') || req.starts_with('-') {
        return None;
    }
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(req.len());
    (end > 0).then(|| norm(&req[..end]))
}

fn table_keys(v: Option<&toml::Value>) -> impl Iterator<Item = String> + '_ {
    v.and_then(|v| v.as_table())
        .into_iter()
        .flat_map(|t| t.keys().map(|k| norm(k)))
}

fn parse_cargo(m: &mut Manifest, text: &str, sibling: &dyn Fn(&str) -> bool) {
    m.stack = Some(Stack::Rust);
    let Ok(doc) = text.parse::<toml::Table>() else {
        m.types.insert("rust");
        return;
    };
    if doc.contains_key("workspace") {
        m.types.insert("rust-workspace");
    }
    if let Some(pkg) = doc.get("package").and_then(|p| p.as_table()) {
        m.types.insert("rust");
        m.license = pkg.contains_key("license") || pkg.contains_key("license-file");
        m.app = doc.contains_key("bin") || sibling("src/main.rs");
    }
    m.lint_config =
        doc.contains_key("lints") || doc.get("workspace").and_then(|w| w.get("lints")).is_some();
    for key in ["dependencies", "dev-dependencies", "build-dependencies"] {
        m.deps.extend(table_keys(doc.get(key)));
    }
}

fn parse_package_json(m: &mut Manifest, text: &str) {
    m.stack = Some(Stack::Node);
    m.types.insert("node");
    let Ok(doc) = serde_json::from_str::<Json>(text) else {
        return;
    };
    for key in ["dependencies", "devDependencies", "peerDependencies"] {
        if let Some(o) = doc.get(key).and_then(Json::as_object) {
            m.deps.extend(o.keys().map(|k| k.to_ascii_lowercase()));
        }
    }
    m.license = doc.get("license").is_some_and(|l| !l.is_null());
    m.lint_config = doc.get("eslintConfig").is_some() || doc.get("prettier").is_some();
    let library = ["main", "module", "exports", "types"]
        .iter()
        .any(|k| doc.get(k).is_some());
    m.app = doc.get("private").and_then(Json::as_bool).unwrap_or(false) || !library;
    let has = |d: &str| m.deps.contains(d);
    let mut t = Vec::new();
    if has("next") {
        t.push("nextjs");
    }
    if has("react") {
        t.push("react");
    }
    if has("vue") || has("nuxt") {
        t.push("vue");
    }
    if has("svelte") || has("@sveltejs/kit") {
        t.push("svelte");
    }
    if has("express") {
        t.push("express");
    }
    m.types.extend(t);
}

fn parse_pyproject(m: &mut Manifest, text: &str) {
    m.stack = Some(Stack::Python);
    let Ok(doc) = text.parse::<toml::Table>() else {
        return;
    };
    let project = doc.get("project");
    let deps = project
        .and_then(|p| p.get("dependencies"))
        .and_then(|d| d.as_array());
    for d in deps.into_iter().flatten().filter_map(|d| d.as_str()) {
        m.deps.extend(requirement_name(d));
    }
    let optional = project
        .and_then(|p| p.get("optional-dependencies"))
        .and_then(|o| o.as_table());
    for list in optional
        .into_iter()
        .flat_map(|t| t.values())
        .filter_map(|v| v.as_array())
    {
        m.deps.extend(
            list.iter()
                .filter_map(|d| d.as_str())
                .filter_map(requirement_name),
        );
    }
    let tool = doc.get("tool").and_then(|t| t.as_table());
    let poetry = tool.and_then(|t| t.get("poetry"));
    m.deps
        .extend(table_keys(poetry.and_then(|p| p.get("dependencies"))).filter(|d| d != "python"));
    m.license = project.is_some_and(|p| p.get("license").is_some() || classifiers_license(p))
        || poetry.and_then(|p| p.get("license")).is_some();
    m.app = project.and_then(|p| p.get("scripts")).is_some();
    m.lint_config = tool.is_some_and(|t| {
        ["ruff", "black", "pylint", "flake8", "isort", "mypy"]
            .iter()
            .any(|k| t.contains_key(*k))
    });
}

fn classifiers_license(project: &toml::Value) -> bool {
    project
        .get("classifiers")
        .and_then(|c| c.as_array())
        .is_some_and(|c| {
            c.iter()
                .filter_map(|v| v.as_str())
                .any(|s| s.starts_with("License ::"))
        })
}

/// Quoted strings of a `setup.py`: crude, enough to spot framework dependencies.
fn quoted_requirements(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(['"', '\''])
        .skip(1)
        .step_by(2)
        .filter_map(requirement_name)
}

/// Parse one manifest. `sibling(path)` says whether a file exists next to it.
pub fn parse_manifest(rel: &str, text: &str, sibling: &dyn Fn(&str) -> bool) -> Manifest {
    let mut m = Manifest {
        rel: rel.to_string(),
        ..Manifest::default()
    };
    let name = known::file_name(rel);
    match name {
        "Cargo.toml" => parse_cargo(&mut m, text, sibling),
        "package.json" => parse_package_json(&mut m, text),
        "pyproject.toml" => parse_pyproject(&mut m, text),
        "setup.py" | "setup.cfg" => {
            m.stack = Some(Stack::Python);
            m.deps.extend(quoted_requirements(text));
            if name == "setup.cfg" {
                m.deps.extend(
                    text.lines()
                        .filter(|l| l.starts_with(char::is_whitespace))
                        .filter_map(requirement_name),
                );
            }
            m.license = text.contains("license");
        }
        "Pipfile" => {
            m.stack = Some(Stack::Python);
            if let Ok(doc) = text.parse::<toml::Table>() {
                m.deps.extend(table_keys(doc.get("packages")));
            }
            m.app = true;
        }
        "manage.py" => {
            m.stack = Some(Stack::Python);
            m.types.insert("django");
            m.app = true;
        }
        "go.mod" => {
            m.stack = Some(Stack::Go);
            m.types.insert("go");
            m.app = text.contains("require");
        }
        "pom.xml" => {
            m.stack = Some(Stack::Java);
            m.types.insert("maven");
            m.license = text.contains("<licenses>");
        }
        "build.gradle" | "build.gradle.kts" | "settings.gradle" | "settings.gradle.kts" => {
            m.stack = Some(Stack::Java);
            m.types.insert("gradle");
        }
        "Gemfile" => {
            m.stack = Some(Stack::Ruby);
            m.types.insert("ruby");
            m.app = true;
            for l in text
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with("gem "))
            {
                if let Some(n) = l[4..].trim().split(['"', '\'']).nth(1) {
                    m.deps.insert(norm(n));
                }
            }
            if m.deps.contains("rails") {
                m.types.insert("rails");
            }
        }
        "composer.json" => {
            m.stack = Some(Stack::Php);
            m.types.insert("php");
            m.license = text.contains("\"license\"");
        }
        n if known::is_requirements(n) => {
            m.stack = Some(Stack::Python);
            m.deps.extend(text.lines().filter_map(requirement_name));
            m.app = true;
        }
        n if n.ends_with(".csproj")
            || n.ends_with(".fsproj")
            || n.ends_with(".vbproj")
            || n.ends_with(".sln") =>
        {
            m.stack = Some(Stack::DotNet);
            m.types.insert("dotnet");
            m.license = text.contains("PackageLicense");
        }
        _ => {}
    }
    if m.stack == Some(Stack::Python) {
        m.types.insert("python");
        for (dep, t) in [
            ("fastapi", "fastapi"),
            ("django", "django"),
            ("flask", "flask"),
        ] {
            if m.deps.contains(dep) {
                m.types.insert(t);
                m.app = true;
            }
        }
    }
    m
}

/// Combine manifests into the project's types and stacks.
pub fn detect(manifests: Vec<Manifest>) -> ProjectInfo {
    let mut all: BTreeSet<&'static str> = BTreeSet::new();
    let mut stacks = BTreeSet::new();
    for m in &manifests {
        all.extend(m.types.iter().copied());
        stacks.extend(m.stack);
    }
    let types = TYPE_ORDER
        .iter()
        .filter(|t| all.contains(*t))
        .map(|t| t.to_string())
        .collect();
    ProjectInfo {
        types,
        stacks,
        manifests,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> bool {
        false
    }

    #[test]
    fn cargo_crate_and_workspace() {
        let m = parse_manifest(
            "Cargo.toml",
            "[package]\nname='a'\nlicense='MIT'\n[dependencies]\nserde_json='1'\n",
            &|p| p == "src/main.rs",
        );
        assert!(m.types.contains("rust") && m.license && m.app && m.deps.contains("serde-json"));
        let w = parse_manifest(
            "Cargo.toml",
            "[workspace]\nmembers=['a']\n[workspace.lints.rust]\nunsafe_code='deny'\n",
            &none,
        );
        assert!(w.types.contains("rust-workspace") && !w.types.contains("rust") && w.lint_config);
    }

    #[test]
    fn node_frameworks() {
        let m = parse_manifest(
            "web/package.json",
            r#"{"private": true, "dependencies": {"next": "14", "react": "18"}}"#,
            &none,
        );
        assert_eq!(
            m.types.iter().copied().collect::<Vec<_>>(),
            vec!["nextjs", "node", "react"]
        );
        assert!(m.app && !m.license);
        let lib = parse_manifest(
            "package.json",
            r#"{"main": "index.js", "license": "MIT", "dependencies": {"express": "4"}}"#,
            &none,
        );
        assert!(!lib.app && lib.license && lib.types.contains("express"));
        let bad = parse_manifest("package.json", "{not json", &none);
        assert!(bad.types.contains("node"));
    }

    #[test]
    fn python_frameworks_from_each_manifest_kind() {
        let p = parse_manifest(
            "pyproject.toml",
            "[project]\nname='x'\ndependencies=['FastAPI>=0.100', 'uvicorn']\n[tool.ruff]\n",
            &none,
        );
        assert!(p.types.contains("fastapi") && p.types.contains("python") && p.lint_config);
        let r = parse_manifest(
            "requirements.txt",
            "# deps\nDjango==4.2\n-r base.txt\n",
            &none,
        );
        assert!(r.types.contains("django"));
        let s = parse_manifest("setup.py", "setup(install_requires=['flask>=2'])", &none);
        assert!(s.types.contains("flask"));
        let g = parse_manifest(
            "Gemfile",
            "source 'https://rubygems.org'\ngem 'rails', '~> 7'\n",
            &none,
        );
        assert!(g.types.contains("rails"));
    }

    #[test]
    fn monorepo_types_are_ordered() {
        let ms = vec![
            parse_manifest(
                "api/pyproject.toml",
                "[project]\ndependencies=['django']\n",
                &none,
            ),
            parse_manifest(
                "web/package.json",
                r#"{"dependencies": {"vue": "3"}}"#,
                &none,
            ),
            parse_manifest("svc/go.mod", "module x\n", &none),
        ];
        let info = detect(ms);
        assert_eq!(info.types, vec!["vue", "django", "go", "python", "node"]);
        assert_eq!(info.stacks.len(), 3);
    }
}
