//! Content probes run once over each text file with one Aho-Corasick automaton: secret patterns,
//! secret-like assignments, TODO markers, framework footguns, `curl | sh`, Rust test modules.
//! A secret never leaves this module unmasked.
//!
//! The automaton and the scan loop are here; key formats, secret-like assignments and masking in
//! secrets.rs; framework footguns (Python `DEBUG`, CORS wildcards) and `curl | sh` in footguns.rs.

mod footguns;
mod secrets;

pub use secrets::{entropy, mask, quote_line, redact};

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::languages::{self, LangId};
use footguns::{cors_wildcard, curl_pipe, debug_enabled};
use secrets::{key_pattern, secret_assignment};

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

fn run_len(data: &[u8], from: usize, ok: impl Fn(u8) -> bool) -> usize {
    data[from.min(data.len())..]
        .iter()
        .take_while(|&&b| ok(b))
        .count()
}

fn trim_ws(s: &[u8]) -> &[u8] {
    super::counter::trim(s)
}

#[cfg(test)]
mod tests;
