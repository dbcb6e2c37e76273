//! Files that get their real name by a rename, the one step a reader can observe: a name in
//! the store or in the workspace holds complete bytes or nothing, even when the process is
//! killed halfway through a write. A [`TempPath`] dropped before it is renamed removes
//! itself, so an error leaves nothing behind; only a killed process does, and its leftovers
//! sit in the store's `tmp/`, where no lookup looks and `LocalStore::open` sweeps them.
//!
//! No fsync: a kill -9 cannot tear a renamed file, and after a power cut a torn blob fails
//! the digest check on restore and is removed. An fsync per blob would cost more than that.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::beneath::Place;
use super::error::StoreError;

/// Ends every temporary name, so a sweep recognises what it may delete.
pub(crate) const TEMP_SUFFIX: &str = ".tmp";

#[derive(Debug)]
pub(crate) struct TempPath {
    /// `None` once renamed to its real name.
    path: Option<PathBuf>,
}

impl TempPath {
    /// A new empty file in `dir`, opened for reading and writing. `mode` is applied at
    /// creation (less the umask), so the file never exists with wider permissions, and the
    /// handle stays writable even when `mode` is read-only.
    pub(crate) fn create(dir: &Path, mode: u32) -> Result<(TempPath, File), StoreError> {
        loop {
            let path = dir.join(unique_name());
            let opened = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&path);
            match opened {
                Ok(file) => return Ok((TempPath { path: Some(path) }, file)),
                // A leftover of a killed process that had our pid: take the next number.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(StoreError::io(path, e)),
            }
        }
    }

    /// A new hard link to `original` in `dir`. The error is returned bare so that the caller
    /// can fall back to copying (another file system, too many links).
    pub(crate) fn hard_link(original: &Path, dir: &Path) -> io::Result<TempPath> {
        loop {
            let path = dir.join(unique_name());
            match std::fs::hard_link(original, &path) {
                Ok(()) => return Ok(TempPath { path: Some(path) }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    /// Renames the file to `to`, replacing a file or symlink there (never writing into it:
    /// an old output that is a hard link into the store keeps its bytes), and creating the
    /// directory of `to` if it is missing.
    ///
    /// The directory is created only after a rename failed for want of it, not checked for
    /// first: a cold build commits thousands of blobs into a few hundred shard directories,
    /// and a `mkdir` that finds its directory there still takes the parent's lock.
    pub(crate) fn persist(mut self, to: &Path) -> Result<(), StoreError> {
        let Some(path) = self.path.take() else {
            return Ok(());
        };
        let mut renamed = std::fs::rename(&path, to);
        // Retried whether or not the directory is there now: another thread may have
        // created it since this rename failed.
        if let Err(e) = &renamed
            && e.kind() == std::io::ErrorKind::NotFound
            && let Some(parent) = to.parent()
        {
            renamed = std::fs::create_dir_all(parent).and_then(|()| std::fs::rename(&path, to));
        }
        renamed.map_err(|e| {
            let _ = std::fs::remove_file(&path);
            StoreError::io(to, e)
        })
    }
}

impl TempPath {
    /// Renames the file to a name in a directory opened without following symlinks,
    /// replacing a file or symlink there.
    pub(crate) fn persist_at(mut self, place: &Place) -> Result<(), StoreError> {
        let Some(path) = self.path.take() else {
            return Ok(());
        };
        rustix::fs::renameat(rustix::fs::CWD, &path, place.dir, place.name).map_err(|e| {
            let _ = std::fs::remove_file(&path);
            StoreError::io(place.shown, e.into())
        })
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Unique among live processes: the pid tells processes apart, the counter threads and calls.
pub(crate) fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        ".zenbuild-{}-{}{TEMP_SUFFIX}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_persisting_into_one_missing_directory_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let shard = dir.path().join("cas/af");
        std::thread::scope(|scope| {
            for n in 0..8 {
                let (dir, shard) = (dir.path(), &shard);
                scope.spawn(move || {
                    let (staged, _file) = TempPath::create(dir, 0o444).unwrap();
                    staged.persist(&shard.join(format!("blob{n}"))).unwrap();
                });
            }
        });
        assert_eq!(std::fs::read_dir(&shard).unwrap().count(), 8);
    }
}
