//! A shared directory as a remote (`file:///mnt/nfs/zenbuild-cache`): the cache layout on a
//! file system many machines mount. Safe for concurrent writers: every file is written under
//! a unique temporary name in its final directory and renamed into place, so a reader sees
//! a whole file or none, and two writers of the same content both succeed.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Remote, RemoteError};
use crate::hash::Digest;

pub struct DirRemote {
    root: PathBuf,
}

impl DirRemote {
    pub fn new(root: &Path) -> DirRemote {
        DirRemote {
            root: root.to_path_buf(),
        }
    }

    fn path(&self, area: &str, digest: &Digest) -> PathBuf {
        self.root.join(area).join(digest.to_hex())
    }

    /// Writes by temporary file and rename: readers never see part of a file.
    fn write(
        &self,
        destination: &Path,
        write: impl FnOnce(&Path) -> io::Result<()>,
    ) -> io::Result<()> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = destination.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir)?;
        let temporary = dir.join(format!(
            ".{}.{}.{}.tmp",
            destination
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let written = write(&temporary).and_then(|()| fs::rename(&temporary, destination));
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written
    }
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
        Ok(self.write(&self.path("ac", key), |temporary| {
            fs::write(temporary, json)
        })?)
    }

    fn contains_blob(&self, digest: &Digest) -> Result<bool, RemoteError> {
        match fs::metadata(self.path("cas", digest)) {
            Ok(_) => Ok(true),
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
        Ok(self.write(&self.path("cas", digest), |temporary| {
            fs::copy(source, temporary).map(|_| ())
        })?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("cache/cas"))
            .unwrap()
            .filter_map(Result::ok)
            .filter(|entry| entry.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
