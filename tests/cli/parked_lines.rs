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
