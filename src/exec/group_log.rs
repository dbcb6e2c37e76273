//! The record of the process groups a build started, so that whoever takes the workspace lock
//! after a build that was killed (`kill -9`, a crash, the OOM killer) can stop what is left of
//! its steps before they write into the next build's outputs (see [`super::orphans`]).
//!
//! An append-only log, `.zenbuild/state/process-groups`: `start PID STARTTIME SESSION` when a
//! step's shell starts (its pid is its group's id), `end PID` once its group is empty. Each line
//! is one `write` to a file opened with `O_APPEND`, so lines never interleave. Each write
//! starts with its newline rather than ending with it, so that a line cut short (a full disk)
//! cannot swallow the next one; it is skipped.
//!
//! The `start` line is written by the step's own process, after `fork` and before `exec`. So a
//! step that runs is always recorded, even if zenbuild dies the instant it forked; and the
//! next build cannot miss it either: until that `exec`, the child still holds zenbuild's
//! descriptor of the workspace lock (close-on-exec closes it only then), so the lock stays
//! taken until the line is written.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::proc_stat::ProcStat;

/// Where the log lives, beside the workspace lock at `lock`.
pub fn path_beside(lock: &Path) -> PathBuf {
    lock.with_file_name("state").join("process-groups")
}

/// A step's process group that the log saw start and not end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Started {
    pub group: libc::pid_t,
    /// Of the group's leader, the step's shell.
    pub start_time: u64,
    pub session: libc::pid_t,
}

#[derive(Debug)]
pub struct GroupLog {
    file: File,
    path: PathBuf,
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
                    if let Ok(group) = pid.parse::<libc::pid_t>() {
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
    pub fn ended(&self, group: libc::pid_t) {
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

    /// What a step's freshly forked process runs before `exec` to append its `start` line.
    /// It refuses to let the step start when the line cannot be written: an unrecorded step
    /// could outlive a killed build unnoticed.
    pub fn recorder(
        self: &Arc<GroupLog>,
    ) -> impl FnMut() -> io::Result<()> + Send + Sync + 'static {
        let log = Arc::clone(self);
        move || record_self(log.file.as_raw_fd())
    }
}

/// Runs in the child between `fork` and `exec`, where only async-signal-safe calls are
/// allowed: no allocation, no locks; plain system calls on a buffer on the stack.
fn record_self(log: RawFd) -> io::Result<()> {
    let mut stat = [0u8; 1024];
    let length = read_own_stat(&mut stat)?;
    let me = ProcStat::parse(&stat[..length]).ok_or(io::ErrorKind::InvalidData)?;
    let mut line = Line::default();
    line.push(b"\nstart ");
    line.number(me.pid as u64);
    line.push(b" ");
    line.number(me.start_time);
    line.push(b" ");
    line.number(me.session as u64);
    // SAFETY: the buffer is valid for `line.length` bytes; the descriptor is the log, which
    // the `Arc` the closure holds keeps open in the parent and so in this copy of it.
    let written = unsafe { libc::write(log, line.bytes.as_ptr().cast(), line.length) };
    if written != line.length as isize {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn read_own_stat(buffer: &mut [u8]) -> io::Result<usize> {
    // SAFETY: a NUL-terminated path; the descriptor is closed before returning.
    let fd = unsafe {
        libc::open(
            c"/proc/self/stat".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // One read returns the whole line: procfs produces it at once, and it is far shorter
    // than the buffer (the name is at most 16 bytes).
    // SAFETY: the buffer is valid for its length.
    let read = unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) };
    let error = io::Error::last_os_error();
    // SAFETY: `fd` was opened above and is not used afterwards.
    unsafe { libc::close(fd) };
    usize::try_from(read).map_err(|_| error)
}

/// A line built on the stack.
struct Line {
    bytes: [u8; 96],
    length: usize,
}

impl Default for Line {
    fn default() -> Line {
        Line {
            bytes: [0; 96],
            length: 0,
        }
    }
}

impl Line {
    fn push(&mut self, text: &[u8]) {
        // Three numbers of at most 20 digits and 11 bytes of words fit in 96.
        let end = (self.length + text.len()).min(self.bytes.len());
        self.bytes[self.length..end].copy_from_slice(&text[..end - self.length]);
        self.length = end;
    }

    fn number(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[start..]);
    }
}

/// The log of the workspace lock this process holds, if it holds one. A process-wide value
/// because the lock is one (a zenbuild process builds one workspace), and because the steps
/// are started from every worker thread through an executor that knows nothing of locks.
static ACTIVE: Mutex<Option<Arc<GroupLog>>> = Mutex::new(None);

pub fn activate(log: &Arc<GroupLog>) {
    *ACTIVE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Arc::clone(log));
}

/// Stops recording into `log`, unless another lock has been taken since.
pub fn deactivate(log: &Arc<GroupLog>) {
    let mut active = ACTIVE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
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
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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

    #[test]
    fn a_line_holds_the_largest_numbers() {
        let mut line = Line::default();
        line.push(b"start ");
        line.number(u64::MAX);
        line.push(b" ");
        line.number(0);
        assert_eq!(&line.bytes[..line.length], b"start 18446744073709551615 0");
    }
}
