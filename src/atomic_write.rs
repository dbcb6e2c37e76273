//! Replacing a small file in one rename: a reader sees the old file or the new one, never
//! half of one, even if zenbuild is killed mid-write. (The store's blobs have their own
//! temporary files, in the store's `tmp/`, with modes and sweeping of their own.)

use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Whether the bytes must be on disk before the rename, surviving a power cut too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// No fsync: for caches and records that are checked when read, or cheap to lose.
    Rename,
    /// fsync before the rename: for files people keep, such as a build report.
    Synced,
}

/// Writes `bytes` to a temporary file beside `path` (so the rename stays on one file
/// system), then renames it over `path`. The parent directory must exist. On any error the
/// temporary file is removed and `path` is left as it was.
pub fn write_atomically(path: &Path, bytes: &[u8], durability: Durability) -> io::Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    // Hidden, and unique among threads and processes writing the same file at once.
    let temp = path.with_file_name(format!(
        ".{}.{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let written = std::fs::File::create(&temp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            match durability {
                Durability::Synced => file.sync_all(),
                Durability::Rename => Ok(()),
            }
        })
        .and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stat-cache");
        write_atomically(&path, b"first", Durability::Rename).unwrap();
        write_atomically(&path, b"second", Durability::Synced).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["stat-cache"]);
    }

    #[test]
    fn a_missing_directory_is_an_error_that_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("file");
        assert!(write_atomically(&path, b"x", Durability::Rename).is_err());
        assert!(!dir.path().join("missing").exists());
    }
}
