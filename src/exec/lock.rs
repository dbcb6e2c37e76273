//! One build at a time per workspace: a second `zenbuild` waits for the first (and says so)
//! instead of failing or racing it for the same outputs.
//!
//! Taking the lock also makes sure that no process of an earlier holder is left to race this
//! one: what a killed build's steps left running is killed first (see [`super::orphans`]), and
//! the steps started while the lock is held are recorded for the next holder to do the same.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use super::group_log::{self, GroupLog};
use super::orphans;
use crate::workspace::StateDir;

/// Held for the length of a build; the lock is released when this is dropped (or when the
/// process dies, even by kill -9, because it is an OS file lock).
///
/// The fields drop in this order: the process-group log first, then the lock file. The next
/// holder kills whatever holds the log's lock (a killed build's stragglers); were the lock
/// released first, it could find this process, still exiting, holding the log, and kill it.
#[derive(Debug)]
pub struct WorkspaceLock {
    groups: Arc<GroupLog>,
    _file: File,
}

impl WorkspaceLock {
    /// Takes the lock of `state`, calling `waiting` once with the holder's description if
    /// another process has it, then blocking until it is released.
    pub fn acquire(state: &StateDir, waiting: impl FnOnce(&str)) -> io::Result<WorkspaceLock> {
        let path = &state.lock();
        let file = open(path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(path).unwrap_or_default();
                let holder = holder.trim();
                waiting(if holder.is_empty() {
                    "another zenbuild"
                } else {
                    holder
                });
                file.lock()?;
            }
            Err(TryLockError::Error(err)) => return Err(err),
        }
        WorkspaceLock::held(file, state)
    }

    /// Takes the lock of `state` if nobody holds it; `None` if somebody does.
    pub fn try_acquire(state: &StateDir) -> io::Result<Option<WorkspaceLock>> {
        let file = open(&state.lock())?;
        match file.try_lock() {
            Ok(()) => WorkspaceLock::held(file, state).map(Some),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(err)) => Err(err),
        }
    }

    /// Says who holds it, for the message a waiting process prints; stops what an earlier
    /// holder left running and starts recording this one's steps.
    fn held(mut file: File, state: &StateDir) -> io::Result<WorkspaceLock> {
        file.set_len(0)?;
        write!(file, "zenbuild (pid {})", std::process::id())?;
        file.flush()?;
        let groups = Arc::new(GroupLog::open(&state.process_groups())?);
        orphans::stop_left_over(&groups)?;
        group_log::activate(&groups);
        Ok(WorkspaceLock {
            groups,
            _file: file,
        })
    }
}

impl Drop for WorkspaceLock {
    fn drop(&mut self) {
        group_log::deactivate(&self.groups);
        // Every step of a build that ends normally has ended; a log left non-empty is for the
        // next holder to deal with.
        if self.groups.unfinished().is_ok_and(|left| left.is_empty()) {
            let _ = self.groups.clear();
        }
    }
}

fn open(path: &Path) -> io::Result<File> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn a_second_holder_waits_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::of(dir.path());
        let first = WorkspaceLock::acquire(&state, |_| panic!("nobody holds it yet")).unwrap();
        let (told, heard) = mpsc::channel();
        let (got, has) = mpsc::channel();
        let second_state = state.clone();
        let waiter = std::thread::spawn(move || {
            let lock = WorkspaceLock::acquire(&second_state, |holder| {
                told.send(holder.to_string()).unwrap();
            })
            .unwrap();
            got.send(()).unwrap();
            drop(lock);
        });
        let holder = heard.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(
            holder.contains(&format!("pid {}", std::process::id())),
            "{holder}"
        );
        assert!(
            has.recv_timeout(Duration::from_millis(200)).is_err(),
            "must wait while held"
        );
        drop(first);
        has.recv_timeout(Duration::from_secs(5)).unwrap();
        waiter.join().unwrap();
    }

    #[test]
    fn trying_does_not_wait() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::of(dir.path());
        let first = WorkspaceLock::try_acquire(&state).unwrap();
        assert!(first.is_some());
        assert!(WorkspaceLock::try_acquire(&state).unwrap().is_none());
        drop(first);
        assert!(WorkspaceLock::try_acquire(&state).unwrap().is_some());
    }
}
