//! Directories as Merkle trees: a directory's digest is BLAKE3 over its entries, each
//! carrying its own digest, so one changed file changes one path of digests up to the root.
//!
//! A directory encodes as [`TREE_HEADER`], the entry count, then for each entry, sorted by the
//! bytes of its name: name length, name, kind (file, directory, symlink), digest, executable
//! bit. Every integer is a `u64` and every length is given, so no two trees encode alike.
//! The digest is that of the encoded bytes, so a store can keep the encoding as a blob.
//!
//! A declared directory is taken whole: nothing inside it is ignored, not `.git`, not
//! `__pycache__`, not what `.gitignore` lists. The directory is what the step declared,
//! and a step that writes a scratch file into its output gets that file cached with it.

use std::ffi::OsString;
use std::fs::FileType;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::digest::Digest;
use super::file::{FileDigest, FileKind};
use super::file_system::at;
use super::stat_cache::StatCache;

/// Starts the encoding of every directory; the NUL keeps it out of text files.
pub const TREE_HEADER: &[u8] = b"zenbuild tree 1\0";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeDigest {
    /// The Merkle digest of the root directory.
    pub digest: Digest,
    /// Every file and symlink below the root, by path relative to it, in tree order (each
    /// directory's entries by name, depth first): what a store saves and restores.
    pub files: Vec<(PathBuf, FileDigest)>,
    /// Every directory below the root, so that empty ones are restored too.
    pub dirs: Vec<PathBuf>,
}

impl TreeDigest {
    /// Bytes in files and symlink targets, for progress and reports.
    pub fn size(&self) -> u64 {
        self.files.iter().map(|(_, file)| file.size).sum()
    }
}

/// Hashes the directory `root` and everything below it; files go through `cache`, so an
/// unchanged file costs a stat. Symlinks below the root are recorded, never followed; `root`
/// itself is opened as given (whoever declared it decided it is a directory).
///
/// Three passes, none recursive, so that no depth of tree can overflow a stack: list every
/// directory (a level at a time, each level's directories in parallel), hash every file (all
/// in one parallel pass: many small files are where the time goes), then fold the directory
/// digests from the deepest up.
pub fn hash_tree(root: &Path, cache: &StatCache) -> io::Result<TreeDigest> {
    hash_tree_knowing(root, cache, &|_| None)
}

/// What a caller already knows of a file below a tree's root, by its path relative to it.
pub type KnownFile<'a> = dyn Fn(&Path) -> Option<FileDigest> + Sync + 'a;

/// [`hash_tree`], taking the digest of each file that `known` answers for instead of looking
/// at it: the directories are still listed, so a file that came or went is seen.
pub fn hash_tree_knowing(
    root: &Path,
    cache: &StatCache,
    known: &KnownFile<'_>,
) -> io::Result<TreeDigest> {
    let (dirs, file_paths) = list_tree(root)?;
    let file_digests: Vec<FileDigest> = file_paths
        .par_iter()
        .map(|relative| match known(relative) {
            Some(file) => Ok(file),
            None => cache.digest_file(&root.join(relative)),
        })
        .collect::<io::Result<_>>()?;
    let dir_digests = fold_dirs(&dirs, &file_digests);
    Ok(listing(dirs, file_paths, &file_digests, dir_digests[0]))
}

/// What [`hash_tree`] reads below `root`, without reading it: every directory (the root
/// first, as the empty path) and every file and symlink, relative to `root`.
pub fn tree_paths(root: &Path) -> io::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let (dirs, files) = list_tree(root)?;
    Ok((dirs.into_iter().map(|dir| dir.relative).collect(), files))
}

/// The Merkle digest [`hash_tree`] would give a directory holding exactly `files` (each file
/// and symlink by its path below the root, with its digest) and `dirs` (directories below the
/// root; the empty ones must be among them, the others may be): how a listing that came from
/// somewhere else, such as a cached result, is checked against the digest it claims. `None`
/// when the listing contradicts itself: a path that is not made of plain names, or a name
/// used twice in one directory.
pub fn digest_listing<'a>(
    files: impl IntoIterator<Item = (&'a Path, FileDigest)>,
    dirs: impl IntoIterator<Item = &'a Path>,
) -> Option<Digest> {
    let mut tree = vec![Dir {
        relative: PathBuf::new(),
        entries: Vec::new(),
    }];
    let mut index = std::collections::HashMap::from([(PathBuf::new(), 0)]);
    let mut digests = Vec::new();
    for dir in dirs {
        dir_index(&mut tree, &mut index, dir)?;
    }
    for (path, digest) in files {
        let name = path.file_name()?.to_os_string();
        let parent = dir_index(&mut tree, &mut index, path.parent()?)?;
        tree[parent]
            .entries
            .push((name, Child::File(digests.len())));
        digests.push(digest);
    }
    for dir in &mut tree {
        dir.entries
            .sort_unstable_by(|a, b| a.0.as_encoded_bytes().cmp(b.0.as_encoded_bytes()));
        if dir.entries.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return None;
        }
    }
    // Every directory was made after its parent, as `fold_dirs` needs.
    Some(fold_dirs(&tree, &digests)[0])
}

/// The index of the directory `path` in `tree`, adding it and any missing parent.
fn dir_index(
    tree: &mut Vec<Dir>,
    index: &mut std::collections::HashMap<PathBuf, usize>,
    path: &Path,
) -> Option<usize> {
    if let Some(&known) = index.get(path) {
        return Some(known);
    }
    let mut current = 0;
    let mut so_far = PathBuf::new();
    for component in path.components() {
        let std::path::Component::Normal(name) = component else {
            return None;
        };
        so_far.push(name);
        current = if let Some(&known) = index.get(&so_far) {
            known
        } else {
            let new = tree.len();
            tree.push(Dir {
                relative: so_far.clone(),
                entries: Vec::new(),
            });
            tree[current]
                .entries
                .push((name.to_os_string(), Child::Dir(new)));
            index.insert(so_far.clone(), new);
            new
        };
    }
    Some(current)
}

/// The values are part of the encoding.
#[derive(Clone, Copy)]
enum Kind {
    File = 0,
    Dir = 1,
    Symlink = 2,
}

/// A directory as listed: its path below the root, its entries sorted by name.
struct Dir {
    relative: PathBuf,
    entries: Vec<(OsString, Child)>,
}

/// An entry of a directory: an index into the files or into the directories.
#[derive(Clone, Copy)]
enum Child {
    File(usize),
    Dir(usize),
}

/// Every directory (the root first, each directory before those below it) and every file.
fn list_tree(root: &Path) -> io::Result<(Vec<Dir>, Vec<PathBuf>)> {
    let mut dirs = vec![Dir {
        relative: PathBuf::new(),
        entries: Vec::new(),
    }];
    let mut files = Vec::new();
    let mut level = vec![0];
    while !level.is_empty() {
        let listed: Vec<Vec<(OsString, FileType)>> = level
            .par_iter()
            .map(|&index: &usize| list(&root.join(&dirs[index].relative)))
            .collect::<io::Result<_>>()?;
        let mut next = Vec::new();
        for (index, mut children) in level.into_iter().zip(listed) {
            children.sort_unstable_by(|a, b| a.0.as_encoded_bytes().cmp(b.0.as_encoded_bytes()));
            let mut entries = Vec::with_capacity(children.len());
            for (name, file_type) in children {
                let relative = dirs[index].relative.join(&name);
                let child = if file_type.is_dir() {
                    next.push(dirs.len());
                    dirs.push(Dir {
                        relative,
                        entries: Vec::new(),
                    });
                    Child::Dir(dirs.len() - 1)
                } else {
                    files.push(relative);
                    Child::File(files.len() - 1)
                };
                entries.push((name, child));
            }
            dirs[index].entries = entries;
        }
        level = next;
    }
    Ok((dirs, files))
}

/// The names in `dir` with their types as `readdir` reports them (no stat per entry).
fn list(dir: &Path) -> io::Result<Vec<(OsString, FileType)>> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| at(dir, &e))? {
        let entry = entry.map_err(|e| at(dir, &e))?;
        let file_type = entry.file_type().map_err(|e| at(&entry.path(), &e))?;
        children.push((entry.file_name(), file_type));
    }
    Ok(children)
}

/// The digest of every directory. A directory comes after its parent in `dirs`, so going
/// backwards finds the digest of every subdirectory ready.
fn fold_dirs(dirs: &[Dir], files: &[FileDigest]) -> Vec<Digest> {
    let mut digests = vec![Digest::from_bytes([0; 32]); dirs.len()];
    for (index, dir) in dirs.iter().enumerate().rev() {
        let mut hasher = blake3::Hasher::new();
        hasher.update(TREE_HEADER);
        hasher.update(&(dir.entries.len() as u64).to_le_bytes());
        for (name, child) in &dir.entries {
            let (kind, digest, executable) = match *child {
                Child::Dir(dir) => (Kind::Dir, digests[dir], false),
                Child::File(file) => {
                    let file = &files[file];
                    let kind = match file.kind {
                        FileKind::Regular => Kind::File,
                        FileKind::Symlink => Kind::Symlink,
                    };
                    (kind, file.digest, file.executable)
                }
            };
            let name = name.as_encoded_bytes();
            hasher.update(&(name.len() as u64).to_le_bytes());
            hasher.update(name);
            hasher.update(&(kind as u64).to_le_bytes());
            hasher.update(digest.as_bytes());
            hasher.update(&u64::from(executable).to_le_bytes());
        }
        digests[index] = Digest::from_hasher(&hasher);
    }
    digests
}

/// The result, with its listing in tree order: a depth-first walk on a stack of its own.
fn listing(
    mut dirs: Vec<Dir>,
    mut file_paths: Vec<PathBuf>,
    file_digests: &[FileDigest],
    digest: Digest,
) -> TreeDigest {
    let mut files = Vec::with_capacity(file_paths.len());
    let mut subdirs = Vec::with_capacity(dirs.len().saturating_sub(1));
    // A frame is a directory's entries, reversed so that `pop` yields them in order.
    let mut root = std::mem::take(&mut dirs[0].entries);
    root.reverse();
    let mut stack = vec![root];
    while let Some(frame) = stack.last_mut() {
        match frame.pop() {
            None => {
                stack.pop();
            }
            Some((_, Child::File(file))) => {
                files.push((std::mem::take(&mut file_paths[file]), file_digests[file]));
            }
            Some((_, Child::Dir(dir))) => {
                subdirs.push(std::mem::take(&mut dirs[dir].relative));
                let mut entries = std::mem::take(&mut dirs[dir].entries);
                entries.reverse();
                stack.push(entries);
            }
        }
    }
    TreeDigest {
        digest,
        files,
        dirs: subdirs,
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::{PermissionsExt, symlink};

    use super::super::file::hash_file;
    use super::super::file_system::fake::TestFileSystem;
    use super::*;

    fn write(root: &Path, relative: &str, bytes: &[u8]) {
        let path = root.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }

    /// A small dataset: nested directories, an executable, a symlink.
    fn dataset() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "train/0.csv", b"a,b\n1,2\n");
        write(dir.path(), "train/1.csv", b"a,b\n3,4\n");
        write(dir.path(), "test/0.csv", b"a,b\n5,6\n");
        write(dir.path(), "prepare.sh", b"#!/bin/sh\n");
        fs::set_permissions(
            dir.path().join("prepare.sh"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        symlink("train/0.csv", dir.path().join("latest.csv")).unwrap();
        dir
    }

    fn digest(root: &Path) -> Digest {
        hash_tree(root, &StatCache::in_memory()).unwrap().digest
    }

    /// A listing gives the digest of the directory it lists, and a contradictory one none.
    #[test]
    fn a_listing_has_the_digest_of_the_tree_it_lists() {
        let dir = dataset();
        fs::create_dir_all(dir.path().join("empty/inner")).unwrap();
        let tree = hash_tree(dir.path(), &StatCache::in_memory()).unwrap();
        let files = tree
            .files
            .iter()
            .map(|(path, file)| (path.as_path(), *file));
        let empty = [Path::new("empty/inner")];
        assert_eq!(digest_listing(files.clone(), empty), Some(tree.digest));
        // Without the empty directory, or with a file left out, it is another tree.
        assert_ne!(digest_listing(files.clone(), []), Some(tree.digest));
        assert_ne!(
            digest_listing(files.clone().skip(1), empty),
            Some(tree.digest)
        );
        // A name used twice, or a path that climbs, is no tree at all.
        let twice = files.clone().chain(files.clone().take(1));
        assert_eq!(digest_listing(twice, empty), None);
        let (_, first) = tree.files[0];
        let climbing = [(Path::new("../x"), first)];
        assert_eq!(digest_listing(climbing, []), None);
        let file_as_dir = [(Path::new("prepare.sh"), first)];
        assert_eq!(digest_listing(file_as_dir, [Path::new("prepare.sh")]), None);
    }

    /// The encoding, spelled out byte by byte as the module documents it.
    #[test]
    fn encoding_is_as_documented() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.txt", b"a");
        write(dir.path(), "sub/b.txt", b"b");
        fs::set_permissions(dir.path().join("a.txt"), fs::Permissions::from_mode(0o755)).unwrap();
        let encode = |entries: &[(&str, u64, Digest, bool)]| {
            let mut bytes = TREE_HEADER.to_vec();
            bytes.extend_from_slice(&(entries.len() as u64).to_le_bytes());
            for (name, kind, digest, executable) in entries {
                bytes.extend_from_slice(&(name.len() as u64).to_le_bytes());
                bytes.extend_from_slice(name.as_bytes());
                bytes.extend_from_slice(&kind.to_le_bytes());
                bytes.extend_from_slice(digest.as_bytes());
                bytes.extend_from_slice(&u64::from(*executable).to_le_bytes());
            }
            Digest::of(&bytes)
        };
        let sub = encode(&[("b.txt", 0, Digest::of(b"b"), false)]);
        let root = encode(&[("a.txt", 0, Digest::of(b"a"), true), ("sub", 1, sub, false)]);
        assert_eq!(digest(dir.path()), root);
    }

    /// Pins the encoding: a change here changes every directory input's key.
    #[test]
    fn golden_digest() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.txt", b"a");
        write(dir.path(), "sub/b.txt", b"b");
        assert_eq!(
            digest(dir.path()).to_hex(),
            "6ccf5e2e21bcfc8f64e86c2fa5bcb847422612f22cf479e2529e15678e312003"
        );
    }

    #[test]
    fn the_listing_has_every_file_and_directory() {
        let dir = dataset();
        fs::create_dir(dir.path().join("empty")).unwrap();
        let tree = hash_tree(dir.path(), &StatCache::in_memory()).unwrap();
        let paths: Vec<&str> = tree
            .files
            .iter()
            .map(|(path, _)| path.to_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            [
                "latest.csv",
                "prepare.sh",
                "test/0.csv",
                "train/0.csv",
                "train/1.csv"
            ]
        );
        let dirs: Vec<&str> = tree.dirs.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(dirs, ["empty", "test", "train"]);
        for (path, file) in &tree.files {
            assert_eq!(*file, hash_file(&dir.path().join(path)).unwrap());
        }
        assert_eq!(tree.files[0].1.kind, FileKind::Symlink);
        assert!(tree.files[1].1.executable);
        assert_eq!(tree.size(), 3 * 8 + 10 + "train/0.csv".len() as u64);
    }

    #[test]
    fn independent_of_creation_order() {
        let forward = dataset();
        let backward = tempfile::tempdir().unwrap();
        symlink("train/0.csv", backward.path().join("latest.csv")).unwrap();
        write(backward.path(), "train/1.csv", b"a,b\n3,4\n");
        write(backward.path(), "prepare.sh", b"#!/bin/sh\n");
        fs::set_permissions(
            backward.path().join("prepare.sh"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        write(backward.path(), "test/0.csv", b"a,b\n5,6\n");
        write(backward.path(), "train/0.csv", b"a,b\n1,2\n");
        assert_eq!(digest(forward.path()), digest(backward.path()));
    }

    /// What a change does to a tree, and its name.
    type Change = (&'static str, Box<dyn Fn(&Path)>);

    #[test]
    fn every_change_changes_the_digest() {
        let changes: Vec<Change> = vec![
            (
                "renaming a file",
                Box::new(|root| {
                    fs::rename(root.join("test/0.csv"), root.join("test/9.csv")).unwrap();
                }),
            ),
            (
                "moving a file to another directory",
                Box::new(|root| {
                    fs::rename(root.join("test/0.csv"), root.join("train/0-test.csv")).unwrap();
                }),
            ),
            (
                "changing one byte",
                Box::new(|root| write(root, "train/1.csv", b"a,b\n3,5\n")),
            ),
            (
                "adding an empty file",
                Box::new(|root| write(root, "test/.keep", b"")),
            ),
            (
                "adding an empty directory",
                Box::new(|root| fs::create_dir(root.join("train/empty")).unwrap()),
            ),
            (
                "chmod +x",
                Box::new(|root| {
                    fs::set_permissions(root.join("test/0.csv"), fs::Permissions::from_mode(0o755))
                        .unwrap();
                }),
            ),
            (
                "retargeting a symlink",
                Box::new(|root| {
                    fs::remove_file(root.join("latest.csv")).unwrap();
                    symlink("train/1.csv", root.join("latest.csv")).unwrap();
                }),
            ),
            (
                "a file replaced by a symlink to the same text",
                Box::new(|root| {
                    fs::remove_file(root.join("test/0.csv")).unwrap();
                    symlink("a,b\n5,6\n", root.join("test/0.csv")).unwrap();
                }),
            ),
        ];
        let base = digest(dataset().path());
        for (what, change) in changes {
            let dir = dataset();
            change(dir.path());
            assert_ne!(
                digest(dir.path()),
                base,
                "{what} must change the tree digest"
            );
        }
    }

    /// An empty file and an empty directory of the same name are different trees.
    #[test]
    fn kinds_are_told_apart() {
        let with_file = tempfile::tempdir().unwrap();
        write(with_file.path(), "x", b"");
        let with_dir = tempfile::tempdir().unwrap();
        fs::create_dir(with_dir.path().join("x")).unwrap();
        assert_ne!(digest(with_file.path()), digest(with_dir.path()));
    }

    #[test]
    fn a_no_op_costs_stats_and_a_touch_one_read() {
        let dir = dataset();
        let state = tempfile::tempdir().unwrap();
        let cache_path = state.path().join("stat-cache");
        let fs_fake = TestFileSystem::new();
        fs_fake.advance_secs(10);
        let cache = StatCache::load_with(&cache_path, fs_fake.clone());
        let first = hash_tree(dir.path(), &cache).unwrap();
        assert_eq!(fs_fake.reads(), 5);
        cache.save().unwrap();

        let cache = StatCache::load_with(&cache_path, fs_fake.clone());
        assert_eq!(hash_tree(dir.path(), &cache).unwrap(), first);
        assert_eq!(fs_fake.reads(), 5, "nothing changed, nothing read");

        let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_hours(1);
        fs::File::options()
            .write(true)
            .open(dir.path().join("train/1.csv"))
            .unwrap()
            .set_modified(an_hour_ago)
            .unwrap();
        fs_fake.advance_secs(10);
        assert_eq!(
            hash_tree(dir.path(), &cache).unwrap(),
            first,
            "same bytes, same digest"
        );
        assert_eq!(fs_fake.reads(), 6, "only the touched file was read");
    }

    /// Regression: a recursive walk overflowed its stack 500 directories down.
    #[test]
    fn a_deep_tree_does_not_overflow_the_stack() {
        let dir = tempfile::tempdir().unwrap();
        let deep: PathBuf = (0..1_000)
            .map(|i| if i % 2 == 0 { "a" } else { "b" })
            .collect();
        write(dir.path(), deep.join("leaf").to_str().unwrap(), b"x");
        let tree = hash_tree(dir.path(), &StatCache::in_memory()).unwrap();
        assert_eq!(tree.dirs.len(), 1_000);
        assert_eq!(
            tree.files,
            [(
                deep.join("leaf"),
                hash_file(&dir.path().join(deep).join("leaf")).unwrap()
            )]
        );
    }

    #[test]
    fn a_missing_root_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let error = hash_tree(&dir.path().join("absent"), &StatCache::in_memory()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(error.to_string().contains("absent"));
    }
}
