//! What a model's answer holds, read as text: fenced code blocks and their languages
//! (`extract`, `detect` for untagged code), and files annotated with a path (`annotate`). Neutral ground: the validators check
//! the code, the artifacts write the files, and neither depends on the other for it.

pub mod annotate;
pub mod detect;
pub mod extract;
