//! Misspelled nodes and properties get the location and a "did you mean".

mod common;
use common::Test;

#[test]
fn unknown_top_level_node_suggests_the_right_one() {
    Test::new()
        .manifest("project \"p\"\npipline \"train\" {}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:2:1", "unknown node `pipline`")
        .stderr_contains("did you mean `pipeline`?")
        .error_count(1);
}

#[test]
fn unknown_step_node_suggests_the_right_one() {
    Test::new()
        .manifest("pipeline \"p\" {\n    step \"a\" {\n        cmd \"true\"\n        outptus \"x\"\n    }\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:4:9", "unknown node `outptus` in a step")
        .stderr_contains("did you mean `outputs`?");
}
