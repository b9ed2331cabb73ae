//! Secrets: known key formats (with `VENDOR_KEYS`, the prefixed-key rules), high-entropy
//! literals assigned to secret-like names, framework secret keys, and the masking every shown
//! text goes through.

use super::{Ctx, HitKind, P, is_ident, is_upper, run_len, trim_ws};
use crate::analysis::languages;

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

pub(super) fn key_pattern(kind: P, data: &[u8], start: usize, exact: &[u8]) -> Option<String> {
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

pub(super) fn secret_assignment(
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
