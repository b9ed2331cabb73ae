//! Security checks on fixture repositories: committed secrets, dangerous CI workflows,
//! Dockerfile practices and framework footguns (positive and negative cases).

use crate::support::repo::*;
use orchestrator_tui::analysis::{Category, Priority};

// Fake credentials are assembled at run time so that no scanner flags this source file.
fn aws() -> String {
    ["AKIA", "Z7QJ4N2MXK5P3WLR"].concat()
}

#[test]
fn committed_secrets_are_critical_first_and_masked() {
    let r = clean_rust();
    r.file("config/prod.py", format!("AWS_KEY = \"{}\"\n", aws()))
        .file("deploy/id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n")
        .file(".gitignore", "/target\n")
        .file(".env", "# local\nDATABASE_URL=postgres://app:Zx81Lq0Pm3Vb6Nc9@db/app\nEMPTY=\n");
    let rep = r.analyze();
    assert_eq!(rep.findings[0].id, "committed-secrets");
    let f = get(&rep, "committed-secrets");
    assert_eq!(
        (f.priority, f.category),
        (Priority::Critical, Category::Security)
    );
    let paths: Vec<_> = f
        .evidence
        .iter()
        .map(|e| (e.path.as_str(), e.line))
        .collect();
    assert_eq!(
        paths,
        vec![
            (".env", Some(2)),
            ("config/prod.py", Some(1)),
            ("deploy/id_rsa", Some(1))
        ]
    );
    let json = serde_json::to_string(&rep).expect("json");
    assert!(
        !json.contains(&aws()) && !json.contains("Zx81Lq0Pm3Vb6Nc9"),
        "secrets must be masked"
    );
    assert!(
        json.contains("AKIA"),
        "the masked form keeps the public prefix"
    );
}

#[test]
fn secret_negatives_templates_examples_and_ignored_env() {
    let r = clean_rust();
    r.file(".env", "API_TOKEN=Zx81Lq0Pm3Vb6Nc9Rt2Y\n") // ignored by .gitignore
        .file(".env.example", "API_TOKEN=Zx81Lq0Pm3Vb6Nc9Rt2Y\n")
        .file(
            "src/doc.py",
            "KEY = \"AKIAIOSFODNN7EXAMPLE\"\napi_key = os.environ[\"API_KEY\"]\n",
        );
    let rep = r.analyze();
    assert!(
        !has(&rep, "committed-secrets") && !has(&rep, "possible-secrets"),
        "{:?}",
        ids(&rep)
    );
}

#[test]
fn high_entropy_assignment_is_a_possible_secret() {
    let r = clean_rust();
    r.file(
        "src/client.js",
        "const apiKey = \"q8Zr2Lm9Xv4Tn7Wp1Ks6\";\n",
    );
    let rep = r.analyze();
    let f = get(&rep, "possible-secrets");
    assert_eq!(f.priority, Priority::High);
    assert_eq!(f.evidence[0].path, "src/client.js");
    assert!(
        !serde_json::to_string(&rep)
            .expect("json")
            .contains("q8Zr2Lm9Xv4Tn7Wp1Ks6")
    );
}

#[test]
fn dangerous_workflows() {
    let r = clean_rust();
    r.file(
        ".github/workflows/pr.yml",
        "on: pull_request_target\npermissions: write-all\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n        with:\n          ref: ${{ github.event.pull_request.head.sha }}\n      - run: echo \"${{ github.event.pull_request.title }}\"\n      - run: cargo test\n",
    );
    let rep = r.analyze();
    assert_eq!(priority(&rep, "ci-pr-target-checkout"), Priority::Critical);
    assert_eq!(get(&rep, "ci-pr-target-checkout").evidence[0].line, Some(9));
    assert_eq!(priority(&rep, "ci-script-injection"), Priority::High);
    assert_eq!(get(&rep, "ci-script-injection").evidence[0].line, Some(10));
    assert_eq!(priority(&rep, "unpinned-actions"), Priority::Medium);
    assert_eq!(
        get(&rep, "workflow-permissions").evidence[0].note,
        "permissions: write-all"
    );
    assert_eq!(ids(&rep)[0], "ci-pr-target-checkout");
}

#[test]
fn safe_workflows_are_not_flagged() {
    let r = clean_rust();
    r.file(
        ".github/workflows/label.yml",
        "on: pull_request_target\npermissions:\n  pull-requests: write\njobs:\n  l:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/labeler@8558fd74291d67161a8a78ce36a881fa63b766a9\n      - run: echo \"$TITLE\"\n        env:\n          TITLE: ${{ github.event.pull_request.title }}\n",
    );
    let rep = r.analyze();
    for id in [
        "ci-pr-target-checkout",
        "ci-script-injection",
        "unpinned-actions",
        "workflow-permissions",
    ] {
        assert!(!has(&rep, id), "{id} in {:?}", ids(&rep));
    }
    let r = clean_rust();
    r.file(
        ".github/workflows/ci.yml",
        CI.replace("permissions:\n  contents: read\n", ""),
    );
    assert!(
        get(&r.analyze(), "workflow-permissions").evidence[0]
            .note
            .contains("no top-level")
    );
}

#[test]
fn dockerfile_practices() {
    let r = clean_rust();
    r.file(
        "Dockerfile",
        "FROM python:3.12\nRUN curl -fsSL https://get.example.sh | sh\nCOPY . /app\n",
    );
    let rep = r.analyze();
    assert_eq!(priority(&rep, "curl-pipe-shell"), Priority::High);
    assert_eq!(priority(&rep, "dockerfile-root-user"), Priority::Medium);
    assert_eq!(priority(&rep, "unpinned-docker-images"), Priority::Low);
    assert_eq!(priority(&rep, "missing-dockerignore"), Priority::Low);
    assert!(!has(&rep, "dockerfile-latest-tag"));

    r.file(
        "Dockerfile",
        "FROM node:latest AS build\nFROM build\nUSER root\n",
    );
    let rep = r.analyze();
    assert!(has(&rep, "dockerfile-latest-tag") && has(&rep, "dockerfile-root-user"));

    let digest = "a".repeat(64);
    r.file(
        "Dockerfile",
        format!(
            "FROM python:3.12@sha256:{digest}\nRUN pip install -r requirements.txt\nUSER app\n"
        ),
    )
    .file(".dockerignore", ".git\n.env\n");
    let rep = r.analyze();
    for id in [
        "curl-pipe-shell",
        "dockerfile-root-user",
        "unpinned-docker-images",
        "missing-dockerignore",
        "dockerfile-latest-tag",
    ] {
        assert!(!has(&rep, id), "{id} in {:?}", ids(&rep));
    }
}

#[test]
fn framework_footguns() {
    let r = clean_rust();
    r.file("app/settings.py", "DEBUG = True\nSECRET_KEY = 'django-insecure-0123456789'\nCORS_ALLOW_ALL_ORIGINS = True\n")
        .file("app/api.py", "app.add_middleware(CORSMiddleware, allow_origins=[\"*\"])\nif __name__ == '__main__':\n    app.run(debug=True)\n")
        .file("web/server.js", "const app = express();\napp.use(cors());\n");
    let rep = r.analyze();
    let d: Vec<_> = get(&rep, "debug-mode-enabled")
        .evidence
        .iter()
        .map(|e| (e.path.as_str(), e.line))
        .collect();
    assert_eq!(
        d,
        vec![("app/api.py", Some(3)), ("app/settings.py", Some(1))]
    );
    assert_eq!(priority(&rep, "hardcoded-secret-key"), Priority::High);
    assert!(
        !serde_json::to_string(&rep)
            .expect("json")
            .contains("django-insecure-0123456789")
    );
    assert_eq!(get(&rep, "cors-wildcard").evidence.len(), 3);

    let r = clean_rust();
    r.file("app/settings.py", "import os\nDEBUG = os.environ.get('DEBUG') == '1'\nSECRET_KEY = os.environ['SECRET_KEY']\n")
        .file("app/api.py", "app.add_middleware(CORSMiddleware, allow_origins=[\"https://example.com\"])\n")
        .file("web/server.js", "app.use(cors({ origin: 'https://example.com' }));\n");
    let rep = r.analyze();
    for id in [
        "debug-mode-enabled",
        "hardcoded-secret-key",
        "cors-wildcard",
    ] {
        assert!(!has(&rep, id), "{id} in {:?}", ids(&rep));
    }
}
