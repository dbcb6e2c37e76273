#![no_main]
//! `.zenbuild/stat-cache`, as a build loads it, with and without a valid checksum.

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

static DIR: LazyLock<PathBuf> = LazyLock::new(|| zenbuild_fuzz::scratch_dir("stat_cache"));

fuzz_target!(|bytes: &[u8]| {
    zenbuild::fuzzing::stat_cache(&DIR, bytes);
});
