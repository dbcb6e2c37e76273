//! Changing the workspace without ever following a symlink.
//!
//! Outputs are cleared and put back by paths that come from the manifest and from action
//! results, through directories that are whatever the steps left there. A step may leave
//! `out -> /tmp/elsewhere` behind; a remote's entry may list a file below a symlink it also
//! lists. Resolving such a path the ordinary way would delete or write through the link: into
//! a source file, into `.git`, or outside the workspace. So every directory on the way is
//! opened relative to its parent without following a link (one `openat2` with
//! `RESOLVE_NO_SYMLINKS` where the kernel has it, else a component at a time with
//! `O_NOFOLLOW`), and what is done to the last component is an `*at` call on that directory
//! that does not follow it either. A symlink in the way is an error that names it; the
//! workspace root itself is opened as given.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{AtFlags, CWD, Dir, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::error::StoreError;

/// The workspace root, opened once, below which paths are resolved.
pub(crate) struct Beneath {
    root: OwnedFd,
    root_path: PathBuf,
}

/// A name in a directory that was opened without following symlinks: where one file is put,
/// replaced or removed. `shown` is its path for messages.
pub struct Place<'a> {
    pub(crate) dir: BorrowedFd<'a>,
    pub(crate) name: &'a OsStr,
    pub(crate) shown: &'a Path,
}

/// Set once `openat2` turned out to be missing (old kernels, some seccomp profiles).
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

impl Beneath {
    pub(crate) fn open(root: &Path) -> Result<Beneath, StoreError> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let root_fd = rustix::fs::open(root, flags, Mode::empty())
            .map_err(|e| StoreError::io(root, e.into()))?;
        Ok(Beneath {
            root: root_fd,
            root_path: root.to_path_buf(),
        })
    }

    pub(crate) fn shown(&self, relative: &Path) -> PathBuf {
        self.root_path.join(relative)
    }

    /// The directory at `relative` (made of plain names only), every component of it a real
    /// directory. A missing one is created when `create` is set, else `None` is returned:
    /// nothing can be there.
    pub(crate) fn dir(&self, relative: &Path, create: bool) -> Result<Option<OwnedFd>, StoreError> {
        if relative.as_os_str().is_empty() {
            return self.reopen_root().map(Some);
        }
        if !NO_OPENAT2.load(Ordering::Relaxed) {
            let resolve = ResolveFlags::NO_SYMLINKS | ResolveFlags::BENEATH;
            match rustix::fs::openat2(&self.root, relative, DIR_FLAGS, Mode::empty(), resolve) {
                Ok(fd) => return Ok(Some(fd)),
                Err(Errno::NOSYS | Errno::PERM) => NO_OPENAT2.store(true, Ordering::Relaxed),
                // The walk tells which component is missing or in the way.
                Err(_) => {}
            }
        }
        self.walk(relative, create)
    }

    fn reopen_root(&self) -> Result<OwnedFd, StoreError> {
        rustix::fs::openat(&self.root, ".", DIR_FLAGS, Mode::empty())
            .map_err(|e| StoreError::io(&self.root_path, e.into()))
    }

    fn walk(&self, relative: &Path, create: bool) -> Result<Option<OwnedFd>, StoreError> {
        let mut dir = self.reopen_root()?;
        let mut so_far = PathBuf::new();
        for component in relative.components() {
            let Component::Normal(name) = component else {
                return Err(StoreError::bad_output(
                    relative.display().to_string(),
                    "is not a relative path inside the workspace",
                ));
            };
            so_far.push(name);
            let mut opened = rustix::fs::openat(&dir, name, DIR_FLAGS, Mode::empty());
            if matches!(opened, Err(Errno::NOENT)) {
                if !create {
                    return Ok(None);
                }
                match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o777)) {
                    // Another thread of this build may have made it meanwhile.
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(StoreError::io(self.shown(&so_far), e.into())),
                }
                opened = rustix::fs::openat(&dir, name, DIR_FLAGS, Mode::empty());
            }
            dir = match opened {
                Ok(child) => child,
                Err(Errno::LOOP | Errno::NOTDIR) => {
                    return Err(in_the_way(dir.as_fd(), name, &so_far));
                }
                Err(e) => return Err(StoreError::io(self.shown(&so_far), e.into())),
            };
        }
        Ok(Some(dir))
    }

    /// Creates the directory `relative` and every missing one above it.
    pub(crate) fn create_dir_all(&self, relative: &Path) -> Result<(), StoreError> {
        self.dir(relative, true).map(drop)
    }

    /// Removes whatever is at `relative`: a file, a symlink (not what it points to) or a whole
    /// directory; nothing there is fine.
    pub(crate) fn remove(&self, relative: &Path) -> Result<(), StoreError> {
        let (parent, name) = split(relative)?;
        let Some(dir) = self.dir(parent, false)? else {
            return Ok(());
        };
        remove_at(dir.as_fd(), name).map_err(|e| StoreError::io(self.shown(relative), e))
    }

    /// What is at `relative`, not following a symlink there; `None` when nothing is.
    pub(crate) fn lstat(&self, relative: &Path) -> Result<Option<FileType>, StoreError> {
        let (parent, name) = split(relative)?;
        let Some(dir) = self.dir(parent, false)? else {
            return Ok(None);
        };
        match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(Some(FileType::from_raw_mode(stat.st_mode))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(StoreError::io(self.shown(relative), e.into())),
        }
    }

    /// Makes `relative` a symlink to `target`, replacing what is there.
    pub(crate) fn symlink(&self, relative: &Path, target: &str) -> Result<(), StoreError> {
        let (parent, name) = split(relative)?;
        let shown = self.shown(relative);
        let dir = self.dir(parent, true)?.ok_or_else(|| missing(&shown))?;
        remove_at(dir.as_fd(), name).map_err(|e| StoreError::io(&shown, e))?;
        rustix::fs::symlinkat(target, &dir, name).map_err(|e| StoreError::io(&shown, e.into()))
    }
}

fn missing(shown: &Path) -> StoreError {
    StoreError::io(shown, io::ErrorKind::NotFound.into())
}

/// The directory part and the last name of a relative path.
pub(crate) fn split(relative: &Path) -> Result<(&Path, &OsStr), StoreError> {
    match (relative.parent(), relative.file_name()) {
        (Some(parent), Some(name)) => Ok((parent, name)),
        _ => Err(StoreError::bad_output(
            relative.display().to_string(),
            "is not a relative path inside the workspace",
        )),
    }
}

/// Why `name` in `dir` cannot be gone through: a symlink (named with its target) or a file.
fn in_the_way(dir: BorrowedFd, name: &OsStr, shown: &Path) -> StoreError {
    let path = shown.display().to_string();
    match rustix::fs::readlinkat(dir, name, Vec::new()) {
        Ok(target) => StoreError::bad_output(
            path,
            format!(
                "is a symlink (to `{}`), and zenbuild never writes or deletes through a symlink: \
                 remove it, or make it a directory",
                target.to_string_lossy()
            ),
        ),
        Err(_) => StoreError::bad_output(path, "is in the way: it is a file, not a directory"),
    }
}

/// Removes `name` in `dir`, whatever it is, never following a symlink; nothing there is fine.
pub(crate) fn remove_at(dir: BorrowedFd, name: &OsStr) -> io::Result<()> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(Errno::ISDIR | Errno::PERM) => remove_tree(dir, name),
        Err(e) => Err(e.into()),
    }
}

/// Removes the directory `name` in `parent` with everything below it. Depth first on a stack
/// of open directories rather than by recursion, so that no depth of tree overflows the stack;
/// each directory is opened with `O_NOFOLLOW`, so a symlink inside is removed, never entered.
fn remove_tree(parent: BorrowedFd, name: &OsStr) -> io::Result<()> {
    let top = match rustix::fs::openat(parent, name, DIR_FLAGS, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut stack: Vec<(OwnedFd, OsString)> = vec![(top, name.to_os_string())];
    while let Some((dir, _)) = stack.last() {
        if let Some(sub) = first_subdirectory_after_removing_the_rest(dir.as_fd())? {
            let child = rustix::fs::openat(dir, &sub, DIR_FLAGS, Mode::empty())?;
            stack.push((child, sub));
        } else {
            let Some((emptied, emptied_name)) = stack.pop() else {
                break;
            };
            drop(emptied);
            let holder = stack.last().map_or(parent, |(fd, _)| fd.as_fd());
            match rustix::fs::unlinkat(holder, &emptied_name, AtFlags::REMOVEDIR) {
                Ok(()) | Err(Errno::NOENT) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// Unlinks every entry of `dir` that is not a directory, up to the first directory, which it
/// returns for the caller to empty first.
fn first_subdirectory_after_removing_the_rest(dir: BorrowedFd) -> io::Result<Option<OsString>> {
    for entry in Dir::read_from(dir)? {
        let entry = entry?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name == "." || name == ".." {
            continue;
        }
        let is_dir = match entry.file_type() {
            FileType::Directory => true,
            FileType::Unknown => rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|stat| FileType::from_raw_mode(stat.st_mode) == FileType::Directory),
            _ => false,
        };
        if is_dir {
            return Ok(Some(name.to_os_string()));
        }
        match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

/// A file created in a workspace directory under a temporary name, renamed to its real name
/// once complete; removed if dropped before that.
pub(crate) struct TempAt<'a> {
    dir: BorrowedFd<'a>,
    name: Option<OsString>,
}

impl<'a> TempAt<'a> {
    /// A new empty file in `dir`, open for reading and writing, created with `mode`.
    pub(crate) fn create(dir: BorrowedFd<'a>, mode: u32) -> io::Result<(TempAt<'a>, File)> {
        let flags =
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        loop {
            let name = OsString::from(super::temp::unique_name());
            match rustix::fs::openat(dir, &name, flags, Mode::from_raw_mode(mode)) {
                Ok(fd) => {
                    let temp = TempAt {
                        dir,
                        name: Some(name),
                    };
                    return Ok((temp, File::from(fd)));
                }
                Err(Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// A new hard link to `original` in `dir`.
    pub(crate) fn hard_link(original: &Path, dir: BorrowedFd<'a>) -> io::Result<TempAt<'a>> {
        loop {
            let name = OsString::from(super::temp::unique_name());
            match rustix::fs::linkat(CWD, original, dir, &name, AtFlags::empty()) {
                Ok(()) => {
                    return Ok(TempAt {
                        dir,
                        name: Some(name),
                    });
                }
                Err(Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Renames the file to `place`, replacing a file or symlink there.
    pub(crate) fn persist(mut self, place: &Place) -> io::Result<()> {
        let Some(name) = self.name.take() else {
            return Ok(());
        };
        let renamed = rustix::fs::renameat(self.dir, &name, place.dir, place.name);
        if renamed.is_err() {
            let _ = rustix::fs::unlinkat(self.dir, &name, AtFlags::empty());
        }
        renamed.map_err(Into::into)
    }
}

impl Drop for TempAt<'_> {
    fn drop(&mut self) {
        if let Some(name) = self.name.take() {
            let _ = rustix::fs::unlinkat(self.dir, &name, AtFlags::empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::symlink;

    use super::*;

    fn workspace() -> (tempfile::TempDir, tempfile::TempDir, Beneath) {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let beneath = Beneath::open(root.path()).unwrap();
        (root, outside, beneath)
    }

    #[test]
    fn directories_are_created_and_found() {
        let (root, _outside, beneath) = workspace();
        beneath.create_dir_all(Path::new("a/b/c")).unwrap();
        assert!(root.path().join("a/b/c").is_dir());
        assert!(beneath.dir(Path::new("a/b"), false).unwrap().is_some());
        assert!(beneath.dir(Path::new("a/x"), false).unwrap().is_none());
    }

    /// The defect this module exists for: a step left `out -> outside`, and clearing or
    /// restoring `out/data/` went through it.
    #[test]
    fn a_symlinked_directory_on_the_way_is_never_gone_through() {
        let (root, outside, beneath) = workspace();
        fs::create_dir_all(outside.path().join("data")).unwrap();
        fs::write(outside.path().join("data/keep.txt"), b"precious").unwrap();
        symlink(outside.path(), root.path().join("out")).unwrap();

        let error = beneath.remove(Path::new("out/data")).unwrap_err();
        assert!(error.to_string().contains("is a symlink"), "{error}");
        let error = beneath
            .create_dir_all(Path::new("out/data/new"))
            .unwrap_err();
        assert!(error.to_string().contains("`out` is a symlink"), "{error}");
        let error = beneath.symlink(Path::new("out/data/l"), "x").unwrap_err();
        assert!(error.to_string().contains("symlink"), "{error}");
        assert_eq!(
            fs::read(outside.path().join("data/keep.txt")).unwrap(),
            b"precious"
        );
        assert!(!outside.path().join("data/new").exists());
        assert!(!outside.path().join("data/l").exists());
    }

    #[test]
    fn removing_a_tree_removes_symlinks_inside_not_their_targets() {
        let (root, outside, beneath) = workspace();
        fs::write(outside.path().join("keep.txt"), b"precious").unwrap();
        fs::create_dir_all(root.path().join("out/deep/er")).unwrap();
        fs::write(root.path().join("out/deep/er/f"), b"x").unwrap();
        fs::write(root.path().join("out/g"), b"x").unwrap();
        symlink(outside.path(), root.path().join("out/deep/link")).unwrap();
        beneath.remove(Path::new("out")).unwrap();
        assert!(!root.path().join("out").exists());
        assert_eq!(
            fs::read(outside.path().join("keep.txt")).unwrap(),
            b"precious"
        );
        // The link itself as the thing removed: the link goes, the target stays.
        symlink(outside.path(), root.path().join("top")).unwrap();
        beneath.remove(Path::new("top")).unwrap();
        assert!(fs::symlink_metadata(root.path().join("top")).is_err());
        assert!(outside.path().join("keep.txt").exists());
        // Nothing there is fine.
        beneath.remove(Path::new("never/was")).unwrap();
    }

    #[test]
    fn a_deep_tree_is_removed_without_recursion() {
        let (root, _outside, beneath) = workspace();
        let mut deep = root.path().join("deep");
        for _ in 0..300 {
            deep.push("d");
        }
        fs::create_dir_all(&deep).unwrap();
        fs::write(deep.join("f"), b"x").unwrap();
        beneath.remove(Path::new("deep")).unwrap();
        assert!(!root.path().join("deep").exists());
    }

    #[test]
    fn the_walk_without_openat2_finds_the_same() {
        let (root, outside, beneath) = workspace();
        symlink(outside.path(), root.path().join("link")).unwrap();
        fs::write(root.path().join("file"), b"x").unwrap();
        assert!(beneath.walk(Path::new("a/b"), true).unwrap().is_some());
        assert!(root.path().join("a/b").is_dir());
        assert!(beneath.walk(Path::new("c"), false).unwrap().is_none());
        let error = beneath.walk(Path::new("link/x"), true).unwrap_err();
        assert!(error.to_string().contains("is a symlink"), "{error}");
        let error = beneath.walk(Path::new("file/x"), true).unwrap_err();
        assert!(error.to_string().contains("is in the way"), "{error}");
        assert!(beneath.walk(Path::new("../x"), true).is_err());
    }

    #[test]
    fn a_temporary_file_is_renamed_into_place_or_removed() {
        let (root, _outside, beneath) = workspace();
        let dir = beneath.dir(Path::new("d"), true).unwrap().unwrap();
        let (temp, file) = TempAt::create(dir.as_fd(), 0o644).unwrap();
        drop(file);
        let shown = root.path().join("d/final");
        let place = Place {
            dir: dir.as_fd(),
            name: OsStr::new("final"),
            shown: &shown,
        };
        temp.persist(&place).unwrap();
        assert!(shown.is_file());
        let (temp, _file) = TempAt::create(dir.as_fd(), 0o644).unwrap();
        drop(temp);
        assert_eq!(fs::read_dir(root.path().join("d")).unwrap().count(), 1);
    }
}
