#![no_main]
//! `zenbuild.lock`: read, its keys rebuilt, and written back.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    zenbuild::fuzzing::lockfile(bytes);
});
