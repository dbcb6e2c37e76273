//! The file system's change notifications (inotify on Linux, through `notify`), for a set of
//! directories that changes from cycle to cycle, delivered as changed paths.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};

pub struct Watcher {
    inner: RecommendedWatcher,
    events: Receiver<notify::Result<notify::Event>>,
    /// What is watched, with the inode each directory had when its watch was added: a
    /// directory deleted and created again loses its watch and needs a new one.
    watching: HashMap<(PathBuf, bool), Identity>,
}

/// Why watching stopped working. Each one is worth a rebuild, since a lost notification could
/// hide a change; `Limit` also says how to raise the system's limit.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch for changes: {0}")]
    Setup(#[source] notify::Error),
    #[error(
        "cannot watch {}: the system's limit on watched directories is reached \
         (fs.inotify.max_user_watches = {current}); raise it with \
         `sudo sysctl fs.inotify.max_user_watches=524288` \
         (and in /etc/sysctl.conf to keep it)",
        dir.display()
    )]
    Limit { dir: PathBuf, current: String },
    #[error("cannot watch {}: {source}", dir.display())]
    Directory {
        dir: PathBuf,
        #[source]
        source: notify::Error,
    },
    /// An overflowed queue or a failed watch.
    #[error("watching failed: {0}")]
    Failed(#[source] notify::Error),
    #[error("the watcher stopped")]
    Stopped,
}

/// What waiting for a change gave.
pub enum Next {
    Paths(Vec<PathBuf>),
    Timeout,
}

impl Watcher {
    pub fn new() -> Result<Watcher, WatchError> {
        let (sender, events) = channel();
        let inner = notify::recommended_watcher(move |event| {
            // The receiver is gone only when zenbuild is quitting.
            let _ = sender.send(event);
        })
        .map_err(WatchError::Setup)?;
        Ok(Watcher {
            inner,
            events,
            watching: HashMap::new(),
        })
    }

    /// Watches exactly `dirs` (each with whether to include what is below it), adding and
    /// removing watches as needed. A directory that does not exist is skipped: its parent's
    /// watch sees it appear.
    pub fn watch(&mut self, dirs: &[(PathBuf, bool)]) -> Result<(), WatchError> {
        let stale: Vec<(PathBuf, bool)> = self
            .watching
            .keys()
            .filter(|watched| !dirs.contains(watched))
            .cloned()
            .collect();
        for watched in stale {
            // Gone already (the directory was deleted): nothing left to unwatch.
            let _ = self.inner.unwatch(&watched.0);
            self.watching.remove(&watched);
        }
        for (dir, recursive) in dirs {
            let key = (dir.clone(), *recursive);
            let Ok(inode) = std::fs::metadata(dir).map(|meta| identity(&meta)) else {
                // Deleted: its watch is dead, and a directory made again in its place (maybe
                // with the same inode number) needs a new one.
                if self.watching.remove(&key).is_some() {
                    let _ = self.inner.unwatch(dir);
                }
                continue;
            };
            match self.watching.get(&key) {
                Some(&watched) if watched == inode => continue,
                Some(_) => {
                    let _ = self.inner.unwatch(dir);
                }
                None => {}
            }
            let mode = if *recursive {
                RecursiveMode::Recursive
            } else {
                RecursiveMode::NonRecursive
            };
            self.inner.watch(dir, mode).map_err(|e| explain(dir, e))?;
            self.watching.insert(key, inode);
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
    pub fn next(&self, wait: Duration) -> Result<Next, WatchError> {
        match self.events.recv_timeout(wait) {
            // Reading a file changes nothing; steps read their inputs all the time.
            Ok(Ok(event)) if is_read(event.kind) => Ok(Next::Paths(Vec::new())),
            Ok(Ok(event)) => Ok(Next::Paths(event.paths)),
            // An overflowed queue or a failed watch: say so, and let the caller rebuild.
            Ok(Err(e)) => Err(WatchError::Failed(e)),
            Err(RecvTimeoutError::Timeout) => Ok(Next::Timeout),
            Err(RecvTimeoutError::Disconnected) => Err(WatchError::Stopped),
        }
    }
}

/// What tells a directory from another made at the same path: the inode number alone is not
/// enough, since a file system reuses the number of a directory just deleted; with its birth
/// time it is (where the file system records one).
type Identity = (u64, u64);

fn identity(meta: &std::fs::Metadata) -> Identity {
    let born = meta
        .created()
        .ok()
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_nanos() as u64);
    (meta.ino(), born)
}

fn is_read(kind: notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind};
    matches!(
        kind,
        EventKind::Access(
            AccessKind::Read | AccessKind::Open(_) | AccessKind::Close(AccessMode::Read)
        )
    )
}

/// A failed watch, with the fix when it is the system's limit on watches.
fn explain(dir: &Path, error: notify::Error) -> WatchError {
    let limit = matches!(error.kind, notify::ErrorKind::MaxFilesWatch)
        || error.to_string().contains("No space left on device");
    if limit {
        let current = std::fs::read_to_string("/proc/sys/fs/inotify/max_user_watches")
            .map_or_else(|_| "?".into(), |text| text.trim().to_string());
        return WatchError::Limit {
            dir: dir.to_path_buf(),
            current,
        };
    }
    WatchError::Directory {
        dir: dir.to_path_buf(),
        source: error,
    }
}
