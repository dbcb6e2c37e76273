//! Where results live: a content-addressed store of blobs (CAS) and an action cache (AC)
//! mapping action keys to [`ActionResult`]s. The local store is `.zenbuild/cache`; a
//! [`TieredStore`] puts the team's remotes behind it.

mod action_result;
mod beneath;
mod copy;
mod error;
mod gc;
mod local;
mod memory;
mod outputs;
mod restore;
mod result_check;
mod stats;
mod temp;
mod tiered;

use std::path::Path;

pub use action_result::{
    ActionResult, ExecutionMetadata, OutputDirectory, OutputFile, OutputSymlink,
};
pub use beneath::Place;
pub use error::StoreError;
pub use gc::{GcReport, Removed, Roots};
pub(crate) use local::Downloaded;
pub use local::{LocalStore, STALE_TEMP_AGE};
pub use memory::MemoryStore;
pub use outputs::{
    SavedOutputs, clear_outputs, create_dir_beneath, create_output_parents, list_directory,
    restore_outputs, save_outputs,
};
pub use restore::LinkMode;
pub(crate) use result_check::plain;
pub use result_check::{Unusable, check_result, listed_digest};
pub use stats::StoreStats;
pub use tiered::TieredStore;

use crate::hash::Digest;

/// A store of blobs and action results. Kept to what a remote cache can also do cheaply, so
/// that local, remote and tiered stores are interchangeable behind it.
pub trait Store: Send + Sync {
    /// The result stored for an action key; `None` on a miss. A result is a hit only once
    /// every blob in [`ActionResult::blobs`] is known to be present.
    fn get_action_result(&self, key: &Digest) -> Result<Option<ActionResult>, StoreError>;

    /// Records `result` for `key`, replacing any older one. Store the blobs first, so that a
    /// reader never finds a result whose blobs are missing.
    fn put_action_result(&self, key: &Digest, result: &ActionResult) -> Result<(), StoreError>;

    fn contains_blob(&self, digest: &Digest) -> Result<bool, StoreError>;

    /// Stores bytes held in memory, such as captured stdout and stderr.
    fn put_bytes(&self, bytes: &[u8]) -> Result<Digest, StoreError>;

    /// Stores the regular file at `path`, hashing it as it is copied. `known` is its digest
    /// when the caller has hashed it already; without it the file is hashed first, so that a
    /// blob already stored is not copied again. A file that does not hash to `known` (it
    /// changed meanwhile) is refused.
    fn put_file(&self, path: &Path, known: Option<&Digest>) -> Result<Blob, StoreError>;

    /// Puts the blob back at `place`, replacing whatever is there, after checking that its
    /// bytes still hash to `digest` (a corrupt blob is dropped from the store and reported
    /// as [`StoreError::CorruptBlob`]).
    fn restore_blob(
        &self,
        digest: &Digest,
        place: &Place,
        executable: bool,
        mode: LinkMode,
    ) -> Result<(), StoreError>;

    /// Removes the result stored on this machine for `key`, because it cannot be used: the
    /// next lookup is a miss (or asks the remotes again), and the rerun stores a good one.
    fn forget_action_result(&self, key: &Digest) -> Result<(), StoreError>;

    /// Where the result for `key` came from in this build, when not from the local store
    /// (`remote:team`).
    fn source_of(&self, _key: &Digest) -> Option<String> {
        None
    }
}

/// A blob as stored: what an [`OutputFile`] records of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blob {
    pub digest: Digest,
    pub size: u64,
}
