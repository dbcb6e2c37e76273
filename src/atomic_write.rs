//! Replacing a small file in one rename: a reader sees the old file or the new one, never
//! half of one, even if zenbuild is killed mid-write. (The store's blobs have their own
//! temporary files, in the store's `tmp/`, with modes and sweeping of their own.)

use std::ffi::OsString;
use std::fs::Permissions;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Whether the bytes must be on disk before the rename, surviving a power cut too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// No fsync: for caches and records that are checked when read, or cheap to lose.
    Rename,
    /// fsync before the rename: for files people keep, such as a build report.
    Synced,
}

/// Writes `bytes` to a temporary file beside `path` (so the rename stays on one file
/// system), then renames it over `path`. The parent directory must exist. On any error, and
/// on a panic, the temporary file is removed (tempfile's drop) and `path` is left as it was.
pub fn write_atomically(path: &Path, bytes: &[u8], durability: Durability) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    // Hidden and uniquely named; created as `File::create` would (0666 less the umask), not
    // tempfile's private 0600, because these are files teammates and tools read.
    let mut temp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .permissions(Permissions::from_mode(0o666))
        .tempfile_in(parent)?;
    temp.write_all(bytes)?;
    if durability == Durability::Synced {
        temp.as_file().sync_all()?;
    }
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
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

    #[test]
    fn the_file_gets_the_mode_a_plain_create_gives() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::File::create(&plain).unwrap();
        let path = dir.path().join("zenbuild.lock");
        write_atomically(&path, b"x", Durability::Rename).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), mode(&plain));
    }
}
