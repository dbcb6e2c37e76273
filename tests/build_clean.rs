//! `zenbuild clean`: the outputs leave the workspace but stay in the cache, so the next build
//! restores them without running; `--cache` empties the cache too.

mod common;
use common::Test;

const MANIFEST: &str = r#"
step "a" {
    cmd "cat in.txt > out/a.txt"
    inputs "in.txt"
    outputs "out/a.txt"
}
step "b" {
    cmd "mkdir -p out/b && cat out/a.txt > out/b/copy.txt"
    inputs "out/a.txt"
    outputs "out/b/"
}
"#;

fn built() -> common::Output {
    Test::new()
        .manifest(MANIFEST)
        .file("in.txt", "x\n")
        .build(&[])
        .run()
        .success()
}

#[test]
fn clean_removes_outputs_and_the_next_build_restores_them() {
    let out = built();
    let out = out.again().args(&["clean"]).run().success();
    let out = out.stdout_contains("removed 2 outputs");
    assert!(!out.exists("out/a.txt"));
    assert!(!out.exists("out/b"));
    assert!(out.exists("in.txt"), "clean removed a source");

    let out = out.again().build(&[]).run().success();
    let report = out.report();
    assert_eq!(report.cached(), ["a", "b"], "{report}");
    assert_eq!(out.read("out/a.txt"), "x\n");
    assert_eq!(out.read("out/b/copy.txt"), "x\n");
}

#[test]
fn clean_cache_makes_the_next_build_run_everything() {
    let out = built();
    let out = out.again().args(&["clean", "--cache"]).run().success();
    assert!(!out.exists("out/a.txt"));
    let out = out.again().build(&[]).run().success();
    let report = out.report();
    assert_eq!(report.ran(), ["a", "b"], "{report}");
    assert!(
        report.reasons("a").contains("the cache was cleared"),
        "{report}"
    );
}
