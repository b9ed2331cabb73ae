//! Content probes run once over each text file with one Aho-Corasick automaton: secret patterns,
//! secret-like assignments, TODO markers, framework footguns, `curl | sh`, Rust test modules.
//! A secret never leaves this module unmasked.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::languages::{self, LangId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HitKind {
    /// A known credential format (AWS, GitHub, Slack, Stripe, Anthropic, OpenAI, Google, GitLab,
    /// Hugging Face, xAI) or a private key block.
    SecretPattern,
    /// A high-entropy literal assigned to a secret-like name.
    SecretAssignment,
    DebugEnabled,
    HardcodedSecretKey,
    CorsWildcard,
    CurlPipeShell,
}

#[derive(Clone, Debug)]
pub struct Hit {
    pub kind: HitKind,
    pub file: u32,
    pub line: u32,
    /// Human note; secrets appear masked.
    pub note: String,
}

/// Per-file counters the probes maintain.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProbeStats {
    pub todo: u32,
    /// First `#[cfg(test)]` line of a Rust file.
    pub cfg_test_line: Option<u32>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum P {
    Aws,
    PrivateKey,
    GitHub,
    GitHubPat,
    Slack,
    Stripe,
    /// A prefixed AI or platform key (`VENDOR_KEYS`).
    Vendor,
    SecretName,
    Todo,
    CfgTest,
    Debug,
    SecretKey,
    Cors,
    CorsAll,
    AllowOrigin,
    CorsCall,
    Curl,
}

/// Case-sensitive (with the usual spellings of each name) so that the automaton keeps its fast
/// SIMD prefilter.
const PATTERNS: &[(&str, P)] = &[
    ("AKIA", P::Aws),
    ("ASIA", P::Aws),
    ("-----BEGIN ", P::PrivateKey),
    ("github_pat_", P::GitHubPat),
    ("ghp_", P::GitHub),
    ("gho_", P::GitHub),
    ("ghu_", P::GitHub),
    ("ghs_", P::GitHub),
    ("ghr_", P::GitHub),
    ("xoxb-", P::Slack),
    ("xoxa-", P::Slack),
    ("xoxp-", P::Slack),
    ("xoxr-", P::Slack),
    ("xoxs-", P::Slack),
    ("sk_live_", P::Stripe),
    ("rk_live_", P::Stripe),
    ("sk-ant-", P::Vendor),
    ("sk-proj-", P::Vendor),
    ("AIza", P::Vendor),
    ("glpat-", P::Vendor),
    ("hf_", P::Vendor),
    ("xai-", P::Vendor),
    ("SECRET_KEY", P::SecretKey),
    ("secret_key", P::SecretKey),
    ("secret", P::SecretName),
    ("Secret", P::SecretName),
    ("SECRET", P::SecretName),
    ("password", P::SecretName),
    ("Password", P::SecretName),
    ("PASSWORD", P::SecretName),
    ("passwd", P::SecretName),
    ("PASSWD", P::SecretName),
    ("api_key", P::SecretName),
    ("apiKey", P::SecretName),
    ("ApiKey", P::SecretName),
    ("API_KEY", P::SecretName),
    ("apikey", P::SecretName),
    ("APIKEY", P::SecretName),
    ("api-key", P::SecretName),
    ("access_key", P::SecretName),
    ("accessKey", P::SecretName),
    ("ACCESS_KEY", P::SecretName),
    ("private_key", P::SecretName),
    ("privateKey", P::SecretName),
    ("PRIVATE_KEY", P::SecretName),
    ("token", P::SecretName),
    ("Token", P::SecretName),
    ("TOKEN", P::SecretName),
    ("TODO", P::Todo),
    ("FIXME", P::Todo),
    ("HACK", P::Todo),
    ("XXX", P::Todo),
    ("#[cfg(test)]", P::CfgTest),
    ("DEBUG = True", P::Debug),
    ("DEBUG=True", P::Debug),
    ("debug=True", P::Debug),
    ("allow_origins", P::Cors),
    ("CORS_ALLOW_ALL_ORIGINS", P::CorsAll),
    ("CORS_ORIGIN_ALLOW_ALL", P::CorsAll),
    ("Access-Control-Allow-Origin", P::AllowOrigin),
    ("access-control-allow-origin", P::AllowOrigin),
    ("cors(", P::CorsCall),
    ("curl ", P::Curl),
    ("wget ", P::Curl),
];

// An automaton of no patterns always builds: the `expect` below cannot fire.
#[allow(clippy::expect_used)]
fn automaton() -> &'static AhoCorasick {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| {
        AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostFirst)
            .build(PATTERNS.iter().map(|(p, _)| p))
            .unwrap_or_else(|_| AhoCorasick::new::<_, &str>([]).expect("empty automaton"))
    })
}

/// What the probes need to know about the file.
pub struct Ctx<'a> {
    pub lang: Option<LangId>,
    pub file_name: &'a str,
    pub file: u32,
    /// Lock files and minified bundles: only key patterns are looked for.
    pub quiet: bool,
}

/// Scan a block of complete lines; `base_line` is the 1-based number of its first line.
pub fn scan(data: &[u8], base_line: u32, ctx: &Ctx, out: &mut Vec<Hit>, stats: &mut ProbeStats) {
    let mut line = base_line;
    let mut counted_to = 0;
    let mut last_hit_line = (0u32, None::<HitKind>);
    for m in automaton().find_iter(data) {
        let (start, end) = (m.start(), m.end());
        line += memchr::memchr_iter(b'\n', &data[counted_to..start]).count() as u32;
        counted_to = start;
        let ls = memchr::memrchr(b'\n', &data[..start]).map_or(0, |p| p + 1);
        let le = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |p| start + p);
        let text = &data[ls..le];
        let at = start - ls;
        let kind = PATTERNS[m.pattern().as_usize()].1;
        let exact = &data[start..end];
        let found = match kind {
            P::Todo => {
                if is_upper(exact) && word_bounded(data, start, end) {
                    stats.todo += 1;
                }
                None
            }
            P::CfgTest => {
                if ctx.lang == Some(languages::RUST) && stats.cfg_test_line.is_none() {
                    stats.cfg_test_line = Some(line);
                }
                None
            }
            P::Aws
            | P::PrivateKey
            | P::GitHub
            | P::GitHubPat
            | P::Slack
            | P::Stripe
            | P::Vendor => {
                key_pattern(kind, data, start, exact).map(|note| (HitKind::SecretPattern, note))
            }
            _ if ctx.quiet => None,
            P::SecretName | P::SecretKey => secret_assignment(kind, ctx, text, at, end - start),
            P::Debug => debug_enabled(ctx, text, exact).map(|n| (HitKind::DebugEnabled, n)),
            P::Cors | P::CorsAll | P::AllowOrigin | P::CorsCall => {
                cors_wildcard(kind, ctx, text, at, exact).map(|n| (HitKind::CorsWildcard, n))
            }
            P::Curl => curl_pipe(ctx, text, at).map(|n| (HitKind::CurlPipeShell, n)),
        };
        if let Some((kind, note)) = found {
            // One hit of a kind per line is enough evidence.
            if last_hit_line != (line, Some(kind)) {
                last_hit_line = (line, Some(kind));
                out.push(Hit {
                    kind,
                    file: ctx.file,
                    line,
                    note,
                });
            }
        }
    }
}

fn is_upper(s: &[u8]) -> bool {
    s.iter().all(|b| !b.is_ascii_lowercase())
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn word_bounded(data: &[u8], start: usize, end: usize) -> bool {
    (start == 0 || !is_ident(data[start - 1])) && data.get(end).is_none_or(|&b| !is_ident(b))
}

/// Show a few leading characters and the length, never the secret itself.
pub fn mask(secret: &str) -> String {
    let n = secret.chars().count();
    let keep = (n / 5).min(4);
    let head: String = secret.chars().take(keep).collect();
    format!("{head}{} ({n} chars)", "*".repeat(8))
}

/// Mask every random-looking token (16+ characters of a token alphabet) in a text that is shown.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if looks_random(token) {
            out.push_str(&mask(token));
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-' | '.') {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

/// A source line for evidence: trimmed, at most 120 characters, secrets masked.
pub fn quote_line(text: &[u8]) -> String {
    let line: String = String::from_utf8_lossy(trim_ws(text))
        .chars()
        .take(120)
        .collect();
    redact(&line)
}

fn run_len(data: &[u8], from: usize, ok: impl Fn(u8) -> bool) -> usize {
    data[from.min(data.len())..]
        .iter()
        .take_while(|&&b| ok(b))
        .count()
}

fn key_pattern(kind: P, data: &[u8], start: usize, exact: &[u8]) -> Option<String> {
    let prefix_ok = start == 0 || !data[start - 1].is_ascii_alphanumeric();
    let end = start + exact.len();
    let token = |len: usize| String::from_utf8_lossy(&data[start..start + len]).into_owned();
    match kind {
        P::Aws => {
            let n = run_len(data, end, |b| b.is_ascii_uppercase() || b.is_ascii_digit());
            if !prefix_ok || !is_upper(exact) || n != 16 {
                return None;
            }
            let t = token(20);
            (!t.contains("EXAMPLE")).then(|| format!("AWS access key id {}", mask(&t)))
        }
        P::PrivateKey => {
            // `-----BEGIN [A-Z ]*PRIVATE KEY-----` then the end of the line or an escaped newline
            // and key material: not a regex or a marker constant in a PEM parser.
            let line_end = memchr::memchr(b'\n', &data[end..]).map_or(data.len(), |p| end + p);
            let rest = &data[end..line_end];
            let at = memchr::memmem::find(rest, b"PRIVATE KEY-----")?;
            let kind = &rest[..at];
            let after = &rest[at + 16..];
            let body = |s: &[u8]| {
                s.first()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
            };
            let followed = trim_ws(after).is_empty()
                || after.strip_prefix(b"\\n").is_some_and(body)
                || after.strip_prefix(b"\\r\\n").is_some_and(body);
            (kind.iter().all(|b| b.is_ascii_uppercase() || *b == b' ') && followed).then(|| {
                format!(
                    "private key block ({}PRIVATE KEY)",
                    String::from_utf8_lossy(kind)
                )
            })
        }
        P::GitHub | P::GitHubPat => {
            let (n, min) = if kind == P::GitHubPat {
                (
                    run_len(data, end, |b| b.is_ascii_alphanumeric() || b == b'_'),
                    22,
                )
            } else {
                (run_len(data, end, |b| b.is_ascii_alphanumeric()), 36)
            };
            (prefix_ok && exact.iter().all(|b| !b.is_ascii_uppercase()) && n >= min)
                .then(|| format!("GitHub token {}", mask(&token(exact.len() + n))))
        }
        P::Slack => {
            let n = run_len(data, end, |b| b.is_ascii_alphanumeric() || b == b'-');
            (prefix_ok && exact.iter().all(|b| !b.is_ascii_uppercase()) && n >= 10)
                .then(|| format!("Slack token {}", mask(&token(exact.len() + n))))
        }
        P::Vendor => vendor_key(data, start, exact).filter(|_| prefix_ok),
        _ => {
            let n = run_len(data, end, |b| b.is_ascii_alphanumeric());
            (prefix_ok && exact.iter().all(|b| !b.is_ascii_uppercase()) && n >= 16)
                .then(|| format!("Stripe live key {}", mask(&token(exact.len() + n))))
        }
    }
}

/// A prefixed key format: (prefix, name, body alphabet takes `-`, minimum body length, exact
/// length).
type VendorKey = (&'static [u8], &'static str, bool, usize, Option<usize>);

/// Prefixed keys.
/// Lengths follow the published formats (gitleaks' rules agree): Google keys are `AIza` + 35,
/// Hugging Face `hf_` + 34 letters, GitLab `glpat-` + 20 or more; the others are long.
const VENDOR_KEYS: &[VendorKey] = &[
    (b"sk-ant-", "Anthropic API key", true, 80, None),
    (b"sk-proj-", "OpenAI project key", true, 40, None),
    (b"AIza", "Google API key", true, 35, Some(35)),
    (b"glpat-", "GitLab token", true, 20, None),
    (b"hf_", "Hugging Face token", false, 30, None),
    (b"xai-", "xAI API key", false, 50, None),
];

fn vendor_key(data: &[u8], start: usize, exact: &[u8]) -> Option<String> {
    let &(_, name, dash, min, len) = VENDOR_KEYS.iter().find(|k| k.0 == exact)?;
    let end = start + exact.len();
    let n = run_len(data, end, |b| {
        b.is_ascii_alphanumeric() || b == b'_' || (dash && b == b'-')
    });
    if n < min || len.is_some_and(|l| n != l) {
        return None;
    }
    let body = String::from_utf8_lossy(&data[end..end + n]);
    let lower = body.to_ascii_lowercase();
    // Placeholders (`sk-ant-xxxx...`, `hf_your_token_here...`) are not keys.
    let placeholder = [
        "xxxx",
        "example",
        "your",
        "dummy",
        "placeholder",
        "redacted",
    ]
    .iter()
    .any(|p| lower.contains(p));
    (!placeholder && entropy(&body) >= 3.0).then(|| {
        let token = String::from_utf8_lossy(&data[start..end + n]);
        format!("{name} {}", mask(&token))
    })
}

fn trim_ws(s: &[u8]) -> &[u8] {
    super::counter::trim(s)
}

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut freq = [0u32; 256];
    for b in s.bytes() {
        freq[b as usize] += 1;
    }
    let n = s.len() as f64;
    freq.iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// A literal value assigned after `at..at+len` on the line: `name = "value"`, `name: 'value'`,
/// `"name": "value"`, or `NAME=value` in env-style files.
fn assigned_literal(text: &[u8], after: usize, env_style: bool) -> Option<&[u8]> {
    let mut i = after + run_len(text, after, |b| is_ident(b) || b == b'-' || b == b'.');
    i += run_len(text, i, |b| {
        b == b'"' || b == b'\'' || b == b' ' || b == b'\t'
    });
    let op = run_len(text, i, |b| b == b'=' || b == b':' || b == b'>');
    if op == 0 || op > 2 || text[i..].starts_with(b"==") {
        return None;
    }
    i += op;
    i += run_len(text, i, |b| b == b' ' || b == b'\t');
    match text.get(i) {
        Some(&q @ (b'"' | b'\'' | b'`')) => {
            let len = memchr::memchr(q, &text[i + 1..])?;
            Some(&text[i + 1..i + 1 + len])
        }
        Some(_) if env_style => Some(trim_ws(&text[i..])),
        _ => None,
    }
}

fn looks_random(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    let placeholder = [
        "example",
        "changeme",
        "your",
        "xxxx",
        "dummy",
        "placeholder",
        "redacted",
        "test",
    ]
    .iter()
    .any(|p| lower.contains(p));
    let templated = ["${", "{{", "%(", "<", "$(", "process.env", "os.environ"]
        .iter()
        .any(|p| v.contains(p));
    let token_chars = v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-' | b'.'));
    token_chars
        && v.len() >= 16
        && v.len() <= 256
        && !placeholder
        && !templated
        && !v.contains(' ')
        && v.bytes().any(|b| b.is_ascii_digit())
        && v.bytes().any(|b| b.is_ascii_alphabetic())
        && entropy(v) >= 3.5
}

fn secret_assignment(
    kind: P,
    ctx: &Ctx,
    text: &[u8],
    at: usize,
    len: usize,
) -> Option<(HitKind, String)> {
    let env_style = ctx.file_name.starts_with(".env")
        || matches!(ctx.lang, None | Some(languages::YAML | languages::INI));
    let value = assigned_literal(text, at + len, env_style)?;
    let is_python = ctx.lang == Some(languages::PYTHON);
    if kind == P::SecretKey && is_python {
        return framework_secret_key(text, at, value);
    }
    // Prose (docs, READMEs) is full of sample values; key formats are still checked there.
    let prose = ctx
        .lang
        .is_some_and(|l| languages::get(l).class == languages::Class::Prose);
    if value.len() < 16 || prose {
        return None;
    }
    let name_start = at
        - text[..at]
            .iter()
            .rev()
            .take_while(|&&b| is_ident(b))
            .count();
    let name =
        String::from_utf8_lossy(&text[name_start..at + len + run_len(text, at + len, is_ident)]);
    let lower = name.to_ascii_lowercase();
    // Pagination cursors and the like are not credentials.
    if ["next", "page", "continuation", "cursor", "marker", "csrf"]
        .iter()
        .any(|w| lower.contains(w))
    {
        return None;
    }
    let value = String::from_utf8_lossy(value);
    looks_random(&value).then(|| {
        (
            HitKind::SecretAssignment,
            format!("{name} = {}", mask(&value)),
        )
    })
}

/// Django's module-level `SECRET_KEY = '...'`, Flask's `app.secret_key = '...'` or
/// `app.config['SECRET_KEY'] = '...'`: a literal, not an environment variable's name.
fn framework_secret_key(text: &[u8], at: usize, value: &[u8]) -> Option<(HitKind, String)> {
    let module_level = at == 0 && text.starts_with(b"SECRET_KEY");
    let flask =
        text[..at].ends_with(b".") || text[..at].ends_with(b"['") || text[..at].ends_with(b"[\"");
    let env_name = value
        .iter()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_');
    if !(module_level || flask) || value.len() < 8 || env_name {
        return None;
    }
    let value = String::from_utf8_lossy(value);
    Some((
        HitKind::HardcodedSecretKey,
        format!("SECRET_KEY = {}", mask(&value)),
    ))
}

fn debug_enabled(ctx: &Ctx, text: &[u8], exact: &[u8]) -> Option<String> {
    if ctx.lang != Some(languages::PYTHON) {
        return None;
    }
    if exact.starts_with(b"DEBUG") {
        // A module-level setting (Django settings, Flask config), not an indented example.
        return text
            .starts_with(b"DEBUG")
            .then(|| "DEBUG = True".to_string());
    }
    let t = trim_ws(text);
    let call = [&b"app.run("[..], b"FastAPI(", b"Flask(", b"uvicorn.run("]
        .iter()
        .any(|c| memchr::memmem::find(t, c).is_some());
    (exact == b"debug=True" && call).then(|| quote_line(t))
}

fn cors_wildcard(kind: P, ctx: &Ctx, text: &[u8], at: usize, exact: &[u8]) -> Option<String> {
    // Code and config only: a Markdown table or notes about the header configure nothing.
    let class = languages::get(ctx.lang?).class;
    if matches!(class, languages::Class::Prose) {
        return None;
    }
    let rest = &text[at..];
    let star = |s: &[u8]| {
        [&b"\"*\""[..], b"'*'", b": *", b":*"]
            .iter()
            .any(|p| memchr::memmem::find(s, p).is_some())
    };
    let hit = match kind {
        P::Cors => ctx.lang == Some(languages::PYTHON) && star(rest),
        P::CorsAll => {
            ctx.lang == Some(languages::PYTHON) && memchr::memmem::find(rest, b"True").is_some()
        }
        // In a string literal (a header being set), not prose about the header.
        P::AllowOrigin => at > 0 && matches!(text[at - 1], b'"' | b'\'') && star(rest),
        _ => {
            let js = matches!(
                ctx.lang,
                Some(
                    languages::JAVA_SCRIPT
                        | languages::TYPE_SCRIPT
                        | languages::JSX
                        | languages::TSX
                )
            );
            js && exact == b"cors("
                && (at == 0 || !is_ident(text[at - 1]))
                && (rest.starts_with(b"cors()") || star(rest))
        }
    };
    hit.then(|| quote_line(text))
}

fn curl_pipe(ctx: &Ctx, text: &[u8], at: usize) -> Option<String> {
    let scripted = match ctx.lang {
        Some(l) => matches!(
            l,
            languages::SH
                | languages::BASH
                | languages::ZSH
                | languages::DOCKERFILE
                | languages::MAKEFILE
                | languages::YAML
                | languages::JUST
        ),
        None => false,
    } || ctx.file_name.starts_with("Dockerfile");
    if !scripted {
        return None;
    }
    let rest = &text[at..];
    let pipe = memchr::memchr(b'|', rest)?;
    let after = trim_ws(&rest[pipe + 1..]);
    let after = after.strip_prefix(b"sudo ").map_or(after, trim_ws);
    let shells: [&[u8]; 5] = [b"sh", b"bash", b"zsh", b"python", b"/bin/"];
    shells
        .iter()
        .any(|s| after.starts_with(s))
        .then(|| quote_line(text))
}

#[cfg(test)]
#[path = "probes_tests.rs"]
mod tests;
