//! Checks every task of a type gets without a plan naming them: `syntax` on code tasks (one
//! `syntax:<lang>` result per language of the output's blocks, tagged or detected), `json` on
//! data_extraction, and `[validators.defaults]` turning them off or replacing them.

use orchestrator_tui::artifacts::write_task_artifacts;
use orchestrator_tui::validators::{
    ValidatorResult, ValidatorSpec, ValidatorsConfig, Verdict, run_all, validators_for,
};

/// The default validators of `task_type` run on `output` with `cfg`.
fn checks(task_type: &str, output: &str, cfg: &ValidatorsConfig) -> Vec<ValidatorResult> {
    run_all(&validators_for(task_type, &[], cfg), output, cfg)
}

fn code_checks(output: &str) -> Vec<(String, Verdict, String)> {
    checks("code_generation", output, &ValidatorsConfig::default())
        .into_iter()
        .map(|r| (r.name, r.result, r.reason.unwrap_or_default()))
        .collect()
}

fn only(output: &str) -> (String, Verdict, String) {
    let r = code_checks(output);
    assert_eq!(r.len(), 1, "one result expected: {r:?}");
    r.into_iter().next().unwrap()
}

#[test]
fn untagged_python_is_written_as_py_and_checked_as_python() {
    let output = "Here is the function and its test:\n\n```\nimport unittest\n\n\ndef reverse(s):\n    return s[::-1]\n\n\nclass T(unittest.TestCase):\n    def test_reverse(self):\n        self.assertEqual(reverse(\"ab\"), \"ba\")\n```\n";
    let (name, v, why) = only(output);
    assert_eq!(
        (name.as_str(), v),
        ("syntax:python", Verdict::Pass),
        "{why}"
    );

    let dir = tempfile::tempdir().unwrap();
    let report = write_task_artifacts(dir.path(), "t1", "code_generation", output);
    let written: Vec<&str> = report.written.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(written, ["tasks/t1.py"]);
    let text = std::fs::read_to_string(dir.path().join("tasks/t1.py")).unwrap();
    assert!(text.starts_with("import unittest\n") && text.contains("def reverse(s):"));
}

#[test]
fn explicit_file_annotations_keep_their_paths() {
    let output =
        "File: tools/rev\n```\nimport sys\n\ndef main():\n    print(sys.argv[1][::-1])\n```\n";
    let dir = tempfile::tempdir().unwrap();
    let report = write_task_artifacts(dir.path(), "t2", "code_generation", output);
    let mut written: Vec<&str> = report.written.iter().map(|w| w.path.as_str()).collect();
    written.sort();
    assert_eq!(written, ["tasks/t2.py", "tools/rev"]);
}

#[test]
fn broken_go_fails_naming_the_line() {
    let (name, v, why) = only("```go\npackage main\n\nfunc main() {\n\tx := []int{1, 2\n}\n```\n");
    assert_eq!((name.as_str(), v), ("syntax:go", Verdict::Fail));
    assert!(why.contains("line 5") || why.contains("line 6"), "{why}");
}

#[test]
fn java_c_and_bash_pass_and_fail() {
    let cases = [
        (
            "java",
            "syntax:java",
            "public class Hello {\n    public static void main(String[] args) {\n        System.out.println(\"hi\");\n    }\n}\n",
            "public class Hello {\n    public static void main(String[] args) {\n        System.out.println(\"hi\")\n    }\n}\n",
        ),
        (
            "c",
            "syntax:c",
            "#include <stdio.h>\n\nint main(void) {\n    puts(\"hi\");\n    return 0;\n}\n",
            "#include <stdio.h>\n\nint main(void) {\n    puts(\"hi\";\n    return 0;\n}\n",
        ),
        (
            "bash",
            "syntax:bash",
            "#!/usr/bin/env bash\nfor x in a b; do\n  echo \"$x\"\ndone\n",
            "#!/usr/bin/env bash\nfor x in a b; do\n  echo \"$x\"\n",
        ),
    ];
    for (tag, name, good, bad) in cases {
        for untagged in [false, true] {
            let t = if untagged { "" } else { tag };
            let (n, v, why) = only(&format!("```{t}\n{good}```\n"));
            assert_eq!((n.as_str(), v), (name, Verdict::Pass), "{tag} {why}");
            let (n, v, why) = only(&format!("```{t}\n{bad}```\n"));
            assert_eq!(
                (n.as_str(), v),
                (name, Verdict::Fail),
                "{tag} untagged={untagged}"
            );
            assert!(why.contains("line "), "{why}");
        }
    }
}

#[test]
fn a_language_without_a_checker_is_skipped_with_the_reason() {
    let (name, v, why) = only("```kotlin\nfun main() { println(\"hi\") }\n```\n");
    assert_eq!((name.as_str(), v), ("syntax:kotlin", Verdict::Skipped));
    assert!(why.contains("no syntax checker for `kotlin`"), "{why}");
    let (name, v, _) = only("```\nsome text nobody can place\n```\n");
    assert_eq!((name.as_str(), v), ("syntax:unknown", Verdict::Skipped));
}

#[test]
fn code_review_is_checked_too_and_several_languages_get_one_result_each() {
    let out = "Problems:\n```python\ndef f(:\n```\n```python\nx = 1\n```\n```yaml\na: 1\n```\n";
    let r = checks("code_review", out, &ValidatorsConfig::default());
    let got: Vec<(&str, Verdict)> = r.iter().map(|r| (r.name.as_str(), r.result)).collect();
    assert_eq!(
        got,
        [
            ("syntax:python", Verdict::Fail),
            ("syntax:yaml", Verdict::Pass)
        ]
    );
    assert!(
        r[0].reason
            .as_deref()
            .unwrap()
            .starts_with("code block 1 (fence at line 2 of the output): "),
        "{:?}",
        r[0].reason
    );
}

#[test]
fn a_plan_naming_a_syntax_validator_is_not_doubled() {
    let cfg = ValidatorsConfig::default();
    let plan = [ValidatorSpec::named("python_syntax")];
    let specs = validators_for("code_generation", &plan, &cfg);
    let r = run_all(
        &specs,
        "```python\nx = (\n```\n```go\npackage x\n```\n",
        &cfg,
    );
    let got: Vec<(&str, Verdict)> = r.iter().map(|r| (r.name.as_str(), r.result)).collect();
    assert_eq!(
        got,
        [
            ("python_syntax", Verdict::Fail),
            ("syntax:go", Verdict::Pass)
        ]
    );
}

#[test]
fn data_extraction_output_is_checked_as_json() {
    let cfg = ValidatorsConfig::default();
    let names = |out: &str| -> Vec<(String, Verdict)> {
        checks("data_extraction", out, &cfg)
            .into_iter()
            .map(|r| (r.name, r.result))
            .collect()
    };
    assert_eq!(
        names("```json\n{\"items\": [1, 2]}\n```\n"),
        [("json".to_string(), Verdict::Pass)]
    );
    assert_eq!(
        names("{\"items\": [1, 2]}"),
        [("json".to_string(), Verdict::Pass)]
    );
    assert_eq!(
        names("{\"items\": [1, 2,, 3]"),
        [("json".to_string(), Verdict::Fail)]
    );
    // Other task types get no default check.
    assert!(checks("summarization", "{", &cfg).is_empty());
}

#[test]
fn configured_defaults_turn_checks_off_or_replace_them() {
    let cfg: ValidatorsConfig =
        toml::from_str("[defaults]\ncode_generation = []\nsummarization = [\"length\"]\n").unwrap();
    assert!(checks("code_generation", "```python\nx = (\n```\n", &cfg).is_empty());
    // A type not listed keeps its built-in default.
    let r = checks("code_review", "```python\nx = (\n```\n", &cfg);
    assert_eq!(
        (r[0].name.as_str(), r[0].result),
        ("syntax:python", Verdict::Fail)
    );
    let r = checks("summarization", "   ", &cfg);
    assert_eq!((r[0].name.as_str(), r[0].result), ("length", Verdict::Fail));

    // Through the config file: an unknown name is an error naming the key.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "[validators.defaults]\ncode_generation = [\"syntax\", \"go_syntax\"]\n",
    )
    .unwrap();
    let c = orchestrator_tui::config::Config::load(Some(&path)).unwrap();
    assert_eq!(
        c.validators.defaults_for("code_generation"),
        ["syntax", "go_syntax"]
    );
    std::fs::write(
        &path,
        "[validators.defaults]\ncode_generation = [\"lint\"]\n",
    )
    .unwrap();
    let e = orchestrator_tui::config::Config::load(Some(&path))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`validators.defaults.code_generation`") && e.contains("`lint`"),
        "{e}"
    );
}
