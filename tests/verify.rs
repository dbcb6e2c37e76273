//! `zenbuild verify`: cached actions rerun, a step whose outputs come out different is
//! reported, and the cache and the workspace keep the first result.

mod common;
use common::Test;

const PIPELINE: &str = r#"
step "steady" {
    cmd "printf same > out/steady.txt"
    outputs "out/steady.txt"
}
step "noisy" {
    cmd "cat /proc/sys/kernel/random/uuid > out/noisy.txt"
    outputs "out/noisy.txt"
}
step "after" {
    cmd "cat out/noisy.txt out/steady.txt > out/after.txt"
    inputs "out/noisy.txt" "out/steady.txt"
    outputs "out/after.txt"
}
"#;

#[test]
fn a_non_deterministic_step_is_reported_and_its_cached_result_kept() {
    let out = Test::new().manifest(PIPELINE).run().success();
    let noisy = out.read("out/noisy.txt");
    let out = out
        .again()
        .args(&["verify"])
        .run()
        .code(1)
        .stderr_contains("steady: reproduces its cached outputs")
        .stderr_contains("noisy: differs: out/noisy.txt ")
        // Verified against the cached noisy output, `after` reproduces.
        .stderr_contains("after: reproduces its cached outputs")
        .stderr_contains("1 of 3 actions did not reproduce");
    assert_eq!(
        out.read("out/noisy.txt"),
        noisy,
        "the cached output is back"
    );
    // Nothing runs after it: the build goes the whole way and finds all cached, or takes
    // the up-to-date shortcut after hashing the restored outputs again.
    let after = out.again().run().success();
    assert!(
        after.stderr.contains("0 ran, 3 cached") || after.stderr.contains("3 actions up to date"),
        "{}",
        after.stderr
    );
}

#[test]
fn an_action_not_built_with_its_current_inputs_is_not_verified() {
    let manifest = r#"
step "copy" {
    cmd "cp in.txt out.txt"
    inputs "in.txt"
    outputs "out.txt"
}
"#;
    let out = Test::new()
        .manifest(manifest)
        .file("in.txt", "1")
        .run()
        .success();
    let out = out
        .again()
        .args(&["verify", "--format", "json"])
        .run()
        .success();
    assert_eq!(out.json()["actions"][0]["verdict"], "same");
    let out = out
        .again()
        .file("in.txt", "2")
        .args(&["verify", "--format", "json"])
        .run()
        .success();
    assert_eq!(out.json()["actions"][0]["verdict"], "not-cached");
}
