//! The errors a command can end with, and the exit code of each.

use crate::lineage::LineageError;
use crate::lockfile::LockfileError;
use crate::manifest::ManifestError;
use crate::store::StoreError;
use crate::watch::watcher::WatchError;
use crate::workspace::WorkspaceError;

/// Exit code for a manifest or usage mistake; a failed step exits 1.
pub const EXIT_BAD_MANIFEST: u8 = 2;
pub const EXIT_FAILURE: u8 = 1;
/// As a shell reports a process ended by Ctrl-C (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

/// How a command ends when it does not succeed, sorted by what the user does next: fix the
/// manifest or the workspace (exit 2), fix the command line, build first, look at what a check
/// found, or look at the machine (a file, the cache, the lineage database) — exit 1 — or
/// nothing, after Ctrl-C.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Manifest(#[from] ManifestError),

    #[error(transparent)]
    Workspace(#[from] WorkspaceError),

    /// A target on the command line that the manifest does not define.
    #[error("{message}")]
    UnknownTarget {
        message: String,
        help: Option<String>,
    },

    /// An argument names what is not there or cannot be used as given: a path outside the
    /// workspace, a remote the manifest does not declare, a run never recorded, a flag that
    /// does not go with this command. The message says what would do.
    #[error("{0}")]
    BadArgument(String),

    /// What the command reads does not exist yet: no lineage, no run. Building comes first.
    #[error("{0}")]
    NothingYet(String),

    /// The command was asked to check, and the check says no: outputs that did not reproduce,
    /// a lockfile out of date, a transfer left incomplete. What it found was printed above.
    #[error("{0}")]
    CheckFailed(String),

    /// A file zenbuild reads or writes itself (not a step's) could not be.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// The cache could not be opened, read or written.
    #[error("{}{source}", context.as_deref().map(|c| format!("{c}: ")).unwrap_or_default())]
    Store {
        context: Option<String>,
        #[source]
        source: StoreError,
    },

    /// The lineage database could not be opened or read.
    #[error(transparent)]
    Lineage(#[from] LineageError),

    /// The lockfile could not be read or written.
    #[error(transparent)]
    Lockfile(#[from] LockfileError),

    /// A revision git cannot resolve, a repository it cannot read.
    #[error("{0}")]
    Git(String),

    /// The file system's change notifications could not be set up.
    #[error(transparent)]
    Watch(#[from] WatchError),

    /// Output that could not be encoded (a bug, or a value JSON cannot hold).
    #[error("cannot encode {what}: {source}")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },

    /// Steps failed; each failure was reported as it happened.
    #[error("{failed} action{} failed", if *.failed == 1 { "" } else { "s" })]
    BuildFailed { failed: usize },

    /// Ctrl-C, or SIGTERM: what was running was stopped and nothing half-done was kept.
    #[error("interrupted")]
    Interrupted,
}

impl From<StoreError> for Error {
    fn from(source: StoreError) -> Error {
        Error::Store {
            context: None,
            source,
        }
    }
}

impl Error {
    pub fn code(&self) -> u8 {
        match self {
            Error::Manifest(_) | Error::Workspace(_) | Error::UnknownTarget { .. } => {
                EXIT_BAD_MANIFEST
            }
            Error::BadArgument(_)
            | Error::NothingYet(_)
            | Error::CheckFailed(_)
            | Error::Io { .. }
            | Error::Store { .. }
            | Error::Lineage(_)
            | Error::Lockfile(_)
            | Error::Git(_)
            | Error::Watch(_)
            | Error::Encode { .. }
            | Error::BuildFailed { .. } => EXIT_FAILURE,
            Error::Interrupted => EXIT_INTERRUPTED,
        }
    }

    /// A store error under a line that says what was being done.
    pub fn store(context: impl Into<String>, source: StoreError) -> Error {
        Error::Store {
            context: Some(context.into()),
            source,
        }
    }

    /// Output that `serde_json` could not encode; `what` names it ("the plan").
    pub fn encode(what: &'static str, source: serde_json::Error) -> Error {
        Error::Encode { what, source }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
