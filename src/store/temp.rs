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
    /// an old output that is a hard link into the store keeps its bytes).
    pub(crate) fn persist(mut self, to: &Path) -> Result<(), StoreError> {
        let Some(path) = self.path.take() else {
            return Ok(());
        };
        std::fs::rename(&path, to).map_err(|e| {
            let _ = std::fs::remove_file(&path);
            StoreError::io(to, e)
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
fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        ".zenbuild-{}-{}{TEMP_SUFFIX}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
