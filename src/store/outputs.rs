//! A step's declared outputs into the store, and back into the workspace.
//!
//! Saving lists what the step left at each declared path: a file, a symlink (recorded with
//! its target text, never followed), or a directory taken whole through [`hash_tree`], whose
//! Merkle digest is the one a downstream step's input digest of it will be. Restoring puts
//! back exactly that: a directory output is removed first, so files a later run left in it
//! do not survive into a restored result that never had them.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::FileType;

use super::beneath::{Beneath, Place, split};
use super::error::StoreError;
use super::{ActionResult, LinkMode, OutputDirectory, OutputFile, OutputSymlink, Store};
use crate::hash::{FileKind, StatCache, TreeDigest, hash_tree};

/// What [`save_outputs`] found, in the shape of the [`ActionResult`] fields it fills.
pub type SavedOutputs = (Vec<OutputFile>, Vec<OutputSymlink>, Vec<OutputDirectory>);

/// Stores every declared output of a step that just ran. `declared` holds each output's
/// workspace-relative path and whether it was declared a directory; `cache` is the run's stat
/// cache, through which every file is hashed (so a downstream step hashing these files as its
/// inputs finds them there). A declared output that is missing is an error naming it.
pub fn save_outputs(
    store: &dyn Store,
    workspace_root: &Path,
    declared: &[(&str, bool)],
    cache: &StatCache,
) -> Result<SavedOutputs, StoreError> {
    let mut files = Vec::new();
    let mut symlinks = Vec::new();
    let mut directories = Vec::new();
    let beneath = Beneath::open(workspace_root)?;
    for &(path, is_dir) in declared {
        let path = path.trim_end_matches('/');
        let absolute = workspace_root.join(relative(path)?);
        // Looked at through directories opened without following links: an output behind a
        // symlink the step made (`out -> /tmp/elsewhere`) is not in the workspace at all.
        let Some(file_type) = beneath.lstat(relative(path)?)? else {
            return Err(StoreError::MissingOutput {
                path: path.to_string(),
            });
        };
        let (dir, link) = (
            file_type == FileType::Directory,
            file_type == FileType::Symlink,
        );
        match (is_dir, dir, link) {
            (true, true, _) => directories.push(save_directory(store, path, &absolute, cache)?),
            (true, false, _) => {
                return Err(StoreError::bad_output(
                    path,
                    "was declared as a directory but is not one (declare it without `/`)",
                ));
            }
            (false, true, _) => {
                return Err(StoreError::bad_output(
                    path,
                    "was declared as a file but is a directory (declare it with a trailing `/`)",
                ));
            }
            (false, false, true) => symlinks.push(OutputSymlink {
                path: path.to_string(),
                target: link_target(path, &absolute)?,
            }),
            (false, false, false) => files.push(save_file(store, path, &absolute, cache)?),
        }
    }
    Ok((files, symlinks, directories))
}

fn save_file(
    store: &dyn Store,
    path: &str,
    absolute: &Path,
    cache: &StatCache,
) -> Result<OutputFile, StoreError> {
    let hashed = cache
        .digest_file(absolute)
        .map_err(|e| StoreError::io(absolute, e))?;
    if hashed.kind != FileKind::Regular {
        return Err(StoreError::bad_output(path, "is not a regular file"));
    }
    let blob = store.put_file(absolute, Some(&hashed.digest))?;
    Ok(OutputFile {
        path: path.to_string(),
        digest: blob.digest,
        size: blob.size,
        executable: hashed.executable,
    })
}

fn save_directory(
    store: &dyn Store,
    path: &str,
    absolute: &Path,
    cache: &StatCache,
) -> Result<OutputDirectory, StoreError> {
    let tree = hash_tree(absolute, cache).map_err(|e| StoreError::io(absolute, e))?;
    for (inside, hashed) in &tree.files {
        if hashed.kind == FileKind::Regular {
            store.put_file(&absolute.join(inside), Some(&hashed.digest))?;
        }
    }
    list_directory(path, absolute, &tree)
}

/// The directory at `absolute` (`path` in the workspace) as a result records it, from `tree`,
/// its hash: every file with its digest, size and mode, every symlink with its target (read
/// now), every empty directory. Nothing is stored: for a caller that keeps the blobs itself,
/// or that sends the listing elsewhere.
pub fn list_directory(
    path: &str,
    absolute: &Path,
    tree: &TreeDigest,
) -> Result<OutputDirectory, StoreError> {
    let mut files = Vec::new();
    let mut symlinks = Vec::new();
    for (inside, hashed) in &tree.files {
        let name = utf8(path, inside)?;
        match hashed.kind {
            FileKind::Symlink => symlinks.push(OutputSymlink {
                target: link_target(&format!("{path}/{name}"), &absolute.join(inside))?,
                path: name,
            }),
            FileKind::Regular => files.push(OutputFile {
                path: name,
                digest: hashed.digest,
                size: hashed.size,
                executable: hashed.executable,
            }),
        }
    }
    Ok(OutputDirectory {
        path: path.to_string(),
        tree_digest: tree.digest,
        files,
        symlinks,
        empty_directories: empty_directories(path, tree)?,
    })
}

/// The directories with nothing inside; the others come back as the parents of what is.
fn empty_directories(path: &str, tree: &TreeDigest) -> Result<Vec<String>, StoreError> {
    let parents: HashSet<&Path> = tree
        .files
        .iter()
        .map(|(file, _)| file.as_path())
        .chain(tree.dirs.iter().map(PathBuf::as_path))
        .filter_map(Path::parent)
        .collect();
    tree.dirs
        .iter()
        .filter(|dir| !parents.contains(dir.as_path()))
        .map(|dir| utf8(path, dir))
        .collect()
}

/// Removes every declared output, before the step runs again. Run steps only after this:
/// an output restored as a hard link is the store's own file, and a step that rewrote it in
/// place would fail on its read-only mode, or, as root, write into the store. Nothing is
/// removed through a symlink: one on the way to an output is an error naming it.
pub fn clear_outputs(workspace_root: &Path, declared: &[(&str, bool)]) -> Result<(), StoreError> {
    let beneath = Beneath::open(workspace_root)?;
    for &(path, _) in declared {
        beneath.remove(relative(path.trim_end_matches('/'))?)?;
    }
    Ok(())
}

/// Creates the directories that hold the declared outputs, where a step will write them,
/// never through a symlink.
pub fn create_output_parents(
    workspace_root: &Path,
    declared: &[(&str, bool)],
) -> Result<(), StoreError> {
    let beneath = Beneath::open(workspace_root)?;
    for &(path, _) in declared {
        let (parent, _) = split(relative(path.trim_end_matches('/'))?)?;
        // Opened before any is made: a `mkdir` that finds its directory still takes the
        // parent's lock, which a thousand short steps writing into one directory contend for.
        beneath.create_dir_all(parent)?;
    }
    Ok(())
}

/// Creates the directory `dir` (workspace-relative, `.` for the root) below `workspace_root`
/// and its parents, never through a symlink: a working directory among inputs that came
/// from elsewhere.
pub fn create_dir_beneath(workspace_root: &Path, dir: &str) -> Result<(), StoreError> {
    if dir == "." {
        return Ok(());
    }
    Beneath::open(workspace_root)?.create_dir_all(relative(dir)?)
}

/// Puts back every output `result` records under `workspace_root`, replacing what is there.
/// Check the result with [`super::check_result`] first: this only refuses paths that leave
/// the workspace, and writes nothing through a symlink. A corrupt or missing blob stops the
/// restore with the outputs half restored: the caller then runs the step, which writes them
/// all again.
pub fn restore_outputs(
    store: &dyn Store,
    workspace_root: &Path,
    result: &ActionResult,
    mode: LinkMode,
) -> Result<(), StoreError> {
    let beneath = Beneath::open(workspace_root)?;
    for directory in &result.output_directories {
        let base = relative(&directory.path)?;
        beneath.remove(base)?;
        beneath.create_dir_all(base)?;
        for empty in &directory.empty_directories {
            beneath.create_dir_all(&base.join(relative(empty)?))?;
        }
        restore_files(store, &beneath, base, &directory.files, mode)?;
        restore_symlinks(&beneath, base, &directory.symlinks)?;
    }
    restore_files(store, &beneath, Path::new(""), &result.output_files, mode)?;
    restore_symlinks(&beneath, Path::new(""), &result.output_symlinks)
}

fn restore_files(
    store: &dyn Store,
    beneath: &Beneath,
    base: &Path,
    files: &[OutputFile],
    mode: LinkMode,
) -> Result<(), StoreError> {
    // Files come in tree order, so the directory of one is mostly that of the one before.
    let mut open: Option<(PathBuf, OwnedFd)> = None;
    for file in files {
        let path = base.join(relative(&file.path)?);
        let (parent, name) = split(&path)?;
        let dir = match open.take() {
            Some((known, fd)) if known == parent => fd,
            _ => beneath.dir(parent, true)?.ok_or_else(|| {
                StoreError::io(beneath.shown(parent), io::ErrorKind::NotFound.into())
            })?,
        };
        let shown = beneath.shown(&path);
        let place = Place {
            dir: dir.as_fd(),
            name,
            shown: &shown,
        };
        store.restore_blob(&file.digest, &place, file.executable, mode)?;
        open = Some((parent.to_path_buf(), dir));
    }
    Ok(())
}

/// Symlinks come last, so that none can redirect where a file of the same result is written
/// (and none could anyway: nothing is written through a link).
fn restore_symlinks(
    beneath: &Beneath,
    base: &Path,
    symlinks: &[OutputSymlink],
) -> Result<(), StoreError> {
    for link in symlinks {
        beneath.symlink(&base.join(relative(&link.path)?), &link.target)?;
    }
    Ok(())
}

/// `path` as a path below the workspace root. Action results may come from a remote store,
/// so a path that is absolute or climbs out with `..` is refused rather than written to.
fn relative(path: &str) -> Result<&Path, StoreError> {
    let candidate = Path::new(path);
    let inside = !path.is_empty()
        && candidate
            .components()
            .all(|component| matches!(component, Component::Normal(_)));
    if inside {
        Ok(candidate)
    } else {
        Err(StoreError::bad_output(
            path,
            "is not a relative path inside the workspace",
        ))
    }
}

fn link_target(path: &str, absolute: &Path) -> Result<String, StoreError> {
    let target = fs::read_link(absolute).map_err(|e| StoreError::io(absolute, e))?;
    target
        .into_os_string()
        .into_string()
        .map_err(|_| StoreError::bad_output(path, "is a symlink whose target is not UTF-8"))
}

/// A path inside the output directory `directory` as the result records it.
fn utf8(directory: &str, inside: &Path) -> Result<String, StoreError> {
    inside.to_str().map(str::to_string).ok_or_else(|| {
        StoreError::bad_output(
            format!("{directory}/{}", inside.display()),
            "has a name that is not UTF-8",
        )
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    use super::*;
    use crate::store::LocalStore;

    fn remove_any(path: &Path) -> std::io::Result<()> {
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
            Ok(_) => fs::remove_file(path),
            Err(_) => Ok(()),
        }
    }

    struct Workspace {
        dir: tempfile::TempDir,
        store: LocalStore,
    }

    impl Workspace {
        fn new() -> Workspace {
            let dir = tempfile::tempdir().unwrap();
            let store = LocalStore::in_workspace(dir.path()).unwrap();
            Workspace { dir, store }
        }

        fn root(&self) -> &Path {
            self.dir.path()
        }

        fn write(&self, path: &str, bytes: &[u8]) {
            let path = self.root().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, bytes).unwrap();
        }

        fn read(&self, path: &str) -> Vec<u8> {
            fs::read(self.root().join(path)).unwrap()
        }

        fn save(&self, declared: &[(&str, bool)]) -> Result<ActionResult, StoreError> {
            let (output_files, output_symlinks, output_directories) =
                save_outputs(&self.store, self.root(), declared, &StatCache::in_memory())?;
            Ok(ActionResult {
                output_files,
                output_symlinks,
                output_directories,
                ..ActionResult::default()
            })
        }

        fn restore(&self, result: &ActionResult, mode: LinkMode) {
            restore_outputs(&self.store, self.root(), result, mode).unwrap();
        }
    }

    /// A step's outputs: a model file, an executable, a symlink, and a directory with
    /// nested directories, an empty one, an executable and a symlink inside.
    fn produce(workspace: &Workspace) {
        workspace.write("model.bin", b"weights");
        workspace.write("bin/predict", b"#!/bin/sh\n");
        let root = workspace.root();
        fs::set_permissions(root.join("bin/predict"), fs::Permissions::from_mode(0o755)).unwrap();
        symlink("model.bin", root.join("latest")).unwrap();
        workspace.write("data/train/0.csv", b"a,b\n1,2\n");
        workspace.write("data/train/1.csv", b"a,b\n3,4\n");
        workspace.write("data/test/deep/0.csv", b"a,b\n5,6\n");
        workspace.write("data/prepare.sh", b"#!/bin/sh\n");
        fs::set_permissions(
            root.join("data/prepare.sh"),
            fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        fs::create_dir_all(root.join("data/empty/also-empty")).unwrap();
        symlink("train/0.csv", root.join("data/first.csv")).unwrap();
    }

    const DECLARED: &[(&str, bool)] = &[
        ("model.bin", false),
        ("bin/predict", false),
        ("latest", false),
        ("data/", true),
    ];

    #[test]
    fn outputs_round_trip_in_every_mode() {
        let workspace = Workspace::new();
        produce(&workspace);
        let result = workspace.save(DECLARED).unwrap();
        let root = workspace.root();
        let tree_before = hash_tree(&root.join("data"), &StatCache::in_memory()).unwrap();

        let files: Vec<(&str, bool)> = result
            .output_files
            .iter()
            .map(|f| (f.path.as_str(), f.executable))
            .collect();
        assert_eq!(files, [("model.bin", false), ("bin/predict", true)]);
        assert_eq!(result.output_files[0].size, 7);
        assert_eq!(
            result.output_symlinks,
            [OutputSymlink {
                path: "latest".to_string(),
                target: "model.bin".to_string()
            }]
        );
        let data = &result.output_directories[0];
        assert_eq!(data.path, "data");
        assert_eq!(data.tree_digest, tree_before.digest);
        let inside: Vec<&str> = data.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            inside,
            [
                "prepare.sh",
                "test/deep/0.csv",
                "train/0.csv",
                "train/1.csv"
            ]
        );
        assert_eq!(data.empty_directories, ["empty/also-empty"]);
        assert_eq!(data.symlinks[0].path, "first.csv");
        for digest in result.blobs() {
            assert!(workspace.store.contains_blob(&digest).unwrap());
        }

        for mode in LinkMode::ALL {
            for path in ["model.bin", "bin", "latest", "data"] {
                remove_any(&root.join(path)).unwrap();
            }
            workspace.restore(&result, mode);
            assert_eq!(workspace.read("model.bin"), b"weights", "{mode:?}");
            assert_eq!(workspace.read("bin/predict"), b"#!/bin/sh\n");
            let predict = fs::metadata(root.join("bin/predict")).unwrap();
            assert_ne!(predict.mode() & 0o100, 0, "{mode:?}: executable");
            assert_eq!(
                fs::read_link(root.join("latest")).unwrap(),
                Path::new("model.bin")
            );
            assert_eq!(workspace.read("data/first.csv"), b"a,b\n1,2\n", "{mode:?}");
            assert!(root.join("data/empty/also-empty").is_dir());
            let tree = hash_tree(&root.join("data"), &StatCache::in_memory()).unwrap();
            assert_eq!(tree.digest, data.tree_digest, "{mode:?}: the same tree");
        }
    }

    #[test]
    fn a_restored_directory_is_replaced_whole() {
        let workspace = Workspace::new();
        produce(&workspace);
        let result = workspace.save(DECLARED).unwrap();
        for mode in LinkMode::ALL {
            // A later run of the step, which starts by clearing its outputs: writing into
            // a hardlinked output in place would write into the store (see below).
            clear_outputs(workspace.root(), DECLARED).unwrap();
            assert!(!workspace.root().join("data").exists());
            assert!(!workspace.root().join("latest").exists());
            workspace.write("data/stale.csv", b"from a later run");
            workspace.write("data/train/0.csv", b"modified");
            workspace.write("model.bin", b"modified");
            symlink("elsewhere", workspace.root().join("latest")).unwrap();
            workspace.restore(&result, mode);
            assert!(
                !workspace.root().join("data/stale.csv").exists(),
                "{mode:?}"
            );
            assert_eq!(workspace.read("data/train/0.csv"), b"a,b\n1,2\n");
            assert_eq!(workspace.read("model.bin"), b"weights");
            let tree = hash_tree(&workspace.root().join("data"), &StatCache::in_memory());
            assert_eq!(
                tree.unwrap().digest,
                result.output_directories[0].tree_digest
            );
        }
        // The store kept its bytes through every write above.
        let model = &result.output_files[0];
        let blob = fs::read(workspace.store.blob_path(&model.digest)).unwrap();
        assert_eq!(blob, b"weights");
    }

    #[test]
    fn a_directory_is_made_beneath_the_root_and_never_through_a_symlink() {
        let workspace = Workspace::new();
        create_dir_beneath(workspace.root(), "a/b").unwrap();
        assert!(workspace.root().join("a/b").is_dir());
        create_dir_beneath(workspace.root(), ".").unwrap();
        let outside = tempfile::tempdir().unwrap();
        symlink(outside.path(), workspace.root().join("link")).unwrap();
        assert!(create_dir_beneath(workspace.root(), "link/x").is_err());
        assert!(!outside.path().join("x").exists());
        assert!(create_dir_beneath(workspace.root(), "../x").is_err());
    }

    #[test]
    fn a_listing_is_what_saving_records_without_storing_anything() {
        let workspace = Workspace::new();
        produce(&workspace);
        let absolute = workspace.root().join("data");
        let tree = hash_tree(&absolute, &StatCache::in_memory()).unwrap();
        let listed = list_directory("data", &absolute, &tree).unwrap();
        for file in &listed.files {
            assert!(!workspace.store.contains_blob(&file.digest).unwrap());
        }
        let saved = workspace.save(&[("data/", true)]).unwrap();
        assert_eq!(listed, saved.output_directories[0]);
    }

    #[test]
    fn an_empty_output_directory_round_trips() {
        let workspace = Workspace::new();
        fs::create_dir_all(workspace.root().join("out")).unwrap();
        let result = workspace.save(&[("out/", true)]).unwrap();
        fs::remove_dir(workspace.root().join("out")).unwrap();
        workspace.restore(&result, LinkMode::default());
        assert!(workspace.root().join("out").is_dir());
    }

    #[test]
    fn a_missing_declared_output_is_an_error_naming_it() {
        let workspace = Workspace::new();
        workspace.write("model.bin", b"weights");
        for declared in [("metrics/summary.json", false), ("plots/", true)] {
            let error = workspace
                .save(&[("model.bin", false), declared])
                .unwrap_err();
            let path = declared.0.trim_end_matches('/');
            assert!(
                matches!(&error, StoreError::MissingOutput { path: p } if p == path),
                "{error}"
            );
            assert!(error.to_string().contains(path));
        }
    }

    #[test]
    fn a_directory_declared_as_a_file_and_the_reverse_are_errors() {
        let workspace = Workspace::new();
        workspace.write("dir/file", b"x");
        workspace.write("file", b"x");
        let error = workspace.save(&[("dir", false)]).unwrap_err();
        assert!(error.to_string().contains("trailing `/`"), "{error}");
        let error = workspace.save(&[("file/", true)]).unwrap_err();
        assert!(error.to_string().contains("is not one"), "{error}");
    }

    /// Action results may come from a remote store: their paths must stay in the workspace.
    #[test]
    fn result_paths_leaving_the_workspace_are_refused() {
        let workspace = Workspace::new();
        let digest = workspace.store.put_bytes(b"x").unwrap();
        for path in ["../escape", "/etc/escape", "a/../../escape", ""] {
            let result = ActionResult {
                output_files: vec![OutputFile {
                    path: path.to_string(),
                    digest,
                    size: 1,
                    executable: false,
                }],
                ..ActionResult::default()
            };
            let error =
                restore_outputs(&workspace.store, workspace.root(), &result, LinkMode::Copy)
                    .unwrap_err();
            assert!(
                matches!(error, StoreError::BadOutput { .. }),
                "{path}: {error}"
            );
        }
        assert!(!workspace.root().join("../escape").exists());
    }
}
