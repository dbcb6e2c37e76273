#![no_main]
//! `zenbuild.kdl`: the fast reader, the `kdl` crate it falls back on, the loader, the compiler
//! and the rendering of every diagnostic.

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

static DIR: LazyLock<PathBuf> = LazyLock::new(|| zenbuild_fuzz::scratch_dir("manifest"));

fuzz_target!(|bytes: &[u8]| {
    zenbuild::fuzzing::manifest(&DIR, bytes);
});
