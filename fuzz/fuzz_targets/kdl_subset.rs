#![no_main]
//! The fast KDL reader against the `kdl` crate: whatever the fast one accepts, the crate must
//! read the same.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    zenbuild::fuzzing::kdl_subset(bytes);
});
