//! Why a lockfile could not be read or written, sorted by what the caller does next: a newer
//! lockfile is left alone (upgrade zenbuild), a damaged or unreadable one is replaced by the
//! next successful build, a revision git cannot find is the user's argument to fix.

use std::io;

use super::{LOCK_VERSION, LOCKFILE};

#[derive(Debug, thiserror::Error)]
pub enum LockfileError {
    /// Written by a later zenbuild: this one must not overwrite what it cannot read.
    #[error(
        "{LOCKFILE} was written by a newer zenbuild (lockfile version {version}; this one knows up to {LOCK_VERSION}): upgrade zenbuild"
    )]
    Newer { version: u32 },

    /// Not JSON with a version: a merge conflict, a file of something else.
    #[error("{LOCKFILE} is not a lockfile: {0}")]
    NotALockfile(#[source] serde_json::Error),

    /// JSON of a known version whose entries do not decode.
    #[error("{LOCKFILE} is damaged: {0}")]
    Damaged(#[source] serde_json::Error),

    /// The lockfile committed at a revision is not UTF-8.
    #[error("{path} at `{rev}` is not text")]
    NotText { path: String, rev: String },

    /// The lockfile committed at `rev` is one of the above.
    #[error("at `{rev}`: {source}")]
    AtRevision {
        rev: String,
        #[source]
        source: Box<LockfileError>,
    },

    /// git could not find the revision or read the file there.
    #[error("{0}")]
    Git(String),

    #[error("cannot read {LOCKFILE}: {0}")]
    Read(#[source] io::Error),

    #[error("cannot write {LOCKFILE}: {0}")]
    Write(#[source] io::Error),
}
