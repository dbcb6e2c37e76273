//! Writing the record: after a build that left every target up to date, and again when a
//! check finds files and directories old enough to trust.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::look::{EntryType, Look, listing_digest};
use super::{Entry, MAGIC, PARALLEL_STATS, Seen, Unchanged, VERSION, tool};
use crate::atomic_write::{Durability, write_atomically};
use crate::binary::{self, STAT_LEN};
use crate::graph::{ActionId, ArtifactKind, Graph};
use crate::hash::{
    Digest, FileDigest, FileKind, FileStat, RACY_WINDOW_NS, digest_listing, tree_paths,
};
use crate::lockfile::LOCKFILE;
use crate::manifest::Manifest;
use crate::workspace::StateDir;

/// The digest the stat cache last hashed for a path with a signature, without reading the
/// file, and whether the signature is old enough to trust (see
/// [`crate::hash::StatCache::hashed_digest`]).
pub type KnownDigest<'a> = dyn Fn(&Path, &FileStat) -> Option<(Digest, bool)> + Sync + 'a;

/// What a build knows of its paths without looking: the digests it hashed or restored, those
/// the up-to-date check found as recorded, which of them the build itself wrote since (and
/// must look at again), and the trees it keyed its directories with.
pub struct Known<'a> {
    pub digests: &'a KnownDigest<'a>,
    pub unchanged: &'a Unchanged,
    /// Output files the build wrote or restored, by path.
    pub written_files: &'a HashSet<String>,
    /// Output directories the build wrote or restored, by path without the final `/`.
    pub written_dirs: &'a [String],
    /// The tree digest the build keyed each directory input and output with, by path without
    /// the final `/`: what a directory holding one too fresh to trust must be recorded as
    /// holding. One it keyed with two digests is best left out.
    pub keyed_dirs: &'a HashMap<String, Digest>,
}

impl Known<'_> {
    /// What the record said of `path`, if it still holds: found unchanged when the build
    /// started, not written by the build since, and looked at the way `look` does.
    pub(super) fn recorded(&self, look: Look, path: &str) -> Option<Recorded> {
        if path == LOCKFILE || self.written_files.contains(path) {
            return None;
        }
        let written_dir = self.written_dirs.iter().any(|dir| {
            path.strip_prefix(dir.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        });
        if written_dir {
            return None;
        }
        let &(recorded, stat, digest) = self.unchanged.0.get(path)?;
        let same_look = match (look, recorded) {
            // A racy entry is checked by its content every time, never found unchanged on its
            // signature; and what this build records of it must be what it keyed, which its
            // old digest need not be.
            (_, recorded) if recorded.is_racy() => false,
            (Look::Signature, Look::Signature | Look::Content) => true,
            (look, recorded) => look == recorded,
        };
        same_look.then(|| (recorded, path.to_string(), stat, digest))
    }
}

/// One path of the record, as written: how it is looked at, the path, its signature, and its
/// digest for the looks that have one (see [`Look::has_digest`]).
pub(super) type Recorded = (Look, String, FileStat, Option<Digest>);

/// Writes the record again with the signatures of files and directories found to hold the same
/// bytes or names, those old enough to trust; the rest keep their old ones and are hashed or
/// listed again next time.
pub(super) fn renew(
    root: &Path,
    head: &[u8],
    entries: &[Entry],
    seen: &[Seen],
    now_ns: i64,
) -> io::Result<()> {
    let trusted_before = now_ns.saturating_sub(RACY_WINDOW_NS);
    if !seen
        .iter()
        .any(|seen| seen.trusted_new(trusted_before).is_some())
    {
        return Ok(());
    }
    let mut out = head.to_vec();
    binary::put_u64(&mut out, entries.len() as u64);
    for (entry, seen) in entries.iter().zip(seen) {
        let (look, stat) = match seen.trusted_new(trusted_before) {
            // Old enough now: its signature alone will do from here on.
            Some(now) => (entry.look.settled(), now),
            None => (entry.look, &entry.stat),
        };
        // A directory's listing digest goes with its racy look.
        let digest = entry.digest.filter(|_| look.has_digest());
        put_entry(&mut out, look, entry.path, stat, digest.as_ref());
    }
    binary::seal(&mut out);
    write_atomically(&StateDir::of(root).up_to_date(), &out, Durability::Rename)
}

pub(super) fn put_entry(
    out: &mut Vec<u8>,
    look: Look,
    path: &OsStr,
    stat: &FileStat,
    digest: Option<&Digest>,
) {
    debug_assert_eq!(look.has_digest(), digest.is_some(), "{look:?}");
    out.push(look as u8);
    binary::put_bytes(out, path.as_bytes());
    binary::put_stat(out, stat);
    if let Some(digest) = digest {
        out.extend_from_slice(digest.as_bytes());
    }
}

/// Writes the record for a build of `selected` in which every action was cached, if every
/// signature is old enough to be trusted or recordable as racy (see the module notes); says
/// whether it did.
/// `started_ns` is when the build began, before it read any file.
pub fn record(
    root: &Path,
    manifest: &Manifest,
    graph: &Graph,
    selected: &[ActionId],
    selection: &str,
    started_ns: i64,
    known: &Known<'_>,
) -> io::Result<bool> {
    let Some(entries) = entries(root, graph, selected, started_ns, known) else {
        forget(root);
        return Ok(false);
    };
    let mut out = Vec::with_capacity(64 + entries.len() * (1 + 8 + 24 + STAT_LEN));
    out.extend_from_slice(MAGIC);
    binary::put_u32(&mut out, VERSION);
    binary::put_bytes(&mut out, tool().as_bytes());
    binary::put_bytes(&mut out, selection.as_bytes());
    binary::put_u64(&mut out, selected.len() as u64);
    let sources = manifest.sources.files();
    binary::put_u64(&mut out, sources.len() as u64);
    for source in sources {
        binary::put_bytes(&mut out, source.path.as_os_str().as_bytes());
        out.extend_from_slice(blake3::hash(source.text.as_bytes()).as_bytes());
    }
    match &graph.globs {
        None => out.push(0),
        Some(expansion) => {
            out.push(1);
            binary::put_u64(&mut out, expansion.patterns.len() as u64);
            for pattern in &expansion.patterns {
                binary::put_bytes(&mut out, pattern.as_bytes());
            }
            out.extend_from_slice(expansion.matched.as_bytes());
        }
    }
    binary::put_u64(&mut out, entries.len() as u64);
    for (look, path, stat, digest) in &entries {
        put_entry(&mut out, *look, OsStr::new(path), stat, digest.as_ref());
    }
    binary::seal(&mut out);
    write_atomically(&StateDir::of(root).up_to_date(), &out, Durability::Rename)?;
    Ok(true)
}

/// Removes the record, after a build that did something or could not tell.
pub fn forget(root: &Path) {
    // A record left behind is harmless (its signatures no longer match), just unneeded.
    let _ = std::fs::remove_file(StateDir::of(root).up_to_date());
}

/// Every path the record checks, with its signature now; `None` when one is missing, or too
/// fresh to trust and not recordable as racy (see the module notes).
pub(super) fn entries(
    root: &Path,
    graph: &Graph,
    selected: &[ActionId],
    started_ns: i64,
    known: &Known<'_>,
) -> Option<Vec<Recorded>> {
    let mut paths: Vec<(Look, String)> = Vec::new();
    let mut trees = Vec::new();
    let mut seen_artifacts = vec![false; graph.artifacts.len()];
    let mut seen_dirs = HashSet::new();
    for &id in selected {
        let action = graph.action(id);
        for &artifact_id in action.inputs.iter().chain(&action.outputs) {
            if std::mem::replace(&mut seen_artifacts[artifact_id.0], true) {
                continue;
            }
            let artifact = graph.artifact(artifact_id);
            let path = artifact.path.as_str();
            for (end, _) in path.match_indices('/') {
                if seen_dirs.insert(&path[..end]) {
                    paths.push((Look::Identity, path[..end].to_string()));
                }
            }
            match artifact.kind {
                ArtifactKind::File => paths.push((Look::Signature, path.to_string())),
                ArtifactKind::Dir => {
                    let (dirs, files) = tree_paths(&root.join(path)).ok()?;
                    let first = paths.len();
                    paths.push((Look::Followed, path.to_string()));
                    // The first is the root itself, looked at through a symlink above.
                    for inside in dirs.iter().skip(1).chain(&files) {
                        let inside = inside.to_str()?;
                        paths.push((Look::Signature, format!("{path}/{inside}")));
                    }
                    trees.push(Tree {
                        path,
                        first,
                        dirs,
                        files,
                    });
                }
            }
        }
    }
    // A lockfile that changed (a checkout, a hand edit) must be written again by a build.
    paths.push((Look::Signature, LOCKFILE.to_string()));
    let trusted_before = started_ns.saturating_sub(RACY_WINDOW_NS);
    let stat = |(look, path): (Look, String)| {
        if let Some(recorded) = known.recorded(look, &path) {
            return Some(recorded);
        }
        let full = root.join(&path);
        let stat = look.stat(&full).ok()?;
        let old_enough = look == Look::Identity || stat.changed_ns() < trusted_before;
        if look == Look::Identity || stat.is_dir() {
            // A directory too fresh to trust is recorded as racy by its tree, which must then
            // hold what the build keyed (see `Tree::settle`); any other is refused below.
            return Some((look, path, stat, None));
        }
        if look != Look::Signature || !(stat.is_file() || stat.is_symlink()) {
            // Anything else too fresh to trust cannot be checked again cheaply.
            return old_enough.then_some((look, path, stat, None));
        }
        let digest = if path == LOCKFILE {
            // The lockfile is not an action's file and the stat cache does not know it: an old
            // one is recorded by its signature alone, so that any change to it is seen; a
            // fresh one (this build wrote it) by the digest of its bytes, read now under the
            // workspace lock, and compared again by the next check.
            (!old_enough)
                .then(|| std::fs::read(&full).ok())
                .flatten()
                .map(|bytes| (Digest::of(&bytes), false))
        } else {
            (known.digests)(&full, &stat)
        };
        match digest {
            Some((digest, true)) if old_enough => Some((Look::Content, path, stat, Some(digest))),
            _ if old_enough => Some((look, path, stat, None)),
            // Fresh: recorded with the digest the build hashed, and hashed again when checked.
            Some((digest, _)) => Some((Look::Racy, path, stat, Some(digest))),
            None => None,
        }
    };
    let mut recorded: Vec<Recorded> = if paths.len() < PARALLEL_STATS {
        paths.into_iter().map(stat).collect::<Option<_>>()?
    } else {
        paths.into_par_iter().map(stat).collect::<Option<_>>()?
    };
    for tree in &trees {
        tree.settle(root, &mut recorded, trusted_before, known)?;
    }
    // Every directory recorded by its signature alone is old enough for it.
    let fresh_dir = recorded.iter().any(|(look, _, stat, _)| {
        matches!(look, Look::Signature | Look::Followed)
            && stat.is_dir()
            && stat.changed_ns() >= trusted_before
    });
    (!fresh_dir).then_some(recorded)
}

/// A directory input or output as the record lists it: its path, where its entries start
/// among the record's (the root, the directories inside, then the files, in the order of
/// `dirs` and `files`), and what [`tree_paths`] found below it (the root first, as the empty
/// path).
struct Tree<'g> {
    path: &'g str,
    first: usize,
    dirs: Vec<PathBuf>,
    files: Vec<PathBuf>,
}

impl Tree<'_> {
    /// Records the directories of the tree too fresh to trust as racy, with their listings,
    /// once what the record holds of the tree is found to be the tree the build keyed; `None`
    /// when it is not, or cannot be told (a file without a digest, an entry of another type
    /// than its listing said).
    pub(super) fn settle(
        &self,
        root: &Path,
        recorded: &mut [Recorded],
        trusted_before: i64,
        known: &Known<'_>,
    ) -> Option<()> {
        let entries = &mut recorded[self.first..self.first + self.dirs.len() + self.files.len()];
        let (dirs, files) = entries.split_at_mut(self.dirs.len());
        let fresh: Vec<bool> = dirs
            .iter()
            .map(|(_, _, stat, _)| stat.changed_ns() >= trusted_before)
            .collect();
        if !fresh.contains(&true) {
            // No name came or went since before the build began, so none since it was keyed.
            return Some(());
        }
        if dirs.iter().any(|(_, _, stat, _)| !stat.is_dir()) {
            return None;
        }
        let mut digests = Vec::with_capacity(files.len());
        for (_, path, stat, digest) in &*files {
            let kind = if stat.is_file() {
                FileKind::Regular
            } else if stat.is_symlink() {
                FileKind::Symlink
            } else {
                return None;
            };
            let digest = match digest {
                Some(digest) => *digest,
                None => (known.digests)(&root.join(path), stat)?.0,
            };
            digests.push(FileDigest {
                digest,
                size: stat.size,
                executable: stat.is_executable(),
                kind,
            });
        }
        let files_digests = self.files.iter().map(PathBuf::as_path).zip(digests);
        let inner_dirs = self.dirs.iter().skip(1).map(PathBuf::as_path);
        let tree = digest_listing(files_digests, inner_dirs)?;
        if known.keyed_dirs.get(self.path) != Some(&tree) {
            return None;
        }
        // Each fresh directory's listing, from the names recorded below it and the types of
        // their signatures.
        let fresh_index: HashMap<&Path, usize> = self
            .dirs
            .iter()
            .enumerate()
            .filter(|&(index, _)| fresh[index])
            .map(|(index, dir)| (dir.as_path(), index))
            .collect();
        let mut listings: Vec<Vec<(&[u8], EntryType)>> = vec![Vec::new(); self.dirs.len()];
        let below = self.dirs.iter().zip(&*dirs).skip(1);
        for (relative, (_, _, stat, _)) in below.chain(self.files.iter().zip(&*files)) {
            if let Some(&index) = relative.parent().and_then(|dir| fresh_index.get(dir)) {
                let name = relative.file_name()?.as_bytes();
                listings[index].push((name, EntryType::of_stat(stat)));
            }
        }
        for (index, listing) in listings.into_iter().enumerate() {
            if fresh[index] {
                let (look, _, _, digest) = &mut dirs[index];
                *look = if index == 0 {
                    Look::RacyFollowed
                } else {
                    Look::RacyDir
                };
                *digest = Some(listing_digest(listing));
            }
        }
        Some(())
    }
}
