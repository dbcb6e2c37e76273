//! `-j N` changes how many steps run at once, never what they produce.

mod common;
use common::Test;

/// A diamond and a few independent steps.
const MANIFEST: &str = r#"
step "root" {
    cmd "cat in.txt > out/root.txt"
    inputs "in.txt"
    outputs "out/root.txt"
}
step "left" {
    cmd "cat out/root.txt > out/left.txt; printf L >> out/left.txt"
    inputs "out/root.txt"
    outputs "out/left.txt"
}
step "right" {
    cmd "cat out/root.txt > out/right.txt; printf R >> out/right.txt"
    inputs "out/root.txt"
    outputs "out/right.txt"
}
step "join" {
    cmd "cat out/left.txt out/right.txt > out/join.txt"
    inputs "out/left.txt" "out/right.txt"
    outputs "out/join.txt"
}
step "solo" {
    matrix {
        n 1 2 3 4
    }
    cmd "printf {{n}} > out/solo-{{n}}.txt"
    outputs "out/solo-{{n}}.txt"
}
"#;

fn build(jobs: &[&str]) -> common::Output {
    Test::new()
        .manifest(MANIFEST)
        .file("in.txt", "in\n")
        .build(jobs)
        .run()
        .success()
}

#[test]
fn one_job_and_the_default_produce_identical_outputs() {
    let serial = build(&["-j", "1"]);
    let parallel = build(&[]);
    let (serial_report, parallel_report) = (serial.report(), parallel.report());
    assert_eq!(serial_report.names(), parallel_report.names());
    assert_eq!(serial_report.ran().len(), 8, "{serial_report}");
    assert_eq!(parallel_report.ran().len(), 8, "{parallel_report}");
    for name in serial_report.names() {
        assert_eq!(
            serial_report.action(&name)["outputs"],
            parallel_report.action(&name)["outputs"],
            "{name}"
        );
        assert_eq!(
            serial_report.action(&name)["key"],
            parallel_report.action(&name)["key"],
            "{name}"
        );
    }
    assert_eq!(serial.read("out/join.txt"), "in\nLin\nR");
    assert_eq!(parallel.read("out/join.txt"), serial.read("out/join.txt"));
}
