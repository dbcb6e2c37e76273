//! A store held in memory: for tests of everything above the store, and as the shape a remote
//! store's client takes (blobs and results by digest, nothing on the local disk).

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use super::beneath::TempAt;
use super::error::StoreError;
use super::{ActionResult, Blob, LinkMode, Place, Store};
use crate::hash::Digest;

#[derive(Default)]
pub struct MemoryStore {
    blobs: Mutex<HashMap<Digest, Vec<u8>>>,
    results: Mutex<HashMap<Digest, ActionResult>>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// How many action results are stored.
    pub fn results(&self) -> usize {
        lock(&self.results).len()
    }

    /// Replaces a blob's bytes without changing its name, as a disk fault would.
    pub fn corrupt(&self, digest: &Digest) {
        if let Some(bytes) = lock(&self.blobs).get_mut(digest) {
            bytes.push(b'!');
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Store for MemoryStore {
    fn get_action_result(&self, key: &Digest) -> Result<Option<ActionResult>, StoreError> {
        Ok(lock(&self.results).get(key).cloned())
    }

    fn put_action_result(&self, key: &Digest, result: &ActionResult) -> Result<(), StoreError> {
        lock(&self.results).insert(*key, result.clone());
        Ok(())
    }

    fn contains_blob(&self, digest: &Digest) -> Result<bool, StoreError> {
        Ok(lock(&self.blobs).contains_key(digest))
    }

    fn put_bytes(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        let digest = Digest::of(bytes);
        lock(&self.blobs).insert(digest, bytes.to_vec());
        Ok(digest)
    }

    fn put_file(&self, path: &Path, known: Option<&Digest>) -> Result<Blob, StoreError> {
        let bytes = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
        let digest = Digest::of(&bytes);
        if known.is_some_and(|known| *known != digest) {
            return Err(StoreError::bad_output(
                path.display().to_string(),
                "changed while it was being stored",
            ));
        }
        let size = bytes.len() as u64;
        lock(&self.blobs).insert(digest, bytes);
        Ok(Blob { digest, size })
    }

    fn restore_blob(
        &self,
        digest: &Digest,
        place: &Place,
        executable: bool,
        _: LinkMode,
    ) -> Result<(), StoreError> {
        let bytes = lock(&self.blobs)
            .get(digest)
            .cloned()
            .ok_or(StoreError::MissingBlob { digest: *digest })?;
        let actual = Digest::of(&bytes);
        if actual != *digest {
            lock(&self.blobs).remove(digest);
            return Err(StoreError::CorruptBlob {
                digest: *digest,
                actual,
            });
        }
        let mode = if executable { 0o755 } else { 0o644 };
        let io = |e| StoreError::io(place.shown, e);
        let (staged, mut file) = TempAt::create(place.dir, mode).map_err(io)?;
        file.write_all(&bytes).map_err(io)?;
        drop(file);
        staged.persist(place).map_err(io)
    }

    fn forget_action_result(&self, key: &Digest) -> Result<(), StoreError> {
        lock(&self.results).remove(key);
        Ok(())
    }
}
