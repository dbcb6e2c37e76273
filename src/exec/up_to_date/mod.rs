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
//!   directory inside the directory ones (of one too fresh to trust, its content: see below);
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
//! A regular file or a symlink is recorded with its digest as well, when the stat cache knows
//! it: a file whose signature changed but whose type, mode and size did not is hashed again,
//! and if its bytes are the same it is still up to date (a `touch`, a checkout or an editor's
//! save of the same bytes runs nothing, as it would the whole way). The record then takes the
//! new signature, once it is old enough to trust.
//!
//! A signature that was old when the build started is trusted (the stat cache's racy rule).
//! A regular file or a symlink whose signature is fresher (one the build wrote, or one edited
//! just before it) is recorded as racy, with the digest the build hashed: every check hashes
//! it again and compares, however unchanged its signature looks, as git does for racily clean
//! index entries, until a check finds it old enough and records its signature as trusted. So
//! the build right after a build that ran steps takes the shortcut too, at the price of
//! hashing what that build wrote. An output restored from a cache, which the stat cache never
//! hashed, is recorded as racy with the digest its result claims: hashed before it is relied
//! on, a claim that does not hold only sends the next build the whole way.
//!
//! A directory of a directory input or output (its root, or one inside it) whose signature is
//! fresher (a file was added, removed or renamed in it: an editor saves by writing a
//! temporary file and renaming it over the old one) is recorded as racy too, with the digest
//! of its listing (see `listing_digest`): every check makes sure it is the same directory
//! (device, inode, type; the root through a symlink, as it is looked at) and lists it again,
//! until a check finds it old enough and records its signature as trusted. What is inside
//! has entries of its own. The listing recorded must be the one the build keyed: a file
//! removed from the directory during the build, after it was hashed, would be missing from
//! both the directory and the record, while the key still holds it. So a directory input or
//! output with any directory too fresh to trust, itself included, is recorded only if what
//! the record holds of it, each file by the digest the build hashed, folds into the tree
//! digest the build keyed it with.
//!
//! The record is not written when a fresh file has no digest at all (inside a restored
//! directory), when such a directory's tree cannot be folded or differs from the one keyed,
//! or when a fresh entry is anything else (a special file, a directory outside a directory
//! input or output).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rayon::prelude::*;

use crate::binary::{self, Reader, STAT_LEN};
use crate::graph::globs::still_match;
use crate::hash::{CACHE_VERSION, Digest, FileDigest, FileKind, FileStat, FileSystem, Platform};
use crate::workspace::StateDir;

mod look;
mod writer;

use look::{Look, listed};
use writer::renew;
pub use writer::{Known, KnownDigest, forget, record};

const MAGIC: &[u8; 8] = b"zbfresh\n";
/// Bump when the layout changes: an old record is then ignored, never misread.
const VERSION: u32 = 3;
/// Below this many files, stats are taken on this thread: starting rayon's threads costs more.
const PARALLEL_STATS: usize = 4_096;

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
        self.file_digest(path)
            .map(|file| (file.digest, file.executable))
    }

    /// Whether the check handed nothing on (no record, or one of another manifest, tool or
    /// selection).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The same as [`Unchanged::file`], as the stat cache would give it: with its size.
    pub fn file_digest(&self, path: &str) -> Option<FileDigest> {
        match self.0.get(path)? {
            &(Look::Content, stat, Some(digest)) if stat.is_file() => Some(FileDigest {
                digest,
                size: stat.size,
                executable: stat.is_executable(),
                kind: FileKind::Regular,
            }),
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
    if seen.iter().any(|seen| matches!(seen, Seen::SameContent(_))) {
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
            let digest = if look.has_digest() {
                Some(Digest::from_bytes(reader.take(32)?.try_into().ok()?))
            } else {
                None
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
    /// Another signature (or a racy one), the same bytes or listing.
    SameContent(FileStat),
    Changed,
}

impl Seen {
    /// The new signature of a file or directory that holds the same bytes or names, once it
    /// changed before `trusted_before` and may therefore be recorded.
    fn trusted_new(&self, trusted_before: i64) -> Option<&FileStat> {
        match self {
            Seen::SameContent(now) if now.changed_ns() < trusted_before => Some(now),
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
        let same = if matches!(self.look, Look::RacyDir | Look::RacyFollowed) {
            // Not another directory put in its place, and the same names as the same types;
            // listed after the stat, so that a change in between moves the signature the
            // record would take.
            now.same_object(&self.stat) && listed(&path).is_ok_and(|listed| listed == digest)
        } else {
            // The mode holds the type and the executable bit, which enter keys; the size is a
            // cheap no.
            if !(now.is_file() || now.is_symlink())
                || now.mode != self.stat.mode
                || now.size != self.stat.size
            {
                return Seen::Changed;
            }
            // Hashed as the stat just taken saw it; a size that moved meanwhile is no match.
            fs.hash(&path, &now)
                .is_ok_and(|file| file.digest == digest && file.size == now.size)
        };
        if same {
            Seen::SameContent(now)
        } else {
            Seen::Changed
        }
    }
}
#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::path::PathBuf;

    use super::writer::*;
    use super::*;
    use crate::graph::{ActionId, Graph};
    use crate::lockfile::LOCKFILE;

    /// A record a build of `examples/quickstart` wrote (see `fuzz/README.md`): take a new one
    /// when the layout changes.
    const QUICKSTART: &[u8] = include_bytes!("../../../fuzz/seeds/up_to_date/quickstart");

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

    /// A record the build that ran a pipeline with a directory output (an empty directory and
    /// a symlink inside) and globs wrote at once: its entries are racy.
    const LINKS_AND_GLOBS: &[u8] = include_bytes!("../../../fuzz/seeds/up_to_date/links-and-globs");

    #[test]
    fn a_record_a_build_wrote_reads() {
        let record = Record::decode(QUICKSTART).expect("the seed is a record of this version");
        assert_eq!(record.selection, b"build");
        assert!(!record.entries.is_empty());
    }

    /// So that the fuzzer starts from every branch of the decoder.
    #[test]
    fn the_seeds_hold_every_look() {
        let mut looks = HashSet::new();
        for seed in [QUICKSTART, LINKS_AND_GLOBS] {
            let record = Record::decode(seed).expect("the seed is a record of this version");
            looks.extend(record.entries.iter().map(|entry| entry.look as u8));
        }
        let every: HashSet<u8> = (0..=u8::MAX)
            .filter_map(Look::from_u8)
            .map(|look| look as u8)
            .collect();
        assert_eq!(looks, every);
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

    /// A record of one manifest and `entries` (each with its signature as of now), as a build
    /// of one action leaves it.
    fn record_of(
        root: &Path,
        manifest: &Path,
        entries: &[(Look, &str, Option<Digest>)],
    ) -> Vec<u8> {
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
        binary::put_u64(&mut out, entries.len() as u64);
        for (look, path, digest) in entries {
            let stat = look.stat(&root.join(path)).unwrap();
            put_entry(&mut out, *look, OsStr::new(path), &stat, digest.as_ref());
        }
        binary::seal(&mut out);
        out
    }

    /// A record of one manifest and one racy file entry, as a build that just wrote the file
    /// leaves it, with `digest` as the digest it hashed.
    fn racy_record(root: &Path, manifest: &Path, file: &str, digest: &Digest) -> Vec<u8> {
        record_of(root, manifest, &[(Look::Racy, file, Some(*digest))])
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
    /// but never a path the build wrote since, the lockfile, a racy one, or one looked at
    /// another way.
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
            ("data".to_string(), (Look::RacyFollowed, stat, digest)),
            ("data/sub".to_string(), (Look::RacyDir, stat, digest)),
            ("data/sub/a.txt".to_string(), (Look::Racy, stat, digest)),
        ]));
        let written_files = HashSet::from(["out/b.txt".to_string()]);
        let written_dirs = vec!["out/d".to_string()];
        let no_digests = |_: &Path, _: &FileStat| None;
        let known = Known {
            digests: &no_digests,
            unchanged: &unchanged,
            written_files: &written_files,
            written_dirs: &written_dirs,
            keyed_dirs: &HashMap::new(),
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
        // Racy entries are never found unchanged, and never taken without a second look.
        assert_eq!(known.recorded(Look::Followed, "data"), None);
        assert_eq!(known.recorded(Look::Signature, "data/sub"), None);
        assert_eq!(known.recorded(Look::Signature, "data/sub/a.txt"), None);
    }

    /// A workspace with a manifest and a directory `data/` holding `a.txt` and `sub/b.txt`,
    /// where the check may find a record.
    fn data_workspace() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let manifest = root.join("zenbuild.kdl");
        std::fs::write(&manifest, "step \"a\" { cmd \"true\"; }\n").unwrap();
        std::fs::create_dir_all(root.join("data/sub")).unwrap();
        std::fs::write(root.join("data/a.txt"), "a").unwrap();
        std::fs::write(root.join("data/sub/b.txt"), "b").unwrap();
        std::fs::create_dir_all(StateDir::of(root).state()).unwrap();
        (dir, manifest)
    }

    fn up_to_date_now(root: &Path, manifest: &Path) -> bool {
        let fs = crate::hash::RealFileSystem;
        matches!(check(&fs, root, manifest, "build"), Verdict::UpToDate(1))
    }

    /// A racy directory is listed again by every check: the same names as the same types are
    /// no change, however its signature moved; a name added, removed or of another type is.
    #[test]
    fn a_racy_directory_is_listed_again_and_a_name_that_came_or_went_is_a_change() {
        let (dir, manifest) = data_workspace();
        let root = dir.path();
        let listing = listed(&root.join("data/sub")).unwrap();
        let record = record_of(
            root,
            &manifest,
            &[(Look::RacyDir, "data/sub", Some(listing))],
        );
        std::fs::write(StateDir::of(root).up_to_date(), record).unwrap();
        assert!(up_to_date_now(root, &manifest));

        std::fs::write(root.join("data/sub/c.txt"), "c").unwrap();
        match check(&crate::hash::RealFileSystem, root, &manifest, "build") {
            Verdict::Stale(unchanged) => assert!(unchanged.0.is_empty()),
            Verdict::UpToDate(_) => panic!("a file added to a racy directory was missed"),
        }
        // Gone again: the directory's signature moved, its names are the same.
        std::fs::remove_file(root.join("data/sub/c.txt")).unwrap();
        assert!(up_to_date_now(root, &manifest));

        std::fs::remove_file(root.join("data/sub/b.txt")).unwrap();
        assert!(!up_to_date_now(root, &manifest), "a file removed");
        std::fs::create_dir(root.join("data/sub/b.txt")).unwrap();
        assert!(
            !up_to_date_now(root, &manifest),
            "a file become a directory"
        );
        std::fs::remove_dir(root.join("data/sub/b.txt")).unwrap();
        std::fs::write(root.join("data/sub/b.txt"), "other bytes").unwrap();
        assert!(
            up_to_date_now(root, &manifest),
            "its bytes are the file's entry's to check"
        );

        // Another directory with the same names in its place is not the same directory.
        std::fs::rename(root.join("data/sub"), root.join("data/old")).unwrap();
        std::fs::create_dir(root.join("data/sub")).unwrap();
        std::fs::write(root.join("data/sub/b.txt"), "b").unwrap();
        assert_eq!(listed(&root.join("data/sub")).unwrap(), listing);
        assert!(!up_to_date_now(root, &manifest), "another directory");
    }

    /// The root of a directory input is looked at through a symlink: the directory the link
    /// leads to must stay the same one, and list the same names.
    #[test]
    fn a_racy_root_is_listed_through_its_symlink() {
        let (dir, manifest) = data_workspace();
        let root = dir.path();
        std::os::unix::fs::symlink("data", root.join("link")).unwrap();
        let listing = listed(&root.join("data")).unwrap();
        let record = record_of(
            root,
            &manifest,
            &[(Look::RacyFollowed, "link", Some(listing))],
        );
        std::fs::write(StateDir::of(root).up_to_date(), record).unwrap();
        assert!(up_to_date_now(root, &manifest));
        std::fs::write(root.join("data/new.txt"), "new").unwrap();
        assert!(
            !up_to_date_now(root, &manifest),
            "a file added behind the link"
        );
        std::fs::remove_file(root.join("data/new.txt")).unwrap();
        assert!(up_to_date_now(root, &manifest));

        // The link led elsewhere, to a directory listing the same names.
        std::fs::create_dir_all(root.join("copy/sub")).unwrap();
        std::fs::write(root.join("copy/a.txt"), "a").unwrap();
        std::fs::remove_file(root.join("link")).unwrap();
        std::os::unix::fs::symlink("copy", root.join("link")).unwrap();
        assert_eq!(listed(&root.join("link")).unwrap(), listing);
        assert!(
            !up_to_date_now(root, &manifest),
            "another directory behind the link"
        );
    }

    /// A check that finds racy directories unchanged and old enough records them by their
    /// signatures, as they are looked at: `lstat` inside, `stat` through a symlink at the
    /// root; a racy file keeps its digest to fall back on. Before that, nothing is renewed.
    #[test]
    fn racy_directories_old_enough_are_renewed_with_their_plain_looks() {
        let (dir, manifest) = data_workspace();
        let root = dir.path();
        let entries = [
            (
                Look::RacyFollowed,
                "data",
                Some(listed(&root.join("data")).unwrap()),
            ),
            (
                Look::RacyDir,
                "data/sub",
                Some(listed(&root.join("data/sub")).unwrap()),
            ),
            (Look::Racy, "data/sub/b.txt", Some(Digest::of(b"b"))),
        ];
        let path = StateDir::of(root).up_to_date();
        std::fs::write(&path, record_of(root, &manifest, &entries)).unwrap();
        let looks = || {
            let bytes = std::fs::read(&path).unwrap();
            let record = Record::decode(&bytes).unwrap();
            let looks: Vec<(Look, bool)> = record
                .entries
                .iter()
                .map(|entry| (entry.look, entry.digest.is_some()))
                .collect();
            looks
        };
        let fs = crate::hash::fake::TestFileSystem::new();
        assert!(matches!(
            check(&fs, root, &manifest, "build"),
            Verdict::UpToDate(1)
        ));
        let racy = vec![
            (Look::RacyFollowed, true),
            (Look::RacyDir, true),
            (Look::Racy, true),
        ];
        assert_eq!(looks(), racy, "still too fresh to trust");

        fs.advance_secs(10);
        assert!(matches!(
            check(&fs, root, &manifest, "build"),
            Verdict::UpToDate(1)
        ));
        let plain = vec![
            (Look::Followed, false),
            (Look::Signature, false),
            (Look::Content, true),
        ];
        assert_eq!(looks(), plain);
        // From here on taken on their signatures: a name added is a change of signature.
        std::fs::write(root.join("data/sub/c.txt"), "c").unwrap();
        assert!(matches!(
            check(&fs, root, &manifest, "build"),
            Verdict::Stale(_)
        ));
    }

    const READS_DATA: &str =
        "step \"s\" {\n    cmd \"true\"\n    inputs \"data/\"\n    outputs \"out.txt\"\n}\n";

    /// What a build of [`READS_DATA`] knows after keying `data/` and writing `out.txt`: the
    /// stat cache that hashed both, and the tree it keyed.
    struct Built {
        dir: tempfile::TempDir,
        graph: Graph,
        cache: crate::hash::StatCache,
        keyed: HashMap<String, Digest>,
    }

    impl Built {
        /// `data/` holds a file, a subdirectory with a file, an empty one and a symlink.
        fn new() -> Built {
            let (dir, _) = data_workspace();
            let root = dir.path();
            std::fs::create_dir(root.join("data/empty")).unwrap();
            std::os::unix::fs::symlink("a.txt", root.join("data/link")).unwrap();
            std::fs::write(root.join("out.txt"), "out").unwrap();
            std::fs::write(root.join(LOCKFILE), "").unwrap();
            let cache = crate::hash::StatCache::in_memory();
            let tree = crate::hash::hash_tree(&root.join("data"), &cache).unwrap();
            cache.digest_file(&root.join("out.txt")).unwrap();
            Built {
                dir,
                graph: crate::graph::compile_text(READS_DATA),
                cache,
                keyed: HashMap::from([("data".to_string(), tree.digest)]),
            }
        }

        fn root(&self) -> &Path {
            self.dir.path()
        }

        /// The record's entries for a build that started at `started_ns`.
        fn entries(&self, started_ns: i64) -> Option<Vec<Recorded>> {
            let digests = |path: &Path, stat: &FileStat| self.cache.hashed_digest(path, stat);
            let known = Known {
                digests: &digests,
                unchanged: &Unchanged::default(),
                written_files: &HashSet::new(),
                written_dirs: &[],
                keyed_dirs: &self.keyed,
            };
            entries(self.root(), &self.graph, &[ActionId(0)], started_ns, &known)
        }
    }

    /// How `path` is recorded in `entries`, and its digest.
    fn look_of(entries: &[Recorded], path: &str) -> (Look, Option<Digest>) {
        let (look, _, _, digest) = entries.iter().find(|entry| entry.1 == path).unwrap();
        (*look, *digest)
    }

    /// A build that finds its directory input fresh (an editor's save renamed a file into it
    /// just before) records its directories as racy, each with its listing, when what it
    /// records of the tree is the tree it keyed.
    #[test]
    fn fresh_directories_of_the_tree_the_build_keyed_are_recorded_as_racy() {
        let built = Built::new();
        let root = built.root();
        let started_ns = crate::hash::RealFileSystem.now_ns();
        let entries = built.entries(started_ns).expect("a record");
        for (dir, look) in [
            ("data", Look::RacyFollowed),
            ("data/sub", Look::RacyDir),
            ("data/empty", Look::RacyDir),
        ] {
            assert_eq!(
                look_of(&entries, dir),
                (look, Some(listed(&root.join(dir)).unwrap())),
                "{dir}"
            );
        }
        assert_eq!(look_of(&entries, "data/sub/b.txt").0, Look::Racy);
        assert_eq!(look_of(&entries, "data/link").0, Look::Racy);

        // Long after: signatures alone, and no tree to compare.
        let later = started_ns + 60 * 1_000_000_000;
        let mut built = built;
        built.keyed.clear();
        let entries = built.entries(later).expect("a record");
        assert_eq!(look_of(&entries, "data"), (Look::Followed, None));
        assert_eq!(look_of(&entries, "data/sub"), (Look::Signature, None));
    }

    /// A file removed from or added to the directory after the build keyed it, or a tree
    /// other than the one keyed: the record is not written, for it would list the directory
    /// as it is now, under a key that says otherwise.
    #[test]
    fn the_record_refuses_a_tree_other_than_the_one_the_build_keyed() {
        let started_ns = crate::hash::RealFileSystem.now_ns();

        let mut built = Built::new();
        built
            .keyed
            .insert("data".to_string(), Digest::of(b"another tree"));
        assert!(built.entries(started_ns).is_none(), "another digest");
        built.keyed.clear();
        assert!(built.entries(started_ns).is_none(), "no digest keyed");

        let built = Built::new();
        std::fs::remove_file(built.root().join("data/sub/b.txt")).unwrap();
        assert!(built.entries(started_ns).is_none(), "a file removed");

        let built = Built::new();
        std::fs::write(built.root().join("data/sub/c.txt"), "c").unwrap();
        assert!(built.entries(started_ns).is_none(), "a file added");

        let built = Built::new();
        std::fs::remove_dir(built.root().join("data/empty")).unwrap();
        assert!(
            built.entries(started_ns).is_none(),
            "an empty directory removed"
        );

        let built = Built::new();
        std::fs::create_dir(built.root().join("data/sub/new")).unwrap();
        assert!(
            built.entries(started_ns).is_none(),
            "an empty directory added"
        );

        let built = Built::new();
        std::fs::remove_file(built.root().join("data/link")).unwrap();
        std::os::unix::fs::symlink("sub/b.txt", built.root().join("data/link")).unwrap();
        built
            .cache
            .digest_file(&built.root().join("data/link"))
            .unwrap();
        assert!(
            built.entries(started_ns).is_none(),
            "a symlink led elsewhere"
        );
    }
}
