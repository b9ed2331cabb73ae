//! The snapshot loader: a thread with its own read connection (`store/reader.rs`) that answers
//! the UI's requests with snapshots (`data.rs`) on the UI's channel, merging requests that pile
//! up, and reloads by itself when another process changed the store: on SQLite when `PRAGMA
//! data_version` says so (polled), on PostgreSQL when the store notifies it (LISTEN/NOTIFY,
//! `store/pg/notify.rs`), polling only while the listener's connection is lost.

use super::action::Msg;
use super::data::{Cache, ModelList, Notified, SnapshotReq, load_cached};
use crate::store::{self, ViewStore};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc::UnboundedSender;

/// The loader thread's handle: send requests, snapshots come back as `Msg::Snapshot`.
pub struct Loader {
    tx: std::sync::mpsc::Sender<Wake>,
}

/// What wakes the loader thread.
enum Wake {
    /// The UI wants a snapshot.
    Req(SnapshotReq),
    /// The shared store changed (a PostgreSQL notification), or its listener connected or was
    /// lost: load the last request again.
    Changed,
}

/// How often the loader looks for commits it was not told about (another process's writes):
/// what any process stores is on screen within about this long plus one load. On PostgreSQL the
/// store tells the loader (LISTEN/NOTIFY) and this poll is only the fallback while the
/// listener's connection is lost.
pub const POLL: std::time::Duration = std::time::Duration::from_millis(500);

impl Loader {
    /// Start the loader, polling every [`POLL`] (see [`Loader::spawn_polling`]).
    pub fn spawn(
        source: impl Into<store::reader::ReadTarget>,
        data_dir: PathBuf,
        catalog: ModelList,
        out: UnboundedSender<Msg>,
    ) -> std::io::Result<Loader> {
        Self::spawn_polling(source, data_dir, catalog, out, POLL)
    }

    /// Start the loader. Besides answering requests it reloads (with the last request) whenever
    /// the store changed: on SQLite when `PRAGMA data_version` shows a commit it has not loaded
    /// yet (checked every `poll`); on PostgreSQL when a notification says so, polling every
    /// `poll` only while the listener is not connected. An idle store costs nothing then.
    pub fn spawn_polling(
        source: impl Into<store::reader::ReadTarget>,
        data_dir: PathBuf,
        catalog: ModelList,
        out: UnboundedSender<Msg>,
        poll: std::time::Duration,
    ) -> std::io::Result<Loader> {
        let (tx, rx) = std::sync::mpsc::channel::<Wake>();
        let source = source.into();
        // On PostgreSQL: what its notifications say.
        let notified = match &source {
            store::reader::ReadTarget::Postgres(t) => Some(listen(t, &tx, &out)?),
            store::reader::ReadTarget::Sqlite(_) => None,
        };
        std::thread::Builder::new()
            .name("tui-data".into())
            .spawn(move || {
                let mut conn = match source.open() {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = out.send(Msg::Failed(format!("cannot read the store: {e}")));
                        return;
                    }
                };
                let mut last_err: Option<String> = None;
                let mut cache = Cache::default();
                cache.notified = notified.clone();
                let mut last_req: Option<SnapshotReq> = None;
                let mut loaded_version: Option<i64> = None;
                loop {
                    let told = notified
                        .as_ref()
                        .is_some_and(|n| n.listening.load(Ordering::SeqCst));
                    let woke = if told {
                        rx.recv()
                            .map_err(|_| std::sync::mpsc::RecvTimeoutError::Disconnected)
                    } else {
                        rx.recv_timeout(poll)
                    };
                    let mut req = match woke {
                        Ok(Wake::Req(r)) => r,
                        Ok(Wake::Changed) => match &last_req {
                            Some(r) => r.clone(),
                            None => continue,
                        },
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                            let changed = conn.read(|c| c.data_version()).ok() != loaded_version;
                            match (&last_req, changed) {
                                (Some(r), true) => r.clone(),
                                _ => continue,
                            }
                        }
                    };
                    while let Ok(newer) = rx.try_recv() {
                        if let Wake::Req(newer) = newer {
                            req = req.merge(newer);
                        }
                    }
                    // Read before loading: a commit during the load is picked up by the next poll.
                    loaded_version = conn.read(|c| c.data_version()).ok();
                    let mut loaded =
                        conn.read(|c| load_cached(c, &data_dir, &catalog, &req, &mut cache));
                    // A PostgreSQL connection the server dropped (restart, network): open it
                    // again and load once more, so the UI recovers as soon as the server is back.
                    if loaded.is_err()
                        && conn.is_closed()
                        && let Ok(fresh) = source.open()
                    {
                        conn = fresh;
                        loaded_version = conn.read(|c| c.data_version()).ok();
                        loaded =
                            conn.read(|c| load_cached(c, &data_dir, &catalog, &req, &mut cache));
                    }
                    last_req = Some(SnapshotReq {
                        history: false,
                        ..req
                    });
                    let msg = match loaded {
                        Ok(s) => {
                            last_err = None;
                            Msg::Snapshot(Box::new(s))
                        }
                        Err(e) => {
                            let text = format!("loading data: {e}");
                            if last_err.as_ref() == Some(&text) {
                                continue;
                            }
                            last_err = Some(text.clone());
                            Msg::Failed(text)
                        }
                    };
                    if out.send(msg).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Loader { tx })
    }

    /// Ask for a snapshot (never blocks).
    pub fn request(&self, req: SnapshotReq) {
        let _ = self.tx.send(Wake::Req(req));
    }
}

/// Subscribe the loader to the shared store's notifications: every change (and every
/// (re)connection, after which changes may have been missed) wakes it. Returns the flag that
/// says whether the listener is connected and counts the changes. The subscription ends when the
/// UI's channel closes.
fn listen(
    target: &store::pg::PgTarget,
    tx: &std::sync::mpsc::Sender<Wake>,
    out: &UnboundedSender<Msg>,
) -> std::io::Result<Arc<Notified>> {
    use crate::store::pg::notify::Heard;
    let notified = Arc::new(Notified::default());
    let (n, tx, out) = (notified.clone(), tx.clone(), out.clone());
    store::pg::notify::watch(
        target,
        Box::new(move |heard| {
            if out.is_closed() {
                return false;
            }
            match heard {
                Heard::Quiet => return true,
                Heard::Listening => n.listening.store(true, Ordering::SeqCst),
                Heard::Lost => n.listening.store(false, Ordering::SeqCst),
                Heard::Changes(_) => {}
            }
            // Counted before the loader wakes: its load sees a new key.
            n.heard.fetch_add(1, Ordering::SeqCst);
            tx.send(Wake::Changed).is_ok()
        }),
    )?;
    Ok(notified)
}
