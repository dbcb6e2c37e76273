//! The stat cache: a file whose signature (device, inode, size, mtime, ctime, mode) has not
//! changed since it was hashed is not read again, so a no-op run over a 100,000-file dataset
//! costs 100,000 stats, not 100,000 reads.
//!
//! An entry is found by the path it was hashed at and used only if the stat taken now equals
//! the one recorded then, device and inode included, and the racy rule below trusts it.
//! Lookups come from many rayon workers at once, through a sharded [`PathMap`]. The file's
//! layout is in `stat_cache_file`; the disk (the cache's own file included) and the clock are
//! reached through [`FileSystem`], so tests can move the clock, count reads and keep the
//! cache's file in memory.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::digest::Digest;
use super::file::{FileDigest, FileKind};
use super::file_system::{FileStat, FileSystem, RealFileSystem};
use super::path_map::PathMap;
use super::stat_cache_file;

/// An entry recorded less than this long after the file last changed is not trusted.
///
/// File timestamps are coarse: the kernel stamps them from a clock that ticks every few
/// milliseconds, some file systems keep whole seconds (two on FAT). A file written again within
/// the same tick as the write we hashed keeps its mtime, and if its size did not change either,
/// its signature still matches while its bytes do not. So an entry is trusted only if, when it
/// was recorded, the file had last changed long enough before that any later write must carry
/// a later timestamp. Entries too fresh for that are rehashed next time, and recorded again
/// with the later time, after which they are trusted: the rule git applies to its index.
/// A change time in the future (a skewed clock, a network file system) is never trusted.
pub const RACY_WINDOW_NS: i64 = 2_000_000_000;

pub struct StatCache {
    /// Where `save` writes; `None` keeps the cache in memory only.
    path: Option<PathBuf>,
    fs: Box<dyn FileSystem>,
    entries: PathMap<Entry>,
    changed: AtomicBool,
}

/// What the cache remembers about one path. The size, the executable bit and the kind of the
/// [`FileDigest`] all follow from the stat, so only the digest is stored beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) stat: FileStat,
    /// When the stat was taken: before the read, so a write during the read counts as fresh.
    pub(crate) recorded_ns: i64,
    pub(crate) digest: Digest,
}

impl Entry {
    fn trusted(&self) -> bool {
        self.recorded_ns.saturating_sub(self.stat.changed_ns()) >= RACY_WINDOW_NS
    }

    fn file_digest(&self) -> FileDigest {
        FileDigest {
            digest: self.digest,
            size: self.stat.size,
            executable: self.stat.is_executable(),
            kind: if self.stat.is_symlink() {
                FileKind::Symlink
            } else {
                FileKind::Regular
            },
        }
    }
}

impl StatCache {
    /// The cache saved at `path` (`.zenbuild/stat-cache`), on the real disk and clock.
    pub fn load(path: &Path) -> StatCache {
        StatCache::load_with(path, RealFileSystem)
    }

    /// A missing, unreadable, corrupt or older-version file gives an empty cache, which the
    /// next `save` replaces: losing the cache costs one rehash, never a failed build.
    pub fn load_with(path: &Path, fs: impl FileSystem + 'static) -> StatCache {
        let mut cache = StatCache::new(Some(path.to_path_buf()), Box::new(fs));
        match cache.fs.read(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(_) => cache.changed = AtomicBool::new(true),
            Ok(bytes) => match stat_cache_file::decode(&bytes) {
                None => cache.changed = AtomicBool::new(true),
                Some(entries) => cache.entries = PathMap::from_entries(entries),
            },
        }
        cache
    }

    /// A cache that lives as long as this value, for hashing without a workspace.
    pub fn in_memory() -> StatCache {
        StatCache::new(None, Box::new(RealFileSystem))
    }

    /// An in-memory cache on `fs`, for tests that watch what the build does through it.
    #[cfg(test)]
    pub(crate) fn in_memory_with(fs: impl FileSystem + 'static) -> StatCache {
        StatCache::new(None, Box::new(fs))
    }

    /// The disk and clock this cache hashes with, for the rest of the build's file work (see
    /// `exec::build::Context`).
    pub fn fs(&self) -> &dyn FileSystem {
        &*self.fs
    }

    fn new(path: Option<PathBuf>, fs: Box<dyn FileSystem>) -> StatCache {
        StatCache {
            path,
            fs,
            entries: PathMap::new(),
            changed: AtomicBool::new(false),
        }
    }

    /// The digest of the file or symlink at `path`: from the cache when its signature is
    /// unchanged and the entry is trusted, else read, hashed and remembered.
    pub fn digest_file(&self, path: &Path) -> io::Result<FileDigest> {
        let key = path.as_os_str();
        // Taken before the stat, so that the racy rule errs on the side of rehashing.
        let now_ns = self.fs.now_ns();
        let stat = match self.fs.stat(path) {
            Ok(stat) => stat,
            Err(e) => {
                if e.kind() == io::ErrorKind::NotFound && self.entries.remove(key).is_some() {
                    self.changed.store(true, Ordering::Relaxed);
                }
                return Err(e);
            }
        };
        let cached = self.entries.get(key);
        if let Some(entry) = cached
            && entry.stat == stat
            && entry.trusted()
        {
            return Ok(entry.file_digest());
        }
        let file = self.fs.hash(path, &stat)?;
        // A size that moved while we read means the file was being written: the digest is
        // of neither version, so it is returned for this run but not remembered.
        if file.size == stat.size {
            let entry = Entry {
                stat,
                recorded_ns: now_ns,
                digest: file.digest,
            };
            self.entries.insert(key, entry);
            self.changed.store(true, Ordering::Relaxed);
        }
        Ok(file)
    }

    /// The digest last hashed for `path` with exactly the signature `stat`, and whether that
    /// signature is old enough to trust. An untrusted one may name bytes that changed since
    /// within the same timestamp: whoever uses it must hash the file again before relying
    /// on it (the up-to-date record's racy entries do).
    pub fn hashed_digest(&self, path: &Path, stat: &FileStat) -> Option<(Digest, bool)> {
        let entry = self.entries.get(path.as_os_str())?;
        (entry.stat == *stat).then_some((entry.digest, entry.trusted()))
    }

    /// The size of the file at `path` if the cache last hashed it to `digest`: bytes with
    /// that digest have that size, however old the signature.
    pub fn known_size(&self, path: &Path, digest: &Digest) -> Option<u64> {
        let entry = self.entries.get(path.as_os_str())?;
        (entry.digest == *digest).then_some(entry.stat.size)
    }

    /// Writes the cache if anything changed since it was loaded or last saved; says whether
    /// it wrote. Another zenbuild saving at the same time may win the rename: then entries
    /// only this one recorded are lost, and hashed again next time.
    pub fn save(&self) -> io::Result<bool> {
        let Some(path) = &self.path else {
            return Ok(false);
        };
        // Cleared before encoding, so an insert racing with the save marks it changed again.
        if !self.changed.swap(false, Ordering::Relaxed) {
            return Ok(false);
        }
        let bytes = stat_cache_file::encode(&self.entries.entries());
        // No fsync: a torn file fails its checksum on load and the cache is rebuilt, which
        // is cheaper than an fsync on every run.
        let written = match path.parent() {
            Some(parent) => self.fs.create_dir_all(parent),
            None => Ok(()),
        }
        .and_then(|()| self.fs.replace(path, &bytes));
        if written.is_err() {
            self.changed.store(true, Ordering::Relaxed);
        }
        written.map(|()| true)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, SystemTime};

    use super::super::file::hash_file;
    use super::super::file_system::fake::{Op, TestFileSystem};
    use super::*;

    /// A workspace with one file and a cache over it whose clock is `TestFileSystem`'s.
    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf, TestFileSystem) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data.csv");
        std::fs::write(&file, b"a,b\n1,2\n").unwrap();
        let cache_path = crate::workspace::StateDir::of(dir.path()).stat_cache();
        (dir, file, cache_path, TestFileSystem::new())
    }

    #[test]
    fn a_hit_does_not_read_and_agrees_with_hashing() {
        let (_dir, file, cache_path, fs) = setup();
        fs.advance_secs(10);
        let cache = StatCache::load_with(&cache_path, fs.clone());
        let first = cache.digest_file(&file).unwrap();
        assert_eq!(first, hash_file(&file).unwrap());
        assert_eq!(cache.digest_file(&file).unwrap(), first);
        assert_eq!(fs.reads(), 1);
    }

    #[test]
    fn a_hashed_file_s_size_is_known_for_its_digest_only() {
        let (_dir, file, cache_path, fs) = setup();
        let cache = StatCache::load_with(&cache_path, fs.clone());
        assert_eq!(cache.known_size(&file, &Digest::of(b"")), None);
        let hashed = cache.digest_file(&file).unwrap();
        let len = std::fs::metadata(&file).unwrap().len();
        assert_eq!(cache.known_size(&file, &hashed.digest), Some(len));
        assert_eq!(cache.known_size(&file, &Digest::of(b"other")), None);
    }

    #[test]
    fn a_fresh_entry_is_not_trusted_an_old_one_is() {
        let (_dir, file, cache_path, fs) = setup();
        let cache = StatCache::load_with(&cache_path, fs.clone());
        cache.digest_file(&file).unwrap();
        cache.digest_file(&file).unwrap();
        assert_eq!(
            fs.reads(),
            2,
            "recorded within the window of the write: rehashed"
        );

        fs.advance_secs(3);
        cache.digest_file(&file).unwrap();
        assert_eq!(
            fs.reads(),
            3,
            "the old entry was still fresh when it was recorded"
        );
        cache.digest_file(&file).unwrap();
        cache.digest_file(&file).unwrap();
        assert_eq!(fs.reads(), 3, "recorded 3 s after the write: trusted");
    }

    #[test]
    fn a_change_time_in_the_future_is_never_trusted() {
        let (_dir, file, cache_path, fs) = setup();
        fs.advance_secs(-3600);
        let cache = StatCache::load_with(&cache_path, fs.clone());
        cache.digest_file(&file).unwrap();
        cache.digest_file(&file).unwrap();
        assert_eq!(fs.reads(), 2);
    }

    #[test]
    fn a_rewrite_of_the_same_size_is_seen() {
        let (_dir, file, cache_path, fs) = setup();
        fs.advance_secs(10);
        let cache = StatCache::load_with(&cache_path, fs.clone());
        let before = cache.digest_file(&file).unwrap();
        std::fs::write(&file, b"a,b\n3,4\n").unwrap();
        let after = cache.digest_file(&file).unwrap();
        assert_ne!(before.digest, after.digest);
        assert_eq!(after, hash_file(&file).unwrap());
    }

    #[test]
    fn chmod_plus_x_is_seen() {
        let (_dir, file, cache_path, fs) = setup();
        fs.advance_secs(10);
        let cache = StatCache::load_with(&cache_path, fs.clone());
        assert!(!cache.digest_file(&file).unwrap().executable);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(cache.digest_file(&file).unwrap().executable);
    }

    /// Touching a file changes its signature, so it is read once more (the cache cannot know
    /// the bytes are the same without reading them), and the digest does not change.
    #[test]
    fn an_mtime_only_change_rereads_that_file_and_keeps_its_digest() {
        let (_dir, file, cache_path, fs) = setup();
        fs.advance_secs(10);
        let cache = StatCache::load_with(&cache_path, fs.clone());
        let before = cache.digest_file(&file).unwrap();
        let an_hour_ago = SystemTime::now() - Duration::from_hours(1);
        File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(an_hour_ago)
            .unwrap();
        // The touch moved ctime to now: advance past the window once more.
        fs.advance_secs(10);
        assert_eq!(cache.digest_file(&file).unwrap(), before);
        assert_eq!(fs.reads(), 2);
        assert_eq!(cache.digest_file(&file).unwrap(), before);
        assert_eq!(fs.reads(), 2);
    }

    #[test]
    fn save_and_load_round_trip_and_save_only_when_changed() {
        let (_dir, file, cache_path, fs) = setup();
        fs.advance_secs(10);
        let cache = StatCache::load_with(&cache_path, fs.clone());
        assert!(!cache.save().unwrap(), "nothing to save yet");
        let digest = cache.digest_file(&file).unwrap();
        assert!(cache.save().unwrap());
        assert!(!cache.save().unwrap(), "saved already");

        let loaded = StatCache::load_with(&cache_path, fs.clone());
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded.digest_file(&file).unwrap(), digest);
        assert_eq!(fs.reads(), 1, "the loaded entry was a hit");
        assert!(!loaded.save().unwrap(), "a hit changes nothing");
    }

    /// The cache's own file goes through the file system too: here it never reaches the disk.
    #[test]
    fn the_cache_file_is_saved_and_loaded_through_the_file_system() {
        let (_dir, file, cache_path, fs) = setup();
        let fs = fs.with_files_in_memory();
        fs.advance_secs(10);
        let cache = StatCache::load_with(&cache_path, fs.clone());
        let digest = cache.digest_file(&file).unwrap();
        assert!(cache.save().unwrap());
        assert!(!cache_path.exists(), "kept in memory, not written");
        let parent = cache_path.parent().unwrap().to_path_buf();
        assert_eq!(
            fs.ops(),
            [
                Op::ReadEnd(cache_path.clone()),
                Op::CreateDirAll(parent),
                Op::Replace(cache_path.clone()),
            ]
        );

        let loaded = StatCache::load_with(&cache_path, fs.clone());
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded.digest_file(&file).unwrap(), digest);
        assert_eq!(fs.reads(), 1, "the entry loaded from memory was a hit");
    }

    #[test]
    fn a_corrupt_or_truncated_file_is_ignored_and_rebuilt() {
        let (_dir, file, cache_path, fs) = setup();
        fs.advance_secs(10);
        let cache = StatCache::load_with(&cache_path, fs.clone());
        cache.digest_file(&file).unwrap();
        cache.save().unwrap();
        let good = std::fs::read(&cache_path).unwrap();

        let mut flipped = good.clone();
        flipped[40] ^= 1;
        for bad in [
            &good[..good.len() / 2],
            &flipped[..],
            b"",
            b"not a stat cache",
        ] {
            std::fs::write(&cache_path, bad).unwrap();
            let cache = StatCache::load_with(&cache_path, fs.clone());
            assert!(cache.is_empty());
            assert_eq!(cache.digest_file(&file).unwrap(), hash_file(&file).unwrap());
            assert!(cache.save().unwrap());
            assert_eq!(StatCache::load_with(&cache_path, fs.clone()).len(), 1);
        }

        // Unreadable (a directory where the file should be): empty, and `save` says why not.
        std::fs::remove_file(&cache_path).unwrap();
        std::fs::create_dir(&cache_path).unwrap();
        let cache = StatCache::load_with(&cache_path, fs.clone());
        assert!(cache.is_empty());
        assert!(cache.save().is_err());
    }

    #[test]
    fn a_deleted_file_is_forgotten() {
        let (_dir, file, cache_path, fs) = setup();
        let cache = StatCache::load_with(&cache_path, fs);
        cache.digest_file(&file).unwrap();
        cache.save().unwrap();
        std::fs::remove_file(&file).unwrap();
        let error = cache.digest_file(&file).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(cache.is_empty());
        assert!(cache.save().unwrap());
    }

    #[test]
    fn in_memory_never_writes() {
        let (_dir, file, _cache_path, _fs) = setup();
        let cache = StatCache::in_memory();
        cache.digest_file(&file).unwrap();
        assert!(!cache.save().unwrap());
    }
}
