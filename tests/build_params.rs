//! Params in the action key: a declared param that changes reruns its step; a key of the
//! params file that no step declares changes nothing.

mod common;
use common::Test;

const MANIFEST: &str = r#"
params "params.yaml"
step "fit" {
    cmd "printf 'rounds={{params.train.rounds}}' > out/fit.txt"
    params "train.rounds"
    outputs "out/fit.txt"
}
step "score" {
    cmd "cat out/fit.txt > out/score.txt"
    inputs "out/fit.txt"
    outputs "out/score.txt"
}
step "other" {
    cmd "printf other > out/other.txt"
    outputs "out/other.txt"
}
"#;

fn params(rounds: u32, unused: &str) -> String {
    format!("train:\n  rounds: {rounds}\n  unused: {unused}\n")
}

fn workspace() -> Test {
    Test::new()
        .manifest(MANIFEST)
        .file("params.yaml", &params(30, "a"))
}

#[test]
fn changing_a_declared_param_reruns_its_step_and_what_reads_its_outputs() {
    let out = workspace().build(&[]).run().success();
    assert_eq!(out.report().ran(), ["fit", "score", "other"]);
    let out = out
        .again()
        .file("params.yaml", &params(31, "a"))
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.ran(), ["fit", "score"], "{report}");
    assert_eq!(report.cached(), ["other"], "{report}");
    assert!(
        report
            .reasons("fit")
            .contains("param train.rounds changed: 30 → 31"),
        "{report}"
    );
    assert_eq!(out.read("out/score.txt"), "rounds=31");
}

#[test]
fn changing_or_adding_an_undeclared_param_reruns_nothing() {
    let out = workspace().build(&[]).run().success();
    let out = out
        .again()
        .file("params.yaml", &params(30, "b"))
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.cached(), ["fit", "score", "other"], "{report}");

    let added = format!("{}extra:\n  lr: 0.1\n", params(30, "b"));
    let out = out
        .again()
        .file("params.yaml", &added)
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.cached(), ["fit", "score", "other"], "{report}");
}
