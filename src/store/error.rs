//! What can go wrong in a store, sorted by what the caller does next: a corrupt blob or entry
//! has been removed already, so the step simply runs again; a missing blob is a cache miss;
//! a missing or odd output is the step's fault; an I/O error stops the build.

use std::io;
use std::path::PathBuf;

use crate::hash::Digest;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A blob whose bytes do not hash to its name: torn by a crash, or written through a
    /// hardlinked output. The local store removes it on detection.
    #[error(
        "blob {digest} in the store is corrupt (its bytes hash to {actual}); run the step again"
    )]
    CorruptBlob { digest: Digest, actual: Digest },

    /// An action-cache entry that does not decode. The local store removes it on detection.
    #[error("action result {key} in the store is corrupt: {reason}")]
    CorruptActionResult { key: Digest, reason: String },

    /// A blob an action result refers to is not in the store: treat the result as a miss.
    #[error("blob {digest} is not in the store")]
    MissingBlob { digest: Digest },

    /// A declared output the step did not create.
    #[error("output `{path}` was declared but the step did not create it")]
    MissingOutput { path: String },

    /// A file the store was asked to save or restore is not what was declared: a directory
    /// declared as a file, a special file, a name that is not UTF-8, a file that changed while
    /// it was stored, or a path in an action result that leaves the workspace.
    #[error("output `{path}` {problem}")]
    BadOutput { path: String, problem: String },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl StoreError {
    /// Whether the store held bad data (now removed), as opposed to failing to reach it: the
    /// caller reruns the step instead of stopping.
    pub fn is_corrupt(&self) -> bool {
        matches!(
            self,
            StoreError::CorruptBlob { .. } | StoreError::CorruptActionResult { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> StoreError {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn bad_output(path: impl Into<String>, problem: impl Into<String>) -> StoreError {
        StoreError::BadOutput {
            path: path.into(),
            problem: problem.into(),
        }
    }
}
