use super::languages::{Class::*, Embed::*, Family::*, Lang, LangId, lang};

// Generated from tokei 15.0.0's languages.json (MIT/Apache-2.0) for the languages listed;
// `class` and `family` are this project's additions. Keep the order: ids index `LANGS`.

pub const RUST: LangId = 0;
pub const PYTHON: LangId = 1;
pub const CYTHON: LangId = 2;
pub const JAVA_SCRIPT: LangId = 3;
pub const TYPE_SCRIPT: LangId = 4;
pub const JSX: LangId = 5;
pub const TSX: LangId = 6;
pub const GO: LangId = 7;
pub const JAVA: LangId = 8;
pub const KOTLIN: LangId = 9;
pub const C: LangId = 10;
pub const CPP: LangId = 11;
pub const C_HEADER: LangId = 12;
pub const CPP_HEADER: LangId = 13;
pub const CSHARP: LangId = 14;
pub const OBJECTIVE_C: LangId = 15;
pub const OBJECTIVE_CPP: LangId = 16;
pub const SWIFT: LangId = 17;
pub const SCALA: LangId = 18;
pub const GROOVY: LangId = 19;
pub const DART: LangId = 20;
pub const PHP: LangId = 21;
pub const ZIG: LangId = 22;
pub const SOLIDITY: LangId = 23;
pub const D: LangId = 24;
pub const RUBY: LangId = 25;
pub const ELIXIR: LangId = 26;
pub const LUA: LangId = 27;
pub const PERL: LangId = 28;
pub const SH: LangId = 29;
pub const BASH: LangId = 30;
pub const ZSH: LangId = 31;
pub const FISH: LangId = 32;
pub const POWER_SHELL: LangId = 33;
pub const BATCH: LangId = 34;
pub const HASKELL: LangId = 35;
pub const ELM: LangId = 36;
pub const ERLANG: LangId = 37;
pub const CLOJURE: LangId = 38;
pub const SCHEME: LangId = 39;
pub const F_SHARP: LangId = 40;
pub const OCAML: LangId = 41;
pub const VISUAL_BASIC: LangId = 42;
pub const JULIA: LangId = 43;
pub const R: LangId = 44;
pub const NIM: LangId = 45;
pub const ASSEMBLY: LangId = 46;
pub const ASSEMBLY_G_A_S: LangId = 47;
pub const SQL: LangId = 48;
pub const HTML: LangId = 49;
pub const XML: LangId = 50;
pub const SVG: LangId = 51;
pub const X_S_L: LangId = 52;
pub const VUE: LangId = 53;
pub const SVELTE: LangId = 54;
pub const HANDLEBARS: LangId = 55;
pub const JINJA2: LangId = 56;
pub const CSS: LangId = 57;
pub const SASS: LangId = 58;
pub const LESS: LangId = 59;
pub const MARKDOWN: LangId = 60;
pub const TEXT: LangId = 61;
pub const RE_STRUCTURED_TEXT: LangId = 62;
pub const TEX: LangId = 63;
pub const TOML: LangId = 64;
pub const YAML: LangId = 65;
pub const JSON: LangId = 66;
pub const INI: LangId = 67;
pub const PROTOBUF: LangId = 68;
pub const GRAPHQL: LangId = 69;
pub const HCL: LangId = 70;
pub const NIX: LangId = 71;
pub const MAKEFILE: LangId = 72;
pub const DOCKERFILE: LangId = 73;
pub const C_MAKE: LangId = 74;
pub const JUST: LangId = 75;
pub const MODULE_DEF: LangId = 76;
pub const PEST: LangId = 77;
pub const AUTOCONF: LangId = 78;

#[rustfmt::skip]
pub static LANGS: &[Lang] = &[
    // name, class, family, line comments, multi-line comments, nested comments, allows nesting,
    // quotes, doc quotes, verbatim quotes, extra important syntax, literate, embedding
    lang("Rust", Code, Brace, &["//"], &[("/*", "*/")], &[], true, &[("#\"", "\"#"), ("\"", "\"")], &[], &[("r##\"", "\"##"), ("r#\"", "\"#")], &["///", "//!"], false, RustDoc),
    lang("Python", Code, Indent, &["#"], &[], &[], false, &[("\"", "\""), ("'", "'")], &[("\"\"\"", "\"\"\""), ("'''", "'''")], &[], &[], false, NoEmbed),
    lang("Cython", Code, Indent, &["#"], &[], &[], false, &[("\"", "\""), ("'", "'")], &[("\"\"\"", "\"\"\""), ("'''", "'''")], &[], &[], false, NoEmbed),
    lang("JavaScript", Code, Brace, &["//"], &[("/*", "*/")], &[], false, &[("\"", "\""), ("'", "'"), ("`", "`")], &[], &[], &[], false, NoEmbed),
    lang("TypeScript", Code, Brace, &["//"], &[("/*", "*/")], &[], false, &[("\"", "\""), ("'", "'"), ("`", "`")], &[], &[], &[], false, NoEmbed),
    lang("JSX", Code, Brace, &["//"], &[("/*", "*/")], &[], false, &[("\"", "\""), ("'", "'"), ("`", "`")], &[], &[], &[], false, NoEmbed),
    lang("TSX", Code, Brace, &["//"], &[("/*", "*/")], &[], false, &[("\"", "\""), ("'", "'"), ("`", "`")], &[], &[], &[], false, NoEmbed),
    lang("Go", Code, Brace, &["//"], &[("/*", "*/")], &[], false, &[("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("Java", Code, Brace, &["//"], &[("/*", "*/")], &[], false, &[("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("Kotlin", Code, Brace, &["//"], &[("/*", "*/")], &[], true, &[("\"\"\"", "\"\"\""), ("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("C", Code, Brace, &["//"], &[("/*", "*/")], &[], false, &[("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("C++", Code, Brace, &["//"], &[("/*", "*/")], &[], false, &[("\"", "\"")], &[], &[("R\"(", ")\"")], &[], false, NoEmbed),
    lang("C Header", Code, Brace, &["//"], &[("/*", "*/")], &[], false, &[("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("C++ Header", Code, Brace, &["//"], &[("/*", "*/")], &[], false, &[("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("C#", Code, Brace, &["//"], &[("/*", "*/")], &[], false, &[("\"", "\"")], &[], &[("@\"", "\"")], &[], false, NoEmbed),
    lang("Objective-C", Code, Brace, &["//"], &[("/*", "*/")], &[], false, &[("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("Objective-C++", Code, Brace, &["//"], &[("/*", "*/")], &[], false, &[("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("Swift", Code, Brace, &["//"], &[("/*", "*/")], &[], true, &[("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("Scala", Code, Brace, &["//"], &[("/*", "*/")], &[], false, &[("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("Groovy", Code, Brace, &["//"], &[("/*", "*/")], &[], false, &[("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("Dart", Code, Brace, &["//"], &[("/*", "*/")], &[], false, &[("\"\"\"", "\"\"\""), ("'''", "'''"), ("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("PHP", Code, Brace, &["#", "//"], &[("/*", "*/")], &[], false, &[("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("Zig", Code, Brace, &["//"], &[], &[], false, &[("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("Solidity", Code, Brace, &["//"], &[("/*", "*/")], &[], false, &[("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("D", Code, Brace, &["//"], &[("/*", "*/")], &[("/+", "+/")], false, &[("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("Ruby", Code, End, &["#"], &[("=begin", "=end")], &[], false, &[("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("Elixir", Code, End, &["#"], &[], &[], false, &[("\"\"\"", "\"\"\""), ("'''", "'''"), ("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("Lua", Code, End, &["--"], &[("--[[", "]]")], &[], false, &[("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("Perl", Code, Brace, &["#"], &[("=pod", "=cut")], &[], false, &[("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("Shell", Code, Shell, &["#"], &[], &[], false, &[("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("BASH", Code, Shell, &["#"], &[], &[], false, &[("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("Zsh", Code, Shell, &["#"], &[], &[], false, &[("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("Fish", Code, Shell, &["#"], &[], &[], false, &[("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("PowerShell", Code, Brace, &["#"], &[("<#", "#>")], &[], false, &[("\"@", "@\""), ("@'", "'@"), ("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("Batch", Code, Flat, &["REM", "::"], &[], &[], false, &[], &[], &[], &[], false, NoEmbed),
    lang("Haskell", Code, Flat, &["--"], &[("{-", "-}")], &[], true, &[], &[], &[], &[], false, NoEmbed),
    lang("Elm", Code, Flat, &["--"], &[("{-", "-}")], &[], true, &[], &[], &[], &[], false, NoEmbed),
    lang("Erlang", Code, Flat, &["%"], &[], &[], false, &[], &[], &[], &[], false, NoEmbed),
    lang("Clojure", Code, Flat, &[";"], &[], &[], false, &[("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("Scheme", Code, Flat, &[";"], &[("#|", "|#")], &[], true, &[], &[], &[], &[], false, NoEmbed),
    lang("F#", Code, Flat, &["//"], &[("(*", "*)")], &[], false, &[("\"", "\"")], &[], &[("@\"", "\"")], &[], false, NoEmbed),
    lang("OCaml", Code, Flat, &[], &[("(*", "*)")], &[], false, &[("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("Visual Basic", Code, Flat, &["'"], &[], &[], false, &[("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("Julia", Code, End, &["#"], &[("#=", "=#")], &[], true, &[("\"\"\"", "\"\"\""), ("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("R", Code, Brace, &["#"], &[], &[], false, &[], &[], &[], &[], false, NoEmbed),
    lang("Nim", Code, Indent, &["#"], &[], &[], false, &[("\"\"\"", "\"\"\""), ("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("Assembly", Code, Flat, &[";"], &[], &[], false, &[("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("GNU Style Assembly", Code, Flat, &["//"], &[("/*", "*/")], &[], false, &[("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("SQL", Code, Flat, &["--"], &[("/*", "*/")], &[], false, &[("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("HTML", Markup, Flat, &[], &[("<!--", "-->")], &[], false, &[("\"", "\""), ("'", "'")], &[], &[], &["<script", "<style"], false, Html),
    lang("XML", Markup, Flat, &[], &[("<!--", "-->")], &[], false, &[("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("SVG", Markup, Flat, &[], &[("<!--", "-->")], &[], false, &[("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("XSL", Markup, Flat, &[], &[("<!--", "-->")], &[], false, &[("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("Vue", Markup, Flat, &["//"], &[("<!--", "-->"), ("/*", "*/")], &[], false, &[("\"", "\""), ("'", "'"), ("`", "`")], &[], &[], &["<script", "<style", "<template"], false, Html),
    lang("Svelte", Markup, Flat, &[], &[("<!--", "-->")], &[], false, &[("\"", "\""), ("'", "'")], &[], &[], &["<script", "<style"], false, Html),
    lang("Handlebars", Markup, Flat, &[], &[("<!--", "-->"), ("{{!", "}}")], &[], false, &[("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("Jinja2", Markup, Flat, &[], &[("{#", "#}")], &[], false, &[], &[], &[], &[], false, NoEmbed),
    lang("CSS", Style, Flat, &["//"], &[("/*", "*/")], &[], false, &[("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("Sass", Style, Flat, &["//"], &[("/*", "*/")], &[], false, &[("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("LESS", Style, Flat, &["//"], &[("/*", "*/")], &[], false, &[("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("Markdown", Prose, Flat, &[], &[], &[], false, &[], &[], &[], &["```"], true, NoEmbed),
    lang("Plain Text", Prose, Flat, &[], &[], &[], false, &[], &[], &[], &[], true, NoEmbed),
    lang("ReStructuredText", Prose, Flat, &[], &[], &[], false, &[], &[], &[], &[], false, NoEmbed),
    lang("TeX", Prose, Flat, &["%"], &[], &[], false, &[], &[], &[], &[], false, NoEmbed),
    lang("TOML", Data, Flat, &["#"], &[], &[], false, &[("\"\"\"", "\"\"\""), ("'''", "'''"), ("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("YAML", Data, Flat, &["#"], &[], &[], false, &[("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("JSON", Data, Flat, &[], &[], &[], false, &[], &[], &[], &[], false, NoEmbed),
    lang("INI", Data, Flat, &[";", "#"], &[], &[], false, &[], &[], &[], &[], false, NoEmbed),
    lang("Protocol Buffers", Data, Flat, &["//"], &[], &[], false, &[], &[], &[], &[], false, NoEmbed),
    lang("GraphQL", Data, Flat, &["#"], &[], &[], false, &[("\"\"\"", "\"\"\""), ("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("HCL", Config, Flat, &["#", "//"], &[("/*", "*/")], &[], false, &[("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("Nix", Config, Flat, &["#"], &[("/*", "*/")], &[], false, &[("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("Makefile", Build, Flat, &["#"], &[], &[], false, &[], &[], &[], &[], false, NoEmbed),
    lang("Dockerfile", Build, Flat, &["#"], &[], &[], false, &[("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("CMake", Build, Flat, &["#"], &[], &[], false, &[("\"", "\"")], &[], &[], &[], false, NoEmbed),
    lang("Just", Build, Flat, &["#"], &[], &[], false, &[], &[], &[], &[], false, NoEmbed),
    lang("Module-Definition", Data, Flat, &[";"], &[], &[], false, &[], &[], &[], &[], false, NoEmbed),
    lang("Pest", Data, Flat, &["//"], &[], &[], false, &[("\"", "\""), ("'", "'")], &[], &[], &[], false, NoEmbed),
    lang("Autoconf", Build, Flat, &["#", "dnl"], &[], &[], false, &[], &[], &[], &[], false, NoEmbed),
];

/// Language by lower-case extension (tokei's mapping).
pub fn by_extension(ext: &str) -> Option<LangId> {
    Some(match ext {
        "rs" => RUST,
        "py" | "pyw" | "pyi" => PYTHON,
        "pyx" | "pxd" | "pxi" => CYTHON,
        "cjs" | "js" | "mjs" => JAVA_SCRIPT,
        "ts" | "mts" | "cts" => TYPE_SCRIPT,
        "jsx" => JSX,
        "tsx" => TSX,
        "go" => GO,
        "java" => JAVA,
        "kt" | "kts" => KOTLIN,
        "c" | "ec" | "pgc" => C,
        "cc" | "cpp" | "cxx" | "c++" | "pcc" | "tpp" => CPP,
        "h" => C_HEADER,
        "hh" | "hpp" | "hxx" | "inl" | "ipp" => CPP_HEADER,
        "cs" | "csx" => CSHARP,
        "m" => OBJECTIVE_C,
        "mm" => OBJECTIVE_CPP,
        "swift" => SWIFT,
        "sc" | "scala" => SCALA,
        "groovy" | "grt" | "gtpl" | "gvy" => GROOVY,
        "dart" => DART,
        "php" => PHP,
        "zig" => ZIG,
        "sol" => SOLIDITY,
        "d" => D,
        "rb" => RUBY,
        "ex" | "exs" => ELIXIR,
        "lua" | "luau" => LUA,
        "pl" | "pm" => PERL,
        "sh" => SH,
        "bash" => BASH,
        "zsh" => ZSH,
        "fish" => FISH,
        "ps1" | "psm1" | "psd1" | "ps1xml" | "cdxml" | "pssc" | "psc1" => POWER_SHELL,
        "bat" | "btm" | "cmd" => BATCH,
        "hs" => HASKELL,
        "elm" => ELM,
        "erl" | "hrl" => ERLANG,
        "clj" => CLOJURE,
        "scm" | "ss" => SCHEME,
        "fs" | "fsi" | "fsx" | "fsscript" => F_SHARP,
        "ml" | "mli" | "re" | "rei" => OCAML,
        "vb" => VISUAL_BASIC,
        "jl" => JULIA,
        "r" => R,
        "nim" => NIM,
        "asm" => ASSEMBLY,
        "s" => ASSEMBLY_G_A_S,
        "sql" => SQL,
        "html" | "htm" => HTML,
        "xml" => XML,
        "svg" => SVG,
        "xsl" | "xslt" => X_S_L,
        "vue" => VUE,
        "svelte" => SVELTE,
        "hbs" | "handlebars" => HANDLEBARS,
        "j2" | "jinja" => JINJA2,
        "css" => CSS,
        "sass" | "scss" => SASS,
        "less" => LESS,
        "md" | "markdown" => MARKDOWN,
        "text" | "txt" => TEXT,
        "rst" => RE_STRUCTURED_TEXT,
        "tex" | "sty" => TEX,
        "toml" => TOML,
        "yaml" | "yml" => YAML,
        "json" => JSON,
        "ini" => INI,
        "proto" => PROTOBUF,
        "gql" | "graphql" => GRAPHQL,
        "hcl" | "tf" | "tfvars" => HCL,
        "nix" => NIX,
        "makefile" | "mak" | "mk" => MAKEFILE,
        "dockerfile" | "dockerignore" => DOCKERFILE,
        "cmake" => C_MAKE,
        "just" => JUST,
        "def" => MODULE_DEF,
        "pest" => PEST,
        "in" => AUTOCONF,
        _ => return None,
    })
}
