//! Who holds a row: the identity of a process (host, pid, start time) recorded with runs and
//! reservations, so liveness never rests on a lock file alone (a deleted lock file unlinks the
//! inode its holder locked, and a new file would lock fine next to a live owner).

use std::sync::OnceLock;

/// A process: host name, pid, and start time (`<boot id>/<clock ticks since boot>`, from
/// `/proc/<pid>/stat`), which together never name two processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub host: String,
    pub pid: u32,
    pub start: String,
}

/// This machine's name as recorded in the store: `ORCHESTRATOR_HOST` when set (containers that
/// share a host name; tests standing for two machines), else the kernel's host name.
fn host_name() -> String {
    if let Ok(h) = std::env::var("ORCHESTRATOR_HOST")
        && !h.trim().is_empty()
    {
        return h.trim().to_string();
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// (state, start ticks) of a process from `/proc/<pid>/stat`. The command name (field 2) may
/// hold spaces and parentheses, so fields are counted after its last `)`.
fn proc_stat(pid: &str) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: field 3 (state) is index 0, field 22 (starttime) is index 19.
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

impl Owner {
    /// This process (computed once).
    pub fn current() -> &'static Owner {
        static ME: OnceLock<Owner> = OnceLock::new();
        ME.get_or_init(|| Owner {
            host: host_name(),
            pid: std::process::id(),
            start: match proc_stat("self") {
                Some((_, ticks)) => format!("{}/{ticks}", boot_id()),
                None => String::new(),
            },
        })
    }

    /// A running process on this host, as it would stamp itself.
    pub fn of_pid(pid: u32) -> Option<Owner> {
        let (_, ticks) = proc_stat(&pid.to_string())?;
        Some(Owner {
            host: host_name(),
            pid,
            start: format!("{}/{ticks}", boot_id()),
        })
    }

    pub fn is_me(&self) -> bool {
        self == Owner::current()
    }

    /// The clock-tick part of the start time (names the owner's process lock file).
    pub fn start_ticks(&self) -> &str {
        self.start.rsplit('/').next().unwrap_or("")
    }

    /// Is this process provably alive, seen from here? Only a process on this host can be seen:
    /// it is alive when a process with its pid exists, started at the same tick of the same
    /// boot, and has not exited (a zombie holds no locks and makes no calls).
    pub fn alive_here(&self) -> bool {
        if self.is_me() {
            return true;
        }
        let me = Owner::current();
        if self.host != me.host {
            return false;
        }
        let Some((boot, ticks)) = self.start.rsplit_once('/') else {
            // No start time recorded (no /proc): the pid is all there is to go by.
            return pid_exists(self.pid);
        };
        if me.start.rsplit_once('/').map(|(b, _)| b) != Some(boot) {
            return false; // recorded in an earlier boot
        }
        match proc_stat(&self.pid.to_string()) {
            Some((state, start)) => !matches!(state, 'Z' | 'X') && start.to_string() == ticks,
            None => false,
        }
    }
}

/// Does any process with this pid exist (the pre-owner-stamp rule for old rows)?
pub fn pid_exists(pid: u32) -> bool {
    pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// (host, start) to stamp on a row written for `pid`: known only for this process.
/// The OS user running this process: `USER`, else `LOGNAME`, else the uid's name in
/// /etc/passwd, else `uid <n>`.
pub fn os_user() -> &'static str {
    static ME: OnceLock<String> = OnceLock::new();
    ME.get_or_init(|| {
        let env = ["USER", "LOGNAME"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()));
        env.unwrap_or_else(|| {
            // SAFETY: getuid has no preconditions and cannot fail.
            let uid = unsafe { libc::getuid() };
            std::fs::read_to_string("/etc/passwd")
                .ok()
                .and_then(|p| {
                    p.lines().find_map(|l| {
                        let f: Vec<&str> = l.split(':').collect();
                        (f.get(2) == Some(&uid.to_string().as_str())).then(|| f[0].to_string())
                    })
                })
                .unwrap_or_else(|| format!("uid {uid}"))
        })
    })
}

pub fn stamp(pid: u32) -> (Option<&'static str>, Option<&'static str>) {
    if pid == std::process::id() {
        let me = Owner::current();
        (Some(me.host.as_str()), Some(me.start.as_str()))
    } else {
        (None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_one_is_not() {
        let me = Owner::current().clone();
        assert!(me.alive_here());
        assert!(!me.start.is_empty(), "start time read from /proc/self/stat");
        // Same pid, another start tick: a reused pid is not the owner.
        let reused = Owner {
            start: format!("{}/1", me.start.rsplit_once('/').unwrap().0),
            ..me.clone()
        };
        assert!(!reused.alive_here());
        // A child that has exited and been reaped.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = proc_stat(&pid.to_string()).map(|(_, t)| t);
        child.wait().unwrap();
        let gone = Owner {
            pid,
            start: format!("{}/{}", boot_id(), start.unwrap_or(1)),
            ..me.clone()
        };
        assert!(!gone.alive_here());
        // Our pid and start tick, but in an earlier boot of this host.
        let earlier_boot = Owner {
            start: format!("not-this-boot/{}", me.start_ticks()),
            ..me
        };
        assert!(!earlier_boot.alive_here());
    }

    #[test]
    fn stat_is_parsed_after_the_last_parenthesis() {
        let (state, start) = proc_stat("self").unwrap();
        assert!(state.is_ascii_alphabetic());
        assert!(start > 0);
    }
}
