//! Headless progress tells when a task parks at a call the budget refused (which call, on which
//! model, the refusal, and how to go on), not only the run's final reason.

use crate::support::binary::*;

#[test]
fn headless_output_says_when_a_task_parks_at_a_refused_call() {
    let env = Env::new("");
    let plan = env.write(
        "plan.json",
        r#"[{"id": "t1", "type": "summarization", "prompt": "Summarise the history of Rome"}]"#,
    );
    // Pre-flight would refuse the budget: `--force` starts it, and its first call is refused.
    let out = env
        .cmd()
        .args([
            "run",
            "--headless",
            "--force",
            "--budget",
            "0.00001",
            "--plan",
        ])
        .arg(&plan)
        .output()
        .expect("run binary");
    let err = stderr(&out);
    assert_eq!(code(&out), 5, "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("t1 parked"))
        .unwrap_or_else(|| panic!("no parked line: {err}"));
    assert!(
        line.contains("task t1 parked: budget refused the generate call to "),
        "{line}"
    );
    assert!(line.contains("(iteration 1): run budget: $"), "{line}");
    assert!(line.contains("needed"), "{line}");
    assert!(line.contains("resume with a larger budget"), "{line}");
    // The line names a model of the catalog: the one whose call was refused.
    let model = line
        .split("call to ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .unwrap_or_default();
    assert!(!model.is_empty(), "{line}");
    let (models, _) = env.json(&["models", "--json"]);
    assert!(
        models.to_string().contains(&format!("\"{model}\"")),
        "{model} is not a model: {line}"
    );
    // Told once, before the run's end (the old "stopped (...)" line is gone for a park).
    let at = err.find(line).unwrap_or_default();
    let end = err.find("finished: budget_exhausted").unwrap_or(0);
    assert!(at < end, "{err}");
    assert!(!err.contains("t1: stopped"), "{err}");
}

#[test]
fn a_task_refused_again_at_the_same_call_is_announced_once() {
    let env = Env::new("");
    // t1 asks for more output than the budget can hold on any model (the cheapest, deepseek-chat,
    // holds 8,192 tokens at $0.42/M: $0.0034); t2 and t3 fit. Each time one of them finishes,
    // t1 is tried again and refused again at the very same call.
    let plan = env.write(
        "plan.json",
        r#"[{"id": "t1", "type": "summarization", "prompt": "Summarise the history of Rome",
             "max_output_tokens": 60000},
            {"id": "t2", "type": "summarization", "prompt": "Summarise a day", "max_output_tokens": 200},
            {"id": "t3", "type": "summarization", "prompt": "Summarise an hour", "max_output_tokens": 200}]"#,
    );
    let out = env
        .cmd()
        .args([
            "run",
            "--headless",
            "--force",
            "--concurrency",
            "1",
            "--strategy",
            "cost",
            "--budget",
            "0.003",
            "--plan",
        ])
        .arg(&plan)
        .output()
        .expect("run binary");
    let err = stderr(&out);
    assert_eq!(code(&out), 5, "{err}");
    let (show, _) = env.json(&["runs", "--json"]);
    assert!(show.to_string().contains("budget_exhausted"), "{show}");
    let parked = err.lines().filter(|l| l.contains("task t1 parked")).count();
    assert_eq!(parked, 1, "{err}");
    // The other tasks did finish meanwhile (so t1 was tried again after the first refusal).
    assert!(err.contains("t2: completed"), "{err}");
    assert!(err.contains("t3: completed"), "{err}");
}
