//! The errors a command can end with, and the exit code of each.

use crate::manifest::ManifestError;
use crate::workspace::WorkspaceError;

/// Exit code for a manifest or usage mistake; a failed step exits 1.
pub const EXIT_BAD_MANIFEST: u8 = 2;
pub const EXIT_FAILURE: u8 = 1;
/// As a shell reports a process ended by Ctrl-C (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

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

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{0}")]
    Refused(String),

    #[error("{failed} action{} failed", if *.failed == 1 { "" } else { "s" })]
    BuildFailed { failed: usize },

    #[error("interrupted")]
    Interrupted,
}

impl Error {
    pub fn code(&self) -> u8 {
        match self {
            Error::Manifest(_) | Error::Workspace(_) | Error::UnknownTarget { .. } => {
                EXIT_BAD_MANIFEST
            }
            Error::Io { .. } | Error::Refused(_) | Error::BuildFailed { .. } => EXIT_FAILURE,
            Error::Interrupted => EXIT_INTERRUPTED,
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
