//! The file system's change notifications (inotify on Linux, through `notify`), for a set of
//! directories that changes from cycle to cycle, delivered as changed paths.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};

pub struct Watcher {
    inner: RecommendedWatcher,
    events: Receiver<notify::Result<notify::Event>>,
    watching: HashSet<(PathBuf, bool)>,
}

/// What waiting for a change gave.
pub enum Next {
    Paths(Vec<PathBuf>),
    Timeout,
}

impl Watcher {
    pub fn new() -> Result<Watcher, String> {
        let (sender, events) = channel();
        let inner = notify::recommended_watcher(move |event| {
            // The receiver is gone only when zenbuild is quitting.
            let _ = sender.send(event);
        })
        .map_err(|e| format!("cannot watch for changes: {e}"))?;
        Ok(Watcher {
            inner,
            events,
            watching: HashSet::new(),
        })
    }

    /// Watches exactly `dirs` (each with whether to include what is below it), adding and
    /// removing watches as needed. A directory that does not exist is skipped: its parent's
    /// watch sees it appear.
    pub fn watch(&mut self, dirs: &[(PathBuf, bool)]) -> Result<(), String> {
        let wanted: HashSet<(PathBuf, bool)> = dirs.iter().cloned().collect();
        let stale: Vec<(PathBuf, bool)> = self.watching.difference(&wanted).cloned().collect();
        for (dir, recursive) in stale {
            // Gone already (the directory was deleted): nothing left to unwatch.
            let _ = self.inner.unwatch(&dir);
            self.watching.remove(&(dir, recursive));
        }
        for (dir, recursive) in wanted {
            if self.watching.contains(&(dir.clone(), recursive)) || !dir.is_dir() {
                continue;
            }
            let mode = if recursive {
                RecursiveMode::Recursive
            } else {
                RecursiveMode::NonRecursive
            };
            match self.inner.watch(&dir, mode) {
                Ok(()) => {
                    self.watching.insert((dir, recursive));
                }
                Err(e) => return Err(explain(&dir, e)),
            }
        }
        Ok(())
    }

    /// How many directories are watched (a recursive one counts once).
    pub fn len(&self) -> usize {
        self.watching.len()
    }

    pub fn is_empty(&self) -> bool {
        self.watching.is_empty()
    }

    /// The paths of the next notification, or `Timeout` after `wait`.
    pub fn next(&self, wait: Duration) -> Result<Next, String> {
        match self.events.recv_timeout(wait) {
            // Reading a file changes nothing; steps read their inputs all the time.
            Ok(Ok(event)) if is_read(&event.kind) => Ok(Next::Paths(Vec::new())),
            Ok(Ok(event)) => Ok(Next::Paths(event.paths)),
            // An overflowed queue or a failed watch: say so, and let the caller rebuild.
            Ok(Err(e)) => Err(format!("watching failed: {e}")),
            Err(RecvTimeoutError::Timeout) => Ok(Next::Timeout),
            Err(RecvTimeoutError::Disconnected) => Err("the watcher stopped".into()),
        }
    }
}

fn is_read(kind: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind};
    matches!(
        kind,
        EventKind::Access(
            AccessKind::Read | AccessKind::Open(_) | AccessKind::Close(AccessMode::Read)
        )
    )
}

/// A failed watch, with the fix when it is the system's limit on watches.
fn explain(dir: &Path, error: notify::Error) -> String {
    let limit = matches!(error.kind, notify::ErrorKind::MaxFilesWatch)
        || error.to_string().contains("No space left on device");
    if limit {
        let current = std::fs::read_to_string("/proc/sys/fs/inotify/max_user_watches")
            .map(|text| text.trim().to_string())
            .unwrap_or_else(|_| "?".into());
        return format!(
            "cannot watch {}: the system's limit on watched directories is reached \
             (fs.inotify.max_user_watches = {current}); raise it with \
             `sudo sysctl fs.inotify.max_user_watches=524288` \
             (and in /etc/sysctl.conf to keep it)",
            dir.display()
        );
    }
    format!("cannot watch {}: {error}", dir.display())
}
