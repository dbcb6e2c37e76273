//! One result to one remote, as `cache push` sends it: each blob the remote lacks, in
//! parallel, then the result, so that nobody finds a result before its blobs.

use rayon::prelude::*;

use super::{Remote, RemoteError, pool};
use crate::hash::Digest;
use crate::store::{ActionResult, LocalStore};

/// Uploads `key`'s `result`, whose blobs are all in `local`, to `remote`.
pub fn upload(
    remote: &dyn Remote,
    local: &LocalStore,
    key: &Digest,
    result: &ActionResult,
) -> Result<(), RemoteError> {
    let blobs = result.blobs();
    pool::requests().install(|| {
        blobs.par_iter().try_for_each(|digest| {
            if remote.contains_blob(digest)? {
                return Ok(());
            }
            remote.put_blob(digest, &local.blob_path(digest))
        })
    })?;
    let json = serde_json::to_vec(result)
        .map_err(|e| RemoteError::Refused(format!("cannot encode a result: {e}")))?;
    remote.put_action_result(key, &json)
}
