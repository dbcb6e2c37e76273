//! Looking at processes from a test: whether a step's process group outlived its build.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// Whether no live (non-zombie) process is left in process group `group`, per /proc.
pub fn group_is_empty(group: i32) -> bool {
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return true;
    };
    !processes.flatten().any(|process| {
        let Ok(stat) = std::fs::read_to_string(process.path().join("stat")) else {
            return false;
        };
        // `pid (name) state ppid pgrp …`; the name may hold spaces.
        let Some((_, fields)) = stat.rsplit_once(')') else {
            return false;
        };
        let fields: Vec<&str> = fields.split_whitespace().collect();
        fields.first() != Some(&"Z") && fields.get(2) == Some(&group.to_string().as_str())
    })
}

/// The process group id a step wrote into `path` with `echo $$ > path`.
pub fn group_in(path: &Path) -> i32 {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{}: {text:?} is no process group: {e}", path.display()))
}

/// Waits until `path` exists; fails the test if zenbuild ends first or after 20 s.
pub fn wait_for(path: &Path, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "zenbuild ended ({status}) before {} appeared",
                path.display()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `kill -9` of a zenbuild the test started, reaped.
pub fn kill_9(child: &mut Child) {
    child.kill().expect("SIGKILL zenbuild");
    child.wait().expect("reap zenbuild");
}

/// Kills what is left in `group` at the end of a test that failed to, so that a failing test
/// leaves nothing behind.
pub fn kill_group(group: i32) {
    // SAFETY: killpg has no memory-safety preconditions; at worst the group is gone.
    unsafe { libc::killpg(group, libc::SIGKILL) };
}

/// Whether process `pid` runs, per /proc (a zombie has ended).
pub fn is_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // `pid (name) state …`; the name may hold spaces.
        stat.rsplit_once(')')
            .is_some_and(|(_, fields)| !fields.trim_start().starts_with(['Z', 'X']))
    })
}

/// When process `pid` started, in clock ticks since boot (`/proc/PID/stat` field 22): with its
/// pid, what names one process, since a pid is handed out again once its process is gone.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, fields) = stat.rsplit_once(')')?;
    // Fields after the name start with the state (field 3); the start time is field 22.
    fields.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process that was `pid` when it started at `started` still runs: a process
/// that now has its pid is another one.
pub fn still_alive((pid, started): (i32, Option<u64>)) -> bool {
    is_alive(pid) && start_time(pid) == started
}
