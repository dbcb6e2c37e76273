//! `needs`: a fan-in step reads every output of every instance of the steps it needs, so it
//! reruns when any of those outputs changes, and only then.

mod common;
use common::Test;

const MANIFEST: &str = r#"
step "fit" {
    matrix {
        n 1 2 3
    }
    cmd "cut -c1 in-{{n}}.txt > out/fit-{{n}}.txt"
    inputs "in-{{n}}.txt"
    outputs "out/fit-{{n}}.txt"
}
step "summary" {
    cmd "cat out/fit-1.txt out/fit-2.txt out/fit-3.txt > summary.txt"
    needs "fit"
    outputs "summary.txt"
}
"#;

fn workspace() -> Test {
    Test::new()
        .manifest(MANIFEST)
        .file("in-1.txt", "apple")
        .file("in-2.txt", "banana")
        .file("in-3.txt", "cherry")
}

#[test]
fn the_fan_in_step_runs_after_every_instance() {
    let out = workspace().build(&["summary"]).run().success();
    let report = out.report();
    assert_eq!(
        report.ran(),
        ["fit@n=1", "fit@n=2", "fit@n=3", "summary"],
        "{report}"
    );
    assert_eq!(out.read("summary.txt"), "a\nb\nc\n");
}

#[test]
fn a_changed_instance_output_reruns_the_fan_in_an_unchanged_one_does_not() {
    let out = workspace().build(&[]).run().success();
    let out = out
        .again()
        .file("in-2.txt", "blueberry")
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.ran(), ["fit@n=2"], "{report}");
    assert_eq!(
        report.cached(),
        ["fit@n=1", "fit@n=3", "summary"],
        "{report}"
    );

    let out = out
        .again()
        .file("in-2.txt", "kiwi")
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.ran(), ["fit@n=2", "summary"], "{report}");
    assert!(
        report.reasons("summary").contains("out/fit-2.txt changed"),
        "{report}"
    );
    assert_eq!(out.read("summary.txt"), "a\nk\nc\n");
}
