//! Well-known repository files: manifests, lock files, CI, docs, community files, linter configs,
//! secrets-bearing files, test paths and binary artefacts. Paths are relative, `/`-separated.

/// Folders never walked.
pub const SKIP_DIRS: &[&str] = &[
    ".git",
    "node_modules",
    "target",
    ".venv",
    "venv",
    "__pycache__",
    "dist",
    "build",
    ".next",
];

/// Project ignore file honoured besides `.gitignore` and `.ignore`.
pub const IGNORE_FILE: &str = ".analyzerignore";

pub const MANIFESTS: &[&str] = &[
    "Cargo.toml",
    "package.json",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "Pipfile",
    "go.mod",
    "pom.xml",
    "build.gradle",
    "build.gradle.kts",
    "settings.gradle",
    "settings.gradle.kts",
    "Gemfile",
    "composer.json",
    "manage.py",
];

pub const LOCKFILES: &[&str] = &[
    "Cargo.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "bun.lock",
    "uv.lock",
    "poetry.lock",
    "Pipfile.lock",
    "pdm.lock",
    "go.sum",
    "Gemfile.lock",
    "composer.lock",
    "packages.lock.json",
    "gradle.lockfile",
];

pub const BINARY_EXTS: &[&str] = &[
    "exe", "dll", "so", "dylib", "o", "obj", "a", "lib", "class", "jar", "war", "pyc", "pyo",
    "whl", "egg", "zip", "tar", "gz", "tgz", "bz2", "xz", "7z", "rar", "bin", "dmg", "iso", "msi",
    "deb", "rpm", "apk", "wasm", "node", "pdb",
];

/// Binary files that usually hold keys.
pub const KEYSTORE_EXTS: &[&str] = &["p12", "pfx", "jks", "keystore"];

fn lower_ext(name: &str) -> Option<String> {
    super::languages::extension(name).map(|e| e.to_ascii_lowercase())
}

pub fn is_binary_ext(name: &str) -> bool {
    lower_ext(name).is_some_and(|e| BINARY_EXTS.contains(&e.as_str()))
}

pub fn is_keystore(name: &str) -> bool {
    lower_ext(name).is_some_and(|e| KEYSTORE_EXTS.contains(&e.as_str()))
}

/// `.env`, `.env.local`, `.env.production`: but not the documented templates.
pub fn is_env_file(name: &str) -> bool {
    let templ = [
        "example", "sample", "template", "dist", "defaults", "schema", "test",
    ];
    (name == ".env" || name.starts_with(".env."))
        && !templ.iter().any(|t| name.to_ascii_lowercase().ends_with(t))
}

pub fn is_private_key_name(name: &str) -> bool {
    matches!(name, "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519")
}

/// Files read for secrets even without a language.
pub fn is_sensitive(name: &str) -> bool {
    is_env_file(name)
        || is_private_key_name(name)
        || matches!(
            name,
            ".npmrc" | ".pypirc" | ".netrc" | ".git-credentials" | ".htpasswd"
        )
        || lower_ext(name).is_some_and(|e| {
            matches!(
                e.as_str(),
                "pem" | "key" | "properties" | "cfg" | "conf" | "env" | "ppk"
            )
        })
}

pub fn is_workflow(rel: &str) -> bool {
    rel.starts_with(".github/workflows/") && (rel.ends_with(".yml") || rel.ends_with(".yaml"))
}

/// CI configuration files of any provider.
pub fn is_ci(rel: &str) -> bool {
    is_workflow(rel)
        || matches!(
            rel,
            ".gitlab-ci.yml"
                | ".circleci/config.yml"
                | "azure-pipelines.yml"
                | ".travis.yml"
                | "Jenkinsfile"
                | "bitbucket-pipelines.yml"
                | ".drone.yml"
                | ".buildkite/pipeline.yml"
                | ".woodpecker.yml"
                | "appveyor.yml"
                | ".appveyor.yml"
        )
}

pub fn is_dockerfile(name: &str) -> bool {
    name == "Dockerfile" || name.starts_with("Dockerfile.") || name.ends_with(".dockerfile")
}

pub fn is_manifest(name: &str) -> bool {
    MANIFESTS.contains(&name)
        || is_requirements(name)
        || name.ends_with(".csproj")
        || name.ends_with(".fsproj")
        || name.ends_with(".vbproj")
        || name.ends_with(".sln")
}

pub fn is_requirements(name: &str) -> bool {
    name.starts_with("requirements") && name.ends_with(".txt")
}

pub fn depth(rel: &str) -> usize {
    rel.matches('/').count()
}

pub fn file_name(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

fn stem_upper(name: &str) -> String {
    name.split('.').next().unwrap_or(name).to_ascii_uppercase()
}

pub fn is_readme(rel: &str) -> bool {
    depth(rel) == 0 && stem_upper(rel) == "README"
}

pub fn is_license(rel: &str) -> bool {
    let s = stem_upper(file_name(rel));
    depth(rel) == 0
        && (s.starts_with("LICENSE") || s.starts_with("LICENCE") || s.starts_with("COPYING"))
}

/// Community files may live at the root, in `.github/` or in `docs/`.
pub fn community_kind(rel: &str) -> Option<&'static str> {
    let dir_ok = depth(rel) == 0
        || (depth(rel) == 1 && (rel.starts_with(".github/") || rel.starts_with("docs/")));
    if !dir_ok {
        return None;
    }
    let s = stem_upper(file_name(rel));
    Some(match s.as_str() {
        "CONTRIBUTING" => "CONTRIBUTING",
        "SECURITY" => "SECURITY",
        "CHANGELOG" | "CHANGES" | "HISTORY" | "NEWS" | "RELEASES" => "CHANGELOG",
        "CODE_OF_CONDUCT" => "CODE_OF_CONDUCT",
        _ => return None,
    })
}

pub fn is_dependency_bot(rel: &str) -> bool {
    matches!(
        rel,
        ".github/dependabot.yml"
            | ".github/dependabot.yaml"
            | "renovate.json"
            | "renovate.json5"
            | ".renovaterc"
            | ".renovaterc.json"
            | ".github/renovate.json"
            | ".github/renovate.json5"
            | ".gitlab/renovate.json"
    )
}

/// Linter or formatter configuration: (stack it serves, or "any").
pub fn linter_config(name: &str) -> Option<&'static str> {
    Some(match name {
        ".editorconfig" | ".pre-commit-config.yaml" | ".pre-commit-config.yml" | ".trunk" => "any",
        "ruff.toml" | ".ruff.toml" | ".flake8" | ".pylintrc" | "pylintrc" | "mypy.ini"
        | ".isort.cfg" => "python",
        "rustfmt.toml" | ".rustfmt.toml" | "clippy.toml" | ".clippy.toml" => "rust",
        ".golangci.yml" | ".golangci.yaml" | ".golangci.toml" | ".golangci.json" => "go",
        "biome.json"
        | "biome.jsonc"
        | "deno.json"
        | ".prettierrc"
        | ".prettierrc.json"
        | ".prettierrc.yml"
        | ".prettierrc.yaml"
        | ".prettierrc.js"
        | ".prettierrc.cjs"
        | "prettier.config.js"
        | "prettier.config.cjs"
        | "prettier.config.mjs" => "node",
        ".rubocop.yml" | ".standard.yml" => "ruby",
        "checkstyle.xml" | ".scalafmt.conf" | "detekt.yml" | "spotless.gradle" => "java",
        ".clang-format" | ".clang-tidy" => "c",
        "phpcs.xml" | "phpcs.xml.dist" | ".php-cs-fixer.php" | "phpstan.neon" => "php",
        "Directory.Build.props" | ".globalconfig" => "dotnet",
        n if n.starts_with(".eslintrc") || n.starts_with("eslint.config.") => "node",
        _ => return None,
    })
}

/// A docs site or docs folder marker.
pub fn is_docs_marker(rel: &str) -> bool {
    let top = rel.split('/').next().unwrap_or("");
    (depth(rel) >= 1 && matches!(top, "docs" | "doc" | "documentation" | "website"))
        || matches!(
            rel,
            "mkdocs.yml"
                | "mkdocs.yaml"
                | "book.toml"
                | ".readthedocs.yml"
                | ".readthedocs.yaml"
                | "antora.yml"
                | "typedoc.json"
                | "Doxyfile"
                | "conf.py"
        )
        || file_name(rel).starts_with("docusaurus.config.")
}

/// Test folders and test file names of the common stacks.
pub fn is_test_path(rel: &str) -> bool {
    let mut parts = rel.split('/').peekable();
    while let Some(p) = parts.next() {
        if parts.peek().is_none() {
            return is_test_file_name(p);
        }
        if matches!(
            p,
            "tests" | "test" | "__tests__" | "spec" | "specs" | "testing" | "e2e"
        ) {
            return true;
        }
    }
    false
}

fn is_test_file_name(n: &str) -> bool {
    let stem = n.split('.').next().unwrap_or(n);
    let mid = |s: &str| n.contains(s);
    (n.starts_with("test_") && n.ends_with(".py"))
        || n.ends_with("_test.py")
        || n == "conftest.py"
        || n.ends_with("_test.go")
        || mid(".test.")
        || mid(".spec.")
        || n.ends_with("_spec.rb")
        || n.ends_with("_test.rb")
        || ((stem.ends_with("Test") || stem.ends_with("Tests") || stem.ends_with("IT"))
            && (n.ends_with(".java")
                || n.ends_with(".kt")
                || n.ends_with(".cs")
                || n.ends_with(".scala")))
        || (stem.ends_with("Tests") && n.ends_with(".swift"))
}

/// Paths whose manifests are samples, not the project: skipped for project types.
pub fn is_sample_path(rel: &str) -> bool {
    rel.split('/').any(|p| {
        matches!(
            p,
            "fixtures"
                | "fixture"
                | "testdata"
                | "test-data"
                | "examples"
                | "example"
                | "vendor"
                | "third_party"
                | "third-party"
                | "samples"
        )
    })
}

/// Files whose content the checks need after the walk.
pub fn capture(rel: &str, name: &str) -> bool {
    (is_manifest(name) && !is_sample_path(rel))
        || is_ci(rel)
        || is_dockerfile(name)
        || is_readme(rel)
        || rel == ".gitignore"
        || is_env_file(name)
        || matches!(
            name,
            "next.config.js" | "next.config.mjs" | "next.config.ts"
        )
}

/// "ELF", "PE" or "Mach-O" from the first bytes.
pub fn binary_magic(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x7fELF") {
        Some("ELF")
    } else if head.starts_with(b"MZ") && head.len() >= 64 {
        let off = u32::from_le_bytes([head[60], head[61], head[62], head[63]]) as usize;
        head.get(off..off + 4)
            .filter(|s| *s == b"PE\0\0")
            .map(|_| "PE")
    } else if [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xcf, 0xfa, 0xed, 0xfe],
    ]
    .iter()
    .any(|m| head.starts_with(m))
    {
        Some("Mach-O")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        assert!(is_test_path("tests/it.rs"));
        assert!(is_test_path("pkg/foo_test.go"));
        assert!(is_test_path("src/app.test.tsx"));
        assert!(is_test_path("src/test_app.py"));
        assert!(is_test_path("src/main/java/FooTest.java"));
        assert!(!is_test_path("src/testing_utils.rs"));
        assert!(!is_test_path("src/contest.py"));
        assert!(is_env_file(".env") && is_env_file(".env.local"));
        assert!(!is_env_file(".env.example") && !is_env_file(".envrc"));
        assert!(is_readme("README.md") && !is_readme("docs/README.md"));
        assert!(is_license("LICENSE-MIT") && is_license("COPYING"));
        assert_eq!(community_kind(".github/SECURITY.md"), Some("SECURITY"));
        assert_eq!(community_kind("src/CHANGELOG.md"), None);
        assert!(is_ci(".github/workflows/ci.yml") && !is_ci(".github/dependabot.yml"));
        assert!(is_docs_marker("docs/index.md") && !is_docs_marker("docs"));
        assert_eq!(linter_config(".eslintrc.json"), Some("node"));
        assert!(is_sample_path("examples/app/package.json"));
    }

    #[test]
    fn magic_bytes() {
        assert_eq!(binary_magic(b"\x7fELF\x02\x01"), Some("ELF"));
        let mut pe = vec![0u8; 128];
        pe[0] = b'M';
        pe[1] = b'Z';
        pe[60] = 64;
        pe[64..68].copy_from_slice(b"PE\0\0");
        assert_eq!(binary_magic(&pe), Some("PE"));
        assert_eq!(binary_magic(b"MZ short"), None);
        assert_eq!(binary_magic(&[0xcf, 0xfa, 0xed, 0xfe, 7]), Some("Mach-O"));
        assert_eq!(binary_magic(b"#!/bin/sh"), None);
    }
}
