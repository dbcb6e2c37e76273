//! `matrix`: one action per combination of values, named `step@var=value,…`, with the values
//! substituted wherever `{{var}}` is written.

mod common;
use common::Test;
use serde_json::json;

const SWEEP: &str = r#"step "fit" {
    matrix {
        lr 0.10 1e-3
        depth 3 5
        opt "adam"
    }
    cmd "fit --lr {{lr}} --depth {{ depth }} --opt {{opt}}"
    outputs "out/{{lr}}/{{depth}}.pkl"
    env LR="{{lr}}"
    workdir "runs/{{opt}}"
}
"#;

#[test]
fn instances_are_named_with_the_first_variable_varying_slowest() {
    let out = Test::new()
        .manifest(SWEEP)
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    assert_eq!(
        out.action_names(),
        [
            "fit@lr=0.10,depth=3,opt=adam",
            "fit@lr=0.10,depth=5,opt=adam",
            "fit@lr=1e-3,depth=3,opt=adam",
            "fit@lr=1e-3,depth=5,opt=adam",
        ]
    );
}

#[test]
fn values_are_substituted_as_written() {
    let out = Test::new()
        .manifest(SWEEP)
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    let fit = out.action("fit@lr=0.10,depth=5,opt=adam");
    assert_eq!(fit["step"], "fit");
    assert_eq!(fit["matrix"], json!({"lr": 0.1, "depth": 5, "opt": "adam"}));
    assert_eq!(fit["cmd"], "fit --lr 0.10 --depth 5 --opt adam");
    assert_eq!(fit["outputs"], json!(["out/0.10/5.pkl"]));
    assert_eq!(fit["env"], json!({"LR": "0.10"}));
    assert_eq!(fit["workdir"], "runs/adam");
    let small = out.action("fit@lr=1e-3,depth=3,opt=adam");
    assert_eq!(small["cmd"], "fit --lr 1e-3 --depth 3 --opt adam");
    assert_eq!(small["outputs"], json!(["out/1e-3/3.pkl"]));
}

#[test]
fn booleans_and_strings_are_values_too() {
    let out = Test::new()
        .manifest("step \"s\" {\n    matrix {\n        fast #true #false\n        mode train eval\n    }\n    cmd \"run {{fast}} {{mode}}\"\n}\n")
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    assert_eq!(
        out.action_names(),
        [
            "s@fast=true,mode=train",
            "s@fast=true,mode=eval",
            "s@fast=false,mode=train",
            "s@fast=false,mode=eval"
        ]
    );
    assert_eq!(
        out.action("s@fast=false,mode=eval")["cmd"],
        "run false eval"
    );
}

#[test]
fn a_pipeline_runs_every_instance() {
    let out = Test::new()
        .manifest(&format!(
            "pipeline \"sweep\" {{\n    use \"fit\"\n}}\n{SWEEP}"
        ))
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    assert_eq!(
        out.json()["pipelines"][0]["actions"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );
}

#[test]
fn a_matrix_variable_without_values() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    matrix {\n        lr\n    }\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:4:9", "matrix variable `lr` has no values")
        .error_count(1);
}

#[test]
fn a_matrix_without_a_block() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    matrix\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:3:5", "`matrix` needs a block of variables")
        .error_count(1);
}

#[test]
fn a_repeated_matrix_value() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    matrix {\n        lr 0.1 0.2 0.1\n    }\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:4:20",
            "`0.1` appears twice in matrix variable `lr`",
        )
        .error_count(1);
}

#[test]
fn params_cannot_be_a_matrix_variable() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    matrix {\n        params 1 2\n    }\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:4:9", "`params` cannot be a matrix variable")
        .error_count(1);
}

#[test]
fn instances_writing_the_same_output_are_reported_once() {
    Test::new()
        .manifest("step \"fit\" {\n    matrix {\n        lr 0.1 0.2 0.3\n    }\n    cmd \"fit {{lr}}\"\n    outputs \"model.pkl\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:6:13", "`model.pkl` is an output of both `fit@lr=0.1` and `fit@lr=0.2`")
        .stderr_contains("every matrix instance writes this path; put the matrix variables in it, e.g. {{lr}}")
        .error_count(1);
}
