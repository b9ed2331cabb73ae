//! Liveness: the driving process holds an OS advisory lock on `<data>/locks/<run>.lock`, and every
//! engine process one on `<data>/locks/proc-<pid>-<start>.lock`; the kernel drops them the instant
//! the process dies, so no heartbeat or grace period is needed. A lock file can be deleted under
//! its holder, though (the lock stays on the unlinked inode, and a new file locks fine), so the
//! owner recorded with a run or reservation (host, pid, start time) is verified as well: an
//! owner is dead only when its lock is free *and* no such process runs on this host.

use crate::store::owner::{Owner, pid_exists};
use crate::store::recovery::Holder;
use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

pub struct RunLock {
    _file: File,
    pub path: PathBuf,
}

fn lock_path(data_dir: &Path, run_id: &str) -> PathBuf {
    data_dir.join("locks").join(format!("{run_id}.lock"))
}

/// Take the run's lock, or `Ok(None)` if another live process holds it.
pub fn acquire(data_dir: &Path, run_id: &str) -> std::io::Result<Option<RunLock>> {
    let path = lock_path(data_dir, run_id);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(RunLock { _file: file, path })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// Is the run's lock file held right now? (See [`run_alive`] for whether its owner lives.)
pub fn is_held(data_dir: &Path, run_id: &str) -> bool {
    path_held(&lock_path(data_dir, run_id))
}

fn path_held(path: &Path) -> bool {
    let Ok(file) = OpenOptions::new().write(true).open(path) else {
        return false;
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(_)) => false,
    }
}

/// Is a live process driving this run? Its lock is held, or the owner recorded in the run row
/// (cleared when a run stops) is provably alive. This process as owner counts only through the
/// lock: it is not driving a run it no longer holds the lock of.
pub fn run_alive(data_dir: &Path, run_id: &str, owner: Option<&Owner>) -> bool {
    is_held(data_dir, run_id) || owner.is_some_and(|o| !o.is_me() && owner_alive(data_dir, o))
}

/// Is this process alive: its process lock held, or (on this host) the process itself seen?
pub fn owner_alive(data_dir: &Path, o: &Owner) -> bool {
    o.alive_here() || path_held(&process_lock_path(data_dir, o))
}

/// May crash recovery settle this reservation? Only when its holder is provably dead.
pub fn holder_dead(data_dir: &Path, h: &Holder) -> bool {
    match (&h.owner, &h.run_id) {
        (Some(o), _) => !owner_alive(data_dir, o),
        // Rows of older versions: the run lock, or for a call outside a run, the pid.
        (None, Some(run)) => !is_held(data_dir, run),
        (None, None) => !pid_exists(h.pid),
    }
}

fn process_lock_path(data_dir: &Path, o: &Owner) -> PathBuf {
    data_dir
        .join("locks")
        .join(format!("proc-{}-{}.lock", o.pid, o.start_ticks()))
}

/// This process's lock in a data dir, held while it may hold reservations there (shared by every
/// engine of the process on that dir; the file goes when the last one is dropped).
pub struct ProcessLock {
    file: Option<File>,
    path: PathBuf,
}

impl Drop for ProcessLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        drop(self.file.take());
    }
}

pub fn process_lock(data_dir: &Path) -> std::io::Result<Arc<ProcessLock>> {
    static HELD: Mutex<Option<HashMap<PathBuf, Weak<ProcessLock>>>> = Mutex::new(None);
    let path = process_lock_path(data_dir, Owner::current());
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    let map = held.get_or_insert_with(HashMap::new);
    if let Some(l) = map.get(&path).and_then(Weak::upgrade) {
        return Ok(l);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    file.lock()?;
    let l = Arc::new(ProcessLock {
        file: Some(file),
        path: path.clone(),
    });
    map.insert(path, Arc::downgrade(&l));
    Ok(l)
}

/// Remove the process lock file of a dead owner (recovery is done with it).
pub fn remove_dead_process_lock(data_dir: &Path, o: &Owner) {
    let _ = std::fs::remove_file(process_lock_path(data_dir, o));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Micros;

    fn holder(owner: Option<Owner>, run: Option<&str>, pid: u32) -> Holder {
        Holder {
            id: 1,
            run_id: run.map(String::from),
            team: None,
            pid,
            owner,
            amount: Micros(10),
        }
    }

    /// An owner that ran on this host and has exited.
    fn dead_owner() -> Owner {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let me = Owner::current();
        Owner {
            host: me.host.clone(),
            pid,
            start: format!("{}/1", me.start.rsplit_once('/').unwrap().0),
        }
    }

    #[test]
    fn a_live_owner_is_alive_without_its_lock_files() {
        let d = tempfile::tempdir().unwrap();
        let me = Owner::current().clone();
        // No lock file at all (deleted): the process itself is seen.
        assert!(!holder_dead(
            d.path(),
            &holder(Some(me.clone()), None, me.pid)
        ));
        assert!(!holder_dead(
            d.path(),
            &holder(Some(me.clone()), Some("r-1"), me.pid)
        ));
        let gone = dead_owner();
        assert!(holder_dead(
            d.path(),
            &holder(Some(gone.clone()), None, gone.pid)
        ));
        // Its process lock held (by another host's process, say): alive.
        let path = process_lock_path(d.path(), &gone);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let f = File::create(&path).unwrap();
        f.lock().unwrap();
        assert!(!holder_dead(
            d.path(),
            &holder(Some(gone.clone()), None, gone.pid)
        ));
        drop(f);
        assert!(holder_dead(d.path(), &holder(Some(gone), None, 1)));
    }

    #[test]
    fn a_deleted_run_lock_does_not_hide_a_live_owner() {
        let d = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let driver = Owner::of_pid(child.id()).unwrap();
        let l = acquire(d.path(), "r-1").unwrap().unwrap();
        std::fs::remove_file(&l.path).unwrap();
        assert!(!is_held(d.path(), "r-1"), "the flock alone is fooled");
        assert!(run_alive(d.path(), "r-1", Some(&driver)));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!run_alive(d.path(), "r-1", Some(&driver)));
        assert!(!run_alive(d.path(), "r-1", None));
    }

    #[test]
    fn the_process_lock_is_shared_and_removed_with_its_last_holder() {
        let d = tempfile::tempdir().unwrap();
        let path = process_lock_path(d.path(), Owner::current());
        let a = process_lock(d.path()).unwrap();
        let b = process_lock(d.path()).unwrap();
        assert!(path_held(&path));
        drop(a);
        assert!(path_held(&path));
        drop(b);
        assert!(!path.exists());
    }

    #[test]
    fn lock_is_exclusive_and_released_on_drop() {
        let d = tempfile::tempdir().unwrap();
        assert!(!is_held(d.path(), "r-1"));
        let l = acquire(d.path(), "r-1").unwrap().unwrap();
        assert!(is_held(d.path(), "r-1"));
        assert!(acquire(d.path(), "r-1").unwrap().is_none());
        drop(l);
        assert!(!is_held(d.path(), "r-1"));
    }
}
