//! Project types from manifests and dependencies, one fixture per type (positive and negative),
//! and a monorepo that is several at once.

use crate::support::repo::*;

fn types(files: &[(&str, &str)]) -> Vec<String> {
    let r = Repo::new();
    for (p, c) in files {
        r.file(p, c);
    }
    r.analyze().project_types
}

#[test]
fn python_frameworks() {
    assert_eq!(
        types(&[(
            "pyproject.toml",
            "[project]\nname='a'\ndependencies=['fastapi>=0.110', 'uvicorn']\n"
        )]),
        ["fastapi", "python"]
    );
    assert_eq!(
        types(&[("requirements.txt", "Django==5.0\npsycopg\n")]),
        ["django", "python"]
    );
    assert_eq!(
        types(&[
            ("manage.py", "import django\n"),
            ("requirements.txt", "gunicorn\n")
        ]),
        ["django", "python"]
    );
    assert_eq!(
        types(&[(
            "setup.py",
            "from setuptools import setup\nsetup(name='a', install_requires=['Flask>=2'])\n"
        )]),
        ["flask", "python"]
    );
    assert_eq!(
        types(&[(
            "pyproject.toml",
            "[tool.poetry.dependencies]\npython='^3.11'\nflask='^3'\n"
        )]),
        ["flask", "python"]
    );
    // A Python package without a web framework; a framework named only in prose is not a dependency.
    assert_eq!(
        types(&[
            (
                "pyproject.toml",
                "[project]\nname='lib'\ndependencies=['requests']\n"
            ),
            ("README.md", "Works with FastAPI and Django.\n")
        ]),
        ["python"]
    );
}

#[test]
fn javascript_frameworks() {
    assert_eq!(
        types(&[(
            "package.json",
            r#"{"dependencies": {"next": "14", "react": "18", "react-dom": "18"}}"#
        )]),
        ["nextjs", "react", "node"]
    );
    assert_eq!(
        types(&[("package.json", r#"{"dependencies": {"react": "18"}}"#)]),
        ["react", "node"]
    );
    assert_eq!(
        types(&[("package.json", r#"{"dependencies": {"vue": "3"}}"#)]),
        ["vue", "node"]
    );
    assert_eq!(
        types(&[(
            "package.json",
            r#"{"devDependencies": {"@sveltejs/kit": "2", "svelte": "4"}}"#
        )]),
        ["svelte", "node"]
    );
    assert_eq!(
        types(&[("package.json", r#"{"dependencies": {"express": "4"}}"#)]),
        ["express", "node"]
    );
    assert_eq!(
        types(&[(
            "package.json",
            r#"{"name": "lib", "dependencies": {"lodash": "4"}}"#
        )]),
        ["node"]
    );
    // Component files alone do not make a project type.
    assert_eq!(
        types(&[
            ("src/App.jsx", "export default () => <div/>;\n"),
            ("src/App.vue", "<template></template>\n")
        ]),
        Vec::<String>::new()
    );
}

#[test]
fn compiled_ecosystems() {
    assert_eq!(
        types(&[
            ("go.mod", "module example.com/x\n\ngo 1.22\n"),
            ("main.go", "package main\n")
        ]),
        ["go"]
    );
    assert_eq!(
        types(&[("Cargo.toml", "[package]\nname='a'\nversion='0.1.0'\n")]),
        ["rust"]
    );
    assert_eq!(
        types(&[
            ("Cargo.toml", "[workspace]\nmembers=['a']\n"),
            ("a/Cargo.toml", "[package]\nname='a'\n")
        ]),
        ["rust-workspace", "rust"]
    );
    assert_eq!(
        types(&[(
            "pom.xml",
            "<project><modelVersion>4.0.0</modelVersion></project>\n"
        )]),
        ["maven"]
    );
    assert_eq!(
        types(&[("build.gradle.kts", "plugins { java }\n")]),
        ["gradle"]
    );
    assert_eq!(
        types(&[(
            "src/App/App.csproj",
            "<Project Sdk=\"Microsoft.NET.Sdk\"></Project>\n"
        )]),
        ["dotnet"]
    );
    assert_eq!(
        types(&[(
            "Gemfile",
            "source 'https://rubygems.org'\ngem 'rails', '~> 7.1'\n"
        )]),
        ["rails", "ruby"]
    );
    assert_eq!(
        types(&[("Gemfile", "source 'https://rubygems.org'\ngem 'sinatra'\n")]),
        ["ruby"]
    );
    // Source files without a manifest are languages, not project types.
    assert_eq!(
        types(&[("main.go", "package main\n"), ("lib.rs", "fn a() {}\n")]),
        Vec::<String>::new()
    );
}

#[test]
fn monorepo_is_several_types() {
    let r = Repo::new();
    r.file(
        "backend/pyproject.toml",
        "[project]\nname='api'\ndependencies=['fastapi']\n",
    )
    .file(
        "backend/app/main.py",
        "from fastapi import FastAPI\napp = FastAPI()\n",
    )
    .file(
        "frontend/package.json",
        r#"{"private": true, "dependencies": {"next": "14", "react": "18"}}"#,
    )
    .file(
        "frontend/pages/index.tsx",
        "export default function Home() { return null }\n",
    )
    .file("services/worker/go.mod", "module example.com/worker\n")
    .file("tools/cli/Cargo.toml", "[package]\nname='cli'\n")
    .file(
        "examples/express-demo/package.json",
        r#"{"dependencies": {"express": "4"}}"#,
    )
    .file("vendor/lib/Gemfile", "gem 'rails'\n");
    let rep = r.analyze();
    assert_eq!(
        rep.project_types,
        ["nextjs", "react", "fastapi", "rust", "go", "python", "node"],
        "samples and vendored manifests are skipped"
    );
    let langs: Vec<&str> = rep.languages.iter().map(|l| l.name.as_str()).collect();
    for l in ["Python", "TSX", "JSON", "TOML"] {
        assert!(langs.contains(&l), "{l} in {langs:?}");
    }
}
