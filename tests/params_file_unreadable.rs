//! A params file that cannot be read is one mistake: it is reported once, with the place that
//! declares the file as a note, and the params it would have defined are not reported again
//! as undefined.

mod common;
use common::Test;

const USES_LR: &str = r#"
params "params.yaml"
step "fit" {
    cmd "echo {{params.train.lr}} > out.txt"
    params "train.lr"
    outputs "out.txt"
}
"#;

#[test]
fn one_yaml_mistake_is_one_error() {
    Test::new()
        .manifest(USES_LR)
        .file("params.yaml", "train:\n  lr: [0.1\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .located_at("params.yaml:3:1")
        .stderr_contains_once("zenbuild::params-syntax")
        .stderr_lacks("Error:")
        .stderr_lacks("undefined-param")
        .note_at("zenbuild.kdl:2:8", "declared here")
        .error_count(1);
}

#[test]
fn a_missing_params_file_does_not_make_its_params_undefined() {
    Test::new()
        .manifest(USES_LR)
        .args(&["check"])
        .run()
        .bad_manifest()
        .stderr_contains_once("zenbuild::params-missing")
        .stderr_lacks("undefined-param")
        .error_count(1);
}

#[test]
fn a_param_no_readable_file_defines_is_still_undefined() {
    Test::new()
        .manifest(USES_LR)
        .file("params.yaml", "train:\n  seed: 1\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:5:12",
            "param `train.lr` is not defined in the params files",
        );
}
