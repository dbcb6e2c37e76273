//! The key each action had when it last finished, so that `explain` and the build can say
//! what changed since.
//!
//! Two files under `.zenbuild/state/`: `last-keys`, a JSON line per action finished (its
//! name, key digest, and the digests of the outputs it left), read once when a build starts;
//! and `keys.jsonl`, each key's fields on a line of its own (`<digest> <json>`). Both are
//! appended to at the end of a build, with what changed in it only, so that a build that ran
//! one step of ten thousand writes two lines rather than ten thousand; in `last-keys` the last
//! line of an action wins. A no-op build of thousands of cached actions writes nothing here,
//! and an action whose key and outputs are unchanged needs no action-cache lookup at all.
//!
//! One appended file rather than a file per key: a cold build of a thousand short steps would
//! otherwise create a thousand files, and creating a file is among the costliest things a
//! build does per step. Keys no action refers to any more are dropped once they outnumber the
//! live ones.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::atomic_write::{Durability, write_atomically};
use crate::hash::{ActionKey, Digest};
use crate::workspace::StateDir;

/// How an action last finished: under which key, leaving which outputs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finished {
    pub key: Digest,
    /// Each declared output's path (directories end in `/`), digest and executable bit.
    pub outputs: Vec<(String, Digest, bool)>,
    /// The blobs of what it printed, in the store (older records hold stdout and stderr).
    pub logs: Option<Vec<Digest>>,
}

/// One line of `last-keys`: the action's name, then the fields of [`Finished`]. Spelled out
/// rather than `#[serde(flatten)]`, which buffers every line into a map first and made
/// reading the index the costliest part of opening a build.
#[derive(Serialize, Deserialize)]
struct Line {
    action: String,
    key: Digest,
    outputs: Vec<(String, Digest, bool)>,
    logs: Option<Vec<Digest>>,
}

impl Line {
    fn new(action: String, finished: Finished) -> Line {
        Line {
            action,
            key: finished.key,
            outputs: finished.outputs,
            logs: finished.logs,
        }
    }

    fn into_entry(self) -> (String, Finished) {
        let finished = Finished {
            key: self.key,
            outputs: self.outputs,
            logs: self.logs,
        };
        (self.action, finished)
    }
}

/// Compaction waits until the pack holds this many lines at least, so that small projects
/// never rewrite it.
const COMPACT_AFTER: usize = 4096;

#[derive(Debug)]
pub struct LastKeys {
    state: StateDir,
    index: Mutex<HashMap<String, Finished>>,
    changed: AtomicBool,
    pack: Mutex<Pack>,
    log: Mutex<IndexLog>,
}

/// What is known of `last-keys` in this process.
#[derive(Debug, Default)]
struct IndexLog {
    /// Lines it held when read, the replaced ones too.
    lines: usize,
    /// Its last line was torn by a crash during an append: the next append starts a line.
    torn: bool,
    /// Actions whose record changed in this build, appended by `save`.
    changed: HashSet<String>,
}

/// What is known of `keys.jsonl` in this process.
#[derive(Debug, Default)]
struct Pack {
    /// The digests it holds, read the first time a key is set (never in a no-op).
    stored: Option<Stored>,
    /// Records set in this build, appended by `save`.
    pending: Vec<(Digest, String)>,
}

/// How many keys a process looks for in `keys.jsonl` as read before it reads every digest
/// there into a set: a build that ran one step of 100,000 finds its key in a file of 34 MB
/// in a few milliseconds, where the set of all the file's digests cost it 80; a cold build
/// asks about every key, which the set answers.
const SCANS: usize = 8;

#[derive(Debug)]
struct Stored {
    /// Every digest the file holds, once more than [`SCANS`] keys were asked about.
    digests: Option<HashSet<Digest>>,
    /// The file as read, searched until `digests` is built.
    text: Vec<u8>,
    /// The digests added in this process before `digests` was built.
    added: HashSet<Digest>,
    /// How many keys were looked for in `text`.
    scanned: usize,
    lines: usize,
    /// A torn last line, left by a crash during an append, that the next append must not
    /// continue.
    torn: bool,
}

impl Stored {
    /// Adds `digest`; whether the file did not hold it yet.
    fn insert(&mut self, digest: Digest) -> bool {
        if self.digests.is_none() && self.scanned < SCANS {
            self.scanned += 1;
            if self.added.contains(&digest) || holds(&self.text, &digest) {
                return false;
            }
            return self.added.insert(digest);
        }
        if self.digests.is_none() {
            let mut all = digests_in(&self.text);
            all.extend(self.added.drain());
            self.text = Vec::new();
            self.digests = Some(all);
        }
        self.digests
            .as_mut()
            .is_some_and(|digests| digests.insert(digest))
    }
}

impl LastKeys {
    /// The record of the workspace at `root`; a missing or unreadable index is an empty one,
    /// which only costs explanations ("never built"), never correctness.
    pub fn in_workspace(root: &std::path::Path) -> LastKeys {
        let state = StateDir::of(root);
        let text = std::fs::read_to_string(state.last_keys()).unwrap_or_default();
        // Later lines replace earlier ones of the same action.
        let index = text
            .lines()
            .filter_map(|line| serde_json::from_str::<Line>(line).ok())
            .map(Line::into_entry)
            .collect();
        let log = IndexLog {
            lines: text.lines().count(),
            torn: !text.is_empty() && !text.ends_with('\n'),
            changed: HashSet::new(),
        };
        LastKeys {
            state,
            index: Mutex::new(index),
            changed: AtomicBool::new(false),
            pack: Mutex::new(Pack::default()),
            log: Mutex::new(log),
        }
    }

    fn log(&self) -> std::sync::MutexGuard<'_, IndexLog> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn index(&self) -> std::sync::MutexGuard<'_, HashMap<String, Finished>> {
        self.index
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn pack(&self) -> std::sync::MutexGuard<'_, Pack> {
        self.pack
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The key `action` had last time, if it ever finished and its record is readable.
    pub fn get(&self, action: &str) -> Option<ActionKey> {
        let digest = self.index().get(action)?.key;
        let pending = self
            .pack()
            .pending
            .iter()
            .find(|(pending, _)| *pending == digest)
            .map(|(_, json)| json.clone());
        let json = if let Some(json) = pending {
            json
        } else {
            let text = std::fs::read_to_string(self.state.key_records()).ok()?;
            let hex = digest.to_hex();
            // The newest record wins, should a key ever have been written twice.
            text.lines()
                .rev()
                .find_map(|line| line.strip_prefix(hex.as_str())?.strip_prefix(' '))?
                .to_string()
        };
        serde_json::from_str(&json).ok()
    }

    /// How `action` last finished.
    pub fn finished(&self, action: &str) -> Option<Finished> {
        self.index().get(action).cloned()
    }

    /// Calls `read` with how each action last finished, by name, lent under one lock rather
    /// than cloned record by record: for a reader of every action's record, such as the
    /// lockfile's update after a build of thousands of steps.
    pub fn lend<R>(&self, read: impl FnOnce(&HashMap<String, Finished>) -> R) -> R {
        read(&self.index())
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
        {
            let mut pack = self.pack();
            let pack = &mut *pack;
            let stored = pack
                .stored
                .get_or_insert_with(|| read_stored(&self.state.key_records()));
            if stored.insert(finished.key) {
                let json = serde_json::to_string(key).map_err(io::Error::other)?;
                pack.pending.push((finished.key, json));
            }
        }
        self.index().insert(action.to_string(), finished);
        self.log().changed.insert(action.to_string());
        self.changed.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Writes the key records set in this build and the index, if anything changed since
    /// it was read. The records go first: an index naming a key whose record is missing
    /// would cost an explanation.
    pub fn save(&self) -> io::Result<()> {
        if !self.changed.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        std::fs::create_dir_all(self.state.state())?;
        let index = self.index();
        self.save_pack(&index)?;
        let mut log = self.log();
        let changed = std::mem::take(&mut log.changed);
        let line = |action: &String| {
            let finished = index.get(action)?.clone();
            let action = action.clone();
            serde_json::to_string(&Line::new(action, finished))
                .ok()
                .map(|json| json + "\n")
        };
        let lines = log.lines + changed.len();
        if lines >= COMPACT_AFTER && lines > 2 * index.len() {
            // Replaced lines outnumber the live ones: write the live ones alone, sorted.
            let mut all: Vec<String> = index.keys().filter_map(line).collect();
            all.sort();
            write_atomically(
                &self.state.last_keys(),
                all.concat().as_bytes(),
                Durability::Rename,
            )?;
            log.lines = all.len();
            log.torn = false;
            return Ok(());
        }
        let mut text = String::new();
        if log.torn {
            text.push('\n');
        }
        let mut appended: Vec<String> = changed.iter().filter_map(line).collect();
        appended.sort();
        text.push_str(&appended.concat());
        append(&self.state.last_keys(), &text)?;
        log.lines += appended.len();
        log.torn = false;
        Ok(())
    }

    /// Appends the pending records, or rewrites the pack with only the keys `index` refers to
    /// once the others outnumber them. No fsync: a torn record reads as none, which only
    /// costs an explanation.
    fn save_pack(&self, index: &HashMap<String, Finished>) -> io::Result<()> {
        let mut guard = self.pack();
        let pack = &mut *guard;
        let Some(stored) = pack.stored.as_mut() else {
            return Ok(());
        };
        let path = self.state.key_records();
        let live: HashSet<Digest> = index.values().map(|finished| finished.key).collect();
        let lines = stored.lines + pack.pending.len();
        if lines >= COMPACT_AFTER && lines > 2 * live.len() {
            let old = std::fs::read_to_string(&path).unwrap_or_default();
            let mut kept: HashMap<Digest, String> = old
                .lines()
                .filter_map(|line| {
                    let (hex, json) = line.split_once(' ')?;
                    Some((hex.parse().ok()?, json.to_string()))
                })
                .chain(pack.pending.drain(..))
                .filter(|(digest, _)| live.contains(digest))
                .collect();
            let mut text = String::new();
            for (digest, json) in kept.drain() {
                let _ = writeln!(text, "{digest} {json}");
            }
            write_atomically(&path, text.as_bytes(), Durability::Rename)?;
            pack.stored = Some(Stored {
                digests: Some(live),
                text: Vec::new(),
                added: HashSet::new(),
                scanned: 0,
                lines: text.lines().count(),
                torn: false,
            });
            return Ok(());
        }
        let mut text = String::new();
        if stored.torn {
            text.push('\n');
        }
        for (digest, json) in &pack.pending {
            let _ = writeln!(text, "{digest} {json}");
        }
        append(&path, &text)?;
        stored.lines = lines;
        stored.torn = false;
        pack.pending.clear();
        Ok(())
    }
}

/// Appends `text` to the file at `path` in one write, so that two records never interleave
/// and a crash tears only the last. No fsync: a torn record reads as none, which only costs
/// an explanation.
fn append(path: &std::path::Path, text: &str) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// The digests `keys.jsonl` holds; a missing file holds none.
fn read_stored(path: &std::path::Path) -> Stored {
    let text = std::fs::read(path).unwrap_or_default();
    Stored {
        digests: None,
        added: HashSet::new(),
        scanned: 0,
        lines: memchr::memchr_iter(b'\n', &text).count(),
        torn: text.last().is_some_and(|&byte| byte != b'\n'),
        text,
    }
}

/// Every digest that begins a line of `text`.
fn digests_in(text: &[u8]) -> HashSet<Digest> {
    text.split(|&byte| byte == b'\n')
        .filter_map(|line| std::str::from_utf8(line.get(..64)?).ok()?.parse().ok())
        .collect()
}

/// Whether a line of `text` begins with `digest` (as zenbuild writes it, in lower case).
fn holds(text: &[u8], digest: &Digest) -> bool {
    let hex = digest.hex();
    memchr::memmem::find_iter(text, &hex).any(|at| at == 0 || text[at - 1] == b'\n')
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
        let index = StateDir::of(dir.path()).last_keys();
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
        keys.save().unwrap();
        let pack = StateDir::of(dir.path()).key_records();
        std::fs::write(&pack, format!("{} {{ not json\n", key("x").digest())).unwrap();
        let keys = LastKeys::in_workspace(dir.path());
        assert!(keys.get("a").is_none());
        std::fs::write(StateDir::of(dir.path()).last_keys(), b"garbage\n").unwrap();
        assert!(LastKeys::in_workspace(dir.path()).get("a").is_none());
    }

    #[test]
    fn key_records_are_appended_to_one_file_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let keys = LastKeys::in_workspace(dir.path());
        set(&keys, "a", "x");
        set(&keys, "b", "y");
        keys.save().unwrap();
        let again = LastKeys::in_workspace(dir.path());
        set(&again, "a", "z");
        again.save().unwrap();
        let pack = std::fs::read_to_string(StateDir::of(dir.path()).key_records()).unwrap();
        assert_eq!(pack.lines().count(), 3);
        let third = LastKeys::in_workspace(dir.path());
        assert_eq!(third.get("a").unwrap().cmd, "z");
        assert_eq!(third.get("b").unwrap().cmd, "y");
    }

    #[test]
    fn a_key_already_recorded_is_recorded_once_whether_looked_for_or_in_the_set() {
        let dir = tempfile::tempdir().unwrap();
        let keys = LastKeys::in_workspace(dir.path());
        set(&keys, "a", "x");
        set(&keys, "b", "y");
        keys.save().unwrap();
        let again = LastKeys::in_workspace(dir.path());
        // The first few are looked for in the file as read, the rest in the set of its digests.
        let cmds = ["x", "y", "z", "z"].iter().cycle().take(2 * SCANS);
        for (index, cmd) in cmds.enumerate() {
            set(&again, &format!("c{index}"), cmd);
        }
        again.save().unwrap();
        let pack = std::fs::read_to_string(StateDir::of(dir.path()).key_records()).unwrap();
        assert_eq!(pack.lines().count(), 3, "{pack}");
    }

    #[test]
    fn a_torn_last_record_does_not_swallow_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let keys = LastKeys::in_workspace(dir.path());
        set(&keys, "a", "x");
        keys.save().unwrap();
        let pack = StateDir::of(dir.path()).key_records();
        let mut text = std::fs::read_to_string(&pack).unwrap();
        let _ = write!(text, "{} {{\"cmd\":", key("torn").digest());
        std::fs::write(&pack, text).unwrap();
        let again = LastKeys::in_workspace(dir.path());
        set(&again, "b", "y");
        again.save().unwrap();
        let third = LastKeys::in_workspace(dir.path());
        assert_eq!(third.get("a").unwrap().cmd, "x");
        assert_eq!(third.get("b").unwrap().cmd, "y");
    }

    #[test]
    fn a_line_reads_as_it_always_did() {
        let digest = Digest::of(b"k");
        let line = format!(
            "{{\"action\":\"a\",\"key\":\"{digest}\",\"outputs\":[[\"out/a.txt\",\"{digest}\",true]],\"logs\":null}}"
        );
        let finished = Finished {
            key: digest,
            outputs: vec![("out/a.txt".into(), digest, true)],
            logs: None,
        };
        assert_eq!(
            serde_json::to_string(&Line::new("a".into(), finished.clone())).unwrap(),
            line
        );
        let read: Line = serde_json::from_str(&line).unwrap();
        assert_eq!(read.into_entry(), ("a".to_string(), finished));
        // Older lines have no `logs`.
        let older = line.replace(",\"logs\":null", "");
        let read: Line = serde_json::from_str(&older).unwrap();
        assert_eq!(read.logs, None);
    }

    #[test]
    fn a_build_appends_only_the_actions_that_changed_and_the_last_line_wins() {
        let dir = tempfile::tempdir().unwrap();
        let keys = LastKeys::in_workspace(dir.path());
        for action in ["a", "b", "c"] {
            set(&keys, action, "x");
        }
        keys.save().unwrap();
        let index = StateDir::of(dir.path()).last_keys();
        let before = std::fs::read_to_string(&index).unwrap();
        assert_eq!(before.lines().count(), 3);
        let again = LastKeys::in_workspace(dir.path());
        set(&again, "a", "x");
        set(&again, "b", "y");
        again.save().unwrap();
        let after = std::fs::read_to_string(&index).unwrap();
        assert!(
            after.starts_with(&before),
            "rewritten, not appended: {after}"
        );
        assert_eq!(after.lines().count(), 4);
        let third = LastKeys::in_workspace(dir.path());
        assert_eq!(third.get("a").unwrap().cmd, "x");
        assert_eq!(third.get("b").unwrap().cmd, "y");
        assert_eq!(third.get("c").unwrap().cmd, "x");
    }

    #[test]
    fn a_torn_last_index_line_does_not_swallow_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let keys = LastKeys::in_workspace(dir.path());
        set(&keys, "a", "x");
        keys.save().unwrap();
        let index = StateDir::of(dir.path()).last_keys();
        let mut text = std::fs::read_to_string(&index).unwrap();
        text.push_str("{\"action\":\"b\",\"key\":");
        std::fs::write(&index, text).unwrap();
        let again = LastKeys::in_workspace(dir.path());
        set(&again, "c", "z");
        again.save().unwrap();
        let third = LastKeys::in_workspace(dir.path());
        assert_eq!(third.get("a").unwrap().cmd, "x");
        assert_eq!(third.get("c").unwrap().cmd, "z");
        assert!(third.finished("b").is_none());
    }

    #[test]
    fn replaced_index_lines_are_dropped_once_they_outnumber_the_live_ones() {
        let dir = tempfile::tempdir().unwrap();
        let keys = LastKeys::in_workspace(dir.path());
        set(&keys, "b", "kept");
        keys.save().unwrap();
        // As many builds of `a` would have left it, each appending a line.
        let index = StateDir::of(dir.path()).last_keys();
        let mut text = std::fs::read_to_string(&index).unwrap();
        for n in 0..COMPACT_AFTER {
            let finished = Finished {
                key: key(&format!("cmd {n}")).digest(),
                outputs: vec![],
                logs: None,
            };
            let line = Line::new("a".into(), finished);
            text.push_str(&serde_json::to_string(&line).unwrap());
            text.push('\n');
        }
        std::fs::write(&index, text).unwrap();
        let again = LastKeys::in_workspace(dir.path());
        set(&again, "a", "last");
        again.save().unwrap();
        let text = std::fs::read_to_string(&index).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        let third = LastKeys::in_workspace(dir.path());
        assert_eq!(third.get("a").unwrap().cmd, "last");
        assert_eq!(third.get("b").unwrap().cmd, "kept");
    }

    #[test]
    fn keys_no_action_refers_to_are_dropped_once_they_outnumber_the_live_ones() {
        let dir = tempfile::tempdir().unwrap();
        let keys = LastKeys::in_workspace(dir.path());
        for n in 0..COMPACT_AFTER {
            set(&keys, "a", &format!("cmd {n}"));
        }
        set(&keys, "b", "kept");
        keys.save().unwrap();
        let pack = std::fs::read_to_string(StateDir::of(dir.path()).key_records()).unwrap();
        assert_eq!(pack.lines().count(), 2);
        let again = LastKeys::in_workspace(dir.path());
        assert_eq!(
            again.get("a").unwrap().cmd,
            format!("cmd {}", COMPACT_AFTER - 1)
        );
        assert_eq!(again.get("b").unwrap().cmd, "kept");
    }
}
