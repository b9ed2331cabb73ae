//! A task's own file, `tasks/<name>`: its name (unique per task id, stable across resumes) and
//! its content (the dominant code of a code or data task, else the whole output as Markdown).

use crate::model_output::detect;
use crate::model_output::extract::{self, CodeBlock};

/// The artifact file name of a task: `t2.py`, `t4.md`. Unique per task id: an id that is not
/// already a plain lowercase name (`[a-z0-9._-]`, no leading dot, at most 100 bytes) is cleaned
/// and gets a hash of the exact id (`a b` -> `a_b-5b0e7c1a.md`, `a?b` -> `a_b-08d2f1c3.md`), so
/// ids that clean to the same name never overwrite each other's files, even on a file system
/// that ignores case. A plain id that itself ends like such a hash gets one too.
pub fn task_file_name(task_id: &str, language: Option<&str>, task_type: &str) -> String {
    let ext = match language {
        Some(l) => extract::extension_for(l).map(str::to_string).or_else(|| {
            let l = l.trim().to_ascii_lowercase();
            (!l.is_empty() && l.len() <= 10 && l.chars().all(|c| c.is_ascii_alphanumeric()))
                .then_some(l)
        }),
        None => None,
    };
    format!(
        "{}.{}",
        task_file_stem(task_id, task_type),
        ext.unwrap_or_else(|| "md".into())
    )
}

fn task_file_stem(task_id: &str, task_type: &str) -> String {
    let plain =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.');
    let clean = |s: &str| -> String {
        let mut c: String = s
            .trim()
            .chars()
            .map(|c| {
                if plain(c.to_ascii_lowercase()) {
                    c
                } else {
                    '_'
                }
            })
            .take(100)
            .collect();
        while c.starts_with('.') {
            c.remove(0);
        }
        c
    };
    let is_plain = !task_id.is_empty()
        && task_id.len() <= 100
        && !task_id.starts_with('.')
        && task_id.chars().all(plain)
        && !looks_hashed(task_id);
    if is_plain {
        return task_id.to_string();
    }
    let mut stem = clean(task_id);
    if stem.is_empty() {
        stem = clean(task_type);
    }
    if stem.is_empty() {
        stem = "task".into();
    }
    format!("{stem}-{:08x}", fnv1a32(task_id))
}

/// Ends in `-` and 8 lowercase hex digits, like the names [`task_file_stem`] makes.
fn looks_hashed(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 9
        && b[b.len() - 9] == b'-'
        && b[b.len() - 8..]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

/// FNV-1a, 32 bits: stable across versions and platforms (file names must not change on resume).
fn fnv1a32(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    })
}

/// The task file's language and content: for code and data tasks the code of the language with
/// the most fenced code, else the whole output (as Markdown).
pub(super) fn main_artifact(task_type: &str, output: &str) -> (Option<String>, String) {
    let t = task_type
        .trim()
        .to_ascii_lowercase()
        .replace(['-', ' '], "_");
    if t != "code_generation" && t != "data_extraction" {
        return (None, output.to_string());
    }
    let blocks = extract::code_blocks(output);
    if blocks.is_empty() {
        // A bare answer that is clearly code (a model that skipped the fences) keeps its language.
        return match detect::code_language(output) {
            Some(l) if extract::is_code_language(l) => (Some(l.to_string()), output.to_string()),
            _ => (None, output.to_string()),
        };
    }
    // An untagged block takes its detected language (`.py`, not `.md`); an unknown tag its tag.
    let key = |b: &CodeBlock<'_>| -> Option<String> {
        match extract::block_language(b) {
            Some(l) if extract::is_code_language(l) => Some(l.to_string()),
            Some(_) => None,
            None => b.tag.clone(),
        }
    };
    let mut sizes: Vec<(String, usize)> = Vec::new();
    for b in &blocks {
        if let Some(k) = key(b) {
            match sizes.iter_mut().find(|(l, _)| *l == k) {
                Some(e) => e.1 += b.code.len(),
                None => sizes.push((k, b.code.len())),
            }
        }
    }
    let Some((lang, _)) = sizes
        .iter()
        .fold(None::<&(String, usize)>, |best, x| match best {
            Some(b) if b.1 >= x.1 => Some(b),
            _ => Some(x),
        })
    else {
        return (None, output.to_string());
    };
    let parts: Vec<&str> = blocks
        .iter()
        .filter(|b| key(b).as_deref() == Some(lang.as_str()))
        .map(|b| b.code.trim_end_matches(['\n', '\r']))
        .collect();
    (Some(lang.clone()), parts.join("\n\n") + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_file_names() {
        assert_eq!(
            task_file_name("t2", Some("python"), "code_generation"),
            "t2.py"
        );
        assert_eq!(task_file_name("t4", None, "creative_writing"), "t4.md");
        assert_eq!(task_file_name("t1.v2", None, "x"), "t1.v2.md");
        let odd = task_file_name("../x y", Some("rs"), "code_generation");
        assert!(odd.starts_with("_x_y-") && odd.ends_with(".rs"), "{odd}");
        let empty = task_file_name("", Some("elm"), "code_generation");
        assert!(empty.starts_with("code_generation-"), "{empty}");
        assert_eq!(task_file_name("t1", Some("c#"), "x"), "t1.cs");
        assert_eq!(task_file_name("t1", Some("weird lang"), "x"), "t1.md");
    }

    #[test]
    fn ids_that_clean_to_the_same_name_get_different_files() {
        let ids = [
            "a b",
            "a_b",
            "a?b",
            "A_B",
            "a*b",
            "a_b-00000000",
            "...",
            "..",
            "?",
            "a\tb",
        ];
        let mut names: Vec<String> = ids
            .iter()
            .map(|id| task_file_name(id, None, "summarization").to_ascii_lowercase())
            .collect();
        assert_eq!(names[1], "a_b.md", "a plain id keeps its name");
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ids.len(), "{names:?}");
        // Stable: the same id always gets the same name (resume rewrites the same file).
        assert_eq!(
            task_file_name("a b", None, "x"),
            task_file_name("a b", None, "x")
        );
    }

    #[test]
    fn main_artifact_picks_the_dominant_code() {
        let out = "Intro\n```bash\nls\n```\n```python\nx = 1\n```\n```python\ny = 2\n```\n";
        let (l, c) = main_artifact("code_generation", out);
        assert_eq!(l.as_deref(), Some("python"));
        assert_eq!(c, "x = 1\n\ny = 2\n");
        assert_eq!(main_artifact("summarization", out).0, None);
        assert_eq!(main_artifact("code_generation", "no code").1, "no code");
    }

    #[test]
    fn untagged_and_bare_code_take_the_detected_language() {
        let out = "Here:\n```\nimport sys\n\ndef rev(s):\n    return s[::-1]\n```\n";
        let (l, c) = main_artifact("code_generation", out);
        assert_eq!(l.as_deref(), Some("python"));
        assert_eq!(
            task_file_name("t1", l.as_deref(), "code_generation"),
            "t1.py"
        );
        assert!(c.starts_with("import sys"));
        let bare = "package main\n\nfunc main() {\n}\n";
        assert_eq!(
            main_artifact("code_generation", bare).0.as_deref(),
            Some("go")
        );
        // Unknown stays Markdown, as before.
        assert_eq!(
            main_artifact("code_generation", "```\nhello\n```\n").0,
            None
        );
        assert_eq!(main_artifact("code_generation", "Some prose.").0, None);
    }
}
