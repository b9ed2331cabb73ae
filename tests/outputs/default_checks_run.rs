//! A simulated run whose plan names no validator still checks its code and data tasks: the
//! task's JSON (`show --json`) records `syntax:<lang>` and `json` results, and the code file is
//! written with its language's extension.

use crate::support::binary::*;

#[test]
fn a_run_checks_code_and_data_tasks_without_a_plan_naming_validators() {
    let env = Env::new("");
    let out_dir = env.dir.path().join("out");
    let plan = env.write(
        "plan.json",
        r#"[
          {"id": "code", "type": "code_generation", "max_iterations": 1, "validators": [],
           "prompt": "Write a Python function that reverses a string, with a test"},
          {"id": "data", "type": "data_extraction", "max_iterations": 1,
           "prompt": "Extract the items of the list as JSON"}
        ]"#,
    );
    let (v, out) = env.json(&[
        "run",
        "--plan",
        plan.to_str().unwrap(),
        "--budget",
        "2",
        "--json",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let id = v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", stderr(&out)));
    let (s, _) = env.json(&["show", id, "--json"]);
    let tasks = s["tasks"].as_array().expect("tasks");
    let task = |tid: &str| {
        tasks
            .iter()
            .find(|t| t["id"] == tid)
            .unwrap_or_else(|| panic!("task {tid} in {s}"))
    };

    let code = task("code");
    let names = |t: &serde_json::Value| -> Vec<String> {
        t["validators"]
            .as_array()
            .expect("validators")
            .iter()
            .map(|r| r["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(names(code), ["syntax:python"], "{}", code["validators"]);
    let result = code["validators"][0]["result"].as_str().unwrap();
    assert!(result == "pass" || result == "fail", "{result}");
    // Every attempt of the task was checked, not only the last.
    for a in code["attempts"].as_array().expect("attempts") {
        assert_eq!(a["validators"][0]["name"], "syntax:python", "{a}");
    }
    assert!(out_dir.join("tasks/code.py").is_file());

    let data = task("data");
    assert_eq!(names(data), ["json"], "{}", data["validators"]);
}
