//! The Runs pane's host and user columns and its `m` "mine / all" toggle (issue 19: a shared store
//! lists several machines' runs). Wide terminals show where each run was started; narrow ones
//! drop those columns first. `m` keeps only the runs this host's OS user started, says so in the
//! pane title and the status bar, and keeps the selection on the same run when it can.

use crate::support::tui_fixtures as fixtures;
use crate::support::tui_testkit as testkit;
use orchestrator_tui::store::{self, NewRun};
use orchestrator_tui::tui::action::{Action, Msg, Pane};
use orchestrator_tui::tui::app::{State, update};
use orchestrator_tui::tui::data::{SnapshotReq, load};
use orchestrator_tui::tui::state::Me;
use testkit::*;

fn ids(s: &State) -> Vec<String> {
    s.runs_view()
        .iter()
        .map(|i| s.runs[*i].id.clone())
        .collect()
}

#[test]
fn wide_terminals_show_host_and_user_and_narrow_ones_drop_them_first() {
    let s = fixtures::state();
    let wide = screen(&s, 160, 30);
    let header = wide
        .lines()
        .find(|l| l.contains("Spent/Budget"))
        .expect("a header");
    for col in ["Team", "Host", "User", "Created", "Description"] {
        assert!(header.contains(col), "{col} missing at 160: {header}");
    }
    let other = wide
        .lines()
        .find(|l| l.contains("r-51be02"))
        .expect("a row");
    assert!(
        other.contains("build-02.exam…") && other.contains("ci"),
        "{other}"
    );
    let unknown = wide
        .lines()
        .find(|l| l.contains("r-9d8e7f"))
        .expect("a row");
    assert!(unknown.contains(" - "), "{unknown}");
    insta::assert_snapshot!("runs_host_user_160x30", wide);
    // 120: team and creation time stay, host and user go.
    let mid = screen(&s, 120, 40);
    let header = mid.lines().find(|l| l.contains("Spent/Budget")).unwrap();
    assert!(
        header.contains("Team") && header.contains("Created"),
        "{header}"
    );
    assert!(
        !header.contains("Host") && !header.contains("User"),
        "{header}"
    );
    // 80: the core columns, and a description still readable.
    let narrow = screen(&s, 80, 24);
    assert!(!narrow.contains("dev-laptop"), "{narrow}");
    assert!(narrow.contains("Build a todo…"), "{narrow}");
}

#[test]
fn m_toggles_mine_and_all_with_the_mode_in_title_and_footer() {
    let mut s = fixtures::state();
    assert_eq!(ids(&s).len(), 6, "all by default");
    // Select a run of another machine, then show only mine: the selection moves to a listed run.
    update(&mut s, Msg::Action(Action::Down));
    assert_eq!(s.selected_run().map(|r| r.id.as_str()), Some("r-51be02"));
    ch(&mut s, 'm');
    assert!(s.panes.runs.mine);
    assert_eq!(ids(&s), ["r-7f3a9c", "r-c0ffee", "r-aa01b2"]);
    let text = screen(&s, 80, 24);
    insta::assert_snapshot!("runs_mine_80x24", text);
    assert!(text.contains("Runs · mine (2/3 of 6)"), "{text}");
    let footer = text.lines().last().unwrap_or_default();
    assert!(footer.contains("· mine"), "{footer}");
    assert!(
        !text.contains("r-51be02") && !text.contains("r-9d8e7f"),
        "{text}"
    );
    // Back to all: the run selected in "mine" stays selected.
    ch(&mut s, 'm');
    assert!(!s.panes.runs.mine);
    assert_eq!(ids(&s).len(), 6);
    assert_eq!(s.selected_run().map(|r| r.id.as_str()), Some("r-c0ffee"));
    let text = screen(&s, 120, 40);
    assert!(text.contains(" Runs (3/6) "), "{text}");
    assert!(!text.lines().last().unwrap_or_default().contains("· mine"));
    // The filter applies within mine, and host and user are searchable.
    ch(&mut s, '/');
    typed(&mut s, "build-02");
    key(&mut s, crossterm::event::KeyCode::Enter);
    assert_eq!(ids(&s), ["r-51be02"]);
    ch(&mut s, 'm');
    assert!(ids(&s).is_empty(), "not mine");
    ch(&mut s, 'm');
    key(&mut s, crossterm::event::KeyCode::Esc);
    // Another user on the same host is not me.
    s.me = Me {
        host: "dev-laptop".into(),
        user: "ben".into(),
    };
    ch(&mut s, 'm');
    assert!(ids(&s).is_empty());
    assert!(screen(&s, 80, 24).contains("None of the runs was started here by you"));
}

/// `m` is in the help (with the Runs keys first); the footer keeps its room for quit and the
/// other keys and shows the mode only when it filters.
#[test]
fn m_is_listed_in_help() {
    let mut s = fixtures::state();
    update(&mut s, Msg::Action(Action::GoPane(Pane::Runs)));
    assert!(screen(&s, 120, 40).contains("q/Ctrl-C quit"));
    update(&mut s, Msg::Action(Action::Help));
    let help = screen(&s, 120, 40);
    let line = help.lines().find(|l| l.contains("mine / all"));
    assert!(line.is_some_and(|l| l.contains(" m ")), "{help}");
}

/// The loader reads where each run was started from the store: this process's runs carry its
/// own host and user, so "mine" finds them.
#[test]
fn stored_runs_carry_the_host_and_user_that_started_them() {
    let c = store::open_in_memory().expect("store");
    let d = tempfile::tempdir().expect("tempdir");
    store::runs::insert_run(
        &c,
        &NewRun {
            id: "r-here01".into(),
            description: "Build a todo app".into(),
            criteria: String::new(),
            team: None,
            strategy: "balanced".into(),
            budget: orchestrator_tui::domain::Micros::from_usd(1.0),
            time_limit_secs: 60,
            concurrency: 1,
            output_dir: d.path().display().to_string(),
            plan: None,
            simulated: true,
        },
    )
    .expect("run");
    let snap = load(&c, d.path(), &vec![], &SnapshotReq::default()).expect("load");
    let me = Me::current();
    let r = &snap.runs[0];
    assert_eq!(
        (r.host.as_deref(), r.user.as_deref()),
        (Some(me.host.as_str()), Some(me.user.as_str()))
    );
    let mut s = State::new(fixtures::NOW_MS, 8.0, true);
    update(&mut s, Msg::Snapshot(Box::new(snap)));
    ch(&mut s, 'm');
    assert_eq!(ids(&s), ["r-here01"]);
}
