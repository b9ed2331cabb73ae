//! `run --out`: never `/`, `$HOME` or a directory holding the data dir; a non-empty directory this
//! program did not create only with `--overwrite` (`--force` keeps meaning "skip the pre-flight
//! check"); earlier output directories are reused; every task gets its own artifact files.

use crate::support::binary::*;
use std::fs;
use std::path::Path;

fn run_out(
    env: &Env,
    home: &Path,
    plan: &Path,
    out: &Path,
    flags: &[&str],
) -> std::process::Output {
    env.cmd()
        .env("HOME", home)
        .args(["run", "--json", "--plan"])
        .arg(plan)
        .arg("--out")
        .arg(out)
        .args(flags)
        .output()
        .unwrap()
}

#[test]
fn out_on_home_root_the_data_dir_or_a_foreign_directory_is_refused() {
    let env = Env::new("");
    let home = env.dir.path().join("home");
    fs::create_dir_all(&home).unwrap();
    fs::write(home.join(".bashrc"), "# mine\n").unwrap();
    let project = env.dir.path().join("project");
    fs::create_dir_all(&project).unwrap();
    fs::write(project.join("main.py"), "x = 1\n").unwrap();
    let plan = env.write("plan.json", &flat_plan(1));
    assert_eq!(code(&env.run(&["runs"])), 0);
    let before = table_counts(&env.data());
    let cases: [(&Path, &[&str], &str); 6] = [
        (&home, &[], "home directory"),
        (&home, &["--overwrite"], "home directory"),
        (Path::new("/"), &["--overwrite"], "filesystem root"),
        (&project, &[], "--overwrite"),
        (&project, &["--force"], "--overwrite"),
        (env.dir.path(), &["--overwrite"], "data directory"),
    ];
    for (dir, flags, needle) in cases {
        let out = run_out(&env, &home, &plan, dir, flags);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{dir:?} {flags:?}: {err}");
        assert!(out.stdout.is_empty(), "{dir:?} {flags:?}");
        assert!(err.contains(needle), "{dir:?} {flags:?}: {err}");
        assert!(err.contains("--out"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert_eq!(table_counts(&env.data()), before, "{dir:?} {flags:?}");
    }
    assert_eq!(
        fs::read_to_string(home.join(".bashrc")).unwrap(),
        "# mine\n"
    );
    assert_eq!(fs::read_dir(&home).unwrap().count(), 1);
    assert_eq!(fs::read_dir(&project).unwrap().count(), 1);

    // With --overwrite the project directory is used; the user's file is left alone.
    let out = run_out(&env, &home, &plan, &project, &["--overwrite"]);
    assert!(matches!(code(&out), 0 | 4), "{}", stderr(&out));
    assert!(project.join("summary.json").is_file());
    assert_eq!(
        fs::read_to_string(project.join("main.py")).unwrap(),
        "x = 1\n"
    );
    // --overwrite means nothing without --out.
    let out = env.run(&["run", "x", "--overwrite"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}

#[test]
fn ids_that_clean_to_one_name_get_their_own_files_and_output_dirs_are_reused() {
    let env = Env::new("");
    let items: Vec<String> = ["a b", "a_b", "a?b"]
        .iter()
        .map(|id| {
            format!(
                r#"{{"id": "{id}", "type": "summarization", "prompt": "Summarise item {id}", "max_iterations": 1}}"#
            )
        })
        .collect();
    let plan = env.write("plan.json", &format!("[{}]", items.join(",")));
    let out_dir = env.dir.path().join("out");
    let home = env.dir.path().join("home");
    let out = run_out(&env, &home, &plan, &out_dir, &[]);
    assert!(matches!(code(&out), 0 | 4), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut task_files = Vec::new();
    for t in v["tasks"].as_array().unwrap() {
        let own: Vec<&str> = t["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a.as_str())
            .filter(|a| a.starts_with("tasks/"))
            .collect();
        assert_eq!(own.len(), 1, "task {} lists {own:?}", t["id"]);
        assert!(out_dir.join(own[0]).is_file(), "{}", own[0]);
        task_files.push(own[0].to_string());
    }
    task_files.sort();
    task_files.dedup();
    assert_eq!(task_files.len(), 3, "{task_files:?}");
    assert_eq!(fs::read_dir(out_dir.join("tasks")).unwrap().count(), 3);
    // summary.json lists them the same way.
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out_dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["tasks"], v["tasks"]);

    // The directory is marked as an output directory: a later run may write there again.
    assert!(out_dir.join(".orchestrator-tui-output").is_file());
    let out = run_out(&env, &home, &plan, &out_dir, &[]);
    assert!(matches!(code(&out), 0 | 4), "{}", stderr(&out));
}
