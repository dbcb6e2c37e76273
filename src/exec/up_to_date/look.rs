//! How the record looks at a path, and the digest of a directory's listing.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::hash::{Digest, Encoder, FileStat};

/// How an entry's path is looked at, and what must still match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Look {
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
    /// `lstat`, device, inode and type, and the digest of the listing: a directory inside a
    /// directory input or output whose signature was too fresh to trust when it was
    /// recorded. Listed again by every check however unchanged its signature looks, until a
    /// check finds it old enough and records it as [`Look::Signature`].
    RacyDir = 5,
    /// `stat` through a symlink, device, inode and type, and the digest of the listing: the
    /// root of a directory input or output whose signature was too fresh to trust, until a
    /// check finds it old enough and records it as [`Look::Followed`].
    RacyFollowed = 6,
}

impl Look {
    pub(super) fn from_u8(value: u8) -> Option<Look> {
        [
            Look::Signature,
            Look::Followed,
            Look::Identity,
            Look::Content,
            Look::Racy,
            Look::RacyDir,
            Look::RacyFollowed,
        ]
        .into_iter()
        .find(|look| *look as u8 == value)
    }

    pub(super) fn stat(self, path: &Path) -> io::Result<FileStat> {
        let meta = match self {
            Look::Followed | Look::RacyFollowed => std::fs::metadata(path)?,
            Look::Signature | Look::Identity | Look::Content | Look::Racy | Look::RacyDir => {
                std::fs::symlink_metadata(path)?
            }
        };
        Ok(FileStat::of(&meta))
    }

    pub(super) fn matches(self, recorded: &FileStat, now: &FileStat) -> bool {
        match self {
            Look::Signature | Look::Followed | Look::Content => recorded == now,
            Look::Identity => recorded.same_object(now),
            // Never taken on their signature alone.
            Look::Racy | Look::RacyDir | Look::RacyFollowed => false,
        }
    }

    /// Whether the entry carries a digest: of the bytes, or of a directory's listing.
    pub(super) fn has_digest(self) -> bool {
        matches!(
            self,
            Look::Content | Look::Racy | Look::RacyDir | Look::RacyFollowed
        )
    }

    /// Whether the entry is checked by its content every time, its signature being too fresh
    /// to trust when it was recorded.
    pub(super) fn is_racy(self) -> bool {
        matches!(self, Look::Racy | Look::RacyDir | Look::RacyFollowed)
    }

    /// How a racy entry is looked at once its signature is old enough to trust: the same
    /// `stat` or `lstat`, taken on its signature (a file keeps its digest to fall back on).
    pub(super) fn settled(self) -> Look {
        match self {
            Look::Racy => Look::Content,
            Look::RacyDir => Look::Signature,
            Look::RacyFollowed => Look::Followed,
            other => other,
        }
    }
}

/// Starts the bytes a directory's listing digest is taken over.
pub(super) const LISTING_HEADER: &[u8] = b"zenbuild listing 1";

/// What a directory's entry is, in its listing. The values are part of the listing digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum EntryType {
    File = 0,
    Dir = 1,
    Symlink = 2,
    /// A fifo, a socket, a device: nothing a tree holds, but a change all the same.
    Other = 3,
}

impl EntryType {
    pub(super) fn of(file_type: std::fs::FileType) -> EntryType {
        if file_type.is_dir() {
            EntryType::Dir
        } else if file_type.is_symlink() {
            EntryType::Symlink
        } else if file_type.is_file() {
            EntryType::File
        } else {
            EntryType::Other
        }
    }

    pub(super) fn of_stat(stat: &FileStat) -> EntryType {
        if stat.is_dir() {
            EntryType::Dir
        } else if stat.is_symlink() {
            EntryType::Symlink
        } else if stat.is_file() {
            EntryType::File
        } else {
            EntryType::Other
        }
    }
}

/// The digest of a directory's listing: the names of its direct entries, each with its type
/// (file, directory, symlink, other), and nothing else (no size, time or content: what is
/// inside has entries of its own). BLAKE3 over the length-prefixed [`LISTING_HEADER`], the
/// entry count, then per entry in the byte order of names, the length-prefixed name and the
/// type as a `u64`. The record takes the names it records below the directory and the types
/// of their signatures; a check takes what `readdir` gives (which asks `lstat` where the file
/// system does not say): the same object has the same type either way.
pub(super) fn listing_digest(mut entries: Vec<(&[u8], EntryType)>) -> Digest {
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut encoder = Encoder::new();
    encoder.bytes(LISTING_HEADER);
    encoder.u64(entries.len() as u64);
    for (name, kind) in entries {
        encoder.bytes(name);
        encoder.u64(kind as u64);
    }
    encoder.digest()
}

/// The listing digest of the directory at `path` as it is now (through a symlink, if `path`
/// is one).
pub(super) fn listed(path: &Path) -> io::Result<Digest> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        names.push((entry.file_name(), EntryType::of(entry.file_type()?)));
    }
    Ok(listing_digest(
        names
            .iter()
            .map(|(name, kind)| (name.as_bytes(), *kind))
            .collect(),
    ))
}
