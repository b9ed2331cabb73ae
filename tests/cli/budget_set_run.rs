//! `budget set-run RUN USD` (the CLI twin of `b` on a run in the TUI: the same engine method)
//! and `cancel RUN` on runs nobody drives.

use crate::support::binary::{Env, code};

#[test]
fn set_run_changes_a_stored_runs_cap_and_refuses_bad_amounts() {
    let env = Env::new("[simulated]\nenabled = \"always\"\n");
    let out = env.run(&[
        "run",
        "--headless",
        "--budget",
        "1",
        "Write a haiku about caps",
    ]);
    assert!(out.status.success() || code(&out) == 4, "{out:?}");
    let (v, _) = env.json(&["runs", "--json"]);
    let id = v[0]["id"].as_str().expect("run id").to_string();

    let out = env.run(&["budget", "set-run", &id, "2.5"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("run {id} cap set to $2.50")),
        "{out:?}"
    );
    let (v, _) = env.json(&["show", &id, "--json"]);
    assert_eq!(v["budget_usd"], 2.5);

    for bad in ["0", "-1"] {
        let out = env.run(&["budget", "set-run", &id, bad]);
        assert_eq!(code(&out), 2, "{bad}: {out:?}");
    }
    let out = env.run(&["budget", "set-run", "r-nope00", "3"]);
    assert_eq!(code(&out), 2, "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("r-nope00"),
        "{out:?}"
    );

    // Nothing drives it: `cancel` says so, exit 0, and the run is unchanged.
    let (v, out) = env.json(&["cancel", &id, "--json"]);
    assert_eq!(code(&out), 0, "{out:?}");
    assert_eq!(v["requested"], false);
    assert_eq!(v["stopped"], true);
    let out = env.run(&["cancel", &id]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("not running, nothing to cancel"),
        "{out:?}"
    );
}
