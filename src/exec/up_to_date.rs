//! The up-to-date record: what the last build that found nothing to do saw, so that the next
//! build of the same targets can tell with one stat per file, without compiling the manifest
//! or computing a key, that there is still nothing to do. ninja's no-op, for a tool that
//! hashes content.
//!
//! A build after which every selected action is up to date (each was cached, or ran and may
//! be cached: a `cache #false` step must run every time) writes `.zenbuild/state/up-to-date`:
//! - the tool: zenbuild's version, [`CACHE_VERSION`] and the platform, all of which enter keys;
//! - the targets as the command line gave them;
//! - every file the manifest was read from (the manifest, its includes, its params files), by
//!   the digest of the bytes that were compiled;
//! - the manifest's globs and the digest of the repository files they matched;
//! - the signature of every input and output of the selected actions, and of every file and
//!   directory inside the directory ones;
//! - the identity (device, inode, type) of every directory on the way to them, so that a
//!   directory swapped for a symlink is noticed;
//! - the signature of `zenbuild.lock`, which a build that finds it changed writes again.
//!
//! The next build with the same targets and the same tool is done as soon as it finds every
//! digest and every signature unchanged. An action key is made of nothing else: the command,
//! env and params come from the manifest's bytes, the input digests from the files, which the
//! stat cache already trusts by the same signatures; and outputs whose signatures have not
//! changed are still in place. Anything different, or a record that is missing, unreadable or
//! of another version, and the build goes the whole way, explains itself, and writes a new
//! record if it again finds nothing to do.
//!
//! A regular file is recorded with its digest as well, when the stat cache knows it: a file
//! whose signature changed but whose type, mode and size did not is hashed again, and if its
//! bytes are the same it is still up to date (a `touch`, a checkout or an editor's save of the
//! same bytes runs nothing, as it would the whole way). The record then takes the new
//! signature, once it is old enough to trust.
//!
//! A signature that was old when the build started is trusted (the stat cache's racy rule).
//! A regular file or a symlink whose signature is fresher (one the build wrote, or one edited
//! just before it) is recorded as racy, with the digest the build hashed: every check hashes
//! it again and compares, however unchanged its signature looks, as git does for racily clean
//! index entries, until a check finds it old enough and records its signature as trusted. So
//! the build right after a build that ran steps takes the shortcut too, at the price of
//! hashing what that build wrote. An output restored from a cache, which the stat cache never
//! hashed, is recorded as racy with the digest its result claims: hashed before it is relied
//! on, a claim that does not hold only sends the next build the whole way. A fresh file with
//! no digest at all (inside a restored directory), or a fresh directory, keeps the record
//! from being written.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rayon::prelude::*;

use crate::atomic_write::{Durability, write_atomically};
use crate::binary::{self, Reader, STAT_LEN};
use crate::graph::globs::still_match;
use crate::graph::{ActionId, ArtifactKind, Graph};
use crate::hash::{
    CACHE_VERSION, Digest, FileStat, FileSystem, Platform, RACY_WINDOW_NS, tree_paths,
};
use crate::lockfile::LOCKFILE;
use crate::manifest::Manifest;
use crate::workspace::StateDir;

const MAGIC: &[u8; 8] = b"zbfresh\n";
/// Bump when the layout changes: an old record is then ignored, never misread.
const VERSION: u32 = 2;
/// Below this many files, stats are taken on this thread: starting rayon's threads costs more.
const PARALLEL_STATS: usize = 4_096;

/// How an entry's path is looked at, and what must still match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Look {
    /// `lstat`, every field of the signature: a file, a symlink, or a directory whose listing
    /// matters.
    Signature = 0,
    /// `stat` through a symlink, every field: the root of a directory input or output.
    Followed = 1,
    /// `lstat`, only device, inode and type: a directory on the way to an artifact, whose
    /// listing does not matter but which must not have become something else.
    Identity = 2,
    /// `lstat`, every field, and the digest of the bytes to fall back on: a regular file or a
    /// symlink.
    Content = 3,
    /// A regular file or a symlink whose signature was too fresh to trust when it was
    /// recorded (written by the build, or just before it): its bytes are hashed again and
    /// compared with the digest however unchanged its signature looks, as git does for
    /// racily clean index entries, until a check finds it old enough and records it as
    /// [`Look::Content`].
    Racy = 4,
}

impl Look {
    fn from_u8(value: u8) -> Option<Look> {
        [
            Look::Signature,
            Look::Followed,
            Look::Identity,
            Look::Content,
            Look::Racy,
        ]
        .into_iter()
        .find(|look| *look as u8 == value)
    }

    fn stat(self, path: &Path) -> io::Result<FileStat> {
        let meta = match self {
            Look::Followed => std::fs::metadata(path)?,
            Look::Signature | Look::Identity | Look::Content | Look::Racy => {
                std::fs::symlink_metadata(path)?
            }
        };
        Ok(FileStat::of(&meta))
    }

    fn matches(self, recorded: &FileStat, now: &FileStat) -> bool {
        match self {
            Look::Signature | Look::Followed | Look::Content => recorded == now,
            Look::Identity => recorded.same_object(now),
            // Never taken on its signature alone.
            Look::Racy => false,
        }
    }
}

/// The targets of a build as the command line named them, `zenbuild run` set apart.
pub fn selection(targets: &[String], pipeline_only: bool) -> String {
    let command = if pipeline_only { "run" } else { "build" };
    let mut text = command.to_string();
    for target in targets {
        text.push('\0');
        text.push_str(target);
    }
    text
}

/// What the digests and signatures were taken by: a record from another zenbuild, cache
/// version or platform says nothing about this one's keys.
fn tool() -> String {
    let platform = Platform::current();
    format!(
        "zenbuild {} cache {CACHE_VERSION} {}-{}",
        env!("CARGO_PKG_VERSION"),
        platform.os,
        platform.arch
    )
}

/// What the up-to-date check found.
#[derive(Debug)]
pub enum Verdict {
    /// Nothing to do: the number of actions the selection builds.
    UpToDate(u64),
    /// The build must go the whole way; here is what it need not look at again.
    Stale(Unchanged),
}

/// The paths the check found exactly as the record has them, with what it recorded of them,
/// for the build's own record to take without a second stat: an incremental build of 10,000
/// steps would otherwise stat 20,000 files again to write it. Empty unless the record was of
/// this manifest, tool and selection, so that its paths are the ones the build records.
#[derive(Clone, Debug, Default)]
pub struct Unchanged(HashMap<String, (Look, FileStat, Option<Digest>)>);

impl Unchanged {
    /// The digest and executable bit of the regular file at `path` (relative to the root),
    /// if the check found it as the record has it and the record knew its bytes: what the
    /// stat cache would answer, without a second stat. Its signature was old enough to trust
    /// when recorded and has not changed since, which is the stat cache's own rule; the
    /// workspace lock, taken before the check, keeps another build from writing it since.
    pub fn file(&self, path: &str) -> Option<(Digest, bool)> {
        match self.0.get(path)? {
            &(Look::Content, stat, Some(digest)) if stat.is_file() => {
                Some((digest, stat.is_executable()))
            }
            _ => None,
        }
    }

    /// What a check would hand on for `files` (path, signature, digest when the record knew
    /// the bytes), for tests of what takes it.
    #[cfg(test)]
    pub(crate) fn of_files<'p>(
        files: impl IntoIterator<Item = (&'p str, FileStat, Option<Digest>)>,
    ) -> Unchanged {
        let entries = files.into_iter().map(|(path, stat, digest)| {
            let look = if digest.is_some() {
                Look::Content
            } else {
                Look::Signature
            };
            (path.to_string(), (look, stat, digest))
        });
        Unchanged(entries.collect())
    }
}

/// Whether the record at `root` shows every action `selection` builds still up to date. A
/// file whose signature changed is hashed again with `fs`, which also tells the time.
pub fn check(fs: &dyn FileSystem, root: &Path, manifest: &Path, selection: &str) -> Verdict {
    compare(fs, root, manifest, selection).unwrap_or_else(|| Verdict::Stale(Unchanged::default()))
}

/// The verdict; `None` when the record is missing, unreadable, or of another manifest, tool or
/// selection, so that it says nothing of this build's paths.
fn compare(fs: &dyn FileSystem, root: &Path, manifest: &Path, selection: &str) -> Option<Verdict> {
    let bytes = std::fs::read(StateDir::of(root).up_to_date()).ok()?;
    let record = Record::decode(&bytes)?;
    if record.tool != tool().as_bytes() || record.selection != selection.as_bytes() {
        return None;
    }
    // Cheapest first: the manifest's few files, then one stat per path, then the globs,
    // which walk the repository.
    for (index, &(path, digest)) in record.manifests.iter().enumerate() {
        let path = Path::new(path);
        if index == 0 && path != manifest {
            return None;
        }
        let text = std::fs::read(path).ok()?;
        if blake3::hash(&text).as_bytes().as_slice() != digest {
            return None;
        }
    }
    // Before any stat, so that the racy rule errs on the side of hashing again.
    let now_ns = fs.now_ns();
    let entries = &record.entries;
    let seen = |entry: &Entry| entry.now(fs, root);
    let seen: Vec<Seen> = if entries.len() < PARALLEL_STATS {
        entries.iter().map(seen).collect()
    } else {
        entries.par_iter().map(seen).collect()
    };
    if let Some((patterns, matched)) = &record.globs
        && !still_match(root, patterns, matched)
    {
        return None;
    }
    if seen.contains(&Seen::Changed) {
        let unchanged = entries
            .iter()
            .zip(&seen)
            .filter(|(_, seen)| **seen == Seen::Unchanged)
            .filter_map(|(entry, _)| {
                let path = entry.path.to_str()?.to_string();
                Some((path, (entry.look, entry.stat, entry.digest)))
            })
            .collect();
        return Some(Verdict::Stale(Unchanged(unchanged)));
    }
    if seen.iter().any(|seen| matches!(seen, Seen::SameBytes(_))) {
        // Losing this costs the next no-op a hash, never a wrong answer.
        let _ = renew(root, record.head, entries, &seen, now_ns);
    }
    Some(Verdict::UpToDate(record.actions))
}

/// A record as read from its bytes, before anything in it is compared with the disk.
pub(crate) struct Record<'a> {
    tool: &'a [u8],
    selection: &'a [u8],
    actions: u64,
    /// Each file the manifest was read from, by path and the digest of its bytes.
    manifests: Vec<(&'a OsStr, &'a [u8])>,
    globs: Option<(Vec<String>, Digest)>,
    /// Everything before the entries, which a renewed record keeps as it is.
    head: &'a [u8],
    entries: Vec<Entry<'a>>,
}

impl<'a> Record<'a> {
    /// The record in `bytes`; `None` for anything that is not a whole, sealed record of this
    /// version, never a panic, and no count read from the file allocates beyond its length.
    pub(crate) fn decode(bytes: &'a [u8]) -> Option<Record<'a>> {
        let unsealed = binary::unseal(bytes)?;
        let mut reader = Reader(unsealed);
        if reader.take(MAGIC.len())? != MAGIC || reader.u32()? != VERSION {
            return None;
        }
        let tool = reader.bytes()?;
        let selection = reader.bytes()?;
        let actions = reader.u64()?;
        let count = reader.count(8 + 32)?;
        let mut manifests = Vec::with_capacity(count);
        for _ in 0..count {
            let path = OsStr::from_bytes(reader.bytes()?);
            manifests.push((path, reader.take(32)?));
        }
        let globs = match reader.u8()? {
            0 => None,
            1 => {
                let count = reader.count(8)?;
                let mut patterns = Vec::with_capacity(count);
                for _ in 0..count {
                    patterns.push(String::from_utf8(reader.bytes()?.to_vec()).ok()?);
                }
                Some((
                    patterns,
                    Digest::from_bytes(reader.take(32)?.try_into().ok()?),
                ))
            }
            _ => return None,
        };
        let head = &unsealed[..unsealed.len() - reader.0.len()];
        let count = reader.count(1 + 8 + STAT_LEN)?;
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            let look = Look::from_u8(reader.u8()?)?;
            let path = OsStr::from_bytes(reader.bytes()?);
            let stat = reader.stat()?;
            let digest = match look {
                Look::Content | Look::Racy => {
                    Some(Digest::from_bytes(reader.take(32)?.try_into().ok()?))
                }
                _ => None,
            };
            entries.push(Entry {
                look,
                path,
                stat,
                digest,
            });
        }
        if !reader.is_empty() {
            return None;
        }
        Some(Record {
            tool,
            selection,
            actions,
            manifests,
            globs,
            head,
            entries,
        })
    }
}

/// The digest the stat cache last hashed for a path with a signature, without reading the
/// file, and whether the signature is old enough to trust (see
/// [`crate::hash::StatCache::hashed_digest`]).
pub type KnownDigest<'a> = dyn Fn(&Path, &FileStat) -> Option<(Digest, bool)> + Sync + 'a;

/// What a build knows of its paths without looking: the digests it hashed or restored, those
/// the up-to-date check found as recorded, and which of them the build itself wrote since
/// (and must look at again).
pub struct Known<'a> {
    pub digests: &'a KnownDigest<'a>,
    pub unchanged: &'a Unchanged,
    /// Output files the build wrote or restored, by path.
    pub written_files: &'a HashSet<String>,
    /// Output directories the build wrote or restored, by path without the final `/`.
    pub written_dirs: &'a [String],
}

impl Known<'_> {
    /// What the record said of `path`, if it still holds: found unchanged when the build
    /// started, not written by the build since, and looked at the way `look` does.
    fn recorded(&self, look: Look, path: &str) -> Option<Recorded> {
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
        let same_look = match look {
            Look::Signature => matches!(recorded, Look::Signature | Look::Content),
            other => recorded == other,
        };
        same_look.then(|| (recorded, path.to_string(), stat, digest))
    }
}

/// One path of the record, as written: how it is looked at, the path, its signature, and its
/// digest for [`Look::Content`].
type Recorded = (Look, String, FileStat, Option<Digest>);

/// One path of the record, as read.
struct Entry<'a> {
    look: Look,
    path: &'a OsStr,
    stat: FileStat,
    digest: Option<Digest>,
}

/// What a path of the record looks like now.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Unchanged,
    /// Another signature, the same bytes.
    SameBytes(FileStat),
    Changed,
}

impl Seen {
    /// The new signature of a file that holds the same bytes, once it changed before
    /// `trusted_before` and may therefore be recorded.
    fn trusted_new(&self, trusted_before: i64) -> Option<&FileStat> {
        match self {
            Seen::SameBytes(now) if now.changed_ns() < trusted_before => Some(now),
            _ => None,
        }
    }
}

impl Entry<'_> {
    fn now(&self, fs: &dyn FileSystem, root: &Path) -> Seen {
        let path = root.join(self.path);
        let Ok(now) = self.look.stat(&path) else {
            return Seen::Changed;
        };
        if self.look.matches(&self.stat, &now) {
            return Seen::Unchanged;
        }
        let Some(digest) = self.digest else {
            return Seen::Changed;
        };
        // The mode holds the type and the executable bit, which enter keys; the size is a
        // cheap no.
        if !(now.is_file() || now.is_symlink())
            || now.mode != self.stat.mode
            || now.size != self.stat.size
        {
            return Seen::Changed;
        }
        // Hashed as the stat just taken saw it; a size that moved meanwhile is no match.
        match fs.hash(&path, &now) {
            Ok(file) if file.digest == digest && file.size == now.size => Seen::SameBytes(now),
            _ => Seen::Changed,
        }
    }
}

/// Writes the record again with the signatures of files found to hold the same bytes, those
/// old enough to trust; the rest keep their old ones and are hashed again next time.
fn renew(
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
            Some(now) if entry.look == Look::Racy => (Look::Content, now),
            Some(now) => (entry.look, now),
            None => (entry.look, &entry.stat),
        };
        put_entry(&mut out, look, entry.path, stat, entry.digest.as_ref());
    }
    binary::seal(&mut out);
    write_atomically(&StateDir::of(root).up_to_date(), &out, Durability::Rename)
}

fn put_entry(
    out: &mut Vec<u8>,
    look: Look,
    path: &OsStr,
    stat: &FileStat,
    digest: Option<&Digest>,
) {
    out.push(look as u8);
    binary::put_bytes(out, path.as_bytes());
    binary::put_stat(out, stat);
    if let Some(digest) = digest {
        out.extend_from_slice(digest.as_bytes());
    }
}

/// Writes the record for a build of `selected` in which every action was cached, if every
/// signature is old enough to be trusted (see the module notes); says whether it did.
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

/// Every path the record checks, with its signature now; `None` when one is missing or too
/// fresh to trust.
fn entries(
    root: &Path,
    graph: &Graph,
    selected: &[ActionId],
    started_ns: i64,
    known: &Known<'_>,
) -> Option<Vec<Recorded>> {
    let mut paths: Vec<(Look, String)> = Vec::new();
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
                    paths.push((Look::Followed, path.to_string()));
                    let (dirs, files) = tree_paths(&root.join(path)).ok()?;
                    // The first is the root itself, looked at through a symlink above.
                    for inside in dirs.iter().skip(1).chain(&files) {
                        let inside = inside.to_str()?;
                        paths.push((Look::Signature, format!("{path}/{inside}")));
                    }
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
        if look != Look::Signature || !(stat.is_file() || stat.is_symlink()) {
            // A directory too fresh to trust cannot be checked again cheaply.
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
    if paths.len() < PARALLEL_STATS {
        paths.into_iter().map(stat).collect()
    } else {
        paths.into_par_iter().map(stat).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record a build of `examples/quickstart` wrote (see `fuzz/README.md`): take a new one
    /// when the layout changes.
    const QUICKSTART: &[u8] = include_bytes!("../../fuzz/seeds/up_to_date/quickstart");

    /// `body` followed by its checksum, so that the decoder behind the seal reads it.
    fn sealed(body: &[u8]) -> Vec<u8> {
        let mut out = body.to_vec();
        binary::seal(&mut out);
        out
    }

    /// The record's bytes before the seal: magic, version, the rest.
    fn body(bytes: &[u8]) -> &[u8] {
        &bytes[..bytes.len() - 32]
    }

    #[test]
    fn a_record_a_build_wrote_reads() {
        let record = Record::decode(QUICKSTART).expect("the seed is a record of this version");
        assert_eq!(record.selection, b"build");
        assert!(!record.entries.is_empty());
    }

    #[test]
    fn a_truncated_record_is_no_record() {
        for len in 0..QUICKSTART.len() {
            assert!(Record::decode(&QUICKSTART[..len]).is_none(), "cut at {len}");
        }
        // Sealed again, as a writer cut short after a valid checksum of its part would be.
        let whole = body(QUICKSTART);
        for len in 0..whole.len() {
            assert!(
                Record::decode(&sealed(&whole[..len])).is_none(),
                "body cut at {len}"
            );
        }
    }

    #[test]
    fn garbage_is_no_record() {
        assert!(Record::decode(b"garbage").is_none());
        assert!(Record::decode(&[0xff; 200]).is_none());
        let header = &QUICKSTART[..MAGIC.len() + 4];
        for garbage in [&b""[..], &[0; 3], &[4; 64], &[0x80; 64], &[0xff; 64]] {
            let bytes = sealed(&[header, garbage].concat());
            assert!(Record::decode(&bytes).is_none(), "{garbage:?}");
        }
        let left_over = sealed(&[body(QUICKSTART), &[0]].concat());
        assert!(Record::decode(&left_over).is_none());
        let mut flipped = QUICKSTART.to_vec();
        flipped[MAGIC.len() + 10] ^= 1;
        assert!(Record::decode(&flipped).is_none());
    }

    #[test]
    fn a_record_of_another_version_is_no_record() {
        for version in [1, VERSION + 1] {
            let mut other = body(QUICKSTART).to_vec();
            other[MAGIC.len()..MAGIC.len() + 4].copy_from_slice(&version.to_le_bytes());
            assert!(
                Record::decode(&sealed(&other)).is_none(),
                "version {version}"
            );
        }
    }

    #[test]
    fn any_byte_of_a_sealed_record_changed_is_never_a_panic() {
        let whole = body(QUICKSTART);
        for index in 0..whole.len() {
            for value in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                let mut changed = whole.to_vec();
                changed[index] = value;
                let _ = Record::decode(&sealed(&changed));
            }
        }
    }

    /// A record of one manifest and one racy file entry, as a build that just wrote the file
    /// leaves it, with `digest` as the digest it hashed.
    fn racy_record(root: &Path, manifest: &Path, file: &str, digest: &Digest) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        binary::put_u32(&mut out, VERSION);
        binary::put_bytes(&mut out, tool().as_bytes());
        binary::put_bytes(&mut out, b"build");
        binary::put_u64(&mut out, 1);
        binary::put_u64(&mut out, 1);
        binary::put_bytes(&mut out, manifest.as_os_str().as_bytes());
        let text = std::fs::read(manifest).unwrap();
        out.extend_from_slice(blake3::hash(&text).as_bytes());
        out.push(0);
        binary::put_u64(&mut out, 1);
        let stat = FileStat::of(&std::fs::symlink_metadata(root.join(file)).unwrap());
        put_entry(&mut out, Look::Racy, OsStr::new(file), &stat, Some(digest));
        binary::seal(&mut out);
        out
    }

    /// A racy entry is hashed again however unchanged its signature: bytes that changed
    /// within the same timestamp as the build's hash (here: a digest that no longer matches
    /// a signature that does) send the build the whole way.
    #[test]
    fn a_racy_entry_is_hashed_again_even_when_its_signature_matches() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let manifest = root.join("zenbuild.kdl");
        std::fs::write(&manifest, "step \"a\" { cmd \"true\"; }\n").unwrap();
        std::fs::write(root.join("out.txt"), "new").unwrap();
        let state = StateDir::of(root);
        std::fs::create_dir_all(state.state()).unwrap();
        let fs = crate::hash::RealFileSystem;

        let hashed = Digest::of(b"new");
        std::fs::write(
            state.up_to_date(),
            racy_record(root, &manifest, "out.txt", &hashed),
        )
        .unwrap();
        assert!(matches!(
            check(&fs, root, &manifest, "build"),
            Verdict::UpToDate(1)
        ));

        let stale = Digest::of(b"old");
        std::fs::write(
            state.up_to_date(),
            racy_record(root, &manifest, "out.txt", &stale),
        )
        .unwrap();
        // A racy entry is never found unchanged, so nothing is handed on.
        match check(&fs, root, &manifest, "build") {
            Verdict::Stale(unchanged) => assert!(unchanged.0.is_empty()),
            Verdict::UpToDate(_) => panic!("a stale racy entry was trusted"),
        }
    }

    /// The check hands on what it found unchanged, so the build's record need not look again;
    /// but never a path the build wrote since, the lockfile, or one looked at another way.
    #[test]
    fn what_the_check_found_unchanged_is_taken_unless_the_build_wrote_it() {
        let stat = FileStat::of(&std::fs::symlink_metadata(".").unwrap());
        let digest = Some(Digest::of(b"a"));
        let unchanged = Unchanged(HashMap::from([
            ("src/a.txt".to_string(), (Look::Content, stat, digest)),
            ("out/b.txt".to_string(), (Look::Signature, stat, None)),
            ("out/d/c.txt".to_string(), (Look::Signature, stat, None)),
            ("out/dd/c.txt".to_string(), (Look::Signature, stat, None)),
            ("out".to_string(), (Look::Identity, stat, None)),
            (LOCKFILE.to_string(), (Look::Signature, stat, None)),
        ]));
        let written_files = HashSet::from(["out/b.txt".to_string()]);
        let written_dirs = vec!["out/d".to_string()];
        let no_digests = |_: &Path, _: &FileStat| None;
        let known = Known {
            digests: &no_digests,
            unchanged: &unchanged,
            written_files: &written_files,
            written_dirs: &written_dirs,
        };
        assert_eq!(
            known.recorded(Look::Signature, "src/a.txt"),
            Some((Look::Content, "src/a.txt".into(), stat, digest))
        );
        assert!(known.recorded(Look::Identity, "out").is_some());
        assert!(known.recorded(Look::Signature, "out/dd/c.txt").is_some());
        assert_eq!(known.recorded(Look::Signature, "out/b.txt"), None);
        assert_eq!(known.recorded(Look::Signature, "out/d/c.txt"), None);
        assert_eq!(known.recorded(Look::Signature, LOCKFILE), None);
        assert_eq!(known.recorded(Look::Followed, "src/a.txt"), None);
        assert_eq!(known.recorded(Look::Signature, "src/other.txt"), None);
    }
}
