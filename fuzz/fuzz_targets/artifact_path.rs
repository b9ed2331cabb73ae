//! `artifacts::safe_join` must never return a path outside the output directory, whatever path
//! a model's output names. The output directory holds a symlink to outside and one to inside.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orchestrator_tui::artifacts::safe_join;
use std::path::{Component, PathBuf};
use std::sync::OnceLock;

fn out_dir() -> &'static PathBuf {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    OUT.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("orchestrator-fuzz-out-{}", std::process::id()));
        let out = root.join("out");
        let outside = root.join("outside");
        std::fs::create_dir_all(out.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        #[cfg(unix)]
        {
            let _ = std::os::unix::fs::symlink(&outside, out.join("link"));
            let _ = std::os::unix::fs::symlink(out.join("sub"), out.join("inside"));
        }
        out
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(rel) = std::str::from_utf8(data) else {
        return;
    };
    let out = out_dir();
    if let Ok(p) = safe_join(out, rel) {
        let tail = p.strip_prefix(out).expect("under the out dir");
        assert!(tail.components().all(|c| matches!(c, Component::Normal(_))), "{rel:?}");
        let base = out.canonicalize().unwrap();
        let mut existing = p.clone();
        while !existing.exists() {
            existing = existing.parent().unwrap().to_path_buf();
        }
        assert!(existing.canonicalize().unwrap().starts_with(&base), "{rel:?} escapes");
    }
});
