//! Putting a blob back at a path in the workspace, the way the user chose.
//!
//! Every restore checks the blob's digest, because the store cannot know what happened to a
//! file since it was written: a power cut may have torn it, and a hardlinked output written
//! through (by root, or after a `chmod +w`) changes the blob itself. A blob that fails the
//! check is removed from the store and reported as corrupt, so the caller runs the step again
//! instead of restoring wrong bytes.
//!
//! The new file is built under a temporary name (in the store's `tmp/` when it is on the same
//! file system and may be written, else beside the destination) and renamed over the
//! destination, which is a name in a directory opened without following symlinks
//! ([`super::beneath`]). So whatever
//! was there is replaced, never written into: an old output that is a hard link into the
//! store keeps the store's bytes intact, and a killed restore leaves the old file or the new
//! one, never half of one.

use std::fs::{self, File};
use std::io::{self, Seek, SeekFrom};
use std::os::fd::BorrowedFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use rustix::fs::{AtFlags, FileType};

use super::beneath::{Place, TempAt, remove_at};
use super::copy::{copy_hashing, hash_open};
use super::error::StoreError;
use super::temp::TempPath;
use crate::hash::{Digest, hash_file};

/// How an output is put back from the store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkMode {
    /// Clone the blob copy-on-write where the file system can (btrfs, XFS), else copy it.
    /// Either way the output is an independent, writable file.
    #[default]
    Reflink,
    /// Hard-link the blob: no bytes are written, but outputs are the store's own read-only
    /// files (0444). Tools that replace a file work; writing into one in place fails, except
    /// as root, where it changes the blob (the next restore notices and drops it). An
    /// executable output is copied instead (0555), because the mode belongs to the inode and
    /// the store keeps bytes only, shared by executable and plain outputs alike.
    Hardlink,
    /// Copy the bytes into an independent, writable file.
    Copy,
}

impl LinkMode {
    /// Every mode, in the order `--help` and the manifest's diagnostics list them.
    pub const ALL: [LinkMode; 3] = [LinkMode::Reflink, LinkMode::Hardlink, LinkMode::Copy];

    /// The name the manifest's `link` and `--link` take.
    pub fn name(self) -> &'static str {
        match self {
            LinkMode::Reflink => "reflink",
            LinkMode::Hardlink => "hardlink",
            LinkMode::Copy => "copy",
        }
    }
}

impl std::str::FromStr for LinkMode {
    type Err = String;

    fn from_str(name: &str) -> Result<LinkMode, String> {
        LinkMode::ALL
            .into_iter()
            .find(|mode| mode.name() == name)
            .ok_or_else(|| format!("unknown link mode `{name}`"))
    }
}

/// Permissions of a writable restored file, less the umask, as if the step had written it.
const WRITABLE: u32 = 0o666;
const WRITABLE_EXECUTABLE: u32 = 0o777;
/// Permissions in hardlink mode, where outputs are read-only whether linked or copied.
const READ_ONLY: u32 = 0o444;
const READ_ONLY_EXECUTABLE: u32 = 0o555;

/// Restores `blob`, stored under `digest`, to `place`, replacing whatever is there.
/// `temp_dir` is the store's directory for temporary files.
pub(crate) fn restore_file(
    blob: &Path,
    digest: &Digest,
    place: &Place,
    executable: bool,
    mode: LinkMode,
    temp_dir: &Path,
) -> Result<(), StoreError> {
    let staging = Staging::for_place(place, temp_dir);
    let staged = match (mode, executable) {
        (LinkMode::Hardlink, false) => match link(blob, digest, place, &staging)? {
            Linked::AlreadyThere => return Ok(()),
            Linked::Staged(staged) => staged,
            Linked::Refused => copy(blob, digest, &staging, READ_ONLY)?,
        },
        (LinkMode::Hardlink, true) => copy(blob, digest, &staging, READ_ONLY_EXECUTABLE)?,
        (LinkMode::Reflink, _) => clone_or_copy(blob, digest, &staging, writable(executable))?,
        (LinkMode::Copy, _) => copy(blob, digest, &staging, writable(executable))?,
    };
    replace(staged, place)
}

fn writable(executable: bool) -> u32 {
    if executable {
        WRITABLE_EXECUTABLE
    } else {
        WRITABLE
    }
}

/// Where the new file is built before it is renamed into place: in the store's `tmp/` when
/// that is on the destination's file system (a rename never crosses one), else in the
/// destination's own directory; and there too when the store cannot be written (a cache
/// shared read-only), since restoring only reads it.
struct Staging<'a> {
    store: Option<&'a Path>,
    beside: BorrowedFd<'a>,
}

enum Staged<'a> {
    InStore(TempPath),
    Beside(TempAt<'a>),
}

impl<'a> Staging<'a> {
    fn for_place(place: &Place<'a>, temp_dir: &'a Path) -> Staging<'a> {
        let same_device = match (rustix::fs::fstat(place.dir), fs::metadata(temp_dir)) {
            (Ok(dir), Ok(temp)) => dir.st_dev == temp.dev(),
            _ => false,
        };
        Staging {
            store: same_device.then_some(temp_dir),
            beside: place.dir,
        }
    }

    fn create(&self, mode: u32, shown: &Path) -> Result<(Staged<'a>, File), StoreError> {
        if let Some(temp_dir) = self.store {
            match TempPath::create(temp_dir, mode) {
                Ok((staged, file)) => return Ok((Staged::InStore(staged), file)),
                Err(e) if !read_only(&e) => return Err(e),
                Err(_) => {}
            }
        }
        TempAt::create(self.beside, mode)
            .map(|(staged, file)| (Staged::Beside(staged), file))
            .map_err(|e| StoreError::io(shown, e))
    }

    /// A new hard link to `blob`; the error is returned bare so that the caller can copy.
    fn hard_link(&self, blob: &Path) -> io::Result<Staged<'a>> {
        if let Some(temp_dir) = self.store {
            match TempPath::hard_link(blob, temp_dir) {
                Ok(staged) => return Ok(Staged::InStore(staged)),
                Err(e) if !is_read_only(&e) => return Err(e),
                Err(_) => {}
            }
        }
        TempAt::hard_link(blob, self.beside).map(Staged::Beside)
    }
}

impl Staged<'_> {
    fn path_for_errors<'p>(&'p self, shown: &'p Path) -> &'p Path {
        match self {
            Staged::InStore(staged) => staged.path(),
            Staged::Beside(_) => shown,
        }
    }
}

/// Whether creating a file in the store failed because the store may not be written.
fn read_only(error: &StoreError) -> bool {
    matches!(error, StoreError::Io { source, .. } if is_read_only(source))
}

fn is_read_only(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    )
}

enum Linked<'a> {
    /// The destination already is this blob.
    AlreadyThere,
    Staged(Staged<'a>),
    /// The file system would not link (another device, too many links): copy instead.
    Refused,
}

/// Hashes the blob, then links it. The check reads the whole blob, which is what makes a
/// hardlinked output as trustworthy as a copied one.
fn link<'a>(
    blob: &Path,
    digest: &Digest,
    place: &Place,
    staging: &Staging<'a>,
) -> Result<Linked<'a>, StoreError> {
    let actual = match hash_file(blob) {
        Ok(file) => file.digest,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(StoreError::MissingBlob { digest: *digest });
        }
        Err(e) => return Err(StoreError::io(blob, e)),
    };
    if actual != *digest {
        return Err(corrupt(blob, digest, actual));
    }
    // Renaming a link over another link to the same file would do nothing and leave the
    // temporary name behind; there is nothing to do anyway.
    if same_file(blob, place) {
        return Ok(Linked::AlreadyThere);
    }
    Ok(match staging.hard_link(blob) {
        Ok(staged) => Linked::Staged(staged),
        Err(_) => Linked::Refused,
    })
}

fn copy<'a>(
    blob: &Path,
    digest: &Digest,
    staging: &Staging<'a>,
    mode: u32,
) -> Result<Staged<'a>, StoreError> {
    let mut source = open_blob(blob, digest)?;
    let shown = Path::new("(staged restore)");
    let (staged, mut file) = staging.create(mode, shown)?;
    let (actual, _) = copy_hashing(&mut source, blob, &mut file, staged.path_for_errors(shown))?;
    if actual != *digest {
        return Err(corrupt(blob, digest, actual));
    }
    Ok(staged)
}

/// Clones the blob, then hashes the clone: the same bytes as the blob, and on a file system
/// without reflinks the copy that follows reads the blob only once.
fn clone_or_copy<'a>(
    blob: &Path,
    digest: &Digest,
    staging: &Staging<'a>,
    mode: u32,
) -> Result<Staged<'a>, StoreError> {
    let mut source = open_blob(blob, digest)?;
    let shown = Path::new("(staged restore)");
    let (staged, mut file) = staging.create(mode, shown)?;
    let at = staged.path_for_errors(shown).to_path_buf();
    let actual = if reflink_copy::reflink_file(&source, &file).is_ok() {
        rewind(&mut file, &at)?;
        hash_open(&mut file, &at)?.0
    } else {
        // A failed clone leaves the target's content unspecified: start both files over.
        file.set_len(0).map_err(|e| StoreError::io(&at, e))?;
        rewind(&mut file, &at)?;
        rewind(&mut source, blob)?;
        copy_hashing(&mut source, blob, &mut file, &at)?.0
    };
    if actual != *digest {
        return Err(corrupt(blob, digest, actual));
    }
    Ok(staged)
}

fn open_blob(blob: &Path, digest: &Digest) -> Result<File, StoreError> {
    File::open(blob).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => StoreError::MissingBlob { digest: *digest },
        _ => StoreError::io(blob, e),
    })
}

fn rewind(file: &mut File, path: &Path) -> Result<(), StoreError> {
    file.seek(SeekFrom::Start(0))
        .map(drop)
        .map_err(|e| StoreError::io(path, e))
}

/// Removes the bad blob so that no later restore trusts it, and says so. Removal is best
/// effort: if it fails, the next restore finds the blob bad again.
fn corrupt(blob: &Path, digest: &Digest, actual: Digest) -> StoreError {
    let _ = fs::remove_file(blob);
    StoreError::CorruptBlob {
        digest: *digest,
        actual,
    }
}

/// Puts the staged file at `place`. A file or symlink there is replaced by the rename itself;
/// a directory has to go first (removed without following any link inside it).
fn replace(staged: Staged, place: &Place) -> Result<(), StoreError> {
    let is_dir = rustix::fs::statat(place.dir, place.name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|stat| FileType::from_raw_mode(stat.st_mode) == FileType::Directory);
    if is_dir {
        remove_at(place.dir, place.name).map_err(|e| StoreError::io(place.shown, e))?;
    }
    match staged {
        Staged::Beside(staged) => staged
            .persist(place)
            .map_err(|e| StoreError::io(place.shown, e)),
        Staged::InStore(staged) => staged.persist_at(place),
    }
}

fn same_file(blob: &Path, place: &Place) -> bool {
    match (
        fs::symlink_metadata(blob),
        rustix::fs::statat(place.dir, place.name, AtFlags::SYMLINK_NOFOLLOW),
    ) {
        (Ok(a), Ok(b)) => a.dev() == b.st_dev && a.ino() == b.st_ino,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::store::{LocalStore, Store};

    /// Restores through a [`Place`] in `destination`'s directory, as `restore_outputs` does.
    pub(super) fn restore_to(
        store: &dyn Store,
        digest: &Digest,
        destination: &Path,
        executable: bool,
        mode: LinkMode,
    ) -> Result<(), StoreError> {
        let parent = destination.parent().unwrap();
        fs::create_dir_all(parent).unwrap();
        let beneath = crate::store::beneath::Beneath::open(parent).unwrap();
        let dir = beneath.dir(Path::new(""), false).unwrap().unwrap();
        let place = Place {
            dir: std::os::fd::AsFd::as_fd(&dir),
            name: destination.file_name().unwrap(),
            shown: destination,
        };
        store.restore_blob(digest, &place, executable, mode)
    }

    fn store() -> (tempfile::TempDir, LocalStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(crate::workspace::StateDir::of(dir.path()).cache()).unwrap();
        (dir, store)
    }

    fn mode_of(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn inode(path: &Path) -> u64 {
        fs::symlink_metadata(path).unwrap().ino()
    }

    fn temp_files(store: &LocalStore) -> usize {
        fs::read_dir(store.temp_dir()).unwrap().count()
    }

    #[test]
    fn link_mode_names_and_default() {
        assert_eq!(LinkMode::default(), LinkMode::Reflink);
        for (mode, name) in LinkMode::ALL.iter().zip(["reflink", "hardlink", "copy"]) {
            assert_eq!(serde_json::to_string(mode).unwrap(), format!("\"{name}\""));
            assert_eq!(name.parse::<LinkMode>().unwrap(), *mode);
            assert_eq!(mode.name(), name);
        }
    }

    /// Hardlink: the store's inode, read-only. Copy, and reflink (which copies on this ext4
    /// disk): a file of its own, writable as if the step had written it.
    #[test]
    fn each_mode_restores_the_bytes_into_parent_directories_it_creates() {
        let (dir, store) = store();
        let digest = store.put_bytes(b"model weights").unwrap();
        let blob = store.blob_path(&digest);
        for mode in LinkMode::ALL {
            let destination = dir.path().join(format!("{mode:?}/nested/model.bin"));
            restore_to(&store, &digest, &destination, false, mode).unwrap();
            assert_eq!(
                fs::read(&destination).unwrap(),
                b"model weights",
                "{mode:?}"
            );
            if mode == LinkMode::Hardlink {
                assert_eq!(inode(&destination), inode(&blob));
                assert_eq!(mode_of(&destination), 0o444);
            } else {
                assert_ne!(inode(&destination), inode(&blob), "{mode:?}");
                assert_ne!(mode_of(&destination) & 0o200, 0, "{mode:?} is writable");
                assert_eq!(
                    mode_of(&destination) & 0o111,
                    0,
                    "{mode:?} is not executable"
                );
            }
        }
        assert_eq!(mode_of(&blob), 0o444);
        assert_eq!(temp_files(&store), 0);
    }

    #[test]
    fn the_executable_bit_comes_from_the_result_not_the_blob() {
        let (dir, store) = store();
        let digest = store.put_bytes(b"#!/bin/sh\necho hi\n").unwrap();
        let blob = store.blob_path(&digest);
        for mode in LinkMode::ALL {
            let destination = dir.path().join(format!("{mode:?}.sh"));
            restore_to(&store, &digest, &destination, true, mode).unwrap();
            assert_ne!(mode_of(&destination) & 0o100, 0, "{mode:?}");
            // Even in hardlink mode: the mode is the inode's, so the blob must not change.
            assert_ne!(inode(&destination), inode(&blob), "{mode:?}");
        }
        assert_eq!(mode_of(&dir.path().join("Hardlink.sh")), 0o555);
        assert_eq!(mode_of(&blob), 0o444);
    }

    /// A blob whose bytes do not match its name (a torn write, a write through a hard link)
    /// is reported corrupt, removed from the store, and the destination keeps its old file.
    #[test]
    fn a_corrupt_blob_is_detected_removed_and_restores_nothing() {
        let (dir, store) = store();
        for mode in LinkMode::ALL {
            let digest = store.put_bytes(b"the real bytes").unwrap();
            let blob = store.blob_path(&digest);
            fs::remove_file(&blob).unwrap();
            fs::write(&blob, b"the real").unwrap();
            let destination = dir.path().join("out.bin");
            fs::write(&destination, b"previous output").unwrap();

            let error = restore_to(&store, &digest, &destination, false, mode).unwrap_err();
            assert!(error.is_corrupt(), "{mode:?}: {error}");
            assert!(
                matches!(error, StoreError::CorruptBlob { digest: d, actual } if d == digest && actual == Digest::of(b"the real"))
            );
            assert!(!blob.exists(), "{mode:?}: the corrupt blob is removed");
            assert!(!store.contains_blob(&digest).unwrap());
            assert_eq!(fs::read(&destination).unwrap(), b"previous output");
            assert_eq!(temp_files(&store), 0);
        }
    }

    #[test]
    fn a_missing_blob_is_reported_as_such() {
        let (dir, store) = store();
        let digest = Digest::of(b"never stored");
        for mode in LinkMode::ALL {
            let error =
                restore_to(&store, &digest, &dir.path().join("x"), false, mode).unwrap_err();
            assert!(matches!(error, StoreError::MissingBlob { digest: d } if d == digest));
        }
    }

    /// Whatever is at the destination goes, and the old file is never written into: a
    /// previous hardlinked output is replaced by a rename, so the blob it shares keeps its bytes.
    #[test]
    fn restoring_replaces_the_destination_and_never_writes_into_the_store() {
        let (dir, store) = store();
        let digest = store.put_bytes(b"v1").unwrap();
        let blob = store.blob_path(&digest);
        let destination = dir.path().join("out/model.bin");
        for first in LinkMode::ALL {
            for second in LinkMode::ALL {
                restore_to(&store, &digest, &destination, false, first).unwrap();
                restore_to(&store, &digest, &destination, false, second).unwrap();
                assert_eq!(fs::read(&destination).unwrap(), b"v1");
                assert_eq!(fs::read(&blob).unwrap(), b"v1", "{first:?} then {second:?}");
            }
        }
        assert_eq!(
            temp_files(&store),
            0,
            "a link over the same link leaves nothing behind"
        );

        // A directory, a symlink, a modified copy: each replaced.
        fs::remove_file(&destination).unwrap();
        fs::create_dir_all(destination.join("inside")).unwrap();
        restore_to(&store, &digest, &destination, false, LinkMode::Copy).unwrap();
        assert_eq!(fs::read(&destination).unwrap(), b"v1");
        fs::remove_file(&destination).unwrap();
        std::os::unix::fs::symlink(&blob, &destination).unwrap();
        restore_to(&store, &digest, &destination, false, LinkMode::Copy).unwrap();
        assert!(fs::symlink_metadata(&destination).unwrap().is_file());
        fs::write(&destination, b"edited by hand").unwrap();
        restore_to(&store, &digest, &destination, false, LinkMode::Hardlink).unwrap();
        assert_eq!(fs::read(&destination).unwrap(), b"v1");
        assert_eq!(fs::read(&blob).unwrap(), b"v1");
    }

    /// A hardlinked output is read-only, so writing into it fails; root ignores permissions,
    /// and there the write reaches the blob, which the next restore catches and drops.
    #[test]
    fn writing_into_a_hardlinked_output_fails_or_is_caught() {
        let (dir, store) = store();
        let digest = store.put_bytes(b"pristine").unwrap();
        let destination = dir.path().join("model.bin");
        restore_to(&store, &digest, &destination, false, LinkMode::Hardlink).unwrap();
        match fs::OpenOptions::new().write(true).open(&destination) {
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
                assert_eq!(fs::read(store.blob_path(&digest)).unwrap(), b"pristine");
            }
            Ok(mut file) => {
                file.write_all(b"tampered").unwrap();
                drop(file);
                let again = dir.path().join("again.bin");
                let error =
                    restore_to(&store, &digest, &again, false, LinkMode::Hardlink).unwrap_err();
                assert!(error.is_corrupt());
                assert!(!again.exists());
                assert!(!store.contains_blob(&digest).unwrap());
            }
        }
    }
}

/// Needs a second file system; /dev/shm (tmpfs) is one on most Linux machines.
#[cfg(test)]
mod across_file_systems {
    use super::tests::restore_to;
    use super::*;
    use crate::store::{LocalStore, Store};

    #[test]
    fn a_destination_on_another_file_system_is_staged_beside_it_and_copied_not_linked() {
        let store_dir = tempfile::tempdir().unwrap();
        let Ok(other) = tempfile::tempdir_in("/dev/shm") else {
            return;
        };
        if fs::metadata(store_dir.path()).unwrap().dev()
            == fs::metadata(other.path()).unwrap().dev()
        {
            return;
        }
        let store = LocalStore::open(store_dir.path().join("cache")).unwrap();
        let digest = store.put_bytes(b"far away").unwrap();
        for mode in [LinkMode::Reflink, LinkMode::Hardlink, LinkMode::Copy] {
            let destination = other.path().join(format!("{mode:?}/out.bin"));
            restore_to(&store, &digest, &destination, false, mode).unwrap();
            assert_eq!(fs::read(&destination).unwrap(), b"far away");
            let meta = fs::metadata(&destination).unwrap();
            assert_eq!(meta.nlink(), 1, "{mode:?}: a copy, not a link");
            let left: Vec<_> = fs::read_dir(destination.parent().unwrap())
                .unwrap()
                .collect();
            assert_eq!(left.len(), 1, "{mode:?}: no temporary file left beside it");
        }
        let hardlinked = fs::metadata(other.path().join("Hardlink/out.bin")).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&hardlinked.permissions()) & 0o777,
            0o444,
            "hardlink mode stays read-only when it has to copy"
        );
    }
}
