//! A shared directory as a remote (`file:///mnt/nfs/zenbuild-cache`): the cache layout on a
//! file system many machines mount.
//!
//! ```text
//! ac/<key hex>                  action results
//! cas/<digest hex>              blobs
//! tmp/<name>.<pid>.<n>.tmp      files being written, renamed into ac/ or cas/ once whole
//! tmp/swept                     its mtime: when ac/ and cas/ were last searched for leftovers
//! ```
//!
//! Safe for concurrent writers: every file is written under a name no other writer can have
//! (created exclusively, which NFS honours too) and renamed into place, so a reader sees a
//! whole file or none, and two writers of the same content both succeed. A writer killed
//! halfway (`cache push` interrupted, a CI job cancelled) leaves its temporary file behind;
//! the first write of every process sweeps `tmp/` of files untouched for
//! [`STALE_TEMP_AGE`], and searches `ac/` and `cas/` (where earlier zenbuilds wrote them) at most
//! once per that age across all writers, since those directories can be huge. A lookup only
//! ever opens an entry's exact name, so no temporary file is taken for one.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use super::{Remote, RemoteError};
use crate::hash::Digest;
use crate::store::STALE_TEMP_AGE;

/// Ends every temporary name, so that a sweep recognises what it may delete.
const TEMP_SUFFIX: &str = ".tmp";
/// Beside the temporary files; its mtime records the last search of the entry directories.
const SWEPT_MARKER: &str = "swept";

pub struct DirRemote {
    root: PathBuf,
    /// The sweep that the first write of this process runs.
    swept: Once,
}

impl DirRemote {
    pub fn new(root: &Path) -> DirRemote {
        DirRemote {
            root: root.to_path_buf(),
            swept: Once::new(),
        }
    }

    fn path(&self, area: &str, digest: &Digest) -> PathBuf {
        self.root.join(area).join(digest.to_hex())
    }

    fn temp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Writes by temporary file and rename: readers never see part of a file.
    fn write(
        &self,
        destination: &Path,
        write: impl FnOnce(&mut File) -> io::Result<()>,
    ) -> io::Result<()> {
        self.swept.call_once(|| {
            self.sweep(STALE_TEMP_AGE);
        });
        let temp_dir = self.temp_dir();
        let name = destination
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Directories are made when missing rather than checked first: on a network file
        // system every check is a round trip, and they are there but for the first write.
        let (temporary, mut file) = match create_unique(&temp_dir, &name) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(&temp_dir)?;
                create_unique(&temp_dir, &name)?
            }
            created => created?,
        };
        let written = write(&mut file).and_then(|()| {
            drop(file);
            match fs::rename(&temporary, destination) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if let Some(dir) = destination.parent() {
                        fs::create_dir_all(dir)?;
                    }
                    fs::rename(&temporary, destination)
                }
                renamed => renamed,
            }
        });
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written
    }

    /// Removes the temporary files of writers that were killed: those in `tmp/` untouched
    /// for `older_than`, and, when no writer has looked for the last `older_than`, those
    /// that older versions left in `ac/` and `cas/`. Returns how many went. Failures (a
    /// read-only mount, a file another writer renamed meanwhile) are no one's problem: the
    /// next sweep tries again.
    pub fn sweep(&self, older_than: Duration) -> usize {
        let temp_dir = self.temp_dir();
        let mut removed = sweep_dir(&temp_dir, older_than, |name| name.ends_with(TEMP_SUFFIX));
        let marker = temp_dir.join(SWEPT_MARKER);
        let searched_lately = fs::metadata(&marker)
            .and_then(|meta| meta.modified())
            .is_ok_and(|at| !is_older(at, older_than));
        if !searched_lately {
            for area in ["ac", "cas"] {
                removed += sweep_dir(&self.root.join(area), older_than, |name| {
                    name.starts_with('.') && name.ends_with(TEMP_SUFFIX)
                });
            }
            if fs::create_dir_all(&temp_dir).is_ok() {
                let _ = File::create(&marker).and_then(|file| file.set_modified(SystemTime::now()));
            }
        }
        removed
    }
}

/// A new file in `dir` named after `name`, that no other writer (on this machine or any
/// other sharing the directory) has: created exclusively, with the next number on a clash.
fn create_unique(dir: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    loop {
        let path = dir.join(format!(
            "{name}.{}.{}{TEMP_SUFFIX}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
}

/// Removes the files of `dir` whose names `is_temp` accepts and whose contents have not
/// changed for `older_than`. The mtime tells: a remote's temporary files are only ever
/// written (never hard-linked, never given old times), so a live writer's is fresh.
fn sweep_dir(dir: &Path, older_than: Duration, is_temp: impl Fn(&str) -> bool) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        if !is_temp(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let stale = meta.is_file() && meta.modified().is_ok_and(|at| is_older(at, older_than));
        if stale && fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Whether `time` is at least `age` ago. A time in the future (another machine's clock) is
/// not old.
fn is_older(time: SystemTime, age: Duration) -> bool {
    SystemTime::now()
        .duration_since(time)
        .is_ok_and(|elapsed| elapsed >= age)
}

impl Remote for DirRemote {
    fn get_action_result(&self, key: &Digest) -> Result<Option<Vec<u8>>, RemoteError> {
        match fs::read(self.path("ac", key)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn put_action_result(&self, key: &Digest, json: &[u8]) -> Result<(), RemoteError> {
        Ok(self.write(&self.path("ac", key), |file| {
            io::Write::write_all(file, json)
        })?)
    }

    fn contains_blob(&self, digest: &Digest) -> Result<bool, RemoteError> {
        match fs::metadata(self.path("cas", digest)) {
            Ok(meta) => Ok(meta.is_file()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn get_blob(&self, digest: &Digest, destination: &Path) -> Result<bool, RemoteError> {
        match fs::copy(self.path("cas", digest), destination) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn put_blob(&self, digest: &Digest, source: &Path) -> Result<(), RemoteError> {
        Ok(self.write(&self.path("cas", digest), |file| {
            io::copy(&mut File::open(source)?, file).map(|_| ())
        })?)
    }

    /// One `stat` each, one after the other: a look in a directory, not a request, so a
    /// thread pool would cost more than it saves.
    fn missing_blobs(&self, digests: &[Digest]) -> Result<Vec<Digest>, RemoteError> {
        let mut missing = Vec::new();
        for digest in digests {
            if !self.contains_blob(digest)? {
                missing.push(*digest);
            }
        }
        Ok(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn age(path: &Path, by: Duration) {
        let file = File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - by).unwrap();
    }

    #[test]
    fn round_trips_results_and_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let remote = DirRemote::new(&dir.path().join("cache"));
        let key = Digest::of(b"key");
        assert_eq!(remote.get_action_result(&key).unwrap(), None);
        remote.put_action_result(&key, b"{}").unwrap();
        assert_eq!(
            remote.get_action_result(&key).unwrap(),
            Some(b"{}".to_vec())
        );

        let source = dir.path().join("blob");
        fs::write(&source, "bytes").unwrap();
        let digest = Digest::of(b"bytes");
        assert!(!remote.contains_blob(&digest).unwrap());
        remote.put_blob(&digest, &source).unwrap();
        assert!(remote.contains_blob(&digest).unwrap());
        let back = dir.path().join("back");
        assert!(remote.get_blob(&digest, &back).unwrap());
        assert_eq!(fs::read(&back).unwrap(), b"bytes");
        assert!(!remote.get_blob(&Digest::of(b"other"), &back).unwrap());
        let other = Digest::of(b"other");
        assert_eq!(
            remote.missing_blobs(&[other, digest, other]).unwrap(),
            [other, other]
        );
        assert_eq!(names(&dir.path().join("cache/cas")), [digest.to_hex()]);
        assert_eq!(names(&dir.path().join("cache/tmp")), [SWEPT_MARKER]);
    }

    #[test]
    fn stale_temporary_files_are_swept_and_a_live_writers_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cache");
        let digest = Digest::of(b"bytes");
        let hex = digest.to_hex();
        for area in ["tmp", "cas", "ac"] {
            fs::create_dir_all(root.join(area)).unwrap();
        }
        // What killed writers left: in tmp/, and where earlier zenbuilds wrote them.
        let stale = [
            root.join(format!("tmp/{hex}.4242.0.tmp")),
            root.join(format!("cas/.{hex}.4242.1.tmp")),
            root.join(format!("ac/.{hex}.4242.2.tmp")),
        ];
        for path in &stale {
            fs::write(path, b"half").unwrap();
            age(path, Duration::from_hours(2));
        }
        let fresh = root.join(format!("tmp/{hex}.4343.0.tmp"));
        fs::write(&fresh, b"being written").unwrap();
        // Not ours: kept, however old.
        let foreign = root.join("cas/notes.txt");
        fs::write(&foreign, b"x").unwrap();
        age(&foreign, Duration::from_hours(2));

        let remote = DirRemote::new(&root);
        // A temporary file is never an entry.
        assert!(!remote.contains_blob(&digest).unwrap());
        assert!(!remote.get_blob(&digest, &dir.path().join("out")).unwrap());
        assert_eq!(remote.get_action_result(&digest).unwrap(), None);

        // The first write sweeps.
        let source = dir.path().join("source");
        fs::write(&source, b"bytes").unwrap();
        remote.put_blob(&digest, &source).unwrap();
        for path in &stale {
            assert!(!path.exists(), "{} was kept", path.display());
        }
        assert!(fresh.exists(), "a live writer's file went");
        assert!(foreign.exists());
        assert_eq!(fs::read(remote.path("cas", &digest)).unwrap(), b"bytes");
    }

    #[test]
    fn the_entry_directories_are_searched_once_per_age_by_all_writers() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cache");
        fs::create_dir_all(root.join("cas")).unwrap();
        let leftover = root.join("cas/.abc.1.0.tmp");
        fs::write(&leftover, b"half").unwrap();
        assert_eq!(DirRemote::new(&root).sweep(Duration::ZERO), 1);

        // Searched just now: another writer does not list cas/ again...
        fs::write(&leftover, b"half").unwrap();
        assert_eq!(DirRemote::new(&root).sweep(Duration::from_hours(1)), 0);
        assert!(leftover.exists());
        // ...until the last search is that old.
        age(&root.join("tmp/swept"), Duration::from_hours(2));
        age(&leftover, Duration::from_hours(2));
        assert_eq!(DirRemote::new(&root).sweep(Duration::from_hours(1)), 1);
        assert!(!leftover.exists());
    }
}
