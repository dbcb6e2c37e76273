//! Reading back what a step printed when it ran, for a result that was cached or just stored.

use std::path::PathBuf;

use super::event::Printed;
use super::log_pipe::{KEPT_OUTPUT, read_kept};
use crate::hash::Digest;

/// What a step printed when it ran, from the blobs its result names (`blob_path` finds each
/// in the local store), each read no further than its last [`KEPT_OUTPUT`] bytes: a remote's
/// blob is no more trusted to be small than to be right.
pub fn replayed(logs: &[Digest], blob_path: impl Fn(&Digest) -> PathBuf) -> Printed {
    let mut text = String::new();
    let mut cut = false;
    for digest in logs {
        let path = blob_path(digest);
        if !path.is_file() {
            // An empty blob (an older result's silent stream) need not be stored at all.
            if *digest == Digest::of(b"") {
                continue;
            }
            return Printed::NotInCache;
        }
        match read_kept(&path, KEPT_OUTPUT) {
            Ok(Printed::Kept {
                text: part,
                cut: part_cut,
            }) => {
                text.push_str(&part);
                cut |= part_cut;
            }
            Ok(Printed::Nothing) => {}
            Ok(Printed::NotInCache) | Err(_) => return Printed::NotInCache,
        }
    }
    if text.is_empty() && !cut {
        Printed::Nothing
    } else {
        Printed::Kept { text, cut }
    }
}
