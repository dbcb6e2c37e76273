#![no_main]
//! A TOML params file, declared by a manifest, loaded and its errors rendered.

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use zenbuild::manifest::params::Format;

static DIR: LazyLock<PathBuf> = LazyLock::new(|| zenbuild_fuzz::scratch_dir("params_toml"));

fuzz_target!(|bytes: &[u8]| {
    zenbuild::fuzzing::params(&DIR, Format::Toml, bytes);
});
