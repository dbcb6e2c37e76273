//! The key each action had when it last finished, so that `explain` and the build can say
//! what changed since: `.zenbuild/state/keys/<digest of the action name>.json`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::hash::{ActionKey, Digest};

pub const KEYS_DIR: &str = ".zenbuild/state/keys";

#[derive(Debug)]
pub struct LastKeys {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Record {
    action: String,
    key: ActionKey,
}

impl LastKeys {
    pub fn in_workspace(root: &Path) -> LastKeys {
        LastKeys {
            dir: root.join(KEYS_DIR),
        }
    }

    /// The key `action` had last time; `None` if it never finished (or the record is
    /// unreadable, which only costs the explanation, never correctness).
    pub fn get(&self, action: &str) -> Option<ActionKey> {
        let bytes = std::fs::read(self.path(action)).ok()?;
        let record: Record = serde_json::from_slice(&bytes).ok()?;
        (record.action == action).then_some(record.key)
    }

    /// Records `key` for `action`, replacing the previous record in one rename.
    pub fn set(&self, action: &str, key: &ActionKey) -> io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let record = Record {
            action: action.to_string(),
            key: key.clone(),
        };
        let json = serde_json::to_vec_pretty(&record).map_err(io::Error::other)?;
        let path = self.path(action);
        let temp = path.with_extension(format!("{}.tmp", std::process::id()));
        let written = std::fs::File::create(&temp).and_then(|mut file| file.write_all(&json));
        match written.and_then(|()| std::fs::rename(&temp, &path)) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = std::fs::remove_file(&temp);
                Err(e)
            }
        }
    }

    fn path(&self, action: &str) -> PathBuf {
        // Action names hold `@`, `=` and `,`: a digest makes a plain, bounded file name.
        self.dir.join(format!(
            "{}.json",
            &Digest::of(action.as_bytes()).to_hex()[..32]
        ))
    }
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

    #[test]
    fn remembers_the_latest_key_per_action() {
        let dir = tempfile::tempdir().unwrap();
        let keys = LastKeys::in_workspace(dir.path());
        assert!(keys.get("fit@lr=0.1").is_none());
        keys.set("fit@lr=0.1", &key("a")).unwrap();
        keys.set("fit@lr=0.1", &key("b")).unwrap();
        keys.set("fit@lr=0.2", &key("c")).unwrap();
        assert_eq!(keys.get("fit@lr=0.1").unwrap().cmd, "b");
        assert_eq!(keys.get("fit@lr=0.2").unwrap().cmd, "c");
    }

    #[test]
    fn an_unreadable_record_is_no_record() {
        let dir = tempfile::tempdir().unwrap();
        let keys = LastKeys::in_workspace(dir.path());
        keys.set("a", &key("x")).unwrap();
        std::fs::write(keys.path("a"), b"{ not json").unwrap();
        assert!(keys.get("a").is_none());
    }
}
