//! Run liveness: the driving process holds an OS advisory lock on `<data>/locks/<run>.lock`; the
//! kernel drops it the instant the process dies, so no heartbeat or grace period is needed.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

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

/// Is a live process driving this run right now?
pub fn is_held(data_dir: &Path, run_id: &str) -> bool {
    let path = lock_path(data_dir, run_id);
    let Ok(file) = OpenOptions::new().write(true).open(&path) else {
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

#[cfg(test)]
mod tests {
    use super::*;

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
