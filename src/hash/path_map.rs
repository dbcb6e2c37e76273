//! A map from paths to values that many rayon workers use at once.
//!
//! Keys are 64-bit hashes of the path bytes, not the paths: a lookup then touches the table
//! and nothing else, and loading builds no strings. On the 100,000-file no-op, hashing `Path`s
//! (which parse themselves into components), then following and comparing path keys (cache
//! misses more than work) had taken a fifth of the time; loading took twice as long.
//! Two paths whose hashes collide share an entry; that only costs a rehash, because a stat
//! cache entry is used only when the file's device and inode match it too.
//!
//! The map is split into shards, each behind its own mutex, so two workers rarely wait for
//! each other; a lock is held for one map operation, never across a stat or a read.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, MutexGuard};

use rayon::prelude::*;

const SHARDS: usize = 16;
/// Below this many entries a map is built on the calling thread.
const PARALLEL_LOAD: usize = 16_384;

type Shard<V> = HashMap<u64, V, BuildHasherDefault<AlreadyHashed>>;

pub(crate) struct PathMap<V> {
    shards: Vec<Mutex<Shard<V>>>,
}

impl<V: Copy + Send> PathMap<V> {
    pub(crate) fn new() -> PathMap<V> {
        PathMap::from_entries(Vec::new())
    }

    /// From `(path_hash(path), value)` pairs. The shards are built in parallel: loading a
    /// saved stat cache is mostly this.
    pub(crate) fn from_entries(entries: Vec<(u64, V)>) -> PathMap<V> {
        let mut buckets: Vec<Vec<(u64, V)>> = (0..SHARDS)
            .map(|_| Vec::with_capacity(entries.len() / SHARDS + 1))
            .collect();
        let total = entries.len();
        for (key, value) in entries {
            buckets[shard_index(key)].push((key, value));
        }
        let shard = |bucket: Vec<(u64, V)>| {
            let mut shard =
                Shard::with_capacity_and_hasher(bucket.len(), BuildHasherDefault::default());
            shard.extend(bucket);
            Mutex::new(shard)
        };
        // Starting rayon's threads costs more than a small cache takes to load, and on a
        // machine of few cores their idle spinning takes turns from the build's own threads.
        let shards = if total < PARALLEL_LOAD {
            buckets.into_iter().map(shard).collect()
        } else {
            buckets.into_par_iter().map(shard).collect()
        };
        PathMap { shards }
    }

    pub(crate) fn get(&self, path: &OsStr) -> Option<V> {
        let key = path_hash(path);
        self.lock(shard_index(key)).get(&key).copied()
    }

    pub(crate) fn insert(&self, path: &OsStr, value: V) {
        let key = path_hash(path);
        self.lock(shard_index(key)).insert(key, value);
    }

    pub(crate) fn remove(&self, path: &OsStr) -> Option<V> {
        let key = path_hash(path);
        self.lock(shard_index(key)).remove(&key)
    }

    pub(crate) fn len(&self) -> usize {
        (0..SHARDS).map(|i| self.lock(i).len()).sum()
    }

    /// Every `(path hash, value)` at one moment (each shard locked in turn while copied).
    pub(crate) fn entries(&self) -> Vec<(u64, V)> {
        let mut all = Vec::with_capacity(self.len());
        for i in 0..SHARDS {
            all.extend(self.lock(i).iter().map(|(key, value)| (*key, *value)));
        }
        all
    }

    /// A worker that panicked while holding a shard left a map that is still whole (each
    /// operation on it is one call), so the poison is ignored rather than spread.
    fn lock(&self, index: usize) -> MutexGuard<'_, Shard<V>> {
        self.shards[index]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Bits 32 to 35 pick the shard: the tables inside index with the low bits and tag with the
/// top seven, so neither is constant within a shard.
fn shard_index(key: u64) -> usize {
    (key >> 32) as usize % SHARDS
}

/// The key of a path: the first 8 bytes of BLAKE3 over its bytes. Stable across releases
/// and platforms (the stat cache file stores it), as random as a key can be, and at about a
/// tenth of a microsecond a path, cheap beside the stat that comes with every lookup.
pub(crate) fn path_hash(path: &OsStr) -> u64 {
    let digest = blake3::hash(path.as_encoded_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_bytes()[..8]);
    u64::from_le_bytes(first)
}

/// The keys are hashes already; hashing them again would only cost time.
#[derive(Default)]
pub(crate) struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys reach this hasher, through `write_u64`; anything else still works.
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_remove_from_many_threads() {
        let map = PathMap::new();
        (0..10_000u32).into_par_iter().for_each(|i| {
            map.insert(OsStr::new(&format!("data/{i}.csv")), i);
        });
        assert_eq!(map.len(), 10_000);
        (0..10_000u32).into_par_iter().for_each(|i| {
            assert_eq!(map.get(OsStr::new(&format!("data/{i}.csv"))), Some(i));
        });
        assert_eq!(map.remove(OsStr::new("data/7.csv")), Some(7));
        assert_eq!(map.get(OsStr::new("data/7.csv")), None);
        assert_eq!(map.entries().len(), 9_999);
    }

    #[test]
    fn rebuilt_from_its_entries() {
        let map = PathMap::new();
        for i in 0..1_000u32 {
            map.insert(OsStr::new(&format!("shard-{}/f{i}", i % 7)), i);
        }
        let rebuilt = PathMap::from_entries(map.entries());
        for i in 0..1_000u32 {
            assert_eq!(
                rebuilt.get(OsStr::new(&format!("shard-{}/f{i}", i % 7))),
                Some(i)
            );
        }
    }

    #[test]
    fn the_shards_are_evenly_used() {
        let mut counts = [0usize; SHARDS];
        for i in 0..16_000 {
            counts[shard_index(path_hash(OsStr::new(&format!("data/part-{i:05}/x.csv"))))] += 1;
        }
        assert!(
            counts.iter().all(|&n| (700..1300).contains(&n)),
            "{counts:?}"
        );
    }

    /// Pinned: the stat cache file stores these hashes.
    #[test]
    fn path_hash_is_stable_and_tells_near_paths_apart() {
        let hash = |bytes: &str| path_hash(OsStr::new(bytes));
        assert_eq!(hash("data/train.csv"), PINNED);
        assert_ne!(hash("ab"), hash("ab\0"));
        assert_ne!(hash("a/b"), hash("b/a"));
        assert_ne!(hash(""), hash("\0"));
    }

    /// BLAKE3("data/train.csv"), its first 8 bytes read little-endian.
    const PINNED: u64 = 16_203_571_368_090_594_774;
}
