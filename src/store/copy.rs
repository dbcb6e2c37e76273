//! Copying while hashing: storing or restoring a blob reads its bytes once, and the digest
//! describes exactly the bytes that were written, not the ones read a moment earlier.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use super::error::StoreError;
use crate::hash::Digest;

thread_local! {
    /// 64 KiB lets BLAKE3 use its widest SIMD path; one buffer a thread, because zeroing a
    /// fresh one for each of 100,000 small files costs as much as copying them.
    static BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; 64 * 1024]);
}

/// Copies the rest of `from` to `to` and returns the digest and length of what was copied.
/// The paths only name the side that failed in an error.
pub(crate) fn copy_hashing(
    from: &mut File,
    from_path: &Path,
    to: &mut impl Write,
    to_path: &Path,
) -> Result<(Digest, u64), StoreError> {
    let mut hasher = blake3::Hasher::new();
    BUFFER.with_borrow_mut(|buffer| {
        loop {
            let read = match from.read(buffer) {
                Ok(0) => return Ok(()),
                Ok(read) => read,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(StoreError::io(from_path, e)),
            };
            hasher.update(&buffer[..read]);
            to.write_all(&buffer[..read])
                .map_err(|e| StoreError::io(to_path, e))?;
        }
    })?;
    Ok((Digest::from_hasher(&hasher), hasher.count()))
}

/// Digest and length of the rest of `file`, for checking bytes that were cloned, not copied.
pub(crate) fn hash_open(file: &mut File, path: &Path) -> Result<(Digest, u64), StoreError> {
    copy_hashing(file, path, &mut io::sink(), path)
}
