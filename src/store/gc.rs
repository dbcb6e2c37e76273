//! Garbage collection of the local store: every action result whose key is not kept goes,
//! then every blob that no kept result and no kept digest refers to. What to keep is the
//! caller's to say ([`Roots`]); the store only knows what refers to what.
//!
//! Results go before blobs, so a collection stopped half-way never leaves a result whose blobs
//! are gone (a store treats such a result as a miss anyway).

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;

use serde::Serialize;

use super::action_result::ActionResult;
use super::error::StoreError;
use super::local::LocalStore;
use crate::hash::Digest;

/// What a collection must keep.
#[derive(Debug, Default)]
pub struct Roots {
    /// Action keys whose results stay, with every blob they refer to.
    pub keys: HashSet<Digest>,
    /// Blobs that stay whether or not a kept result refers to them.
    pub blobs: HashSet<Digest>,
}

/// One thing a collection removed (or, dry, would remove).
#[derive(Clone, Debug, Serialize)]
pub struct Removed {
    /// `result` or `blob`.
    pub kind: &'static str,
    pub digest: String,
    pub bytes: u64,
    /// For a result: when it was made (ms since the epoch), as it records, or else when it
    /// was stored here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub made_ms: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct GcReport {
    pub removed: Vec<Removed>,
    pub kept_results: u64,
    pub kept_blobs: u64,
    pub kept_bytes: u64,
}

impl GcReport {
    pub fn removed_bytes(&self) -> u64 {
        self.removed.iter().map(|r| r.bytes).sum()
    }

    pub fn removed_count(&self, kind: &str) -> usize {
        self.removed.iter().filter(|r| r.kind == kind).count()
    }
}

impl LocalStore {
    /// Removes what `roots` does not keep; with `dry_run`, only says what that would be.
    pub fn collect_garbage(&self, roots: &Roots, dry_run: bool) -> Result<GcReport, StoreError> {
        let mut report = GcReport::default();
        let mut live_blobs = roots.blobs.clone();
        for (key, path, bytes) in self.stored("ac", ".json")? {
            if roots.keys.contains(&key) {
                report.kept_results += 1;
                report.kept_bytes += bytes;
                // A result that no longer parses keeps nothing alive; it is a miss already.
                if let Ok(text) = fs::read(&path)
                    && let Ok(result) = serde_json::from_slice::<ActionResult>(&text)
                {
                    live_blobs.extend(result.blobs());
                }
                continue;
            }
            let made_ms = made_ms(&path);
            if !dry_run {
                remove(&path)?;
            }
            report.removed.push(Removed {
                kind: "result",
                digest: key.to_hex(),
                bytes,
                made_ms,
            });
        }
        for (digest, path, bytes) in self.stored("cas", "")? {
            if live_blobs.contains(&digest) {
                report.kept_blobs += 1;
                report.kept_bytes += bytes;
                continue;
            }
            if !dry_run {
                remove(&path)?;
            }
            report.removed.push(Removed {
                kind: "blob",
                digest: digest.to_hex(),
                bytes,
                made_ms: None,
            });
        }
        Ok(report)
    }

    /// Every file under `cas/` or `ac/` whose name (less `suffix`) is a digest, with its size.
    fn stored(&self, area: &str, suffix: &str) -> Result<Vec<(Digest, PathBuf, u64)>, StoreError> {
        let base = self.root().join(area);
        let mut found = Vec::new();
        for fan_out in read_dir(&base)? {
            if !fan_out.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            for entry in read_dir(&fan_out.path())? {
                let name = entry.file_name();
                let Some(digest) = name
                    .to_str()
                    .and_then(|name| name.strip_suffix(suffix))
                    .and_then(|hex| hex.parse::<Digest>().ok())
                else {
                    continue;
                };
                let Ok(meta) = entry.metadata() else { continue };
                if meta.is_file() {
                    found.push((digest, entry.path(), meta.len()));
                }
            }
        }
        Ok(found)
    }
}

/// When the result at `path` was made: its action's end, or the file's mtime for a result
/// that does not say (or does not parse).
fn made_ms(path: &std::path::Path) -> Option<u64> {
    let recorded = fs::read(path)
        .ok()
        .and_then(|text| serde_json::from_slice::<ActionResult>(&text).ok())
        .map(|result| result.execution.started_ms + result.execution.duration_ms)
        .filter(|&ended| ended > 0);
    recorded.or_else(|| {
        let modified = fs::metadata(path).ok()?.modified().ok()?;
        let since = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
        Some(since.as_millis() as u64)
    })
}

fn read_dir(dir: &std::path::Path) -> Result<Vec<fs::DirEntry>, StoreError> {
    match fs::read_dir(dir) {
        Ok(entries) => Ok(entries.filter_map(Result::ok).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(StoreError::io(dir, e)),
    }
}

fn remove(path: &std::path::Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn keeps_kept_results_and_their_blobs_and_removes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let kept_blob = store.put_bytes(b"kept output").unwrap();
        let dropped_blob = store.put_bytes(b"dropped output").unwrap();
        let loose = store.put_bytes(b"referenced by nothing").unwrap();
        let pinned = store.put_bytes(b"pinned by the caller").unwrap();
        let result = |digest: Digest| ActionResult {
            output_files: vec![super::super::action_result::OutputFile {
                path: "out".into(),
                digest,
                size: 1,
                executable: false,
            }],
            ..ActionResult::default()
        };
        let (kept_key, dropped_key) = (Digest::of(b"k1"), Digest::of(b"k2"));
        store
            .put_action_result(&kept_key, &result(kept_blob))
            .unwrap();
        store
            .put_action_result(&dropped_key, &result(dropped_blob))
            .unwrap();
        let roots = Roots {
            keys: HashSet::from([kept_key]),
            blobs: HashSet::from([pinned]),
        };

        let dry = store.collect_garbage(&roots, true).unwrap();
        assert_eq!(dry.removed_count("result"), 1);
        // It records no time (started 0): the file's is taken.
        let made = dry
            .removed
            .iter()
            .find(|r| r.kind == "result")
            .unwrap()
            .made_ms;
        assert!(made.is_some_and(|ms| ms > 1_600_000_000_000), "{made:?}");
        assert_eq!(dry.removed_count("blob"), 2);
        assert!(
            store.blob_path(&loose).exists(),
            "a dry run removes nothing"
        );

        let done = store.collect_garbage(&roots, false).unwrap();
        assert_eq!(done.removed.len(), 3);
        assert_eq!((done.kept_results, done.kept_blobs), (1, 2));
        assert!(store.get_action_result(&kept_key).unwrap().is_some());
        assert!(store.get_action_result(&dropped_key).unwrap().is_none());
        for (digest, present) in [
            (kept_blob, true),
            (pinned, true),
            (dropped_blob, false),
            (loose, false),
        ] {
            assert_eq!(store.blob_path(&digest).exists(), present);
        }
    }
}
