//! The record of the process groups a build started, so that whoever takes the workspace lock
//! after a build that was killed (`kill -9`, a crash, the OOM killer) can stop what is left of
//! its steps before they write into the next build's outputs (see [`super::orphans`]).
//!
//! An append-only log, `.zenbuild/state/process-groups`: `start PID STARTTIME SESSION` once a
//! step's shell started (its pid is its group's id), `end PID` once its group is empty. Each
//! line is one `write` to a file opened with `O_APPEND`, so lines never interleave. Each write
//! starts with its newline rather than ending with it, so that a line cut short (a full disk)
//! cannot swallow the next one; it is skipped.
//!
//! The `start` line is written by zenbuild just after the spawn, so a build killed in between
//! leaves a step the log does not name. The log's own descriptor covers that instant: the
//! build holds an exclusive `flock` on it, and every step inherits the descriptor (it is
//! handed down at each spawn, and only then), so the lock stays held while any process of the
//! build lives, from the first instant of each step, whatever group or session it moves to.
//! The next lock holder finds the lock taken and the holders in `/proc/*/fd`. Starting a step
//! with `posix_spawn` and a line written afterwards costs nothing next to a `fork`.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustix::fs::FlockOperation;
use rustix::io::{Errno, FdFlags};
use rustix::process::RawPid;

use super::proc_stat::ProcStat;

/// A step's process group that the log saw start and not end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Started {
    pub group: RawPid,
    /// Of the group's leader, the step's shell.
    pub start_time: u64,
    pub session: RawPid,
}

#[derive(Debug)]
pub struct GroupLog {
    file: File,
    path: PathBuf,
    /// Spawns under way, while which the descriptor is inheritable.
    under_way: Mutex<usize>,
}

impl GroupLog {
    pub fn open(path: &Path) -> io::Result<GroupLog> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new().append(true).create(true).open(path)?;
        Ok(GroupLog {
            file,
            path: path.to_path_buf(),
            under_way: Mutex::new(0),
        })
    }

    /// The groups that started and were not seen to end, in the order they started.
    pub fn unfinished(&self) -> io::Result<Vec<Started>> {
        let text = match fs::read(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut open = BTreeMap::new();
        let mut order = 0u64;
        for line in text.split(|&byte| byte == b'\n') {
            let line = String::from_utf8_lossy(line);
            let words: Vec<&str> = line.split(' ').collect();
            match words.as_slice() {
                ["start", pid, start_time, session] => {
                    if let (Ok(group), Ok(start_time), Ok(session)) =
                        (pid.parse(), start_time.parse(), session.parse())
                    {
                        order += 1;
                        let started = Started {
                            group,
                            start_time,
                            session,
                        };
                        open.insert(group, (order, started));
                    }
                }
                ["end", pid] => {
                    if let Ok(group) = pid.parse::<RawPid>() {
                        open.remove(&group);
                    }
                }
                _ => {}
            }
        }
        let mut started: Vec<(u64, Started)> = open.into_values().collect();
        started.sort_by_key(|(order, _)| *order);
        Ok(started.into_iter().map(|(_, started)| started).collect())
    }

    /// Records that `group` has no process left. Only then: a group that may still hold a
    /// process must stay in the log for the next lock holder to stop.
    pub fn ended(&self, group: RawPid) {
        // Losing the line costs the next lock holder a look at /proc, never a wrong kill: the
        // group's leader is identified by its start time as well.
        let _ = (&self.file).write_all(format!("\nend {group}").as_bytes());
    }

    /// Forgets every entry, once none of them can have a process left.
    pub fn clear(&self) -> io::Result<()> {
        if self.file.metadata()?.len() > 0 {
            self.file.set_len(0)?;
        }
        Ok(())
    }

    /// Records that the step whose shell is `pid` started (read from `/proc`, where the
    /// shell's start time tells it from a later process with the same pid).
    pub fn started(&self, pid: RawPid) {
        let Some(stat) = ProcStat::of(pid) else {
            // No /proc, or the shell already ended: its descriptor is all that is needed.
            return;
        };
        let line = format!("\nstart {} {} {}", stat.pid, stat.start_time, stat.session);
        let _ = (&self.file).write_all(line.as_bytes());
    }

    /// Takes the log's exclusive lock for this build; `false` while another process holds it:
    /// one of a dead build's steps, or something it started, still alive.
    pub fn hold(&self) -> io::Result<bool> {
        match rustix::fs::flock(&self.file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(true),
            Err(Errno::WOULDBLOCK) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// The processes other than this one that hold the log open, by what `/proc/*/fd` shows.
    pub fn holders(&self) -> Vec<RawPid> {
        let Ok(meta) = self.file.metadata() else {
            return Vec::new();
        };
        let (device, inode) = (meta.dev(), meta.ino());
        let me = std::process::id() as RawPid;
        let Ok(processes) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        processes
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<RawPid>().ok())
            .filter(|&pid| pid != me)
            .filter(|pid| {
                let Ok(descriptors) = fs::read_dir(format!("/proc/{pid}/fd")) else {
                    return false;
                };
                // `stat` follows the descriptor's link to the open file itself.
                descriptors.flatten().any(|fd| {
                    fs::metadata(fd.path()).is_ok_and(|m| m.dev() == device && m.ino() == inode)
                })
            })
            .collect()
    }

    /// Runs `spawn` with the log's descriptor inheritable, so that the process it starts holds
    /// the build's lock on the log from its first instant. Spawns run side by side (one
    /// taking turns would cost a cold build of short steps a third of its time): the
    /// descriptor stays inheritable while any is under way, and a process started elsewhere
    /// meanwhile gets it only by that chance.
    pub fn handing_down<T>(&self, spawn: impl FnOnce() -> T) -> T {
        let count = || {
            self.under_way
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        {
            let mut under_way = count();
            if *under_way == 0 {
                // Failing leaves it close-on-exec, which only loses the hand-down, never the
                // step.
                let _ = rustix::io::fcntl_setfd(&self.file, FdFlags::empty());
            }
            *under_way += 1;
        }
        let spawned = spawn();
        let mut under_way = count();
        *under_way -= 1;
        if *under_way == 0 {
            let _ = rustix::io::fcntl_setfd(&self.file, FdFlags::CLOEXEC);
        }
        spawned
    }
}

/// The log of the workspace lock this process holds, if it holds one. A process-wide value
/// because the lock is one (a zenbuild process builds one workspace), and because the steps
/// are started from every worker thread through an executor that knows nothing of locks.
static ACTIVE: Mutex<Option<Arc<GroupLog>>> = Mutex::new(None);

pub fn activate(log: &Arc<GroupLog>) {
    *ACTIVE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::clone(log));
}

/// Stops recording into `log`, unless another lock has been taken since.
pub fn deactivate(log: &Arc<GroupLog>) {
    let mut active = ACTIVE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if active
        .as_ref()
        .is_some_and(|current| Arc::ptr_eq(current, log))
    {
        *active = None;
    }
}

/// Where the steps started now are recorded.
pub fn active() -> Option<Arc<GroupLog>> {
    ACTIVE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ended_groups_and_torn_lines_are_not_unfinished() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/process-groups");
        let log = GroupLog::open(&path).unwrap();
        fs::write(
            &path,
            "start 10 100 5\nstart 11 110 5\nend 10\ngarbage\nstart 12 1",
        )
        .unwrap();
        assert_eq!(
            log.unfinished().unwrap(),
            vec![Started {
                group: 11,
                start_time: 110,
                session: 5
            }]
        );
        log.ended(11);
        assert!(
            log.unfinished().unwrap().is_empty(),
            "{:?}",
            fs::read_to_string(&path)
        );
    }

    #[test]
    fn a_reused_pid_starts_a_new_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("groups");
        let log = GroupLog::open(&path).unwrap();
        fs::write(&path, "start 10 100 5\nend 10\nstart 10 900 5\n").unwrap();
        assert_eq!(
            log.unfinished().unwrap(),
            vec![Started {
                group: 10,
                start_time: 900,
                session: 5
            }]
        );
        log.clear().unwrap();
        assert!(log.unfinished().unwrap().is_empty());
    }

    /// The instant between a spawn and its `start` line: the step holds the build's lock on
    /// the log from the start, and keeps holding it after zenbuild let go.
    #[test]
    fn a_step_spawned_handing_down_holds_the_lock_after_the_build_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("groups");
        let log = GroupLog::open(&path).unwrap();
        assert!(log.hold().unwrap());
        let mut child = log.handing_down(|| {
            std::process::Command::new("/bin/sleep")
                .arg("30")
                .spawn()
                .unwrap()
        });
        drop(log);
        let next = GroupLog::open(&path).unwrap();
        assert!(!next.hold().unwrap(), "the step still holds it");
        assert_eq!(next.holders(), vec![child.id() as RawPid]);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(next.hold().unwrap());
        assert!(next.holders().is_empty());
    }
}
