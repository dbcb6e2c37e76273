//! `zenbuild.lock`: what the last successful build of each action was made of and made, kept
//! beside the manifest and committed with it, so that a reviewer sees which params and data
//! a change moved, and CI can prove that what is committed is what was built
//! (`zenbuild status --check`).
//!
//! JSON, because every language and `jq` read it; written by zenbuild only, with sorted keys
//! and one digest per line, so that the same build writes the same bytes and a diff shows
//! exactly the actions that changed. Per action: its step, its key digest and every field the
//! key is made of (command, workdir, platform, input digests, declared outputs, params, env),
//! the digests of its outputs, and which of them are metrics. A digest ends in `+x` for an
//! executable file. Paths inside its output directories that other actions read get their
//! digests too (`inside`): on a fresh clone they are the only record of what those readers
//! were keyed with.
//!
//! A build that succeeds updates the entries of the actions it built, keeps those of the
//! others the manifest still has, and drops the rest. The file is rewritten only when its
//! bytes change.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::hash::{ActionKey, Digest, InputDigest, Platform};

mod built;
mod error;
pub(crate) mod layout;
mod splice;
mod update;
pub use error::LockfileError;
pub use update::update;

pub const LOCKFILE: &str = "zenbuild.lock";
/// Bump when the layout changes; an older zenbuild refuses a newer lockfile.
pub const LOCK_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lockfile {
    pub version: u32,
    pub actions: BTreeMap<String, Locked>,
}

impl Default for Lockfile {
    fn default() -> Lockfile {
        Lockfile {
            version: LOCK_VERSION,
            actions: BTreeMap::new(),
        }
    }
}

/// One action as it was last built.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Locked {
    pub step: String,
    /// The key digest, hex.
    pub key: String,
    pub cmd: String,
    pub workdir: String,
    /// `os-arch`, or empty when the platform is not part of the key.
    pub platform: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<String>,
    /// Paths inside its output directories that other actions read, with the digests the
    /// directories' trees give them: without them a fresh clone, which has no outputs and no
    /// cache, could not key those readers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inside: BTreeMap<String, String>,
}

impl Locked {
    /// The entry for an action built under `key`, which left `outputs` (path, digest,
    /// executable bit).
    pub fn new(
        step: &str,
        key: &ActionKey,
        outputs: &[(String, Digest, bool)],
        metrics: Vec<String>,
    ) -> Locked {
        Locked {
            step: step.to_string(),
            key: key.digest().to_hex(),
            cmd: key.cmd.clone(),
            workdir: key.workdir.clone(),
            platform: key
                .platform
                .as_ref()
                .map_or(String::new(), |p| format!("{}-{}", p.os, p.arch)),
            inputs: key
                .inputs
                .iter()
                .map(|input| (input.path.clone(), encode(&input.digest, input.executable)))
                .collect(),
            outputs: outputs
                .iter()
                .map(|(path, digest, executable)| (path.clone(), encode(digest, *executable)))
                .collect(),
            params: key.params.clone(),
            env: key.env.clone(),
            metrics,
            inside: BTreeMap::new(),
        }
    }

    /// The key this entry records, rebuilt from its fields; `None` when a digest does not
    /// parse (an entry edited by hand).
    pub fn action_key(&self) -> Option<ActionKey> {
        let inputs = self
            .inputs
            .iter()
            .map(|(path, text)| {
                let (digest, executable) = decode(text)?;
                Some(InputDigest {
                    path: path.clone(),
                    digest,
                    executable,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let platform = self.platform.split_once('-').map(|(os, arch)| Platform {
            os: os.to_string(),
            arch: arch.to_string(),
        });
        Some(ActionKey {
            cmd: self.cmd.clone(),
            inputs,
            outputs: self.outputs.keys().cloned().collect(),
            params: self.params.clone(),
            env: self.env.clone(),
            workdir: self.workdir.clone(),
            platform,
        })
    }

    /// The outputs as (path, digest, executable bit), followed by the recorded paths inside
    /// output directories.
    pub fn output_digests(&self) -> Option<Vec<(String, Digest, bool)>> {
        self.outputs
            .iter()
            .chain(&self.inside)
            .map(|(path, text)| {
                let (digest, executable) = decode(text)?;
                Some((path.clone(), digest, executable))
            })
            .collect()
    }
}

fn encode(digest: &Digest, executable: bool) -> String {
    if executable {
        format!("{}+x", digest.to_hex())
    } else {
        digest.to_hex()
    }
}

fn decode(text: &str) -> Option<(Digest, bool)> {
    let (hex, executable) = match text.strip_suffix("+x") {
        Some(hex) => (hex, true),
        None => (text, false),
    };
    Some((hex.parse().ok()?, executable))
}

impl Lockfile {
    /// The lockfile of the workspace at `root`; `None` when there is none yet.
    pub fn read(root: &Path) -> Result<Option<Lockfile>, LockfileError> {
        let path = root.join(LOCKFILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LockfileError::Read(e)),
        };
        Lockfile::parse(&text).map(Some)
    }

    /// The lockfile of the workspace at `root` as commit `rev` of the git work tree at
    /// `git_root` has it; `None` when that commit has none.
    pub fn at_commit(
        root: &Path,
        git_root: &Path,
        rev: &str,
    ) -> Result<Option<Lockfile>, LockfileError> {
        let relative = root
            .strip_prefix(git_root)
            .unwrap_or(Path::new(""))
            .join(LOCKFILE);
        let relative = relative.to_string_lossy().replace('\\', "/");
        let Some(bytes) =
            crate::lineage::git::file_at(git_root, rev, &relative).map_err(LockfileError::Git)?
        else {
            return Ok(None);
        };
        let text = String::from_utf8(bytes).map_err(|_| LockfileError::NotText {
            path: relative,
            rev: rev.to_string(),
        })?;
        Lockfile::parse(&text)
            .map(Some)
            .map_err(|e| LockfileError::AtRevision {
                rev: rev.to_string(),
                source: Box::new(e),
            })
    }

    pub fn parse(text: &str) -> Result<Lockfile, LockfileError> {
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let version = serde_json::from_str::<Version>(text)
            .map_err(LockfileError::NotALockfile)?
            .version;
        if version > LOCK_VERSION {
            return Err(LockfileError::Newer { version });
        }
        serde_json::from_str(text).map_err(LockfileError::Damaged)
    }

    /// The file's bytes: pretty JSON, sorted, ending in a newline.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ActionKey {
        ActionKey {
            cmd: "python3 fit.py".into(),
            inputs: vec![
                InputDigest {
                    path: "data/".into(),
                    digest: Digest::of(b"tree"),
                    executable: false,
                },
                InputDigest {
                    path: "fit.py".into(),
                    digest: Digest::of(b"fit"),
                    executable: true,
                },
            ],
            outputs: vec!["out/model.json".into()],
            params: BTreeMap::from([("lr".to_string(), serde_json::json!(0.1))]),
            env: BTreeMap::new(),
            workdir: ".".into(),
            platform: Some(Platform::current()),
        }
    }

    #[test]
    fn an_entry_gives_back_the_key_it_was_made_from() {
        let outputs = vec![("out/model.json".to_string(), Digest::of(b"m"), false)];
        let locked = Locked::new("fit", &key(), &outputs, vec![]);
        assert_eq!(locked.action_key(), Some(key()));
        assert_eq!(locked.key, key().digest().to_hex());
        assert_eq!(locked.output_digests(), Some(outputs));
        assert!(locked.inputs["fit.py"].ends_with("+x"));
    }

    #[test]
    fn paths_inside_output_directories_come_back_with_the_outputs_but_not_in_the_key() {
        let outputs = vec![("out/d/".to_string(), Digest::of(b"tree"), false)];
        let mut locked = Locked::new("a", &key(), &outputs, vec![]);
        locked
            .inside
            .insert("out/d/f.txt".into(), encode(&Digest::of(b"f"), true));
        let again = Lockfile::parse(
            &Lockfile {
                version: LOCK_VERSION,
                actions: BTreeMap::from([("a".to_string(), locked.clone())]),
            }
            .to_text(),
        )
        .unwrap();
        assert_eq!(again.actions["a"], locked);
        assert_eq!(
            locked.output_digests(),
            Some(vec![
                ("out/d/".to_string(), Digest::of(b"tree"), false),
                ("out/d/f.txt".to_string(), Digest::of(b"f"), true),
            ])
        );
        assert_eq!(locked.action_key().unwrap().outputs, vec!["out/d/"]);
    }

    #[test]
    fn the_text_round_trips_and_is_stable() {
        let outputs = vec![("out/model.json".to_string(), Digest::of(b"m"), false)];
        let mut lock = Lockfile::default();
        lock.actions
            .insert("fit".into(), Locked::new("fit", &key(), &outputs, vec![]));
        let text = lock.to_text();
        assert_eq!(Lockfile::parse(&text).unwrap(), lock);
        assert_eq!(Lockfile::parse(&text).unwrap().to_text(), text);
        assert!(
            !text.contains("\"env\""),
            "empty maps are left out:\n{text}"
        );
    }

    /// Found by the `lockfile` fuzz target: `serde_json` read this back one unit in the last
    /// place off until its `float_roundtrip` feature was on.
    #[test]
    fn a_float_param_reads_back_as_it_was_written() {
        let mut key = key();
        key.params
            .insert("big".into(), serde_json::json!(2.666_666_666_666_666_7e122));
        let outputs = vec![("out/model.json".to_string(), Digest::of(b"m"), false)];
        let mut lock = Lockfile::default();
        lock.actions
            .insert("fit".into(), Locked::new("fit", &key, &outputs, vec![]));
        let again = Lockfile::parse(&lock.to_text()).unwrap();
        assert_eq!(again.actions["fit"].params, key.params);
        assert_eq!(again.actions["fit"].action_key(), Some(key));
    }

    #[test]
    fn a_newer_or_damaged_lockfile_is_refused() {
        let newer = Lockfile::parse(r#"{"version": 99, "actions": {}}"#)
            .unwrap_err()
            .to_string();
        assert!(newer.contains("newer zenbuild"), "{newer}");
        let damaged = Lockfile::parse("<<<<<<< HEAD").unwrap_err().to_string();
        assert!(damaged.contains("not a lockfile"), "{damaged}");
    }
}
