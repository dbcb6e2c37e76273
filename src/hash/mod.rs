//! Digests of files, trees and actions.

mod action_key;
mod digest;

pub use action_key::{ActionKey, CACHE_VERSION, InputDigest, Platform, canonical_json};
pub use digest::{BadDigest, Digest};
