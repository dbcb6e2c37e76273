//! The side effects of hashing behind one small trait: stat a path, hash it, read the clock.
//!
//! The stat cache only ever touches files and the clock through [`FileSystem`], so tests can
//! move the clock (to check the racy-timestamp rule) and count reads (to check that an
//! unchanged file is not read again) without sleeping or guessing. Listing directories does
//! not go through it: that has no clock and nothing to count, and tests list real temporary
//! directories.

use std::io;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::file::{FileDigest, hash_stated};

pub trait FileSystem: Send + Sync {
    /// What `lstat` says about `path`: a symlink is described, never followed.
    fn stat(&self, path: &Path) -> io::Result<FileStat>;

    /// Reads and hashes what `stat` just described.
    fn hash(&self, path: &Path, stat: &FileStat) -> io::Result<FileDigest>;

    /// Nanoseconds since the Unix epoch, on the clock file timestamps are compared with.
    fn now_ns(&self) -> i64;
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
        let meta = std::fs::symlink_metadata(path).map_err(|e| at(path, e))?;
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
}

fn nanos(seconds: i64, nanoseconds: i64) -> i64 {
    seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(nanoseconds)
}

/// An I/O error that names the path it happened on: "No such file or directory" alone does
/// not say which of 100,000 files is missing.
pub(crate) fn at(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

/// The real disk with a clock the test sets and a count of the files actually read.
#[cfg(test)]
pub(crate) mod fake {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

    use super::*;

    #[derive(Clone)]
    pub(crate) struct TestFileSystem {
        now_ns: Arc<AtomicI64>,
        reads: Arc<AtomicUsize>,
    }

    impl TestFileSystem {
        /// The clock starts at the real time, so files just written look fresh.
        pub(crate) fn new() -> TestFileSystem {
            TestFileSystem {
                now_ns: Arc::new(AtomicI64::new(RealFileSystem.now_ns())),
                reads: Arc::new(AtomicUsize::new(0)),
            }
        }

        pub(crate) fn advance_secs(&self, seconds: i64) {
            self.now_ns
                .fetch_add(seconds * 1_000_000_000, Ordering::SeqCst);
        }

        pub(crate) fn reads(&self) -> usize {
            self.reads.load(Ordering::SeqCst)
        }
    }

    impl FileSystem for TestFileSystem {
        fn stat(&self, path: &Path) -> io::Result<FileStat> {
            RealFileSystem.stat(path)
        }

        fn hash(&self, path: &Path, stat: &FileStat) -> io::Result<FileDigest> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            RealFileSystem.hash(path, stat)
        }

        fn now_ns(&self) -> i64 {
            self.now_ns.load(Ordering::SeqCst)
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
    fn the_clock_reads_the_present() {
        // 2020-01-01 in nanoseconds: any machine running this is later.
        assert!(RealFileSystem.now_ns() > 1_577_836_800_000_000_000);
    }
}
