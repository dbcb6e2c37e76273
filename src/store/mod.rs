//! Where results live: a content-addressed store of blobs (CAS) and an action cache (AC)
//! mapping action keys to [`ActionResult`]s. The local store is `.zenbuild/cache`; remote
//! stores come later behind the same trait.

mod action_result;

pub use action_result::{ActionResult, ExecutionMetadata, OutputDirectory, OutputFile, OutputSymlink};
