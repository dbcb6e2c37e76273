//! `{{…}}` in commands, paths, env values and workdirs: matrix variables, `{{step}}`,
//! `{{project}}` and `{{params.key}}`; and the errors that point inside the string.

mod common;
use common::Test;
use serde_json::json;

#[test]
fn step_project_and_whitespace_inside_the_braces() {
    let out = Test::new()
        .manifest(
            r#"project "demo"
template "t" {
    cmd "echo {{ step }} of {{project}}"
    outputs "out/{{step}}.txt"
    env NAME="{{  step}}" WHERE="{{project }}"
    workdir "work/{{step}}"
}
step "first" template="t" {}
step "second" template="t" {}
"#,
        )
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    for name in ["first", "second"] {
        let action = out.action(name);
        assert_eq!(action["cmd"], format!("echo {name} of demo"));
        assert_eq!(action["outputs"], json!([format!("out/{name}.txt")]));
        assert_eq!(action["env"], json!({"NAME": name, "WHERE": "demo"}));
        assert_eq!(action["workdir"], format!("work/{name}"));
    }
}

#[test]
fn project_defaults_to_the_workspace_directory_name() {
    let test = Test::new().manifest("step \"s\" { cmd \"echo {{project}}\"; }\n");
    let name = test
        .path()
        .canonicalize()
        .ok()
        .and_then(|dir| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let out = test.args(&["graph", "--format", "json"]).run().success();
    assert_eq!(out.json()["project"], name.as_str());
    assert_eq!(out.action("s")["cmd"], format!("echo {name}"));
}

#[test]
fn params_in_inputs_and_env() {
    let out = Test::new()
        .file("params.yaml", "data:\n  name: train\n  rows: 1000\n")
        .manifest(
            "params \"params.yaml\"\nstep \"s\" {\n    cmd \"x\"\n    inputs \"data/{{params.data.name}}.csv\"\n    env ROWS=\"{{ params.data.rows }}\"\n}\n",
        )
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    let action = out.action("s");
    assert_eq!(action["inputs"], json!(["data/train.csv"]));
    assert_eq!(action["env"], json!({"ROWS": "1000"}));
}

#[test]
fn an_undefined_variable_points_at_its_braces() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"python3 fit.py --lr {{lr}}\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:2:30", "`{{lr}}` is not defined")
        .stderr_contains(
            "defined here: `step`, `project` and `params.<key>` for keys in the params files",
        )
        .error_count(1);
}

#[test]
fn an_undefined_variable_suggests_a_matrix_variable() {
    Test::new()
        .manifest("step \"s\" {\n    matrix {\n        lr 0.1\n    }\n    cmd \"x\"\n    outputs \"out/{{ lrr }}.pkl\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:6:18", "`{{lrr}}` is not defined")
        .stderr_contains("did you mean `lr`?")
        .error_count(1);
}

#[test]
fn an_undefined_variable_in_an_env_value() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    env A=\"1\" B=\"v{{version}}\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:3:19", "`{{version}}` is not defined")
        .error_count(1);
}

#[test]
fn an_unclosed_brace_pair() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"echo {{step and more\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:2:15", "`{{` is never closed")
        .stderr_contains("close it with `}}`")
        .error_count(1);
}
