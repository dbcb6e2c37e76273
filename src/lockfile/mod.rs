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

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::atomic_write::{Durability, write_atomically};
use crate::exec::event::Outcome;
use crate::exec::last_keys::LastKeys;
use crate::graph::{ActionId, ArtifactId, Graph};
use crate::hash::{ActionKey, Digest, InputDigest, Platform};

mod error;
pub use error::LockfileError;

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

    /// Writes the lockfile at `root` if its bytes differ from what is there; says whether it
    /// wrote.
    pub fn write(&self, root: &Path) -> io::Result<bool> {
        let path = root.join(LOCKFILE);
        let text = self.to_text();
        if std::fs::read(&path).is_ok_and(|old| old == text.as_bytes()) {
            return Ok(false);
        }
        write_atomically(&path, text.as_bytes(), Durability::Synced)?;
        Ok(true)
    }
}

/// Brings the lockfile at `root` up to date with a successful build: the entries of the
/// actions in `outcomes` replaced, those of actions `graph` no longer has dropped. An
/// unreadable lockfile (a merge conflict) is replaced whole.
///
/// Returns a line for each cached action whose outputs differ from those the lockfile recorded
/// under the same key: the cache and the lockfile then disagree about what that key makes. A
/// step that is not deterministic does that legitimately, a cache entry edited by hand
/// does it too, and only running the step again can tell (`zenbuild verify`). The lockfile
/// takes what was restored, since those are the files now in the workspace.
pub fn update(
    root: &Path,
    graph: &Graph,
    outcomes: &[(ActionId, Outcome)],
    last_keys: &LastKeys,
) -> Result<Vec<String>, LockfileError> {
    let mut lock = match Lockfile::read(root) {
        Ok(found) => found.unwrap_or_default(),
        Err(e @ LockfileError::Newer { .. }) => return Err(e),
        Err(_) => Lockfile::default(),
    };
    lock.version = LOCK_VERSION;
    lock.actions
        .retain(|name, _| graph.action_by_name(name).is_some());
    let read = digests_read(outcomes);
    let held = held_inside(graph);
    let mut disagreements = Vec::new();
    for (id, outcome) in outcomes {
        let (Outcome::Ran(done) | Outcome::Cached(done)) = outcome else {
            continue;
        };
        let action = graph.action(*id);
        let (Some(key), Some(finished)) = (&done.fields, last_keys.finished(&action.name)) else {
            continue;
        };
        let metrics = action
            .metrics
            .iter()
            .map(|&metric| graph.artifact(metric).display_path())
            .collect();
        let mut entry = Locked::new(&action.step, key, &finished.outputs, metrics);
        let held = held.get(id).map_or(&[][..], Vec::as_slice);
        entry.inside = inside(graph, held, &read, lock.actions.get(&action.name), &entry);
        if matches!(outcome, Outcome::Cached(_))
            && let Some(old) = lock.actions.get(&action.name)
            && old.key == entry.key
            && let Some(line) = disagreement(&action.name, old, &entry)
        {
            disagreements.push(line);
        }
        lock.actions.insert(action.name.clone(), entry);
    }
    lock.write(root).map_err(LockfileError::Write)?;
    Ok(disagreements)
}

/// Every input digest the successful actions of a build were keyed with, by display path.
fn digests_read(outcomes: &[(ActionId, Outcome)]) -> HashMap<&str, String> {
    outcomes
        .iter()
        .filter_map(|(_, outcome)| match outcome {
            Outcome::Ran(done) | Outcome::Cached(done) => done.fields.as_ref(),
            _ => None,
        })
        .flat_map(|key| &key.inputs)
        .map(|input| (input.path.as_str(), encode(&input.digest, input.executable)))
        .collect()
}

/// Per action, the artifacts inside its output directories (produced by it, yet not among its
/// outputs): found in one pass, since a scan of every artifact per action is quadratic.
fn held_inside(graph: &Graph) -> HashMap<ActionId, Vec<ArtifactId>> {
    let mut held: HashMap<ActionId, Vec<ArtifactId>> = HashMap::new();
    for (index, artifact) in graph.artifacts.iter().enumerate() {
        let id = ArtifactId(index);
        if let Some(producer) = artifact.producer
            && !graph.action(producer).outputs.contains(&id)
        {
            held.entry(producer).or_default().push(id);
        }
    }
    held
}

/// The digests of `held`, the paths inside an action's output directories that other actions read.
/// A reader built now was keyed with the digest the directory's tree gave it; a path no reader
/// of this build read keeps the digest recorded before when the directories are unchanged
/// (equal tree digests, equal contents).
fn inside(
    graph: &Graph,
    held: &[ArtifactId],
    read: &HashMap<&str, String>,
    old: Option<&Locked>,
    entry: &Locked,
) -> BTreeMap<String, String> {
    let unchanged = old.filter(|old| old.outputs == entry.outputs);
    held.iter()
        .filter_map(|&id| {
            let path = graph.artifact(id).display_path();
            let digest = match read.get(path.as_str()) {
                Some(digest) => digest.clone(),
                None => unchanged?.inside.get(&path)?.clone(),
            };
            Some((path, digest))
        })
        .collect()
}

/// What `cached` restored that `old`, recorded under the same key, says the key made otherwise.
fn disagreement(name: &str, old: &Locked, cached: &Locked) -> Option<String> {
    let differing: Vec<String> = cached
        .outputs
        .iter()
        .filter(|(path, digest)| old.outputs.get(*path) != Some(*digest))
        .map(|(path, digest)| {
            let was = old.outputs.get(path).map_or("nothing", |d| short(d));
            format!(
                "`{path}` is {} in the cache, {was} in {LOCKFILE}",
                short(digest)
            )
        })
        .collect();
    if differing.is_empty() {
        return None;
    }
    Some(format!(
        "the cache and {LOCKFILE} disagree about what `{name}` makes under key {}: {}; \
         {LOCKFILE} now records what was restored. The step may not be deterministic, or a \
         cache entry was changed: `zenbuild verify {name}` runs it again and says which",
        short(&cached.key),
        differing.join(", ")
    ))
}

fn short(digest: &str) -> &str {
    digest.get(..8).unwrap_or(digest)
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
