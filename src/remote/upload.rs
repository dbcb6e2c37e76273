//! One result to one remote, as a build, `cache push` and a worker send it: each blob the
//! remote lacks, in parallel, then the result, so that nobody finds a result before its blobs.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use rayon::prelude::*;

use super::{Remote, RemoteError, pool};
use crate::hash::Digest;
use crate::store::{ActionResult, LocalStore, Store};

/// What an upload sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    pub blobs: usize,
    pub bytes: u64,
}

/// Uploads `key`'s `result`, whose output blobs are all in `local`, to `remote`.
pub fn upload(
    remote: &dyn Remote,
    local: &LocalStore,
    key: &Digest,
    result: &ActionResult,
) -> Result<(), RemoteError> {
    upload_blobs(remote, local, result)?;
    let json = serde_json::to_vec(result)
        .map_err(|e| RemoteError::Local(format!("cannot encode a result: {e}")))?;
    remote.put_action_result(key, &json)
}

/// Uploads the blobs of `result` that `remote` lacks, all of its outputs' being in `local`:
/// what makes the result whole in the remote, for a caller that stores it there itself, or
/// (a step that may not be cached) hands it over another way.
pub fn upload_blobs(
    remote: &dyn Remote,
    local: &LocalStore,
    result: &ActionResult,
) -> Result<Sent, RemoteError> {
    let outputs = result.output_blobs();
    // A printed-output blob that `gc` took is left out rather than failing the push: a
    // result is whole without it (see `ActionResult::stdout_digest`).
    let wanted: Vec<Digest> = result
        .blobs()
        .into_iter()
        .filter(|digest| {
            outputs.binary_search(digest).is_ok() || local.contains_blob(digest).unwrap_or(false)
        })
        .collect();
    let missing = remote.missing_blobs(&wanted)?;
    let (blobs, bytes) = (AtomicUsize::new(0), AtomicU64::new(0));
    pool::requests().install(|| {
        missing.par_iter().try_for_each(|digest| {
            let path = local.blob_path(digest);
            remote.put_blob(digest, &path)?;
            blobs.fetch_add(1, Ordering::Relaxed);
            let size = std::fs::metadata(&path).map_or(0, |meta| meta.len());
            bytes.fetch_add(size, Ordering::Relaxed);
            Ok::<(), RemoteError>(())
        })
    })?;
    Ok(Sent {
        blobs: blobs.into_inner(),
        bytes: bytes.into_inner(),
    })
}
