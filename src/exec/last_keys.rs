//! The key each action had when it last finished, so that `explain` and the build can say
//! what changed since.
//!
//! Two parts under `.zenbuild/state/`: `last-keys`, one JSON line per action (its name, key
//! digest, and the digests of the outputs it left), read once when a build starts and written
//! once at its end if anything changed; and `keys/<digest>.json`, each key's fields, written
//! once per distinct key. A no-op build of thousands of cached actions writes nothing here,
//! and an action whose key and outputs are unchanged needs no action-cache lookup at all.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::atomic_write::{Durability, write_atomically};
use crate::hash::{ActionKey, Digest};

/// How an action last finished: under which key, leaving which outputs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finished {
    pub key: Digest,
    /// Each declared output's path (directories end in `/`), digest and executable bit.
    pub outputs: Vec<(String, Digest, bool)>,
    /// The captured stdout and stderr in the store.
    pub logs: Option<(Digest, Digest)>,
}

#[derive(Serialize, Deserialize)]
struct Line {
    action: String,
    #[serde(flatten)]
    finished: Finished,
}

pub const STATE_DIR: &str = ".zenbuild/state";

#[derive(Debug)]
pub struct LastKeys {
    dir: PathBuf,
    index: Mutex<HashMap<String, Finished>>,
    changed: AtomicBool,
}

impl LastKeys {
    /// The record of the workspace at `root`; a missing or unreadable index is an empty one,
    /// which only costs explanations ("never built"), never correctness.
    pub fn in_workspace(root: &Path) -> LastKeys {
        let dir = root.join(STATE_DIR);
        let text = std::fs::read_to_string(dir.join("last-keys")).unwrap_or_default();
        let index = text
            .lines()
            .filter_map(|line| serde_json::from_str::<Line>(line).ok())
            .map(|line| (line.action, line.finished))
            .collect();
        LastKeys {
            dir,
            index: Mutex::new(index),
            changed: AtomicBool::new(false),
        }
    }

    fn index(&self) -> std::sync::MutexGuard<'_, HashMap<String, Finished>> {
        self.index
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The key `action` had last time, if it ever finished and its record is readable.
    pub fn get(&self, action: &str) -> Option<ActionKey> {
        let digest = self.index().get(action)?.key;
        let bytes = std::fs::read(self.record_path(&digest)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// How `action` last finished.
    pub fn finished(&self, action: &str) -> Option<Finished> {
        self.index().get(action).cloned()
    }

    /// How every action that ever finished here last finished.
    pub fn all(&self) -> Vec<Finished> {
        self.index().values().cloned().collect()
    }

    /// Records that `action` finished with `key`, as `finished` says.
    pub fn set(&self, action: &str, key: &ActionKey, finished: Finished) -> io::Result<()> {
        if self.index().get(action) == Some(&finished) {
            return Ok(());
        }
        let record = self.record_path(&finished.key);
        if !record.exists() {
            let json = serde_json::to_vec_pretty(key).map_err(io::Error::other)?;
            write(&record, &json)?;
        }
        self.index().insert(action.to_string(), finished);
        self.changed.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Writes the index if anything changed since it was read.
    pub fn save(&self) -> io::Result<()> {
        if !self.changed.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        let mut lines: Vec<String> = self
            .index()
            .iter()
            .filter_map(|(action, finished)| {
                let line = Line {
                    action: action.clone(),
                    finished: finished.clone(),
                };
                serde_json::to_string(&line).ok().map(|json| json + "\n")
            })
            .collect();
        lines.sort();
        write(&self.dir.join("last-keys"), lines.concat().as_bytes())
    }

    fn record_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("keys").join(format!("{digest}.json"))
    }
}

/// Replaces `path` in one rename, creating its directory. No fsync: a torn index or record
/// reads as none, which only costs an explanation and a cache lookup.
fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    write_atomically(path, bytes, Durability::Rename)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn key(cmd: &str) -> ActionKey {
        ActionKey {
            cmd: cmd.into(),
            inputs: vec![],
            outputs: vec![],
            params: BTreeMap::new(),
            env: BTreeMap::new(),
            workdir: ".".into(),
            platform: None,
        }
    }

    fn set(keys: &LastKeys, action: &str, cmd: &str) {
        let key = key(cmd);
        let finished = Finished {
            key: key.digest(),
            outputs: vec![("out/a.txt".into(), Digest::of(b"a"), false)],
            logs: None,
        };
        keys.set(action, &key, finished).unwrap();
    }

    #[test]
    fn remembers_the_latest_key_per_action_across_builds() {
        let dir = tempfile::tempdir().unwrap();
        let keys = LastKeys::in_workspace(dir.path());
        assert!(keys.get("fit@lr=0.1").is_none());
        set(&keys, "fit@lr=0.1", "a");
        set(&keys, "fit@lr=0.1", "b");
        set(&keys, "fit@lr=0.2", "c");
        keys.save().unwrap();
        let again = LastKeys::in_workspace(dir.path());
        assert_eq!(again.get("fit@lr=0.1").unwrap().cmd, "b");
        assert_eq!(
            again.finished("fit@lr=0.1").unwrap().outputs[0].0,
            "out/a.txt"
        );
        assert_eq!(again.get("fit@lr=0.2").unwrap().cmd, "c");
    }

    #[test]
    fn an_unchanged_key_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let keys = LastKeys::in_workspace(dir.path());
        set(&keys, "a", "x");
        keys.save().unwrap();
        let index = dir.path().join(STATE_DIR).join("last-keys");
        let before = std::fs::metadata(&index).unwrap().modified().unwrap();
        let again = LastKeys::in_workspace(dir.path());
        set(&again, "a", "x");
        again.save().unwrap();
        assert_eq!(
            std::fs::metadata(&index).unwrap().modified().unwrap(),
            before
        );
        assert!(!again.changed.load(Ordering::Relaxed));
    }

    #[test]
    fn an_unreadable_record_is_no_record() {
        let dir = tempfile::tempdir().unwrap();
        let keys = LastKeys::in_workspace(dir.path());
        set(&keys, "a", "x");
        std::fs::write(keys.record_path(&key("x").digest()), b"{ not json").unwrap();
        assert!(keys.get("a").is_none());
        std::fs::write(dir.path().join(STATE_DIR).join("last-keys"), b"garbage\n").unwrap();
        assert!(LastKeys::in_workspace(dir.path()).get("a").is_none());
    }
}
