#![no_main]
//! `.zenbuild/state/up-to-date`, decoded, with and without a valid checksum.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    zenbuild::fuzzing::up_to_date(bytes);
});
