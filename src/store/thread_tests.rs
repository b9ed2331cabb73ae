//! The store thread on SQLite: queued jobs share a commit and fail alone, write-behind jobs
//! are done before later ones, and processes opening a new database at once all succeed.

use super::*;

type TestJob = Box<dyn FnOnce(&dyn Sql) -> Result<i64, StoreError> + Send>;

#[test]
fn processes_opening_a_new_database_at_once_all_succeed() {
    // Several commands started together on a fresh data dir (a script, the TUI and a
    // `runs` poll) race to switch the new file to WAL; none may fail "database is locked".
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    open_connection(&path).map(|_| ())
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
    }
}

async fn store_with(schema: &'static str) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.call(move |c| c.execute_batch(schema)).await.unwrap();
    (dir, store)
}

fn count(c: &dyn Sql) -> Result<i64, StoreError> {
    c.query_row("SELECT COUNT(*) FROM t", crate::args![], |r| r.get(0))
}

#[tokio::test]
async fn queued_transactions_share_a_commit_and_fail_alone() {
    let (_dir, store) = store_with("CREATE TABLE t (v INTEGER UNIQUE)").await;
    // Hold the store thread so the next jobs queue up and are drained as one group.
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (held_tx, held_rx) = mpsc::channel::<()>();
    store
        .submit(
            |_| Ok(()),
            move |_| {
                let _ = held_tx.send(());
                let _ = go_rx.recv();
            },
        )
        .unwrap();
    held_rx.recv().unwrap();
    let (rtx, rrx) = mpsc::channel::<(u8, Result<i64, String>)>();
    let jobs: Vec<(u8, TestJob)> = vec![
        (
            1,
            Box::new(|c| Ok(c.execute("INSERT INTO t VALUES (1)", crate::args![])? as i64)),
        ),
        // Writes a row, then fails: its row must be undone, the others kept.
        (
            2,
            Box::new(|c| {
                c.execute("INSERT INTO t VALUES (2)", crate::args![])?;
                Ok(c.execute("INSERT INTO t VALUES (1)", crate::args![])? as i64)
            }),
        ),
        (
            3,
            Box::new(|c| {
                c.execute("INSERT INTO t VALUES (3)", crate::args![])?;
                count(c)
            }),
        ),
    ];
    for (k, f) in jobs {
        let rtx = rtx.clone();
        store
            .submit(f, move |r| {
                let _ = rtx.send((k, r.map_err(|e| e.to_string())));
            })
            .unwrap();
    }
    go_tx.send(()).unwrap();
    let mut got: Vec<(u8, Result<i64, String>)> = (0..3).map(|_| rrx.recv().unwrap()).collect();
    got.sort_by_key(|g| g.0);
    assert_eq!(got[0].1, Ok(1));
    assert!(got[1].1.is_err(), "the failing job reports its own error");
    assert_eq!(got[2].1, Ok(2), "sees rows 1 and 3, not the undone 2");
    let rows: Vec<i64> = store
        .call(|c| c.query_map("SELECT v FROM t ORDER BY v", crate::args![], |r| r.get(0)))
        .await
        .unwrap();
    assert_eq!(rows, vec![1, 3]);
}

#[tokio::test]
async fn submitted_job_is_done_before_later_jobs_run() {
    let (_dir, store) = store_with("CREATE TABLE t (v INTEGER)").await;
    let (dtx, drx) = mpsc::channel();
    store
        .submit(
            |c| c.execute("INSERT INTO t VALUES (7)", crate::args![]),
            move |r| {
                let _ = dtx.send(r.is_ok());
            },
        )
        .unwrap();
    // A plain read queued afterwards sees the committed row, and `done` already ran.
    let n = store.call(count).await.unwrap();
    assert_eq!(n, 1);
    assert_eq!(drx.try_recv().ok(), Some(true));
}

#[tokio::test]
async fn writes_behind_and_awaited_jobs_share_commits_and_leave_no_one_counted_as_waiting() {
    let (_dir, store) = store_with("CREATE TABLE t (x INTEGER)").await;
    let groups0 = store.groups_run();
    // A burst sent behind, then an awaited write and a read queued after it: the awaited jobs
    // see every write before them, and the burst shares commits (gathered under load).
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..200i64 {
        let tx = tx.clone();
        store
            .submit(
                move |c| c.execute("INSERT INTO t (x) VALUES (?1)", crate::args![i]),
                move |r| {
                    let _ = tx.send(r.is_ok());
                },
            )
            .unwrap();
    }
    let n = store
        .transact(|c| {
            c.execute("INSERT INTO t (x) VALUES (-1)", crate::args![])?;
            count(c)
        })
        .await
        .unwrap();
    assert_eq!(
        n, 201,
        "the awaited write runs after every write queued before it"
    );
    assert_eq!(store.call(count).await.unwrap(), 201);
    drop(tx);
    let mut ok = 0;
    while let Some(r) = rx.recv().await {
        ok += usize::from(r);
    }
    assert_eq!(ok, 200);
    let groups = store.groups_run() - groups0;
    assert!(groups < 201, "{groups} commits for 201 queued writes");
    assert_eq!(
        store.shared.awaited.load(Ordering::SeqCst),
        0,
        "every awaited job was taken off the count"
    );
}
