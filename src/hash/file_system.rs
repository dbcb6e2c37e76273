//! The side effects of hashing and of the build work behind one small trait: stat a path,
//! hash it, read the clock, and the few whole-file operations the build does itself (read a
//! file's end, create a directory, replace a small file).
//!
//! The stat cache only ever touches files and the clock through [`FileSystem`], so tests can
//! move the clock (to check the racy-timestamp rule) and count reads (to check that an
//! unchanged file is not read again) without sleeping or guessing; the builder reaches it
//! through the stat cache, so the same tests see what the build reads and creates. Listing
//! directories does not go through it: that has no clock and nothing to count, and tests list
//! real temporary directories. Nor do the store's outputs (clearing, saving, restoring): that
//! code refuses symlinks and paths outside the workspace with system calls of its own, which a
//! fake could only pretend to.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::file::{FileDigest, hash_stated};
use crate::atomic_write::{Durability, write_atomically};

pub trait FileSystem: Send + Sync {
    /// What `lstat` says about `path`: a symlink is described, never followed.
    fn stat(&self, path: &Path) -> io::Result<FileStat>;

    /// Reads and hashes what `stat` just described.
    fn hash(&self, path: &Path, stat: &FileStat) -> io::Result<FileDigest>;

    /// Nanoseconds since the Unix epoch, on the clock file timestamps are compared with.
    fn now_ns(&self) -> i64;

    /// The last `limit` bytes of the file at `path`, and whether it held more. A step's log is
    /// kept by its end and may be far larger than what is kept, so the limit bounds what is
    /// read, not only what is returned; [`FileSystem::read`] is the whole file.
    fn read_end(&self, path: &Path, limit: u64) -> io::Result<(Vec<u8>, bool)>;

    /// Creates the directory `path` and its missing parents; one already there, or a symlink
    /// to one, is fine. For the workdir a step runs in, and the directory of the stat cache.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;

    /// Replaces the file at `path` with `bytes` in one rename, not synced: a reader sees the
    /// old file or the new one, never half of one. The parent must exist. For the stat
    /// cache's own file, which is checked when read and cheap to lose.
    fn replace(&self, path: &Path, bytes: &[u8]) -> io::Result<()>;

    /// The whole file at `path`: a step's metrics, the stat cache's file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.read_end(path, u64::MAX).map(|(bytes, _)| bytes)
    }
}

/// The signature of a file: if none of these changed, neither did its bytes, within the racy
/// rule of the stat cache. `ctime` is here because no one can set it back: a tool that
/// restores an old mtime after writing still moves ctime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStat {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    /// `st_mode`: the file type bits and the permissions, so that `chmod +x` is a change.
    pub mode: u32,
}

const TYPE_MASK: u32 = 0o170_000;
const REGULAR: u32 = 0o100_000;
const DIRECTORY: u32 = 0o040_000;
const SYMLINK: u32 = 0o120_000;

impl FileStat {
    pub fn is_file(&self) -> bool {
        self.mode & TYPE_MASK == REGULAR
    }

    pub fn is_dir(&self) -> bool {
        self.mode & TYPE_MASK == DIRECTORY
    }

    pub fn is_symlink(&self) -> bool {
        self.mode & TYPE_MASK == SYMLINK
    }

    /// The owner's execute bit, the one git records as mode 100755, so a digest agrees with
    /// what a checkout produces.
    pub fn is_executable(&self) -> bool {
        self.is_file() && self.mode & 0o100 != 0
    }

    /// The signature in `meta` (from `lstat`, or from `stat` to follow a symlink).
    pub fn of(meta: &std::fs::Metadata) -> FileStat {
        use std::os::unix::fs::MetadataExt;
        FileStat {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: nanos(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: nanos(meta.ctime(), meta.ctime_nsec()),
            mode: meta.mode(),
        }
    }

    /// The same file, directory or symlink (device, inode and type), whatever has been
    /// written to it since.
    pub fn same_object(&self, other: &FileStat) -> bool {
        self.dev == other.dev
            && self.ino == other.ino
            && self.mode & TYPE_MASK == other.mode & TYPE_MASK
    }

    /// The later of mtime and ctime: a write moves both, a `touch -d` or an `rsync -t` that
    /// sets mtime back still moves ctime.
    pub fn changed_ns(&self) -> i64 {
        self.mtime_ns.max(self.ctime_ns)
    }
}

/// The real disk and the real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealFileSystem;

impl FileSystem for RealFileSystem {
    fn stat(&self, path: &Path) -> io::Result<FileStat> {
        let meta = std::fs::symlink_metadata(path).map_err(|e| at(path, &e))?;
        Ok(FileStat::of(&meta))
    }

    fn hash(&self, path: &Path, stat: &FileStat) -> io::Result<FileDigest> {
        hash_stated(path, stat)
    }

    fn now_ns(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_nanos()).unwrap_or(i64::MAX),
            // A clock before 1970 is broken; zero makes every entry look fresh, so nothing
            // is trusted rather than everything.
            Err(_) => 0,
        }
    }

    fn read_end(&self, path: &Path, limit: u64) -> io::Result<(Vec<u8>, bool)> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        let cut = len > limit;
        if cut {
            file.seek(SeekFrom::Start(len - limit))?;
        }
        let mut bytes = Vec::with_capacity(usize::try_from(len.min(limit)).unwrap_or(0));
        file.take(limit).read_to_end(&mut bytes)?;
        Ok((bytes, cut))
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        if path.is_dir() {
            return Ok(());
        }
        std::fs::create_dir_all(path)
    }

    fn replace(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        write_atomically(path, bytes, Durability::Rename)
    }
}

fn nanos(seconds: i64, nanoseconds: i64) -> i64 {
    seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(nanoseconds)
}

/// An I/O error that names the path it happened on: "No such file or directory" alone does
/// not say which of 100,000 files is missing.
pub(crate) fn at(path: &Path, error: &io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

/// The real disk with a clock the test sets, a count of the files actually hashed and a list
/// of the whole-file operations done; optionally with those whole files kept in memory.
#[cfg(test)]
pub(crate) mod fake {
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A whole-file operation, as the code under test asked for it.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub(crate) enum Op {
        ReadEnd(PathBuf),
        CreateDirAll(PathBuf),
        Replace(PathBuf),
    }

    #[derive(Clone)]
    pub(crate) struct TestFileSystem {
        now_ns: Arc<AtomicI64>,
        reads: Arc<AtomicUsize>,
        ops: Arc<Mutex<Vec<Op>>>,
        /// Every path stat was asked for, in order.
        stats: Arc<Mutex<Vec<PathBuf>>>,
        /// When set, what `replace` writes and `read_end` reads, instead of the disk.
        files: Option<Arc<Mutex<Files>>>,
    }

    type Files = HashMap<PathBuf, Vec<u8>>;

    impl TestFileSystem {
        /// The clock starts at the real time, so files just written look fresh.
        pub(crate) fn new() -> TestFileSystem {
            TestFileSystem {
                now_ns: Arc::new(AtomicI64::new(RealFileSystem.now_ns())),
                reads: Arc::new(AtomicUsize::new(0)),
                ops: Arc::new(Mutex::new(Vec::new())),
                stats: Arc::default(),
                files: None,
            }
        }

        /// Whole files (read whole or by their end, replaced) live in memory, never on disk;
        /// stats and hashes still look at the disk.
        pub(crate) fn with_files_in_memory(self) -> TestFileSystem {
            TestFileSystem {
                files: Some(Arc::default()),
                ..self
            }
        }

        pub(crate) fn advance_secs(&self, seconds: i64) {
            self.now_ns
                .fetch_add(seconds * 1_000_000_000, Ordering::SeqCst);
        }

        pub(crate) fn reads(&self) -> usize {
            self.reads.load(Ordering::SeqCst)
        }

        /// Every whole-file operation so far, in order.
        pub(crate) fn ops(&self) -> Vec<Op> {
            self.ops.lock().unwrap().clone()
        }

        /// Every path stat was asked for so far, in order.
        pub(crate) fn stats(&self) -> Vec<PathBuf> {
            self.stats.lock().unwrap().clone()
        }

        fn log(&self, op: Op) {
            self.ops.lock().unwrap().push(op);
        }
    }

    impl FileSystem for TestFileSystem {
        fn stat(&self, path: &Path) -> io::Result<FileStat> {
            self.stats.lock().unwrap().push(path.to_path_buf());
            RealFileSystem.stat(path)
        }

        fn hash(&self, path: &Path, stat: &FileStat) -> io::Result<FileDigest> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            RealFileSystem.hash(path, stat)
        }

        fn now_ns(&self) -> i64 {
            self.now_ns.load(Ordering::SeqCst)
        }

        fn read_end(&self, path: &Path, limit: u64) -> io::Result<(Vec<u8>, bool)> {
            self.log(Op::ReadEnd(path.to_path_buf()));
            let Some(files) = &self.files else {
                return RealFileSystem.read_end(path, limit);
            };
            let files = files.lock().unwrap();
            let bytes = files.get(path).ok_or(io::ErrorKind::NotFound)?;
            let start = bytes
                .len()
                .saturating_sub(usize::try_from(limit).unwrap_or(usize::MAX));
            Ok((bytes[start..].to_vec(), start > 0))
        }

        fn create_dir_all(&self, path: &Path) -> io::Result<()> {
            self.log(Op::CreateDirAll(path.to_path_buf()));
            match self.files {
                Some(_) => Ok(()),
                None => RealFileSystem.create_dir_all(path),
            }
        }

        fn replace(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
            self.log(Op::Replace(path.to_path_buf()));
            let Some(files) = &self.files else {
                return RealFileSystem.replace(path, bytes);
            };
            files
                .lock()
                .unwrap()
                .insert(path.to_path_buf(), bytes.to_vec());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_describes_a_symlink_without_following_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("target"), b"1234").unwrap();
        std::os::unix::fs::symlink("target", dir.path().join("link")).unwrap();
        let link = RealFileSystem.stat(&dir.path().join("link")).unwrap();
        assert!(link.is_symlink() && !link.is_file());
        let target = RealFileSystem.stat(&dir.path().join("target")).unwrap();
        assert!(target.is_file() && target.size == 4);
        assert!(RealFileSystem.stat(dir.path()).unwrap().is_dir());
    }

    #[test]
    fn a_missing_path_is_named_in_the_error() {
        let error = RealFileSystem
            .stat(Path::new("/no/such/zenbuild-file"))
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(error.to_string().contains("/no/such/zenbuild-file"));
    }

    #[test]
    fn read_end_reads_no_more_than_the_limit_from_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(
            RealFileSystem.read_end(&path, 4).unwrap(),
            (b"6789".to_vec(), true)
        );
        assert_eq!(
            RealFileSystem.read_end(&path, 10).unwrap(),
            (b"0123456789".to_vec(), false)
        );
        assert_eq!(RealFileSystem.read(&path).unwrap(), b"0123456789");
        let missing = RealFileSystem.read(&dir.path().join("absent")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn create_dir_all_accepts_a_directory_or_a_symlink_to_one() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b/c");
        RealFileSystem.create_dir_all(&deep).unwrap();
        assert!(deep.is_dir());
        RealFileSystem.create_dir_all(&deep).unwrap();
        std::os::unix::fs::symlink("a/b", dir.path().join("link")).unwrap();
        RealFileSystem
            .create_dir_all(&dir.path().join("link"))
            .unwrap();
        std::fs::write(dir.path().join("file"), b"").unwrap();
        assert!(
            RealFileSystem
                .create_dir_all(&dir.path().join("file"))
                .is_err()
        );
    }

    #[test]
    fn the_clock_reads_the_present() {
        // 2020-01-01 in nanoseconds: any machine running this is later.
        assert!(RealFileSystem.now_ns() > 1_577_836_800_000_000_000);
    }
}
