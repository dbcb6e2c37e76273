//! Hashing files and trees: `cargo bench --bench hashing`.
//!
//! Targets (DESIGN, "Hashing and the stat cache"): a large file at 80% or more of what BLAKE3
//! does in one process; a no-op over a 100,000-file directory under 0.5 s with a warm stat
//! cache; loading a 100,000-entry stat cache well under 50 ms. `crossover` is the measurement
//! behind `PARALLEL_THRESHOLD`. Files are read from the page cache: the first run over a cold
//! disk measures the disk instead.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use divan::Bencher;
use divan::counter::BytesCount;
use zenbuild::hash::{StatCache, hash_file, hash_tree};

const LARGE: u64 = 512 << 20;
const TREE_FILES: usize = 100_000;
const FILES_PER_DIR: usize = 1_000;

/// Every fixture lives here, and the whole folder is removed when the benchmarks end.
static SCRATCH: OnceLock<tempfile::TempDir> = OnceLock::new();

fn main() {
    let scratch = tempfile::tempdir().expect("scratch directory");
    let _ = SCRATCH.set(scratch);
    divan::main();
    if let Some(scratch) = SCRATCH.get() {
        let _ = std::fs::remove_dir_all(scratch.path());
    }
}

fn scratch() -> &'static Path {
    SCRATCH.get().expect("set in main").path()
}

/// Bytes that do not repeat in any way a compressor or a dedup could exploit.
fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn file_of(size: u64) -> PathBuf {
    let path = scratch().join(format!("file-{size}"));
    if !path.exists() {
        let chunk = pattern(size, 1 << 20);
        let mut bytes = Vec::with_capacity(size as usize);
        while (bytes.len() as u64) < size {
            let take = chunk.len().min(size as usize - bytes.len());
            bytes.extend_from_slice(&chunk[..take]);
        }
        std::fs::write(&path, &bytes).expect("write fixture");
    }
    path
}

/// What one thread of BLAKE3 does: read 64 KiB, update, repeat.
fn blake3_single_thread(path: &Path) -> blake3::Hash {
    let mut file = std::fs::File::open(path).expect("open");
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let n = file.read(&mut buffer).expect("read");
        if n == 0 {
            return hasher.finalize();
        }
        hasher.update(&buffer[..n]);
    }
}

mod large_file {
    #[allow(
        clippy::wildcard_imports,
        reason = "a group of this file's benchmarks, as a test module is"
    )]
    use super::*;

    #[divan::bench(sample_count = 10, sample_size = 1)]
    fn zenbuild_hash_file(bencher: Bencher) {
        let path = file_of(LARGE);
        bencher
            .counter(BytesCount::new(LARGE))
            .bench(|| hash_file(&path).expect("hash"));
    }

    #[divan::bench(sample_count = 10, sample_size = 1)]
    fn blake3_update_one_thread(bencher: Bencher) {
        let path = file_of(LARGE);
        bencher
            .counter(BytesCount::new(LARGE))
            .bench(|| blake3_single_thread(&path));
    }

    /// The best BLAKE3 does in one process (what `b3sum` does): the ceiling.
    #[divan::bench(sample_count = 10, sample_size = 1)]
    fn blake3_update_mmap_rayon(bencher: Bencher) {
        let path = file_of(LARGE);
        bencher.counter(BytesCount::new(LARGE)).bench(|| {
            let mut hasher = blake3::Hasher::new();
            hasher.update_mmap_rayon(&path).expect("hash");
            hasher.finalize()
        });
    }
}

/// Where memory-mapping and hashing on every core starts to beat reading on one thread.
mod crossover {
    #[allow(
        clippy::wildcard_imports,
        reason = "a group of this file's benchmarks, as a test module is"
    )]
    use super::*;

    const SIZES: [u64; 6] = [64 << 10, 256 << 10, 512 << 10, 1 << 20, 2 << 20, 8 << 20];

    #[divan::bench(args = SIZES)]
    fn read_and_update(bencher: Bencher, size: u64) {
        let path = file_of(size);
        bencher
            .counter(BytesCount::new(size))
            .bench(|| blake3_single_thread(&path));
    }

    #[divan::bench(args = SIZES)]
    fn mmap_rayon(bencher: Bencher, size: u64) {
        let path = file_of(size);
        bencher.counter(BytesCount::new(size)).bench(|| {
            let mut hasher = blake3::Hasher::new();
            hasher.update_mmap_rayon(&path).expect("hash");
            hasher.finalize()
        });
    }
}

/// A dataset of `TREE_FILES` files of 0.5 to 4.5 KiB, `FILES_PER_DIR` to a directory, and a
/// stat cache saved over it. Built once for every tree benchmark.
fn dataset() -> &'static (PathBuf, PathBuf) {
    static DATASET: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DATASET.get_or_init(|| {
        let root = scratch().join("dataset");
        for i in 0..TREE_FILES {
            let dir = root.join(format!("shard-{:03}", i / FILES_PER_DIR));
            if i % FILES_PER_DIR == 0 {
                std::fs::create_dir_all(&dir).expect("create dir");
            }
            let bytes = pattern(i as u64, 512 + (i * 37) % 4096);
            std::fs::write(dir.join(format!("sample-{i:06}.bin")), bytes).expect("write");
        }
        // Entries recorded within two seconds of a write are not trusted (the racy rule):
        // wait them out, or "warm" would rehash everything.
        std::thread::sleep(Duration::from_millis(2_100));
        let cache_path = scratch().join("stat-cache");
        let cache = StatCache::load(&cache_path);
        hash_tree(&root, &cache).expect("hash tree");
        cache.save().expect("save stat cache");
        (root, cache_path)
    })
}

mod tree {
    #[allow(
        clippy::wildcard_imports,
        reason = "a group of this file's benchmarks, as a test module is"
    )]
    use super::*;

    /// The no-op run: load the saved stat cache, stat every file, save nothing.
    #[divan::bench(sample_count = 10)]
    fn warm_no_op(bencher: Bencher) {
        let (root, cache_path) = dataset();
        bencher.bench(|| {
            let cache = StatCache::load(cache_path);
            let tree = hash_tree(root, &cache).expect("hash tree");
            assert!(!cache.save().expect("save"), "a no-op changes nothing");
            tree
        });
    }

    /// The stats and lookups alone, with the stat cache already in memory.
    #[divan::bench(sample_count = 10)]
    fn warm_hash_tree_only(bencher: Bencher) {
        let (root, cache_path) = dataset();
        let cache = StatCache::load(cache_path);
        bencher.bench(|| hash_tree(root, &cache).expect("hash tree"));
    }

    /// Every file read and hashed (from the page cache), no stat cache.
    #[divan::bench(sample_count = 10)]
    fn cold(bencher: Bencher) {
        let (root, _) = dataset();
        bencher.bench(|| hash_tree(root, &StatCache::in_memory()).expect("hash tree"));
    }

    #[divan::bench(sample_count = 20)]
    fn load_stat_cache(bencher: Bencher) {
        let (_, cache_path) = dataset();
        bencher.bench(|| {
            let cache = StatCache::load(cache_path);
            assert_eq!(cache.len(), TREE_FILES);
            cache
        });
    }
}
