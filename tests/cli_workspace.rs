//! Finding the workspace: zenbuild.kdl in the current directory or a parent, `-C DIR`, and
//! what happens without a manifest or outside git.

mod common;
use common::Test;

const MANIFEST: &str = "project \"found\"\nstep \"s\" { cmd \"true\"; }\n";

#[test]
fn finds_the_manifest_in_a_parent_directory() {
    Test::new()
        .manifest(MANIFEST)
        .current_dir("sub/dir")
        .args(&["check"])
        .run()
        .success()
        .stdout_contains("ok: zenbuild.kdl is valid: project found");
}

#[test]
fn paths_stay_relative_to_the_workspace_root_from_a_subdirectory() {
    let out = Test::new()
        .file("src/a.py", "")
        .manifest("step \"s\" {\n    cmd \"x\"\n    inputs \"src/*.py\"\n}\n")
        .current_dir("src")
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    assert_eq!(out.action("s")["inputs"], serde_json::json!(["src/a.py"]));
}

#[test]
fn dash_c_runs_as_if_started_in_dir() {
    Test::new()
        .file("project/zenbuild.kdl", MANIFEST)
        .args(&["-C", "project", "check"])
        .run()
        .success()
        .stdout_contains("project found");
}

#[test]
fn dash_c_after_the_subcommand_and_in_long_form() {
    Test::new()
        .file("project/zenbuild.kdl", MANIFEST)
        .dir("elsewhere")
        .current_dir("elsewhere")
        .args(&["list", "--directory", "../project/"])
        .run()
        .success()
        .stdout_contains("  s");
}

#[test]
fn dash_c_to_a_missing_directory() {
    Test::new()
        .args(&["-C", "nowhere", "check"])
        .run()
        .bad_manifest()
        .stderr_contains("cannot use directory `nowhere`");
}

#[test]
fn the_bare_command_builds_the_default_pipeline() {
    Test::new()
        .manifest("project \"found\"\npipeline \"p\" {\n    step \"s\" { cmd \"echo hi > s.txt\"; outputs \"s.txt\"; }\n}\n")
        .run()
        .success()
        .stderr_contains("1 ran");
}

#[test]
fn no_manifest_anywhere_suggests_zenbuild_init() {
    Test::new()
        .current_dir("empty")
        .args(&["check"])
        .run()
        .bad_manifest()
        .stderr_contains("no zenbuild.kdl in")
        .stderr_contains("or any parent directory")
        .stderr_contains("run `zenbuild init` to write a starter manifest, or pass `-C DIR` to point at a workspace");
}

#[test]
fn every_subcommand_needs_a_manifest() {
    for command in ["check", "list", "graph"] {
        Test::new()
            .args(&[command])
            .run()
            .bad_manifest()
            .stderr_contains("zenbuild init");
    }
}

#[test]
fn outside_git_suggests_git_init() {
    Test::new()
        .without_git()
        .manifest(MANIFEST)
        .args(&["check"])
        .run()
        .bad_manifest()
        .stderr_contains("is not inside a git repository")
        .stderr_contains("a zenbuild workspace is a git repository: run `git init` in");
}

#[test]
fn a_workspace_below_the_top_of_the_repository() {
    Test::new()
        .file("ml/zenbuild.kdl", MANIFEST)
        .current_dir("ml")
        .args(&["check"])
        .run()
        .success();
}
