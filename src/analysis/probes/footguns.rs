//! Framework footguns in code and config: Python debug mode left on, CORS wildcards, and
//! `curl | sh` in scripts and build files.

use super::{Ctx, P, is_ident, quote_line, trim_ws};
use crate::analysis::languages;

pub(super) fn debug_enabled(ctx: &Ctx, text: &[u8], exact: &[u8]) -> Option<String> {
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

pub(super) fn cors_wildcard(
    kind: P,
    ctx: &Ctx,
    text: &[u8],
    at: usize,
    exact: &[u8],
) -> Option<String> {
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

pub(super) fn curl_pipe(ctx: &Ctx, text: &[u8], at: usize) -> Option<String> {
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
