//! Params files (YAML, JSON, TOML) merged in order, `{{params.a.b}}`, and the keys a step
//! declares with `params`.

mod common;
use common::Test;
use serde_json::json;

fn three_formats() -> Test {
    Test::new()
        .file(
            "params.yaml",
            "train:\n  lr: 0.1\n  seed: 1\n  layers: [64, 32]\ndata:\n  rows: 100\n",
        )
        .file(
            "conf/params.json",
            r#"{"train": {"seed": 2, "name": "json"}}"#,
        )
        .file(
            "params.toml",
            "[train]\nseed = 3\n\n[eval]\nthreshold = 0.5\n",
        )
}

#[test]
fn yaml_json_and_toml_merge_with_later_files_overriding() {
    let out = three_formats()
        .manifest(
            r#"params "params.yaml" "conf/params.json"
params "params.toml"
step "train" {
    cmd "fit --lr {{params.train.lr}} --seed {{params.train.seed}} --name {{params.train.name}} --layers {{params.train.layers}} --second {{params.train.layers.1}}"
    params "train.lr" "train.seed" "train.layers"
}
"#,
        )
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    let train = out.action("train");
    assert_eq!(
        train["cmd"],
        "fit --lr 0.1 --seed 3 --name json --layers [64,32] --second 32"
    );
    assert_eq!(
        train["params"],
        json!({"train.layers": [64, 32], "train.lr": 0.1, "train.seed": 3})
    );
}

#[test]
fn only_the_declared_keys_are_the_actions_params() {
    let out = three_formats()
        .manifest(
            r#"params "params.yaml" "conf/params.json" "params.toml"
step "eval" {
    cmd "eval --threshold {{params.eval.threshold}} --rows {{params.data.rows}}"
    params "eval.threshold"
}
step "whole" {
    cmd "true"
    params "train"
}
step "none" {
    cmd "echo {{params.train.lr}}"
}
"#,
        )
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    let eval = out.action("eval");
    assert_eq!(eval["cmd"], "eval --threshold 0.5 --rows 100");
    assert_eq!(eval["params"], json!({"eval.threshold": 0.5}));
    assert_eq!(
        out.action("whole")["params"],
        json!({"train": {"lr": 0.1, "seed": 3, "layers": [64, 32], "name": "json"}})
    );
    assert_eq!(out.action("none")["params"], json!({}));
}

#[test]
fn an_undeclared_param_key_suggests_a_close_one() {
    Test::new()
        .file("params.yaml", "train:\n  lr: 0.1\n")
        .manifest(
            "params \"params.yaml\"\nstep \"s\" {\n    cmd \"x\"\n    params \"train.lrr\"\n}\n",
        )
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:4:12",
            "param `train.lrr` is not defined in the params files",
        )
        .stderr_contains("did you mean `train.lr`?")
        .error_count(1);
}

#[test]
fn a_param_key_without_any_params_file_says_how_to_declare_one() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    params \"train.lr\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:3:12",
            "param `train.lr` is not defined in the params files",
        )
        .stderr_contains("declare the file that defines it: `params \"params.yaml\"`");
}

#[test]
fn an_undefined_param_in_interpolation_points_at_the_braces() {
    Test::new()
        .file("params.yaml", "train:\n  seed: 1\n")
        .manifest("params \"params.yaml\"\nstep \"s\" {\n    cmd \"fit --seed {{params.train.seeed}}\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:3:21", "param `train.seeed` is not defined in the params files")
        .stderr_contains("did you mean `params.train.seed`?")
        .error_count(1);
}

#[test]
fn a_missing_params_file() {
    Test::new()
        .manifest("params \"nope.yaml\"\nstep \"s\" { cmd \"x\"; }\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:1:8",
            "cannot read params file `nope.yaml`: No such file or directory (os error 2)",
        )
        .error_count(1);
}

#[test]
fn a_yaml_syntax_error_is_located_in_the_params_file() {
    Test::new()
        .file("params.yaml", "train:\n  lr: 0.1\n  seed: 1\n    bad: 2\n")
        .manifest("step \"s\" { cmd \"x\"; }\nparams \"params.yaml\"\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "params.yaml:4:8",
            "invalid params file `params.yaml`: mapping values are not allowed in this context",
        )
        // The declaration is shown too, as a related note.
        .note_at("zenbuild.kdl:2:8", "declared here")
        .error_count(1);
}

#[test]
fn json_and_toml_syntax_errors_are_located_in_their_files() {
    Test::new()
        .file("p.json", "{\n  \"a\": 1,\n  \"b\": ,\n}\n")
        .file("p.toml", "a = 1\nb = = 2\n")
        .manifest("params \"p.json\" \"p.toml\"\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("p.json:3:8", "invalid params file `p.json`: expected value")
        .error_at(
            "p.toml:2:5",
            "invalid params file `p.toml`: extra `=`, expected nothing",
        )
        .error_count(2);
}

#[test]
fn a_params_file_of_an_unknown_type() {
    Test::new()
        .file("params.ini", "[a]\nb=1\n")
        .manifest("params \"params.ini\"\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:1:8",
            "`params.ini` is not a YAML, JSON or TOML file",
        )
        .stderr_contains("name params files *.yaml, *.yml, *.json or *.toml");
}

#[test]
fn a_params_file_must_hold_a_mapping() {
    Test::new()
        .file("params.yaml", "- 1\n- 2\n")
        .manifest("params \"params.yaml\"\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "params.yaml:1:1",
            "invalid params file `params.yaml`: a params file must hold a mapping of names to values at its top level",
        )
        .error_count(1);
}

#[test]
fn a_params_file_outside_the_workspace() {
    let outside = tempfile::tempdir().expect("create a directory outside the workspace");
    std::fs::write(outside.path().join("params.yaml"), "a: 1\n").expect("write");
    Test::new()
        .symlink("shared", &outside.path().display().to_string())
        .manifest("params \"shared/params.yaml\"\nparams \"../params.yaml\"\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:1:8",
            "params file `shared/params.yaml` escapes the workspace through the symlink `shared`",
        )
        .error_at(
            "zenbuild.kdl:2:8",
            "params file `../params.yaml` escapes the workspace through `..`",
        )
        .error_count(2);
}
