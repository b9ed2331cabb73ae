//! Language detection (exact file name, then extension, then shebang) and the per-language syntax
//! the line classifier needs. The table itself lives in `lang_table.rs`; detection follows tokei's
//! rules so that per-language totals are comparable with it.

pub use super::lang_table::*;

/// Index into [`LANGS`].
pub type LangId = u8;

/// What a language is used for; decides what counts as "source" for ratios and per-file checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// General-purpose programming languages: source code for ratios, complexity and functions.
    Code,
    Markup,
    Style,
    Prose,
    Data,
    Config,
    Build,
}

/// How blocks are delimited, for the function-length and nesting heuristics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Brace,
    Indent,
    End,
    Shell,
    Flat,
}

/// Languages whose files embed other text that tokei counts specially.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Embed {
    NoEmbed,
    /// `///` and `//!` blocks are Markdown (empty doc lines are blank lines).
    RustDoc,
    /// `<script>` and `<style>` blocks are JavaScript and CSS.
    Html,
}

type Pairs = &'static [(&'static str, &'static str)];

/// The syntax of one language (tokei's fields).
#[derive(Debug)]
pub struct Lang {
    pub name: &'static str,
    pub class: Class,
    pub family: Family,
    pub line_comments: &'static [&'static str],
    pub multi_line: Pairs,
    pub nested_comments: Pairs,
    pub allows_nested: bool,
    pub quotes: Pairs,
    pub doc_quotes: Pairs,
    pub verbatim_quotes: Pairs,
    pub important: &'static [&'static str],
    pub literate: bool,
    pub embed: Embed,
}

#[allow(clippy::too_many_arguments)]
pub(crate) const fn lang(
    name: &'static str,
    class: Class,
    family: Family,
    line_comments: &'static [&'static str],
    multi_line: Pairs,
    nested_comments: Pairs,
    allows_nested: bool,
    quotes: Pairs,
    doc_quotes: Pairs,
    verbatim_quotes: Pairs,
    important: &'static [&'static str],
    literate: bool,
    embed: Embed,
) -> Lang {
    Lang {
        name,
        class,
        family,
        line_comments,
        multi_line,
        nested_comments,
        allows_nested,
        quotes,
        doc_quotes,
        verbatim_quotes,
        important,
        literate,
        embed,
    }
}

pub fn get(id: LangId) -> &'static Lang {
    &LANGS[id as usize]
}

pub fn name(id: LangId) -> &'static str {
    LANGS[id as usize].name
}

/// Outcome of detection from the path alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detected {
    Lang(LangId),
    /// No extension and no known name: the first line may be a shebang.
    CheckShebang,
    Unknown,
}

/// File names that tokei assigns to languages this table does not carry; they stay uncounted so
/// that totals match.
const FOREIGN_NAMES: &[&str] = &[
    "build",
    "workspace",
    "module",
    "meson.build",
    "meson_options.txt",
    "nuget.config",
    "packages.config",
    "nugetdefaults.config",
    "pkgbuild",
    "rakefile",
    "sconstruct",
    "sconscript",
    "snakefile",
];

/// Detect from the file name (already lower-cased by the caller when `lower_name` is given).
pub fn detect(file_name: &str) -> Detected {
    let lower;
    let name = if file_name.bytes().any(|b| b.is_ascii_uppercase()) {
        lower = file_name.to_ascii_lowercase();
        lower.as_str()
    } else {
        file_name
    };
    match name {
        "makefile" | "gnumakefile" => return Detected::Lang(MAKEFILE),
        "dockerfile" => return Detected::Lang(DOCKERFILE),
        "cmakelists.txt" => return Detected::Lang(C_MAKE),
        "justfile" => return Detected::Lang(JUST),
        _ => {}
    }
    if FOREIGN_NAMES.contains(&name) || name.ends_with(".blade.php") {
        return Detected::Unknown;
    }
    match extension(name) {
        Some(ext) => match by_extension(ext) {
            Some(id) => Detected::Lang(id),
            None => Detected::Unknown,
        },
        None => Detected::CheckShebang,
    }
}

/// `Path::extension` semantics on a file name: the part after the last dot, unless the only dot
/// leads the name (`.gitignore` has none).
pub fn extension(name: &str) -> Option<&str> {
    let dot = name.rfind('.')?;
    if dot == 0 {
        return None;
    }
    Some(&name[dot + 1..])
}

/// Language from a shebang line (tokei's rules: exact interpreter paths, or `/usr/bin/env NAME`).
pub fn from_shebang(head: &[u8]) -> Option<LangId> {
    let head = &head[..head.len().min(128)];
    let first = head.split(|&b| b == b'\n').next()?;
    let first = std::str::from_utf8(first).ok()?;
    let mut words = first.split_whitespace();
    match words.next()? {
        "#!/bin/bash" => Some(BASH),
        "#!/bin/sh" => Some(SH),
        "#!/bin/zsh" => Some(ZSH),
        "#!/bin/fish" => Some(FISH),
        "#!/usr/bin/perl" => Some(PERL),
        "#!/usr/bin/env" => {
            let w = words.next()?;
            // In tokei's order; interpreters it knows but this table lacks stay unknown.
            for (prefix, id) in [
                ("bash", Some(BASH)),
                ("csh", None),
                ("crystal", None),
                ("cython", Some(CYTHON)),
                ("elvish", None),
                ("fish", Some(FISH)),
                ("groovy", Some(GROOVY)),
                ("just", Some(JUST)),
                ("ksh", None),
                ("python", Some(PYTHON)),
                ("racket", None),
                ("raku", None),
                ("perl6", None),
                ("ruby", Some(RUBY)),
                ("sh", Some(SH)),
            ] {
                if w.starts_with(prefix) {
                    return id;
                }
            }
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_name_extension_and_shebang() {
        assert_eq!(detect("main.rs"), Detected::Lang(RUST));
        assert_eq!(detect("App.TSX"), Detected::Lang(TSX));
        assert_eq!(detect("Makefile"), Detected::Lang(MAKEFILE));
        assert_eq!(detect("Dockerfile"), Detected::Lang(DOCKERFILE));
        assert_eq!(detect("CMakeLists.txt"), Detected::Lang(C_MAKE));
        assert_eq!(detect("notes.txt"), Detected::Lang(TEXT));
        assert_eq!(detect(".gitignore"), Detected::CheckShebang);
        assert_eq!(detect("BUILD"), Detected::Unknown);
        assert_eq!(detect("image.png"), Detected::Unknown);
        assert_eq!(
            from_shebang(b"#!/usr/bin/env python3\nprint(1)\n"),
            Some(PYTHON)
        );
        assert_eq!(from_shebang(b"#!/bin/bash\n"), Some(BASH));
        assert_eq!(from_shebang(b"#!/usr/bin/env node\n"), None);
        assert_eq!(from_shebang(b"hello"), None);
    }

    #[test]
    fn table_names_are_unique() {
        let mut names: Vec<_> = LANGS.iter().map(|l| l.name).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(n, names.len());
        assert_eq!(name(RUST), "Rust");
        assert_eq!(get(PYTHON).doc_quotes.len(), 2);
    }
}
