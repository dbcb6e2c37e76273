//! The digest of one file: BLAKE3 of its bytes, its size and its executable bit.
//!
//! Symlinks are recorded as symlinks, never followed: following one could reach outside the
//! workspace (or loop), and a link is what a restore must put back. The digest of a symlink is
//! BLAKE3 of [`SYMLINK_HEADER`] followed by the target text, so it differs from the digest of
//! a file holding that text. A consequence to know: a declared input that is a symlink to data
//! elsewhere is keyed on the link, not on the data; declare the data itself.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::digest::Digest;
use super::file_system::{FileStat, FileSystem, RealFileSystem, at};

/// Files at least this large are memory-mapped and hashed on every core; smaller ones are read
/// into a buffer on one thread, where spreading the work costs more than it saves. Measured on
/// two cores (`cargo bench --bench hashing -- crossover`): reading wins at 256 KiB, the two tie
/// at 512 KiB, mapping wins from 1 MiB on.
pub const PARALLEL_THRESHOLD: u64 = 1 << 20;

/// Starts the bytes a symlink's digest is taken over. The NUL keeps it out of text files.
pub const SYMLINK_HEADER: &[u8] = b"zenbuild symlink 1\0";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    Regular,
    Symlink,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileDigest {
    /// BLAKE3 of the bytes (of the header and target text for a symlink).
    pub digest: Digest,
    /// Bytes hashed: the file's length, or the target text's for a symlink.
    pub size: u64,
    /// The owner's execute bit; always false for a symlink, whose mode means nothing.
    pub executable: bool,
    pub kind: FileKind,
}

/// Hashes the file or symlink at `path`. Directories are hashed by [`super::hash_tree`].
pub fn hash_file(path: &Path) -> io::Result<FileDigest> {
    let stat = RealFileSystem.stat(path)?;
    hash_stated(path, &stat)
}

/// Hashes what `stat` (taken just before) described. The stat, not a second look, decides the
/// executable bit, so what the stat cache records is one consistent view of the file.
pub(crate) fn hash_stated(path: &Path, stat: &FileStat) -> io::Result<FileDigest> {
    if stat.is_symlink() {
        return hash_symlink(path);
    }
    if !stat.is_file() {
        let what = if stat.is_dir() {
            "is a directory (hash it as a tree)"
        } else {
            "is neither a file, a directory nor a symlink"
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: {what}", path.display()),
        ));
    }
    let mut hasher = blake3::Hasher::new();
    if stat.size >= PARALLEL_THRESHOLD {
        // A file truncated in place while it is mapped raises SIGBUS, which ends zenbuild.
        // No step writes a file while it is hashed, and editors save by rename, so only an
        // outside writer truncating a large file mid-hash can; the speed is worth that risk.
        hasher.update_mmap_rayon(path).map_err(|e| at(path, &e))?;
    } else {
        let file = File::open(path).map_err(|e| at(path, &e))?;
        read_into(file, stat.size, &mut hasher).map_err(|e| at(path, &e))?;
    }
    Ok(FileDigest {
        digest: Digest::from_hasher(&hasher),
        size: hasher.count(),
        executable: stat.is_executable(),
        kind: FileKind::Regular,
    })
}

fn hash_symlink(path: &Path) -> io::Result<FileDigest> {
    let target = std::fs::read_link(path).map_err(|e| at(path, &e))?;
    Ok(symlink_digest(target.as_os_str().as_encoded_bytes()))
}

/// What a symlink with this target text hashes to, wherever the text comes from.
pub fn symlink_digest(target: &[u8]) -> FileDigest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(SYMLINK_HEADER);
    hasher.update(target);
    FileDigest {
        digest: Digest::from_hasher(&hasher),
        size: target.len() as u64,
        executable: false,
        kind: FileKind::Symlink,
    }
}

thread_local! {
    /// 64 KiB lets BLAKE3 use its widest SIMD path; one buffer a thread, because zeroing a
    /// fresh one for each of 100,000 small files costs as much as reading them.
    static BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; 64 * 1024]);
}

/// Reads to the end. A short read that brings the total to the size the stat gave is taken
/// as the end, which spares a small file the second `read` that would return nothing (open,
/// read, read, close becomes open, read, close: 15% off hashing 100,000 small files). Anything
/// else, a file that grew or shrank since its stat included, reads on until `read` says 0.
fn read_into(mut file: File, expected: u64, hasher: &mut blake3::Hasher) -> io::Result<()> {
    BUFFER.with_borrow_mut(|buffer| {
        loop {
            match file.read(buffer) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    hasher.update(&buffer[..n]);
                    if n < buffer.len() && hasher.count() == expected {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{PermissionsExt, symlink};

    use super::*;

    #[test]
    fn known_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").unwrap();
        let digest = hash_file(&path).unwrap();
        // BLAKE3("abc"), from the reference implementation.
        assert_eq!(
            digest.digest.to_hex(),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        assert_eq!(digest.size, 3);
        assert_eq!(digest.kind, FileKind::Regular);
        assert!(!digest.executable);

        std::fs::write(&path, b"").unwrap();
        assert_eq!(hash_file(&path).unwrap().digest, Digest::of(b""));
    }

    /// Above and below the threshold, on and off the buffer's boundaries: the same BLAKE3.
    #[test]
    fn every_size_hashes_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let buffer = 64 * 1024;
        let threshold = PARALLEL_THRESHOLD as usize;
        for size in [
            1,
            buffer - 1,
            buffer,
            buffer + 1,
            threshold - 1,
            threshold,
            3 * threshold + 7,
        ] {
            let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let path = dir.path().join(format!("f{size}"));
            std::fs::write(&path, &bytes).unwrap();
            let digest = hash_file(&path).unwrap();
            assert_eq!(digest.digest, Digest::of(&bytes), "size {size}");
            assert_eq!(digest.size, size as u64);
        }
    }

    /// A file that changed size between its stat and its read is still hashed to its end.
    #[test]
    fn a_stale_size_does_not_cut_the_read_short() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("growing.log");
        std::fs::write(&path, b"abc").unwrap();
        let stat = RealFileSystem.stat(&path).unwrap();
        std::fs::write(&path, b"abcdefghij").unwrap();
        let grown = hash_stated(&path, &stat).unwrap();
        assert_eq!((grown.digest, grown.size), (Digest::of(b"abcdefghij"), 10));

        let stat = RealFileSystem.stat(&path).unwrap();
        std::fs::write(&path, b"ab").unwrap();
        let shrunk = hash_stated(&path, &stat).unwrap();
        assert_eq!((shrunk.digest, shrunk.size), (Digest::of(b"ab"), 2));
    }

    #[test]
    fn the_executable_bit_changes_the_file_digest_not_the_content_digest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.sh");
        std::fs::write(&path, b"#!/bin/sh\n").unwrap();
        let plain = hash_file(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let executable = hash_file(&path).unwrap();
        assert!(executable.executable);
        assert_ne!(plain, executable);
        assert_eq!(plain.digest, executable.digest);
    }

    #[test]
    fn a_symlink_is_hashed_as_a_link_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("data.csv");
        std::fs::write(&target, b"a,b\n").unwrap();
        let link = dir.path().join("link");
        symlink("data.csv", &link).unwrap();

        let before = hash_file(&link).unwrap();
        assert_eq!(before.kind, FileKind::Symlink);
        assert_eq!(before.size, "data.csv".len() as u64);
        assert_ne!(
            before.digest,
            Digest::of(b"data.csv"),
            "not a file holding the target text"
        );
        assert_ne!(before.digest, hash_file(&target).unwrap().digest);

        std::fs::write(&target, b"changed\n").unwrap();
        assert_eq!(
            hash_file(&link).unwrap(),
            before,
            "the target is not followed"
        );

        symlink("/nowhere/at/all", dir.path().join("dangling")).unwrap();
        assert_eq!(
            hash_file(&dir.path().join("dangling")).unwrap().kind,
            FileKind::Symlink
        );
    }

    #[test]
    fn a_directory_or_missing_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let error = hash_file(dir.path()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("is a directory"));

        let missing = dir.path().join("missing.csv");
        let error = hash_file(&missing).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(error.to_string().contains("missing.csv"));
    }
}
