use super::*;

fn hits(lang: Option<LangId>, name: &str, text: &str) -> (Vec<Hit>, ProbeStats) {
    let mut out = Vec::new();
    let mut stats = ProbeStats::default();
    let ctx = Ctx {
        lang,
        file_name: name,
        file: 0,
        quiet: false,
    };
    scan(text.as_bytes(), 1, &ctx, &mut out, &mut stats);
    (out, stats)
}

// Test-only fake credentials, assembled at run time so no scanner flags this source file.
fn fake(prefix: &str, body: &str) -> String {
    format!("{prefix}{body}")
}

#[test]
fn key_patterns_are_found_and_masked() {
    let aws = fake("AKIA", "Z7QJ4N2MXK5P3WLR");
    let gh = fake("ghp_", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8");
    let text = format!("x = 1\nkey = \"{aws}\"\n# {gh}\n-----BEGIN RSA PRIVATE KEY-----\n");
    let (h, _) = hits(Some(languages::PYTHON), "a.py", &text);
    let lines: Vec<_> = h.iter().map(|h| (h.kind, h.line)).collect();
    assert!(lines.contains(&(HitKind::SecretPattern, 2)), "{h:?}");
    assert!(lines.contains(&(HitKind::SecretPattern, 3)), "{h:?}");
    assert!(lines.contains(&(HitKind::SecretPattern, 4)), "{h:?}");
    for hit in &h {
        assert!(
            !hit.note.contains(&aws) && !hit.note.contains(&gh),
            "{}",
            hit.note
        );
    }
}

#[test]
fn example_and_short_tokens_are_ignored() {
    let (h, _) = hits(
        Some(languages::RUST),
        "a.rs",
        "let k = \"AKIAIOSFODNN7EXAMPLE\"; // ghp_short\n",
    );
    assert!(h.is_empty(), "{h:?}");
}

#[test]
fn high_entropy_assignment_to_secret_name() {
    let (h, _) = hits(
        Some(languages::JAVA_SCRIPT),
        "c.js",
        "const apiKey = \"q8Zr2Lm9Xv4Tn7Wp1Ks6\";\nconst token = \"your-token-here-123456\";\nif (password == \"aB3dE5gH7jK9mN1pQ3\") {}\n",
    );
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!((h[0].kind, h[0].line), (HitKind::SecretAssignment, 1));
    assert!(h[0].note.starts_with("apiKey = q8Zr"), "{}", h[0].note);
    assert!(!h[0].note.contains("q8Zr2Lm9Xv4Tn7Wp1Ks6"));
}

#[test]
fn env_style_values_unquoted() {
    let (h, _) = hits(None, ".env", "DB_PASSWORD=Zx81Lq0Pm3Vb6Nc9Rt2Y\nSECRET=\n");
    assert_eq!(h.len(), 1, "{h:?}");
}

#[test]
fn todo_markers_and_rust_test_module() {
    let (_, s) = hits(
        Some(languages::RUST),
        "lib.rs",
        "// TODO: a\n// FIXME b\nlet todo = 1; // XXX\nlet xxxx = TODOS;\n#[cfg(test)]\nmod tests {}\n",
    );
    assert_eq!(s.todo, 3);
    assert_eq!(s.cfg_test_line, Some(5));
}

#[test]
fn framework_footguns() {
    let (h, _) = hits(
        Some(languages::PYTHON),
        "settings.py",
        "DEBUG = True\nSECRET_KEY = 'django-insecure-abc'\nCORS_ALLOW_ALL_ORIGINS = True\napp.add_middleware(CORSMiddleware, allow_origins=[\"*\"])\napp.run(debug=True)\nSECRET_KEY = os.environ['KEY']\n",
    );
    let kinds: Vec<_> = h.iter().map(|h| (h.kind, h.line)).collect();
    assert_eq!(
        kinds,
        vec![
            (HitKind::DebugEnabled, 1),
            (HitKind::HardcodedSecretKey, 2),
            (HitKind::CorsWildcard, 3),
            (HitKind::CorsWildcard, 4),
            (HitKind::DebugEnabled, 5),
        ]
    );
    let (h, _) = hits(
        Some(languages::JAVA_SCRIPT),
        "app.js",
        "app.use(cors());\napp.use(cors({ origin: 'https://a.b' }));\n",
    );
    assert_eq!(h.len(), 1);
    let (h, _) = hits(
        Some(languages::DOCKERFILE),
        "Dockerfile",
        "RUN curl -fsSL https://x.sh | sudo bash\nRUN curl -o a https://x\n",
    );
    assert_eq!(
        h.iter().map(|h| (h.kind, h.line)).collect::<Vec<_>>(),
        vec![(HitKind::CurlPipeShell, 1)]
    );
}

#[test]
fn entropy_and_mask() {
    assert!(entropy("aaaaaaaa") < 0.01);
    assert!(entropy("q8Zr2Lm9Xv4Tn7Wp1Ks6") > 4.0);
    let m = mask("abcdefghijklmnopqrst");
    assert_eq!(m, "abcd******** (20 chars)");
}

#[test]
fn pem_markers_in_code_and_prose_are_not_keys() {
    let text = "let re = \"-----BEGIN (RSA )?PRIVATE KEY-----\";\nconst TAG: &str = \"-----BEGIN PRIVATE KEY-----\";\nk = \"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\"\n/// with `Access-Control-Allow-Origin: *`\nh.insert(\"Access-Control-Allow-Origin\", \"*\");\n";
    let (h, _) = hits(Some(languages::RUST), "a.rs", text);
    let got: Vec<_> = h.iter().map(|h| (h.kind, h.line)).collect();
    assert_eq!(
        got,
        vec![(HitKind::SecretPattern, 3), (HitKind::CorsWildcard, 5)]
    );
    let (h, _) = hits(
        None,
        "t.json",
        "{\"password\": \"%00%01%02%03%04%05%06%07%08\"}",
    );
    assert!(h.is_empty(), "{h:?}");
}

#[test]
fn framework_keys_debug_and_cursor_rules() {
    let text = "class C:\n    SECRET_KEY = 'django-insecure-abcdefgh'\nSECRET_KEY = 'AWS_SECRET_ACCESS_KEY'\napp.secret_key = 'x9Lm2Qr7Tz4Wv8Kp'\nasyncio.run(main(), debug=True)\n    DEBUG = True\nNextToken = \"eyJOZXh0VG9rZW4iOiAiMTIzIn0x\"\n";
    let (h, _) = hits(Some(languages::PYTHON), "c.py", text);
    assert_eq!(
        h.iter().map(|h| (h.kind, h.line)).collect::<Vec<_>>(),
        vec![(HitKind::HardcodedSecretKey, 4)]
    );
    let (h, _) = hits(
        Some(languages::MARKDOWN),
        "README.md",
        "token = \"q8Zr2Lm9Xv4Tn7Wp1Ks6\"\n",
    );
    assert!(h.is_empty(), "{h:?}");
}

#[test]
fn quoted_lines_are_redacted() {
    let tok = fake("ghp_", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8");
    let line = format!("RUN curl -H \"Authorization: token {tok}\" https://x.example/i.sh | sh");
    let (h, _) = hits(Some(languages::DOCKERFILE), "Dockerfile", &line);
    let curl = h
        .iter()
        .find(|h| h.kind == HitKind::CurlPipeShell)
        .expect("curl hit");
    assert!(
        !curl.note.contains(&tok) && curl.note.contains("ghp_"),
        "{}",
        curl.note
    );
    assert_eq!(
        redact("plain words and x.example/i.sh"),
        "plain words and x.example/i.sh"
    );
}

#[test]
fn vendor_keys_of_ai_and_platform_providers() {
    // Bodies are assembled here so no scanner of this repository sees a whole key.
    let body = |n: usize| -> String {
        "q7Zr2Lp9Xw4Kd8Ns1Vb6Hm3Tc5Gy0Jf"
            .chars()
            .cycle()
            .take(n)
            .collect()
    };
    let letters: String = "qZrLpXwKdNsVbHmTcGyJfA".chars().cycle().take(34).collect();
    let keys = [
        (fake("sk-ant-", &format!("api03-{}", body(90))), "Anthropic"),
        (fake("sk-proj-", &body(120)), "OpenAI"),
        (fake("AIza", &body(35)), "Google"),
        (fake("glpat-", &body(20)), "GitLab"),
        (fake("hf_", &letters), "Hugging Face"),
        (fake("xai-", &body(80)), "xAI"),
    ];
    for (key, vendor) in &keys {
        let (h, _) = hits(Some(languages::PYTHON), "a.py", &format!("k = \"{key}\"\n"));
        let hit = h
            .iter()
            .find(|h| h.kind == HitKind::SecretPattern)
            .unwrap_or_else(|| panic!("{vendor}: {h:?}"));
        assert!(hit.note.starts_with(vendor), "{}", hit.note);
        assert!(!hit.note.contains(key.as_str()), "masked: {}", hit.note);
    }
    // Too short, wrong length, placeholders, or inside a longer word: not keys.
    for text in [
        fake("sk-ant-", "api03-short"),
        fake("AIza", &body(30)),
        fake("hf_", "your_token_here_your_token_here_xx"),
        fake("glpat-", "xxxxxxxxxxxxxxxxxxxxxxxx"),
        format!("shelf{}", fake("hf_", &letters)),
    ] {
        let (h, _) = hits(
            Some(languages::PYTHON),
            "a.py",
            &format!("k = \"{text}\"\n"),
        );
        assert!(
            h.iter().all(|h| h.kind != HitKind::SecretPattern),
            "{text}: {h:?}"
        );
    }
}

#[test]
fn cors_in_prose_is_not_a_finding() {
    let table = "| Header | Value |\n|---|---|\n| \"Access-Control-Allow-Origin\": \"*\" | any |\n";
    let (h, _) = hits(Some(languages::MARKDOWN), "NOTES.md", table);
    assert!(h.iter().all(|h| h.kind != HitKind::CorsWildcard), "{h:?}");
    let js = "res.setHeader(\"Access-Control-Allow-Origin\", \"*\");\n";
    let (h, _) = hits(Some(languages::JAVA_SCRIPT), "server.js", js);
    assert!(h.iter().any(|h| h.kind == HitKind::CorsWildcard), "{h:?}");
}
