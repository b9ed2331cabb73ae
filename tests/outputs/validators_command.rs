//! Command validators: configuration, a missing tool, exit codes, a hanging command killed at
//! its timeout (with its children), a cleaned environment, and the async entry point.

use orchestrator_tui::validators::command::find_executable;
use orchestrator_tui::validators::{
    CommandValidator, ValidatorSpec, ValidatorsConfig, Verdict, run_all, run_all_async,
    validators_for,
};
use std::time::Duration;

fn cfg_with(name: &str, cv: CommandValidator) -> ValidatorsConfig {
    let mut cfg = ValidatorsConfig::default();
    cfg.commands.insert(name.to_string(), cv);
    cfg
}

fn run(name: &str, cv: CommandValidator, output: &str) -> (Verdict, String) {
    let r = run_all(&[ValidatorSpec::named(name)], output, &cfg_with(name, cv));
    (r[0].result, r[0].reason.clone().unwrap_or_default())
}

#[test]
fn config_parses_from_toml_and_rejects_unknown_keys() {
    let cfg: ValidatorsConfig = toml::from_str(
        r#"
        [commands.pytest]
        command = ["pytest", "-q", "{dir}"]
        task_types = ["code_generation"]
        language = "python"
        file_name = "test_main.py"
        "#,
    )
    .expect("valid config");
    let p = &cfg.commands["pytest"];
    assert_eq!(p.timeout_secs, 60);
    assert_eq!(p.language.as_deref(), Some("python"));
    assert!(
        toml::from_str::<ValidatorsConfig>("[commands.x]\ncommand = [\"x\"]\ntimeout = 3\n")
            .is_err()
    );
    assert!(toml::from_str::<ValidatorsConfig>("unknown = 1\n").is_err());
}

#[test]
fn default_config_examples_parse_when_uncommented() {
    let text = include_str!("../../assets/config.default.toml");
    let section = text
        .split("\n[validators]\n")
        .nth(1)
        .expect("a [validators] section");
    let uncommented: String = section
        .lines()
        .take_while(|l| !l.starts_with('['))
        .filter_map(|l| {
            l.strip_prefix("# ")
                .or(if l == "#" { Some("") } else { None })
        })
        .map(|l| l.replacen("[validators.", "[", 1) + "\n")
        .collect();
    let cfg: ValidatorsConfig = toml::from_str(&uncommented).expect("examples parse");
    for name in ["pytest", "ruff", "cargo_check", "tsc", "go_vet"] {
        assert!(cfg.commands.contains_key(name), "{name} example missing");
    }
    let specs = validators_for(
        "code_generation",
        &[ValidatorSpec::named("python_syntax")],
        &cfg,
    );
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    // The plan's validator, the type's defaults (the example lists the built-in ones), then the
    // command validators of the type.
    assert_eq!(
        names,
        ["python_syntax", "syntax", "cargo_check", "pytest", "ruff"]
    );
}

#[test]
fn validators_for_adds_configured_commands_once() {
    let mut cv = CommandValidator::new(&["true"]);
    cv.task_types = vec!["code_generation".into()];
    let cfg = cfg_with("lint", cv);
    let explicit = [ValidatorSpec::named("lint")];
    let names = |specs: Vec<ValidatorSpec>| specs.into_iter().map(|s| s.name).collect::<Vec<_>>();
    // `syntax` is code_generation's default check, run besides the command.
    assert_eq!(
        names(validators_for("code_generation", &explicit, &cfg)),
        ["lint", "syntax"]
    );
    assert_eq!(
        names(validators_for("code_generation", &[], &cfg)),
        ["syntax", "lint"]
    );
    assert!(validators_for("summarization", &[], &cfg).is_empty());
}

#[test]
fn missing_tool_is_skipped_never_passed() {
    let (v, why) = run(
        "pytest",
        CommandValidator::new(&["no-such-tool-for-orchestrator-tests", "{file}"]),
        "```python\nx = 1\n```",
    );
    assert_eq!(v, Verdict::Skipped);
    assert!(
        why.contains("tool `no-such-tool-for-orchestrator-tests` not installed"),
        "{why}"
    );
    let (v, _) = run(
        "abs",
        CommandValidator::new(&["/nonexistent/bin/tool"]),
        "x",
    );
    assert_eq!(v, Verdict::Skipped);
    // An unconfigured name is skipped too.
    let r = run_all(
        &[ValidatorSpec::named("ruff")],
        "x",
        &ValidatorsConfig::default(),
    );
    assert_eq!(r[0].result, Verdict::Skipped);
}

#[test]
fn exit_status_and_output_tail() {
    let mut cv = CommandValidator::new(&["sh", "-c", "echo \"{file}:3: bad thing\" >&2; exit 1"]);
    cv.language = Some("python".into());
    let (v, why) = run("lint", cv, "```python\nx = 1\n```");
    assert_eq!(v, Verdict::Fail);
    // The temp dir is elided from the tool output.
    assert!(
        why.contains("exited with status 1") && why.contains("main.py:3: bad thing"),
        "{why}"
    );
    assert!(!why.contains("orch-validate-"), "{why}");
}

#[test]
fn hanging_command_is_killed_at_timeout() {
    let marker = tempfile::tempdir().expect("tempdir");
    let pid_file = marker.path().join("child.pid");
    let script = format!("sleep 30 & echo $! > '{}'; wait", pid_file.display());
    let mut cv = CommandValidator::new(&["sh", "-c", &script]);
    cv.timeout_secs = 1;
    let (v, why) = run("hang", cv, "x");
    assert_eq!(v, Verdict::Fail);
    assert!(
        why.contains("timed out after 1 s") && why.contains("killed"),
        "{why}"
    );

    // The background child (same process group) was killed too.
    let pid = std::fs::read_to_string(&pid_file).expect("child pid written");
    let stat = format!("/proc/{}/stat", pid.trim());
    let mut alive = true;
    for _ in 0..100 {
        alive = std::fs::read_to_string(&stat)
            .map(|s| {
                !s.split_whitespace()
                    .nth(2)
                    .is_some_and(|st| st == "Z" || st == "X")
            })
            .unwrap_or(false);
        if !alive {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive, "child `sleep` {} survived the timeout", pid.trim());
}

#[test]
fn environment_is_cleaned() {
    let cv = CommandValidator::new(&[
        "sh",
        "-c",
        "env | cut -d= -f1 | sort | tr '\\n' ' '; exit 1",
    ]);
    let (_, why) = run("env", cv, "x");
    let names: Vec<&str> = why
        .rsplit("output:\n")
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert!(!names.is_empty(), "{why}");
    for n in names {
        assert!(
            ["PATH", "HOME", "LANG", "PWD", "SHLVL", "_", "OLDPWD"].contains(&n),
            "unexpected variable {n} in {why}"
        );
    }
}

#[test]
fn annotated_files_are_available_to_the_tool() {
    let mut cv = CommandValidator::new(&[
        "sh",
        "-c",
        "test -f src/app.py && test -f tests/test_app.py && grep -q add {file}",
    ]);
    cv.language = Some("python".into());
    let out = "File: src/app.py\n```python\ndef add(a, b):\n    return a + b\n```\n\nFile: tests/test_app.py\n```python\nfrom src.app import add\n```\n";
    let (v, why) = run("layout", cv, out);
    assert_eq!(v, Verdict::Pass, "{why}");
    // Unsafe annotated paths are not written outside the temp dir.
    let mut cv = CommandValidator::new(&["sh", "-c", "true"]);
    cv.language = Some("python".into());
    let (v, _) = run(
        "escape",
        cv,
        "File: ../../escape_attempt.py\n```python\nx = 1\n```\n",
    );
    assert_eq!(v, Verdict::Pass);
    assert!(!std::path::Path::new("/escape_attempt.py").exists());
    assert!(!std::env::temp_dir().join("escape_attempt.py").exists());
}

#[test]
fn real_python_compile_when_installed() {
    if find_executable("python3").is_none() {
        return;
    }
    let mut cv = CommandValidator::new(&["python3", "-m", "py_compile", "{file}"]);
    cv.language = Some("python".into());
    assert_eq!(
        run("pyc", cv.clone(), "```python\nx = 1\n```").0,
        Verdict::Pass
    );
    let (v, why) = run("pyc", cv, "```python\ndef f(:\n    pass\n```");
    assert_eq!(v, Verdict::Fail);
    assert!(why.contains("line 1"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_runner_does_not_block_the_runtime() {
    let mut cv = CommandValidator::new(&["sh", "-c", "sleep 1"]);
    cv.timeout_secs = 5;
    let cfg = cfg_with("slow", cv);
    let specs = [ValidatorSpec::named("slow"), ValidatorSpec::named("json")];
    let ticker = tokio::spawn(async {
        let mut n = 0;
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            n += 1;
        }
        n
    });
    let r = run_all_async(&specs, "{\"a\": 1}", &cfg).await;
    assert_eq!(r[0].result, Verdict::Pass, "{:?}", r[0].reason);
    assert_eq!(r[1].result, Verdict::Pass);
    assert_eq!(ticker.await.expect("ticker"), 5);
}

#[test]
fn user_config_file_configures_command_validators() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        "[validators.commands.ruff]\ncommand = [\"ruff\", \"check\", \"{dir}\"]\ntask_types = [\"code_generation\"]\nlanguage = \"python\"\ntimeout_secs = 30\n",
    )
    .expect("write");
    let cfg = orchestrator_tui::config::Config::load(Some(&path)).expect("config loads");
    let ruff = &cfg.validators.commands["ruff"];
    assert_eq!(ruff.timeout_secs, 30);
    let specs = validators_for("code_generation", &[], &cfg.validators);
    assert_eq!(
        specs,
        [ValidatorSpec::named("syntax"), ValidatorSpec::named("ruff")]
    );

    std::fs::write(
        &path,
        "[validators.commands.ruff]\ncommand = [\"ruff\"]\ntimeout = 3\n",
    )
    .expect("write");
    assert!(orchestrator_tui::config::Config::load(Some(&path)).is_err());
}
