#![no_main]
//! An action-cache entry (`ActionResult` JSON), as the local store and the remotes decode it.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    zenbuild::fuzzing::action_result(bytes);
});
