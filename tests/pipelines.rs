//! `pipeline` blocks: steps declared inside, steps pulled in with `use`, `description`, and
//! which pipeline is the default.

mod common;
use common::Test;

const TWO_PIPELINES: &str = r#"project "p"
step "top" { cmd "echo top"; }
pipeline "first" {
    description "the first pipeline"
    step "inner" { cmd "echo inner"; }
    use "top"
}
pipeline "second" {
    use "inner"
}
"#;

#[test]
fn steps_inside_and_used_belong_to_the_pipeline() {
    let out = Test::new()
        .manifest(TWO_PIPELINES)
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    let json = out.json();
    let first = &json["pipelines"][0];
    assert_eq!(first["name"], "first");
    assert_eq!(first["description"], "the first pipeline");
    assert_eq!(first["steps"], serde_json::json!(["inner", "top"]));
    let second = &json["pipelines"][1];
    assert_eq!(second["name"], "second");
    assert_eq!(second["description"], serde_json::Value::Null);
    assert_eq!(second["steps"], serde_json::json!(["inner"]));
    assert_eq!(second["actions"], serde_json::json!(["inner"]));
    // The top-level step is declared once and exists whether or not a pipeline uses it.
    assert_eq!(out.action("top")["cmd"], "echo top");
    assert_eq!(out.action("inner")["cmd"], "echo inner");
}

#[test]
fn the_first_pipeline_is_the_default_when_none_is_marked() {
    let out = Test::new()
        .manifest(TWO_PIPELINES)
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    assert_eq!(out.json()["default_pipeline"], "first");
}

#[test]
fn default_true_marks_the_default_pipeline() {
    let manifest = TWO_PIPELINES.replace(
        "pipeline \"second\" {",
        "pipeline \"second\" default=#true {",
    );
    let out = Test::new()
        .manifest(&manifest)
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    assert_eq!(out.json()["default_pipeline"], "second");
}

#[test]
fn a_manifest_without_pipelines_has_no_default() {
    let out = Test::new()
        .manifest("step \"alone\" { cmd \"true\"; }\n")
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    let json = out.json();
    assert_eq!(json["default_pipeline"], serde_json::Value::Null);
    assert_eq!(json["pipelines"], serde_json::json!([]));
    assert_eq!(out.action_names(), ["alone"]);
}

#[test]
fn two_default_pipelines_are_an_error() {
    Test::new()
        .manifest("pipeline \"a\" default=#true {}\npipeline \"b\" default=#true {}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:2:22",
            "pipelines `a` and `b` are both marked default",
        )
        .error_count(1);
}

#[test]
fn default_must_be_a_boolean() {
    Test::new()
        .manifest("pipeline \"a\" default=\"yes\" {}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:1:22",
            "expected #true or #false, found a string",
        )
        .stderr_contains("KDL booleans are written `#true` and `#false`");
}

#[test]
fn using_an_unknown_step_suggests_the_right_one() {
    Test::new()
        .manifest("step \"train\" { cmd \"x\"; }\npipeline \"p\" {\n    use \"trian\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:3:9", "step `trian` is not defined")
        .stderr_contains("did you mean `train`?")
        .error_count(1);
}

#[test]
fn a_pipeline_needs_a_name() {
    Test::new()
        .manifest("pipeline {}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:1:1", "`pipeline` needs a pipeline name");
}
