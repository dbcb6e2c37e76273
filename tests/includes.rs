//! `include`: paths relative to the including file, nested includes, and their mistakes.

mod common;
use common::Test;

#[test]
fn nested_includes_resolve_relative_to_the_including_file() {
    let out = Test::new()
        .manifest("project \"p\"\ninclude \"conf/steps.kdl\"\n")
        .file(
            "conf/steps.kdl",
            "include \"more/templates.kdl\"\nstep \"train\" template=\"py\" {\n    cmd \"python3 train.py\"\n}\n",
        )
        .file("conf/more/templates.kdl", "template \"py\" {\n    env PYTHONHASHSEED=\"0\"\n}\n")
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    let train = out.action("train");
    assert_eq!(train["cmd"], "python3 train.py");
    assert_eq!(train["env"], serde_json::json!({"PYTHONHASHSEED": "0"}));
}

#[test]
fn included_pipelines_and_steps_join_the_manifest() {
    let out = Test::new()
        .manifest("include \"pipelines.kdl\"\nstep \"prep\" { cmd \"prep\"; }\n")
        .file(
            "pipelines.kdl",
            "pipeline \"main\" {\n    use \"prep\"\n    step \"fit\" { cmd \"fit\"; }\n}\n",
        )
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    let json = out.json();
    assert_eq!(json["default_pipeline"], "main");
    assert_eq!(
        json["pipelines"][0]["steps"],
        serde_json::json!(["prep", "fit"])
    );
}

#[test]
fn errors_in_an_included_file_are_located_there() {
    Test::new()
        .manifest("include \"conf/steps.kdl\"\n")
        .file(
            "conf/steps.kdl",
            "step \"s\" {\n    cmd \"x\"\n    retires 2\n}\n",
        )
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("conf/steps.kdl:3:5", "unknown node `retires` in a step")
        .stderr_contains("did you mean `retries`?")
        .error_count(1);
}

#[test]
fn an_include_cycle_names_every_file() {
    Test::new()
        .manifest("include \"conf/a.kdl\"\n")
        .file(
            "conf/a.kdl",
            "include \"sub/b.kdl\"\nstep \"a\" { cmd \"a\"; }\n",
        )
        .file(
            "conf/sub/b.kdl",
            "step \"b\" { cmd \"b\"; }\ninclude \"../a.kdl\"\n",
        )
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "conf/sub/b.kdl:2:9",
            "include cycle: conf/a.kdl → conf/sub/b.kdl → conf/a.kdl",
        )
        // The include that opened the cycle is shown as well.
        .note_at("conf/a.kdl:1:9", "included here")
        .error_count(1);
}

#[test]
fn a_file_including_itself() {
    Test::new()
        .manifest("project \"p\"\ninclude \"./zenbuild.kdl\"\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:2:9", "`zenbuild.kdl` includes itself")
        .error_count(1);
}

#[test]
fn including_a_missing_file() {
    Test::new()
        .manifest("project \"p\"\ninclude \"missing.kdl\"\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:2:9",
            "cannot read `missing.kdl`: No such file or directory (os error 2)",
        )
        .error_count(1);
}

#[test]
fn including_a_file_outside_the_workspace() {
    Test::new()
        .manifest("include \"../outside.kdl\"\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:1:9",
            "cannot include `../outside.kdl`: escapes the workspace through `..`",
        )
        .error_count(1);
}

#[test]
fn including_a_file_twice() {
    Test::new()
        .manifest("include \"t.kdl\"\ninclude \"t.kdl\"\n")
        .file("t.kdl", "template \"t\" { cmd \"x\"; }\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:2:9", "`t.kdl` is included more than once")
        .error_count(1);
}

#[test]
fn including_through_a_symlink_leading_outside() {
    let outside = tempfile::tempdir().expect("create a directory outside the workspace");
    std::fs::write(
        outside.path().join("steps.kdl"),
        "step \"s\" { cmd \"x\"; }\n",
    )
    .expect("write");
    Test::new()
        .symlink("shared", &outside.path().display().to_string())
        .manifest("include \"shared/steps.kdl\"\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:1:9",
            "cannot include `shared/steps.kdl`: escapes the workspace through the symlink `shared`",
        )
        .error_count(1);
}
