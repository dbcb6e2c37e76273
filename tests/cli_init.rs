//! `zenbuild init`: a starter manifest that passes `check`, and `.zenbuild/` git-ignored once.

mod common;
use common::Test;

#[test]
fn writes_a_manifest_that_passes_check() {
    let out = Test::new()
        .args(&["init", "--name", "churn"])
        .run()
        .success()
        .stdout_contains("ok: wrote ./zenbuild.kdl");
    assert!(out.read("zenbuild.kdl").contains("project \"churn\""));
    let out = out.again().args(&["check"]).run().success();
    out.stdout_contains("project churn")
        .stdout_contains("1 pipeline (default: main), 1 step, 1 action, 1 artifact");
}

#[test]
fn ignores_the_state_directory_exactly_once() {
    let out = Test::new().args(&["init"]).run().success();
    assert_eq!(out.read(".gitignore"), ".zenbuild/\n");
    let out = out
        .again()
        .args(&["init"])
        .run()
        .code(1)
        .stderr_contains("zenbuild.kdl already exists; zenbuild init leaves it as it is");
    assert_eq!(out.read(".gitignore"), ".zenbuild/\n");
}

#[test]
fn keeps_an_existing_gitignore() {
    let out = Test::new()
        .file(".gitignore", "target/\n__pycache__/")
        .args(&["init"])
        .run()
        .success();
    assert_eq!(
        out.read(".gitignore"),
        "target/\n__pycache__/\n.zenbuild/\n"
    );
}

#[test]
fn does_not_repeat_an_existing_ignore_line() {
    let out = Test::new()
        .file(".gitignore", "/.zenbuild\n")
        .args(&["init"])
        .run()
        .success();
    assert_eq!(out.read(".gitignore"), "/.zenbuild\n");
}

#[test]
fn an_existing_manifest_is_left_unchanged() {
    let out = Test::new()
        .manifest("project \"mine\"\n")
        .args(&["init"])
        .run()
        .code(1);
    assert_eq!(out.read("zenbuild.kdl"), "project \"mine\"\n");
    assert!(!out.dir.path().join(".gitignore").exists());
}

#[test]
fn the_project_is_named_after_the_directory() {
    let out = Test::new()
        .current_dir("my-model")
        .args(&["init"])
        .run()
        .success();
    assert!(
        out.read("my-model/zenbuild.kdl")
            .contains("project \"my-model\"")
    );
}

#[test]
fn dash_c_chooses_the_directory() {
    let out = Test::new()
        .dir("sub")
        .args(&["-C", "sub", "init"])
        .run()
        .success();
    assert!(out.read("sub/zenbuild.kdl").contains("project \"sub\""));
    assert_eq!(out.read("sub/.gitignore"), ".zenbuild/\n");
}

#[test]
fn outside_git_it_says_to_run_git_init() {
    Test::new()
        .without_git()
        .args(&["init"])
        .run()
        .success()
        .stdout_contains("is not in a git repository; run `git init` there before building");
}
