//! The TUI's snapshot on the org-wide PostgreSQL store (issue 19): loaded through a reader
//! connection of its own, a run driven by a live process is `running` and one whose driver is
//! gone `interrupted`, whichever machine looks. Skipped without `ORCHESTRATOR_TEST_PG_URL`.

use orchestrator_tui::domain::Micros;
use orchestrator_tui::domain::status::RunStatus;
use orchestrator_tui::store::{NewRun, Store};

#[test]
fn the_snapshot_shows_who_drives_each_run() {
    // A schema of its own, dropped at the end.
    let Some(schema) = crate::support::pg::PgSchema::new("tui_snap") else {
        return;
    };
    let store = Store::open_pg(&schema.target).unwrap();
    let new = |id: &str| NewRun {
        id: id.into(),
        description: format!("build {id}"),
        criteria: String::new(),
        team: None,
        strategy: "quality".into(),
        budget: Micros(1_000_000),
        time_limit_secs: 60,
        concurrency: 1,
        output_dir: "/tmp/unused".into(),
        plan: None,
        simulated: true,
    };
    store
        .call_blocking(move |c| {
            orchestrator_tui::store::runs::insert_run(c, &new("r-dead"))?;
            orchestrator_tui::store::runs::insert_run(c, &new("r-live"))
        })
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let claim = rt.block_on(store.claim_run("r-live")).unwrap();
    let mut reader = store.read_target().open().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let snap = reader
        .read(|c| orchestrator_tui::tui::data::load(c, dir.path(), &vec![], &Default::default()))
        .unwrap();
    let status = |id: &str| snap.runs.iter().find(|r| r.id == id).map(|r| r.status);
    assert_eq!(status("r-live"), Some(RunStatus::Running));
    assert_eq!(status("r-dead"), Some(RunStatus::Interrupted));
    // Connections go before the schema is dropped (its Drop).
    drop((claim, reader, store));
}
