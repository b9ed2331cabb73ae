//! Prompt texts and the markers that frame data inside them, and the JSON schemas answers are asked
//! for with (`schemas`). Shared by the engine (which builds
//! prompts and strips forged markers from model output) and the simulator (which reads them).

pub mod schemas;

use crate::domain::TaskType;

pub const DESC_START: &str = "<<<DESCRIPTION>>>";
pub const DESC_END: &str = "<<<END DESCRIPTION>>>";
pub const OUTPUT_START: &str = "<<<CANDIDATE OUTPUT>>>";
pub const OUTPUT_END: &str = "<<<END CANDIDATE OUTPUT>>>";
pub const FEEDBACK_START: &str = "<<<PREVIOUS ATTEMPT FAILED>>>";
pub const FEEDBACK_END: &str = "<<<END PREVIOUS ATTEMPT>>>";
pub const CRITIQUE_START: &str = "<<<REVIEWER CRITIQUE>>>";
pub const CRITIQUE_END: &str = "<<<END REVIEWER CRITIQUE>>>";
pub const CONTEXT_START: &str = "<<<DEPENDENCY OUTPUT";
pub const CONTEXT_END: &str = "<<<END DEPENDENCY OUTPUT>>>";

/// Every marker model output must not be able to forge.
pub const ALL_MARKERS: [&str; 10] = [
    DESC_START,
    DESC_END,
    OUTPUT_START,
    OUTPUT_END,
    FEEDBACK_START,
    FEEDBACK_END,
    CRITIQUE_START,
    CRITIQUE_END,
    CONTEXT_START,
    CONTEXT_END,
];

pub const DECOMPOSE_SYSTEM: &str = "You are a planning engine. Split the project into atomic tasks. \
Answer with a JSON array only, no prose. Each item: {\"id\": \"t1\", \"type\": one of \
code_generation|code_review|complex_reasoning|creative_writing|data_extraction|summarization|evaluation, \
\"prompt\": \"...\", \"dependencies\": [\"t0\"], \"validators\": [\"python_syntax\"]}. \
Use 5-15 tasks, review code after generating it, and end with one evaluation task.";

pub fn decompose_prompt(description: &str, criteria: &str) -> String {
    format!(
        "{DESC_START}\n{description}\n{DESC_END}\nSuccess criteria: {}\nReturn the JSON task list.",
        if criteria.trim().is_empty() {
            "(none given)"
        } else {
            criteria
        }
    )
}

pub fn generate_system(t: TaskType) -> String {
    format!(
        "You are an expert assistant performing a {t} task as part of a larger project. \
Answer with the deliverable only. Put code in fenced blocks with a language tag; to name a file, \
write `File: path/to/file` on the line before its block."
    )
}

pub const CRITIQUE_SYSTEM: &str = "You are a strict reviewer. List concrete defects of the candidate \
output against the task. Start your answer with `VERDICT: OK` when nothing needs changing, else \
`VERDICT: REVISE` followed by the defects.";

pub const EVALUATE_SYSTEM: &str = "You are an evaluator. Score how well the candidate output fulfils \
the task, from 0.0 to 1.0. Answer with JSON only: {\"score\": 0.0, \"reason\": \"...\"}.";

pub fn critique_prompt(task_prompt: &str, output: &str) -> String {
    format!("Task:\n{task_prompt}\n\n{OUTPUT_START}\n{output}\n{OUTPUT_END}")
}

pub fn revise_prompt(task_prompt: &str, output: &str, critique: &str) -> String {
    format!(
        "Task:\n{task_prompt}\n\nYour previous answer:\n{OUTPUT_START}\n{output}\n{OUTPUT_END}\n\n\
{CRITIQUE_START}\n{critique}\n{CRITIQUE_END}\nProduce the complete improved deliverable."
    )
}

pub fn evaluate_prompt(task_prompt: &str, criteria: &str, output: &str) -> String {
    format!(
        "Task:\n{task_prompt}\nProject success criteria: {criteria}\n\n{OUTPUT_START}\n{output}\n{OUTPUT_END}\n\
Return {{\"score\": <0..1>, \"reason\": \"...\"}}."
    )
}

/// Text between two markers, if both are present.
pub fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let s = text.find(start)? + start.len();
    let e = text[s..].find(end)? + s;
    Some(text[s..e].trim_matches('\n'))
}

/// Language a prompt or description talks about, for code fences and file names.
pub fn detect_language(text: &str) -> &'static str {
    let t = text.to_lowercase();
    let has = |w: &str| {
        t.split(|c: char| !c.is_alphanumeric() && c != '+' && c != '#')
            .any(|x| x == w)
    };
    if has("rust") || has("cargo") {
        "rust"
    } else if has("typescript") || has("ts") {
        "typescript"
    } else if has("javascript") || has("node") || has("js") || has("react") {
        "javascript"
    } else if has("go") || has("golang") {
        "go"
    } else {
        "python"
    }
}
