//! `zenbuild run PIPELINE` builds one pipeline and takes nothing but a pipeline.

mod common;
use common::Test;

const MANIFEST: &str = "pipeline \"data\" {\n    step \"a\" { cmd \"echo a > a.txt\"; outputs \"a.txt\"; }\n}\n\
                        pipeline \"train\" default=#true {\n    step \"b\" { cmd \"echo b > b.txt\"; outputs \"b.txt\"; }\n}\n";

#[test]
fn run_builds_only_the_named_pipeline() {
    let out = Test::new()
        .manifest(MANIFEST)
        .args(&["run", "data"])
        .run()
        .success();
    assert!(out.exists("a.txt"));
    assert!(!out.exists("b.txt"));
}

#[test]
fn run_refuses_a_step_with_a_suggestion() {
    Test::new()
        .manifest(MANIFEST)
        .args(&["run", "dat"])
        .run()
        .bad_manifest()
        .stderr_contains("`dat` is not a pipeline in this manifest")
        .stderr_contains("did you mean `data`?");
    Test::new()
        .manifest(MANIFEST)
        .args(&["run", "a"])
        .run()
        .bad_manifest()
        .stderr_contains("`a` is not a pipeline in this manifest");
}
