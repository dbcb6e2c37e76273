//! The store on this machine, under `.zenbuild/cache/`:
//!
//! ```text
//! cas/ab/abcdef…          blobs by the full hex digest, fanned out by its first two digits
//! ac/ab/<key hex>.json    action results by action key (serde_json)
//! tmp/                    files being written, renamed into cas/ or ac/ once complete
//! ```
//!
//! The fan-out keeps each directory to 1/256 of the entries, which directory lookups on every
//! file system prefer. `tmp/` is inside the cache so that the rename that publishes a file
//! never crosses file systems, which would make it a copy and no longer atomic.
//!
//! Blobs are bytes only and read-only (0444): the executable bit belongs to the output and
//! lives in the [`ActionResult`], so one blob serves an executable and a plain output alike.
//! Writers of the same blob each write their own temporary file and rename it to the same
//! name with the same bytes, so concurrent writers (threads or processes) cannot hurt.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::copy::copy_hashing;
use super::error::StoreError;
use super::restore::{LinkMode, restore_file};
use super::temp::{TEMP_SUFFIX, TempPath};
use super::{ActionResult, Blob, Place, Store};
use crate::hash::{Digest, hash_file};
use crate::remote::{Remote, RemoteError};
use crate::workspace::StateDir;

/// A temporary file untouched for this long was left by a killed process. Writing or
/// linking a file updates its ctime, so a live writer's file always looks fresh.
pub const STALE_TEMP_AGE: Duration = Duration::from_hours(1);

const BLOB_MODE: u32 = 0o444;
const ACTION_RESULT_MODE: u32 = 0o644;

#[derive(Clone, Debug)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// Opens (creating if need be) the store at `root`, and sweeps temporary files left by
    /// killed processes.
    pub fn open(root: impl Into<PathBuf>) -> Result<LocalStore, StoreError> {
        let store = LocalStore { root: root.into() };
        for dir in [
            store.root.join("cas"),
            store.root.join("ac"),
            store.temp_dir(),
        ] {
            fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        }
        store.sweep_temp(STALE_TEMP_AGE)?;
        Ok(store)
    }

    /// The store of the workspace at `workspace_root`, in its [`StateDir::cache`].
    pub fn in_workspace(workspace_root: &Path) -> Result<LocalStore, StoreError> {
        LocalStore::open(StateDir::of(workspace_root).cache())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.to_hex();
        self.root.join("cas").join(&hex[..2]).join(hex)
    }

    pub fn action_result_path(&self, key: &Digest) -> PathBuf {
        let hex = key.to_hex();
        self.root
            .join("ac")
            .join(&hex[..2])
            .join(format!("{hex}.json"))
    }

    pub(crate) fn temp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Removes temporary files unchanged for `older_than`; returns how many went.
    pub fn sweep_temp(&self, older_than: Duration) -> Result<usize, StoreError> {
        let temp_dir = self.temp_dir();
        let entries = match fs::read_dir(&temp_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(StoreError::io(&temp_dir, e)),
        };
        let cutoff = SystemTime::now()
            .checked_sub(older_than)
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |since| since.as_nanos());
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io(&temp_dir, e))?;
            if !entry.file_name().to_string_lossy().ends_with(TEMP_SUFFIX) {
                continue;
            }
            // Another process may rename or remove it meanwhile: that is its business.
            let Ok(meta) = entry.metadata() else { continue };
            let changed = u128::try_from(meta.ctime()).unwrap_or(0) * 1_000_000_000
                + u128::try_from(meta.ctime_nsec()).unwrap_or(0);
            if changed <= cutoff && fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The length of the blob stored under `digest`, if there is one.
    fn blob_len(&self, digest: &Digest) -> Result<Option<u64>, StoreError> {
        let path = self.blob_path(digest);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(path, e)),
        }
    }

    /// Whether a blob of `size` bytes is already stored under `digest`. A stored blob of
    /// another length is torn (a crash mid-write without the rename's protection, a disk
    /// error) and gets replaced by the caller's fresh copy: a cheap repair on a path that
    /// already paid for the stat.
    fn holds(&self, digest: &Digest, size: u64) -> Result<bool, StoreError> {
        Ok(self.blob_len(digest)? == Some(size))
    }

    /// Takes a file that arrived whole in the store's temporary directory (a download from a
    /// remote) as the blob `expected`, without copying it: hashed once, made read-only and
    /// renamed into place. Bytes that are not `expected` are refused (and the file goes).
    pub(crate) fn adopt(&self, staged: TempPath, expected: &Digest) -> Result<Blob, StoreError> {
        let path = staged.path().to_path_buf();
        let file = hash_file(&path).map_err(|e| StoreError::io(&path, e))?;
        if file.digest != *expected {
            return Err(StoreError::CorruptBlob {
                digest: *expected,
                actual: file.digest,
            });
        }
        fs::set_permissions(
            &path,
            std::os::unix::fs::PermissionsExt::from_mode(BLOB_MODE),
        )
        .map_err(|e| StoreError::io(&path, e))?;
        self.commit_blob(staged, expected)?;
        Ok(Blob {
            digest: *expected,
            size: file.size,
        })
    }

    /// Publishes a complete temporary file as the blob `digest`.
    fn commit_blob(&self, staged: TempPath, digest: &Digest) -> Result<(), StoreError> {
        staged.persist(&self.blob_path(digest))
    }

    /// Downloads the blob `digest` from `remote` into this store, its bytes checked before
    /// they get the digest's name. A remote that lacks it, or bytes that could not be taken
    /// as the blob (other bytes, discarded), is an answer; only a remote that could not be
    /// asked is an error.
    pub(crate) fn download(
        &self,
        remote: &dyn Remote,
        digest: &Digest,
    ) -> Result<Downloaded, RemoteError> {
        // Removed when dropped, whatever happens.
        let (temporary, file) = TempPath::create(&self.temp_dir(), 0o644)
            .map_err(|e| RemoteError::Local(e.to_string()))?;
        drop(file);
        if !remote.get_blob(digest, temporary.path())? {
            return Ok(Downloaded::Missing);
        }
        match self.adopt(temporary, digest) {
            Ok(blob) => Ok(Downloaded::Stored(blob)),
            Err(e) => Ok(Downloaded::Refused(e)),
        }
    }

    /// A private copy of the file at `path`, in this store's temporary directory, whose
    /// bytes hash to `expected` (removed when dropped): what an upload reads, so that a file
    /// written to meanwhile can never send other bytes under `expected`. A file that does
    /// not hash to it is refused as changed.
    pub(crate) fn snapshot(&self, path: &Path, expected: &Digest) -> Result<Snapshot, StoreError> {
        let mut source = File::open(path).map_err(|e| StoreError::io(path, e))?;
        let (staged, mut file) = TempPath::create(&self.temp_dir(), BLOB_MODE)?;
        let (digest, size) = copy_hashing(&mut source, path, &mut file, staged.path())?;
        if digest != *expected {
            return Err(StoreError::bad_output(
                path.display().to_string(),
                format!(
                    "changed since it was hashed (its bytes hash to {} now, not {})",
                    digest.short(),
                    expected.short()
                ),
            ));
        }
        Ok(Snapshot { staged, size })
    }
}

/// What [`LocalStore::download`] brought.
#[derive(Debug)]
pub(crate) enum Downloaded {
    /// The blob, now in the store.
    Stored(Blob),
    /// The remote does not have it.
    Missing,
    /// What the remote sent cannot be the blob: other bytes ([`StoreError::CorruptBlob`]),
    /// or bytes this store could not check or keep.
    Refused(StoreError),
}

/// A file's bytes copied aside, checked against the digest it is uploaded under.
#[derive(Debug)]
pub(crate) struct Snapshot {
    staged: TempPath,
    pub size: u64,
}

impl Snapshot {
    pub fn path(&self) -> &Path {
        self.staged.path()
    }
}

impl Store for LocalStore {
    fn get_action_result(&self, key: &Digest) -> Result<Option<ActionResult>, StoreError> {
        let path = self.action_result_path(key);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(path, e)),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            // Removed so that the next lookup is a plain miss and the rerun stores a good one.
            let _ = fs::remove_file(&path);
            StoreError::CorruptActionResult {
                key: *key,
                reason: e.to_string(),
            }
        })
    }

    fn put_action_result(&self, key: &Digest, result: &ActionResult) -> Result<(), StoreError> {
        let path = self.action_result_path(key);
        let json = serde_json::to_vec_pretty(result)
            .map_err(|e| StoreError::io(&path, io::Error::other(e)))?;
        let (staged, mut file) = TempPath::create(&self.temp_dir(), ACTION_RESULT_MODE)?;
        file.write_all(&json)
            .map_err(|e| StoreError::io(staged.path(), e))?;
        drop(file);
        // Replaces an older result for the same key: the newest run wins.
        staged.persist(&path)
    }

    fn contains_blob(&self, digest: &Digest) -> Result<bool, StoreError> {
        Ok(self.blob_len(digest)?.is_some())
    }

    fn put_bytes(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        let digest = Digest::of(bytes);
        if self.holds(&digest, bytes.len() as u64)? {
            return Ok(digest);
        }
        let (staged, mut file) = TempPath::create(&self.temp_dir(), BLOB_MODE)?;
        file.write_all(bytes)
            .map_err(|e| StoreError::io(staged.path(), e))?;
        drop(file);
        self.commit_blob(staged, &digest)?;
        Ok(digest)
    }

    fn put_file(&self, path: &Path, known: Option<&Digest>) -> Result<Blob, StoreError> {
        let meta = fs::symlink_metadata(path).map_err(|e| StoreError::io(path, e))?;
        if !meta.is_file() {
            return Err(StoreError::bad_output(
                path.display().to_string(),
                "is not a regular file",
            ));
        }
        let expected = match known {
            Some(digest) => *digest,
            None => hash_file(path).map_err(|e| StoreError::io(path, e))?.digest,
        };
        if self.holds(&expected, meta.len())? {
            return Ok(Blob {
                digest: expected,
                size: meta.len(),
            });
        }
        let mut source = File::open(path).map_err(|e| StoreError::io(path, e))?;
        let (staged, mut file) = TempPath::create(&self.temp_dir(), BLOB_MODE)?;
        let (digest, size) = copy_hashing(&mut source, path, &mut file, staged.path())?;
        drop(file);
        if digest != expected {
            // Stored under either digest, the blob would contradict the digest the caller
            // records for the file: let the caller hash it again.
            return Err(StoreError::bad_output(
                path.display().to_string(),
                "changed while it was being stored",
            ));
        }
        self.commit_blob(staged, &digest)?;
        Ok(Blob { digest, size })
    }

    fn restore_blob(
        &self,
        digest: &Digest,
        place: &Place,
        executable: bool,
        mode: LinkMode,
    ) -> Result<(), StoreError> {
        restore_file(
            &self.blob_path(digest),
            digest,
            place,
            executable,
            mode,
            &self.temp_dir(),
        )
    }

    fn forget_action_result(&self, key: &Digest) -> Result<(), StoreError> {
        let path = self.action_result_path(key);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;

    use super::*;
    use crate::store::ExecutionMetadata;

    fn store() -> (tempfile::TempDir, LocalStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path().join("cache")).unwrap();
        (dir, store)
    }

    fn result() -> ActionResult {
        ActionResult {
            exit_code: 0,
            stdout_digest: Some(Digest::of(b"hello\n")),
            execution: ExecutionMetadata {
                started_ms: 1_700_000_000_000,
                duration_ms: 1234,
                attempts: 1,
                worker: "local".to_string(),
            },
            ..ActionResult::default()
        }
    }

    /// The store lays out its own root, and `StateDir` names the same places for its layout
    /// check: the two must agree.
    #[test]
    fn a_workspace_store_is_laid_out_where_the_state_dir_says() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::in_workspace(dir.path()).unwrap();
        let state = StateDir::of(dir.path());
        let digest = Digest::of(b"x");
        assert_eq!(store.root(), state.cache());
        assert_eq!(
            store.blob_path(&digest).parent().unwrap().parent(),
            Some(&*state.cas())
        );
        let result = store.action_result_path(&digest);
        assert_eq!(result.parent().unwrap().parent(), Some(&*state.ac()));
        assert_eq!(store.temp_dir(), state.cache_tmp());
        assert!(state.check().is_ok());
    }

    fn temp_files(store: &LocalStore) -> usize {
        fs::read_dir(store.temp_dir()).unwrap().count()
    }

    #[test]
    fn an_action_result_round_trips_and_an_unknown_key_is_a_miss() {
        let (_dir, store) = store();
        let key = Digest::of(b"action");
        assert_eq!(store.get_action_result(&key).unwrap(), None);
        store.put_action_result(&key, &result()).unwrap();
        assert_eq!(store.get_action_result(&key).unwrap(), Some(result()));
        let hex = key.to_hex();
        assert!(
            store
                .root()
                .join(format!("ac/{}/{hex}.json", &hex[..2]))
                .is_file()
        );

        let mut newer = result();
        newer.exit_code = 3;
        store.put_action_result(&key, &newer).unwrap();
        assert_eq!(store.get_action_result(&key).unwrap(), Some(newer));
        assert_eq!(temp_files(&store), 0);
    }

    #[test]
    fn undecodable_action_result_json_is_corrupt_then_a_miss() {
        let (_dir, store) = store();
        let key = Digest::of(b"action");
        store.put_action_result(&key, &result()).unwrap();
        let path = store.action_result_path(&key);
        let json = fs::read(&path).unwrap();
        // A torn write: the first half of the file.
        fs::write(&path, &json[..json.len() / 2]).unwrap();

        let error = store.get_action_result(&key).unwrap_err();
        assert!(error.is_corrupt(), "{error}");
        assert!(matches!(error, StoreError::CorruptActionResult { key: k, .. } if k == key));
        assert!(!path.exists(), "the corrupt entry is removed");
        assert_eq!(store.get_action_result(&key).unwrap(), None);
    }

    #[test]
    fn a_blob_is_stored_once_read_only_under_its_digest() {
        let (dir, store) = store();
        let digest = store.put_bytes(b"weights").unwrap();
        assert_eq!(digest, Digest::of(b"weights"));
        let hex = digest.to_hex();
        let path = store.root().join(format!("cas/{}/{hex}", &hex[..2]));
        assert_eq!(store.blob_path(&digest), path);
        assert_eq!(fs::read(&path).unwrap(), b"weights");
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o444);
        assert!(store.contains_blob(&digest).unwrap());
        assert!(!store.contains_blob(&Digest::of(b"other")).unwrap());

        // The same bytes again, from memory and from a file: the blob is not rewritten.
        assert_eq!(store.put_bytes(b"weights").unwrap(), digest);
        let file = dir.path().join("model.bin");
        fs::write(&file, b"weights").unwrap();
        let blob = store.put_file(&file, None).unwrap();
        assert_eq!(blob, Blob { digest, size: 7 });
        assert_eq!(store.put_file(&file, Some(&digest)).unwrap(), blob);
        assert_eq!(
            fs::metadata(&path).unwrap().ino(),
            meta.ino(),
            "not copied again"
        );
        assert_eq!(temp_files(&store), 0);
        assert_eq!(store.stats().unwrap().blobs, 1);
    }

    #[test]
    fn put_file_copies_new_bytes_and_refuses_a_file_that_is_not_what_was_hashed() {
        let (dir, store) = store();
        let file = dir.path().join("data.csv");
        fs::write(&file, b"a,b\n1,2\n").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).unwrap();
        let blob = store.put_file(&file, None).unwrap();
        assert_eq!(blob.digest, Digest::of(b"a,b\n1,2\n"));
        assert_eq!(blob.size, 8);
        let stored = fs::metadata(store.blob_path(&blob.digest)).unwrap();
        assert_eq!(
            stored.permissions().mode() & 0o777,
            0o444,
            "bytes only, no exec bit"
        );

        // The caller hashed other bytes than the file now holds.
        let stale = Digest::of(b"what it held before");
        let error = store.put_file(&file, Some(&stale)).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("changed while it was being stored"),
            "{error}"
        );
        assert!(!store.contains_blob(&stale).unwrap());
        assert_eq!(temp_files(&store), 0);
    }

    #[test]
    fn put_file_refuses_a_symlink_or_a_directory() {
        let (dir, store) = store();
        std::os::unix::fs::symlink("elsewhere", dir.path().join("link")).unwrap();
        for path in [dir.path().join("link"), dir.path().to_path_buf()] {
            let error = store.put_file(&path, None).unwrap_err();
            assert!(matches!(error, StoreError::BadOutput { .. }), "{error}");
        }
        let error = store
            .put_file(&dir.path().join("missing"), None)
            .unwrap_err();
        assert!(
            matches!(&error, StoreError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
        );
    }

    #[test]
    fn stray_temp_files_are_ignored_by_lookups_and_swept_when_stale() {
        let (_dir, store) = store();
        // What a process killed mid-write leaves: half a blob under a temporary name.
        let stray = store.temp_dir().join(".zenbuild-99999-0.tmp");
        fs::write(&stray, b"half of a blo").unwrap();
        assert!(!store.contains_blob(&Digest::of(b"half of a blob")).unwrap());
        assert!(!store.contains_blob(&Digest::of(b"half of a blo")).unwrap());
        let stats = store.stats().unwrap();
        assert_eq!(
            (stats.blobs, stats.temp_files, stats.temp_bytes),
            (0, 1, 13)
        );

        // Opening sweeps only what is stale; a fresh file may belong to a live writer.
        let reopened = LocalStore::open(store.root()).unwrap();
        assert!(stray.exists());
        assert_eq!(reopened.sweep_temp(Duration::ZERO).unwrap(), 1);
        assert!(!stray.exists());
    }

    #[test]
    fn a_torn_blob_is_replaced_by_the_next_put_of_its_bytes() {
        let (_dir, store) = store();
        let digest = Digest::of(b"complete bytes");
        let path = store.blob_path(&digest);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, b"complete").unwrap();
        assert_eq!(store.put_bytes(b"complete bytes").unwrap(), digest);
        assert_eq!(fs::read(&path).unwrap(), b"complete bytes");
    }

    #[test]
    fn concurrent_writers_of_one_blob_are_harmless() {
        let (dir, store) = store();
        let store = Arc::new(store);
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let file = dir.path().join("big.bin");
        fs::write(&file, &bytes).unwrap();
        let digest = Digest::of(&bytes);
        let writers: Vec<_> = (0..8)
            .map(|i| {
                let store = Arc::clone(&store);
                let bytes = bytes.clone();
                let file = file.clone();
                std::thread::spawn(move || {
                    if i % 2 == 0 {
                        store.put_bytes(&bytes).unwrap()
                    } else {
                        store.put_file(&file, None).unwrap().digest
                    }
                })
            })
            .collect();
        for writer in writers {
            assert_eq!(writer.join().unwrap(), digest);
        }
        assert_eq!(fs::read(store.blob_path(&digest)).unwrap(), bytes);
        assert_eq!(store.stats().unwrap().blobs, 1);
        assert_eq!(temp_files(&store), 0);
    }
}
