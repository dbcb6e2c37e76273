//! One run reports every mistake it can find, from every stage and every file, and counts
//! them in the summary line.

mod common;
use common::Test;

#[test]
fn loading_and_compiling_errors_are_reported_together() {
    Test::new()
        .manifest(
            r#"project "p"
include "more.kdl"
pipline "main" {}
step "a" {
    cmd "echo {{nope}}"
    retries "x"
}
step "b" {
    outputs "out.txt"
}
step "c" {
    cmd "x"
    needs "d"
}
"#,
        )
        .file(
            "more.kdl",
            "step \"e\" {\n    cmd \"x\"\n    cache \"no\"\n}\n",
        )
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:3:1", "unknown node `pipline`")
        .error_at("zenbuild.kdl:5:15", "`{{nope}}` is not defined")
        .error_at(
            "zenbuild.kdl:6:13",
            "expected the number of retries, found a string",
        )
        .error_at("zenbuild.kdl:8:6", "step `b` has no `cmd`")
        .error_at("zenbuild.kdl:13:11", "step `d` is not defined")
        .error_at("more.kdl:3:11", "expected #true or #false, found a string")
        .error_count(6);
}

#[test]
fn a_single_error_is_counted_in_the_singular() {
    Test::new()
        .manifest("step \"a\" {}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_count(1)
        .stderr_lacks("errors");
}

#[test]
fn a_matrix_step_reports_a_shared_mistake_once() {
    Test::new()
        .manifest("step \"fit\" {\n    matrix {\n        lr 1 2 3\n    }\n    cmd \"fit {{lr}} {{depth}}\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_times("`{{depth}}` is not defined", 1)
        .error_count(1);
}
