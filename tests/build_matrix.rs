//! Matrix steps: each instance is an action of its own, keyed and cached on its own.

mod common;
use common::Test;

fn manifest(values: &str) -> String {
    format!(
        r#"
step "fit" {{
    matrix {{
        n {values}
    }}
    cmd "cat in-{{{{n}}}}.txt > out/fit-{{{{n}}}}.txt; printf ' n={{{{n}}}}' >> out/fit-{{{{n}}}}.txt"
    inputs "in-{{{{n}}}}.txt"
    outputs "out/fit-{{{{n}}}}.txt"
}}
"#
    )
}

fn workspace() -> Test {
    Test::new()
        .manifest(&manifest("1 2 3"))
        .file("in-1.txt", "one")
        .file("in-2.txt", "two")
        .file("in-3.txt", "three")
}

#[test]
fn each_instance_is_cached_separately() {
    let out = workspace().build(&[]).run().success();
    let report = out.report();
    assert_eq!(report.ran(), ["fit@n=1", "fit@n=2", "fit@n=3"], "{report}");
    assert_eq!(out.read("out/fit-2.txt"), "two n=2");

    let out = out
        .again()
        .file("in-2.txt", "deux")
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.ran(), ["fit@n=2"], "{report}");
    assert_eq!(report.cached(), ["fit@n=1", "fit@n=3"], "{report}");
    assert_eq!(out.read("out/fit-2.txt"), "deux n=2");
}

#[test]
fn a_new_matrix_value_runs_only_the_new_instance() {
    let out = workspace().build(&[]).run().success();
    let out = out
        .again()
        .manifest(&manifest("1 2 3 4"))
        .file("in-4.txt", "four")
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.ran(), ["fit@n=4"], "{report}");
    assert_eq!(report.reasons("fit@n=4"), "never built");
    assert_eq!(
        report.cached(),
        ["fit@n=1", "fit@n=2", "fit@n=3"],
        "{report}"
    );
}

#[test]
fn one_instance_can_be_built_alone() {
    let out = workspace().build(&["fit@n=3"]).run().success();
    let report = out.report();
    assert_eq!(report.names(), ["fit@n=3"], "{report}");
    assert!(!out.exists("out/fit-1.txt"));
    let out = out.again().build(&[]).run().success();
    let report = out.report();
    assert_eq!(report.ran(), ["fit@n=1", "fit@n=2"], "{report}");
    assert_eq!(report.cached(), ["fit@n=3"], "{report}");
}
