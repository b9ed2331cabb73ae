//! Command validators (pytest, ruff, cargo check, tsc, go vet, ...): an external tool run on the
//! extracted artifact in a fresh temp dir, with a timeout and a cleaned environment.
//!
//! A tool that is not installed gives `skipped` (never `pass`); a timeout kills the whole process
//! group and gives `fail` with the reason; a non-zero exit gives `fail` with the tail of the
//! tool's output.

use super::Verdict;
use crate::model_output::extract::{self, Extraction};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Characters of tool output kept (head and tail) in a reason.
const OUTPUT_TAIL_CHARS: usize = 1500;
/// Bytes of each output stream read at most (the rest is drained and dropped).
const MAX_CAPTURE_BYTES: usize = 1 << 20;
/// Environment variables passed to every command (all others are cleared).
const BASE_ENV: [&str; 3] = ["PATH", "HOME", "LANG"];

/// A configured command validator (`[validators.commands.NAME]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandValidator {
    /// argv; `{file}` becomes the artifact's absolute path and `{dir}` the temp dir.
    pub command: Vec<String>,
    /// Task types this validator applies to automatically (besides plans naming it).
    #[serde(default)]
    pub task_types: Vec<String>,
    /// Which fenced code to extract (`python`, `rust`, ...); without it the whole output.
    #[serde(default)]
    pub language: Option<String>,
    /// Name of the artifact in the temp dir (may hold `/`); default `main.<ext>`.
    #[serde(default)]
    pub file_name: Option<String>,
    /// Seconds before the command (and its children) are killed.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Extra files written into the temp dir first (e.g. a `Cargo.toml`), path → content.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Extra environment variables passed through (besides PATH, HOME and LANG).
    #[serde(default)]
    pub env: Vec<String>,
    /// Exit codes meaning "nothing to check" (pytest's 5: no tests collected): `skipped`.
    #[serde(default)]
    pub skip_exit_codes: Vec<i32>,
}

fn default_timeout() -> u64 {
    60
}

impl CommandValidator {
    /// A validator running `argv` with the default timeout and no task types.
    pub fn new(argv: &[&str]) -> Self {
        CommandValidator {
            command: argv.iter().map(|s| s.to_string()).collect(),
            task_types: Vec::new(),
            language: None,
            file_name: None,
            timeout_secs: default_timeout(),
            files: BTreeMap::new(),
            env: Vec::new(),
            skip_exit_codes: Vec::new(),
        }
    }

    /// Whether it applies automatically to tasks of `task_type`.
    pub fn applies_to(&self, task_type: &str) -> bool {
        let norm = |s: &str| s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        let t = norm(task_type);
        self.task_types.iter().any(|x| norm(x) == t || x == "*")
    }
}

/// Run the command validator `name` on `output`.
pub fn run(name: &str, cv: &CommandValidator, output: &str) -> (Verdict, Option<String>) {
    let Some(program) = cv.command.first().filter(|p| !p.trim().is_empty()) else {
        return (
            Verdict::Skipped,
            Some(format!("command validator `{name}` has an empty command")),
        );
    };
    let Some(exe) = find_executable(program) else {
        return (
            Verdict::Skipped,
            Some(format!(
                "tool `{program}` not installed (not found on PATH)"
            )),
        );
    };
    let dir = match tempfile::Builder::new().prefix("orch-validate-").tempdir() {
        Ok(d) => d,
        Err(e) => {
            return (
                Verdict::Skipped,
                Some(format!("could not create a temp dir: {e}")),
            );
        }
    };
    let file = match prepare(dir.path(), cv, output) {
        Ok(Some(f)) => f,
        Ok(None) => {
            let lang = cv.language.as_deref().unwrap_or("matching");
            return (
                Verdict::Skipped,
                Some(format!("no {lang} code in the output to run `{name}` on")),
            );
        }
        Err(e) => return (Verdict::Skipped, Some(e)),
    };
    let dir_str = dir.path().to_string_lossy().to_string();
    let file_str = file.to_string_lossy().to_string();
    let args: Vec<String> = cv.command[1..]
        .iter()
        .map(|a| a.replace("{file}", &file_str).replace("{dir}", &dir_str))
        .collect();
    let timeout = Duration::from_secs(cv.timeout_secs.max(1));
    let outcome = execute(&exe, &args, dir.path(), &cv.env, timeout);
    let tidy = |s: &str| tail(&s.replace(&format!("{dir_str}/"), "").replace(&dir_str, "."));
    match outcome {
        Err(e) => (
            Verdict::Skipped,
            Some(format!("could not start `{program}`: {e}")),
        ),
        Ok(o) if o.timed_out => (
            Verdict::Fail,
            Some(with_output(
                format!(
                    "`{program}` timed out after {} s and was killed",
                    timeout.as_secs()
                ),
                &tidy(&o.output),
            )),
        ),
        Ok(o) if o.status.is_some_and(|s| s.success()) => (Verdict::Pass, None),
        Ok(o)
            if o.status
                .and_then(|s| s.code())
                .is_some_and(|c| cv.skip_exit_codes.contains(&c)) =>
        {
            (
                Verdict::Skipped,
                Some(with_output(
                    format!(
                        "`{program}` {} (nothing to check)",
                        describe_status(o.status)
                    ),
                    &tidy(&o.output),
                )),
            )
        }
        Ok(o) => (
            Verdict::Fail,
            Some(with_output(
                format!("`{program}` {}", describe_status(o.status)),
                &tidy(&o.output),
            )),
        ),
    }
}

fn with_output(head: String, out: &str) -> String {
    if out.trim().is_empty() {
        head
    } else {
        format!("{head}; output:\n{out}")
    }
}

fn describe_status(status: Option<ExitStatus>) -> String {
    let Some(status) = status else {
        return "ended without an exit status".into();
    };
    if let Some(code) = status.code() {
        return format!("exited with status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return format!("was killed by signal {sig}");
        }
    }
    "ended abnormally".into()
}

/// Write the configured extra files, the path-annotated files of the output and the artifact.
/// Returns the path `{file}` stands for, or `None` when the output has no code of the language.
fn prepare(dir: &Path, cv: &CommandValidator, output: &str) -> Result<Option<PathBuf>, String> {
    use crate::artifacts::{extract_files, write_file};
    for (path, content) in &cv.files {
        write_file(dir, path, content.as_bytes())
            .map_err(|e| format!("configured file `{path}`: {e}"))?;
    }
    let lang = cv.language.as_deref().and_then(extract::canonical_language);
    let mut annotated = None;
    for f in extract_files(output) {
        let f_lang = f
            .language
            .as_deref()
            .and_then(extract::canonical_language)
            .or_else(|| extract::language_of_path(&f.path));
        // Unsafe paths are simply not written here; artifact writing reports them.
        if let Ok(p) = write_file(dir, &f.path, f.content.as_bytes())
            && annotated.is_none()
            && (lang.is_none() || f_lang == lang)
        {
            annotated = Some(p);
        }
    }
    let code = match cv.language.as_deref() {
        Some(l) => match extract::extract_code(output, l) {
            Extraction::Found(s) => {
                let parts: Vec<&str> = s.iter().map(|s| s.code.as_ref()).collect();
                parts.join("\n\n")
            }
            Extraction::OtherLanguages(_) => return Ok(annotated),
        },
        None => output.to_string(),
    };
    if code.trim().is_empty() {
        return Ok(annotated);
    }
    let name = match &cv.file_name {
        Some(n) => n.clone(),
        None => {
            if let Some(a) = annotated {
                return Ok(Some(a));
            }
            let ext = lang.and_then(extract::extension_for).unwrap_or("txt");
            format!("main.{ext}")
        }
    };
    write_file(dir, &name, code.as_bytes())
        .map(Some)
        .map_err(|e| format!("artifact `{name}`: {e}"))
}

/// The executable for `program`: a path when it holds a separator, else the first match on PATH.
pub fn find_executable(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(p) else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        true
    }
}

struct Outcome {
    status: Option<ExitStatus>,
    timed_out: bool,
    output: String,
}

/// Run `exe args` in `dir` with a cleaned environment, killing its process group at `timeout`.
fn execute(
    exe: &Path,
    args: &[String],
    dir: &Path,
    extra_env: &[String],
    timeout: Duration,
) -> std::io::Result<Outcome> {
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for key in BASE_ENV
        .iter()
        .copied()
        .chain(extra_env.iter().map(|s| s.as_str()))
    {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn()?;
    let (tx, rx) = mpsc::channel::<(u8, Vec<u8>)>();
    for (i, stream) in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .enumerate()
    {
        if let Some(s) = stream {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let _ = tx.send((i as u8, read_capped(s)));
            });
        }
    }
    drop(tx);

    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait()? {
            Some(s) => break Some(s),
            None if Instant::now() >= deadline => {
                timed_out = true;
                kill_tree(&mut child);
                break child.wait().ok();
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    // Children left behind by the tool (daemons, test servers) go too.
    if !timed_out {
        kill_group(child.id());
    }
    let mut streams: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let grace = Instant::now() + Duration::from_secs(2);
    while let Some(left) = grace.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok((i, bytes)) => streams[usize::from(i).min(1)] = bytes,
            Err(_) => break,
        }
    }
    let mut output = String::from_utf8_lossy(&streams[0]).to_string();
    let err = String::from_utf8_lossy(&streams[1]);
    if !err.trim().is_empty() {
        if !output.is_empty() && !output.ends_with('\n') {
            output.push('\n');
        }
        output.push_str(&err);
    }
    Ok(Outcome {
        status,
        timed_out,
        output,
    })
}

fn read_capped(mut r: Box<dyn Read + Send>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_CAPTURE_BYTES.saturating_sub(out.len());
                out.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    out
}

fn kill_tree(child: &mut std::process::Child) {
    kill_group(child.id());
    let _ = child.kill();
}

#[cfg(unix)]
fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid)
        && pid > 0
    {
        // SAFETY: kill(2) with a negative pid signals the process group the child leads
        // (`process_group(0)` made its pgid equal its pid); it touches no memory.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

#[cfg(not(unix))]
fn kill_group(_pid: u32) {}

/// `s` trimmed, cut to about `OUTPUT_TAIL_CHARS` characters keeping its head (compilers print
/// the first error first) and its tail (test runners print their summary last).
fn tail(s: &str) -> String {
    let t = s.trim();
    let n = t.chars().count();
    if n <= OUTPUT_TAIL_CHARS {
        return t.to_string();
    }
    let head_n = OUTPUT_TAIL_CHARS * 2 / 5;
    let tail_n = OUTPUT_TAIL_CHARS - head_n;
    let head: String = t.chars().take(head_n).collect();
    let end: String = t.chars().skip(n - tail_n).collect();
    format!("{head}\n…\n{end}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> CommandValidator {
        CommandValidator::new(&["sh", "-c", script])
    }

    #[test]
    fn missing_tool_is_skipped() {
        let cv = CommandValidator::new(&["definitely-not-a-tool-xyz", "{file}"]);
        let (v, r) = run("x", &cv, "code");
        assert_eq!(v, Verdict::Skipped);
        assert!(r.unwrap_or_default().contains("not installed"));
    }

    #[test]
    fn exit_status_decides_and_output_tail_is_kept() {
        assert_eq!(run("ok", &sh("exit 0"), "x").0, Verdict::Pass);
        let (v, r) = run("bad", &sh("echo broken at line 3 >&2; exit 2"), "x");
        assert_eq!(v, Verdict::Fail);
        let r = r.unwrap_or_default();
        assert!(
            r.contains("status 2") && r.contains("broken at line 3"),
            "{r}"
        );
    }

    #[test]
    fn skip_exit_codes_give_skipped() {
        let mut cv = sh("exit 5");
        cv.skip_exit_codes = vec![5];
        let (v, r) = run("pytest", &cv, "x");
        assert_eq!(v, Verdict::Skipped);
        assert!(r.unwrap_or_default().contains("status 5"));
        assert_eq!(run("pytest", &sh("exit 4"), "x").0, Verdict::Fail);
    }

    #[test]
    fn artifact_and_placeholders() {
        let mut cv = sh("cat {file}; test -f {dir}/main.py && test -f extra.cfg");
        cv.language = Some("python".into());
        cv.files.insert("extra.cfg".into(), "x".into());
        let (v, r) = run("c", &cv, "Here:\n```python\nprint(1)\n```\n");
        assert_eq!(v, Verdict::Pass, "{r:?}");
        cv.command = vec!["sh".into(), "-c".into(), "grep -q 'print(1)' {file}".into()];
        assert_eq!(run("c", &cv, "```py\nprint(1)\n```").0, Verdict::Pass);
        let (v, _) = run("c", &cv, "```bash\nls\n```");
        assert_eq!(v, Verdict::Skipped);
    }

    #[test]
    fn environment_is_cleaned() {
        // Cargo sets CARGO_MANIFEST_DIR for test runs; the command must not see it.
        let cv = sh("test -z \"$CARGO_MANIFEST_DIR\" && test -n \"$PATH\"");
        assert_eq!(run("env", &cv, "x").0, Verdict::Pass);
    }

    #[test]
    fn tail_keeps_head_and_end() {
        let s = "START".to_string() + &"a".repeat(5000) + "END";
        let t = tail(&s);
        assert!(t.starts_with("START") && t.ends_with("END"), "{t}");
        assert!(t.chars().count() <= OUTPUT_TAIL_CHARS + 3);
    }

    #[test]
    fn applies_to_normalises_types() {
        let mut cv = sh("true");
        cv.task_types = vec!["code-generation".into()];
        assert!(cv.applies_to("code_generation"));
        assert!(!cv.applies_to("summarization"));
    }
}
