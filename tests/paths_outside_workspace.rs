//! Every path a step names stays inside the workspace: no `..` out of it, no absolute paths,
//! no symlinks leading out, for inputs, outputs, metrics and `workdir` alike.

mod common;
use common::Test;

const HELP: &str =
    "every path in zenbuild.kdl is relative to the directory holding it and must stay inside it";

#[test]
fn dot_dot_out_of_the_workspace() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    inputs \"data/../../secret.txt\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:3:12",
            "`data/../../secret.txt` escapes the workspace through `..`",
        )
        .stderr_contains(HELP)
        .error_count(1);
}

#[test]
fn dot_dot_that_stays_inside_is_fine() {
    let out = Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    inputs \"data/../src/a.py\"\n}\n")
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    assert_eq!(out.action("s")["inputs"], serde_json::json!(["src/a.py"]));
}

#[test]
fn an_absolute_path() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    inputs \"/etc/passwd\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:3:12",
            "`/etc/passwd` is absolute; paths are relative to the workspace root",
        )
        .error_count(1);
}

#[test]
fn outputs_and_metrics_outside_the_workspace() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    outputs \"../model.pkl\"\n    metrics \"/tmp/m.json\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:3:13", "`../model.pkl` escapes the workspace through `..`")
        .error_at("zenbuild.kdl:4:13", "`/tmp/m.json` is absolute; paths are relative to the workspace root")
        .error_count(2);
}

#[test]
fn a_symlink_leading_outside() {
    Test::new()
        .symlink("etc", "/etc")
        .manifest("step \"s\" {\n    cmd \"x\"\n    inputs \"etc/passwd\"\n    outputs \"etc/out.txt\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:3:12", "`etc/passwd` escapes the workspace through the symlink `etc`")
        .error_at("zenbuild.kdl:4:13", "`etc/out.txt` escapes the workspace through the symlink `etc`")
        .error_count(2);
}

#[test]
fn a_symlink_inside_the_workspace_is_fine() {
    Test::new()
        .file("real/data.csv", "")
        .symlink("alias", "real")
        .manifest("step \"s\" {\n    cmd \"x\"\n    inputs \"alias/data.csv\"\n}\n")
        .args(&["check"])
        .run()
        .success();
}

#[test]
fn a_workdir_outside_the_workspace() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    workdir \"../elsewhere\"\n}\nstep \"t\" {\n    cmd \"x\"\n    workdir \"/srv\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:3:13", "`../elsewhere` escapes the workspace through `..`")
        .error_at("zenbuild.kdl:7:13", "`/srv` is absolute; paths are relative to the workspace root")
        .error_count(2);
}

#[test]
fn a_workdir_through_a_symlink_leading_outside() {
    let outside = tempfile::tempdir().expect("create a directory outside the workspace");
    Test::new()
        .symlink("scratch", &outside.path().display().to_string())
        .manifest("step \"s\" {\n    cmd \"x\"\n    workdir \"scratch/run\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:3:13",
            "`scratch/run` escapes the workspace through the symlink `scratch`",
        )
        .error_count(1);
}

#[test]
fn a_glob_outside_the_workspace() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    inputs \"../*.py\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:3:12",
            "`../*.py` escapes the workspace through `..`",
        )
        .error_count(1);
}
