//! Early cut-off: a step that reruns and writes the same bytes as before leaves the steps
//! reading them cached, because their keys hold the digest of the output, not the fact that
//! its producer ran.

mod common;
use common::Test;

const MANIFEST: &str = r#"
step "first" {
    cmd "cut -c1 in.txt > out/mid.txt"
    inputs "in.txt"
    outputs "out/mid.txt"
}
step "second" {
    cmd "cat out/mid.txt out/mid.txt > out/down.txt"
    inputs "out/mid.txt"
    outputs "out/down.txt"
}
step "third" {
    cmd "wc -c < out/down.txt > out/count.txt"
    inputs "out/down.txt"
    outputs "out/count.txt"
}
"#;

#[test]
fn an_upstream_rerun_with_identical_output_leaves_downstream_cached() {
    let out = Test::new()
        .manifest(MANIFEST)
        .file("in.txt", "abc\n")
        .build(&[])
        .run()
        .success();
    let before = out.report();
    assert_eq!(before.ran(), ["first", "second", "third"]);

    // The first character stays `a`: `first` must rerun, and writes what it wrote before.
    let out = out
        .again()
        .file("in.txt", "axyz\n")
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.ran(), ["first"], "{report}");
    assert_eq!(report.cached(), ["second", "third"], "{report}");
    assert_eq!(
        report.output("first", "out/mid.txt"),
        before.output("first", "out/mid.txt")
    );
    assert_eq!(
        report.action("second")["key"],
        before.action("second")["key"]
    );
    assert_eq!(out.read("out/down.txt"), "a\na\n");

    // A different first character is a different output: everything downstream reruns.
    let out = out
        .again()
        .file("in.txt", "bxyz\n")
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.ran(), ["first", "second", "third"], "{report}");
    assert_eq!(out.read("out/down.txt"), "b\nb\n");
}
