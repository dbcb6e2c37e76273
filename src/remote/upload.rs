//! One result to one remote, as a build and `cache push` send it: each blob the remote lacks,
//! in parallel, then the result, so that nobody finds a result before its blobs.

use rayon::prelude::*;

use super::{Remote, RemoteError, pool};
use crate::hash::Digest;
use crate::store::{ActionResult, LocalStore, Store};

/// Uploads `key`'s `result`, whose output blobs are all in `local`, to `remote`.
pub fn upload(
    remote: &dyn Remote,
    local: &LocalStore,
    key: &Digest,
    result: &ActionResult,
) -> Result<(), RemoteError> {
    let outputs = result.output_blobs();
    pool::requests().install(|| {
        result.blobs().par_iter().try_for_each(|digest| {
            // A printed-output blob that `gc` took is left out rather than failing the push:
            // a result is whole without it (see `ActionResult::stdout_digest`).
            let needed = outputs.binary_search(digest).is_ok();
            if !needed && !local.contains_blob(digest).unwrap_or(false) {
                return Ok(());
            }
            if remote.contains_blob(digest)? {
                return Ok(());
            }
            remote.put_blob(digest, &local.blob_path(digest))
        })
    })?;
    let json = serde_json::to_vec(result)
        .map_err(|e| RemoteError::Local(format!("cannot encode a result: {e}")))?;
    remote.put_action_result(key, &json)
}
