//! The gitignore-aware parallel walk (the `ignore` crate, ripgrep's walker): one accumulator per
//! thread, merged and put in path order at the end so results do not depend on scheduling.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use ignore::{DirEntry, ParallelVisitor, ParallelVisitorBuilder, WalkBuilder, WalkState};

use super::known_files::{IGNORE_FILE, SKIP_DIRS};
use super::report::AnalysisProgress;
use super::scan::{Acc, scan_file};

/// Progress is reported every this many files per thread.
const PROGRESS_EVERY: u64 = 512;

struct Shared<'a> {
    root: &'a Path,
    results: Mutex<Vec<Acc>>,
    files: AtomicU64,
    bytes: AtomicU64,
    progress: &'a (dyn Fn(AnalysisProgress) + Sync),
}

struct Worker<'s> {
    shared: &'s Shared<'s>,
    acc: Acc,
    buf: Vec<u8>,
    pending_files: u64,
    pending_bytes: u64,
}

impl Worker<'_> {
    fn entry(&mut self, e: DirEntry) {
        let Some(ft) = e.file_type() else { return };
        if ft.is_symlink() {
            self.acc.symlinks += 1;
            return;
        }
        if !ft.is_file() {
            return;
        }
        let rel = e.path().strip_prefix(self.shared.root).unwrap_or(e.path());
        let rel = rel.to_string_lossy().replace('\\', "/");
        let before = self.acc.bytes;
        scan_file(&mut self.acc, &mut self.buf, e.path(), rel);
        self.pending_files += 1;
        self.pending_bytes += self.acc.bytes - before;
        if self.pending_files >= PROGRESS_EVERY {
            self.flush(true);
        }
    }

    fn flush(&mut self, report: bool) {
        let s = self.shared;
        let files = s.files.fetch_add(self.pending_files, Ordering::Relaxed) + self.pending_files;
        let bytes = s.bytes.fetch_add(self.pending_bytes, Ordering::Relaxed) + self.pending_bytes;
        self.pending_files = 0;
        self.pending_bytes = 0;
        if report {
            (s.progress)(AnalysisProgress::Walking { files, bytes });
        }
    }
}

impl ParallelVisitor for Worker<'_> {
    fn visit(&mut self, entry: Result<DirEntry, ignore::Error>) -> WalkState {
        match entry {
            Ok(e) => self.entry(e),
            Err(err) => {
                let (path, msg) = describe(&err);
                self.acc.unreadable.push((path, msg));
            }
        }
        WalkState::Continue
    }
}

impl Drop for Worker<'_> {
    fn drop(&mut self) {
        self.flush(true);
        let acc = std::mem::take(&mut self.acc);
        self.shared
            .results
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(acc);
    }
}

struct Builder<'s> {
    shared: &'s Shared<'s>,
}

impl<'s> ParallelVisitorBuilder<'s> for Builder<'s> {
    fn build(&mut self) -> Box<dyn ParallelVisitor + 's> {
        Box::new(Worker {
            shared: self.shared,
            acc: Acc::default(),
            buf: Vec::new(),
            pending_files: 0,
            pending_bytes: 0,
        })
    }
}

/// Path and message of a walk error (unreadable folder, symlink loop, bad ignore file).
fn describe(err: &ignore::Error) -> (String, String) {
    match err {
        ignore::Error::WithPath { path, err } => {
            (path.to_string_lossy().into_owned(), describe(err).1)
        }
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            describe(err)
        }
        ignore::Error::Loop { child, ancestor } => (
            child.to_string_lossy().into_owned(),
            format!("symlink loop back to {}", ancestor.display()),
        ),
        other => (String::new(), other.to_string()),
    }
}

/// Walk `root` and scan every file; `threads` 0 means one per core.
pub fn walk(root: &Path, threads: usize, progress: &(dyn Fn(AnalysisProgress) + Sync)) -> Acc {
    let shared = Shared {
        root,
        results: Mutex::new(Vec::new()),
        files: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        progress,
    };
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        threads
    };
    let mut b = WalkBuilder::new(root);
    b.hidden(false)
        .require_git(false)
        .follow_links(false)
        .git_global(false)
        .add_custom_ignore_filename(IGNORE_FILE)
        .threads(threads)
        .filter_entry(|e| {
            !(e.depth() > 0
                && e.file_type().is_some_and(|t| t.is_dir())
                && e.file_name()
                    .to_str()
                    .is_some_and(|n| SKIP_DIRS.contains(&n)))
        });
    b.build_parallel().visit(&mut Builder { shared: &shared });
    let parts = shared
        .results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    let mut acc = Acc::default();
    for p in parts {
        acc.merge(p);
    }
    sort_by_path(&mut acc);
    acc
}

/// Put records in path order and renumber everything that points at them.
fn sort_by_path(acc: &mut Acc) {
    let mut order: Vec<u32> = (0..acc.records.len() as u32).collect();
    order.sort_by(|&a, &b| {
        acc.records[a as usize]
            .rel
            .cmp(&acc.records[b as usize].rel)
    });
    let mut new_index = vec![0u32; order.len()];
    for (new, &old) in order.iter().enumerate() {
        new_index[old as usize] = new as u32;
    }
    let mut old: Vec<_> = std::mem::take(&mut acc.records)
        .into_iter()
        .map(Some)
        .collect();
    acc.records = order
        .iter()
        .filter_map(|&o| old[o as usize].take())
        .collect();
    for h in &mut acc.hits {
        h.file = new_index[h.file as usize];
    }
    acc.hits.sort_by_key(|h| (h.file, h.line, h.kind));
    for w in &mut acc.windows {
        w.1 = new_index[w.1 as usize];
    }
    for c in &mut acc.contents {
        c.0 = new_index[c.0 as usize];
    }
    acc.contents.sort_by_key(|c| c.0);
    acc.unreadable.sort();
}
