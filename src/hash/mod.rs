//! Digests of files, trees and actions.
//!
//! [`hash_file`] hashes one file or symlink, [`hash_tree`] a directory as a Merkle tree, and
//! [`StatCache`] spares both from reading what has not changed since it was last hashed. The
//! stat cache reaches files and the clock through [`FileSystem`], so tests can fake the clock
//! and count reads.

mod action_key;
mod digest;
mod encoder;
mod file;
mod file_system;
mod path_map;
mod stat_cache;
mod stat_cache_file;
mod tree;

pub use action_key::{ActionKey, CACHE_VERSION, InputDigest, Platform, canonical_json};
pub use digest::{BadDigest, Digest};
pub(crate) use encoder::Encoder;
pub use file::{
    FileDigest, FileKind, PARALLEL_THRESHOLD, SYMLINK_HEADER, hash_file, symlink_digest,
};
#[cfg(test)]
pub(crate) use file_system::fake;
pub use file_system::{FileStat, FileSystem, RealFileSystem};
pub use stat_cache::{RACY_WINDOW_NS, StatCache};
pub use tree::{
    KnownFile, TREE_HEADER, TreeDigest, digest_listing, hash_tree, hash_tree_knowing, tree_paths,
};
