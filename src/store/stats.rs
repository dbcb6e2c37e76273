//! How much the local store holds, for `zenbuild cache stats`.

use std::fs::{self, Metadata};
use std::io;
use std::path::Path;

use serde::Serialize;

use super::error::StoreError;
use super::local::LocalStore;
use super::temp::TEMP_SUFFIX;
use crate::hash::Digest;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    pub blobs: u64,
    pub blob_bytes: u64,
    pub action_results: u64,
    pub action_result_bytes: u64,
    /// Files being written, or left by killed processes until the next sweep.
    pub temp_files: u64,
    pub temp_bytes: u64,
}

impl LocalStore {
    /// Counts what is stored. Only names a lookup could find are counted, so anything
    /// else that ended up in the store's directories is not taken for a blob or a result.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let mut stats = StoreStats::default();
        let cas = self.root().join("cas");
        for fan_out in directories(&cas)? {
            for (name, size) in files(&cas.join(fan_out))? {
                if name.parse::<Digest>().is_ok() {
                    stats.blobs += 1;
                    stats.blob_bytes += size;
                }
            }
        }
        let ac = self.root().join("ac");
        for fan_out in directories(&ac)? {
            for (name, size) in files(&ac.join(fan_out))? {
                let key = name.strip_suffix(".json").map(str::parse::<Digest>);
                if matches!(key, Some(Ok(_))) {
                    stats.action_results += 1;
                    stats.action_result_bytes += size;
                }
            }
        }
        for (name, size) in files(&self.temp_dir())? {
            if name.ends_with(TEMP_SUFFIX) {
                stats.temp_files += 1;
                stats.temp_bytes += size;
            }
        }
        Ok(stats)
    }
}

fn directories(dir: &Path) -> Result<Vec<String>, StoreError> {
    Ok(list(dir)?
        .into_iter()
        .filter(|(_, meta)| meta.is_dir())
        .map(|(name, _)| name)
        .collect())
}

/// The regular files in `dir` with their sizes.
fn files(dir: &Path) -> Result<Vec<(String, u64)>, StoreError> {
    Ok(list(dir)?
        .into_iter()
        .filter(|(_, meta)| meta.is_file())
        .map(|(name, meta)| (name, meta.len()))
        .collect())
}

/// The entries of `dir`, not following symlinks; a missing directory is an empty one.
/// Entries that vanish while listed (a concurrent sweep or rename) are skipped.
fn list(dir: &Path) -> Result<Vec<(String, Metadata)>, StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(dir, e)),
    };
    let mut listed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io(dir, e))?;
        let Ok(meta) = entry.metadata() else { continue };
        listed.push((entry.file_name().to_string_lossy().into_owned(), meta));
    }
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ActionResult, Store};

    #[test]
    fn stats_count_blobs_results_and_leftovers_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path().join("cache")).unwrap();
        assert_eq!(store.stats().unwrap(), StoreStats::default());

        store.put_bytes(b"abc").unwrap();
        store.put_bytes(b"hello").unwrap();
        store.put_bytes(b"abc").unwrap();
        let key = Digest::of(b"action");
        store
            .put_action_result(&key, &ActionResult::default())
            .unwrap();
        let result_bytes = fs::metadata(store.action_result_path(&key)).unwrap().len();
        fs::write(store.temp_dir().join(".zenbuild-1-1.tmp"), b"half").unwrap();
        // Not names a lookup would find.
        fs::create_dir_all(store.root().join("cas/zz")).unwrap();
        fs::write(store.root().join("cas/zz/notes.txt"), b"junk").unwrap();
        fs::write(store.root().join("cas/README"), b"junk").unwrap();

        assert_eq!(
            store.stats().unwrap(),
            StoreStats {
                blobs: 2,
                blob_bytes: 8,
                action_results: 1,
                action_result_bytes: result_bytes,
                temp_files: 1,
                temp_bytes: 4,
            }
        );
    }
}
