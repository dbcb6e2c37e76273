//! A float param with all seventeen digits (`2.6666666666666667e+122`) was read back from
//! `zenbuild.lock` one unit in the last place off, so that a build of another target rewrote
//! the entry of an action it did not touch with a param the action was never built with.
//! Found by the `lockfile` fuzz target (fuzz/regressions/lockfile/).

mod common;
use common::Test;

#[test]
fn a_float_param_in_the_lockfile_survives_a_build_of_another_target() {
    let out = Test::new()
        .manifest(common::TWO_STEPS)
        .file("params.yaml", "lr: 2.6666666666666667e+122\n")
        .file("data/raw.txt", "b\na\n")
        .run()
        .success();
    let first = out.read("zenbuild.lock");
    assert!(
        first.contains(r#""lr": 2.6666666666666667e+122"#),
        "{first}"
    );
    let out = out.again().args(&["build", "prepare"]).run().success();
    assert_eq!(out.read("zenbuild.lock"), first);
    out.again()
        .args(&["status", "--check"])
        .run()
        .success()
        .stdout_contains("zenbuild.lock: 2 actions up to date");
}
