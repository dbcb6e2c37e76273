//! Paths on the command line are relative to the current directory, as in git, wherever in
//! the workspace zenbuild starts; a path outside the workspace is refused.

mod common;
use common::{Output, Test};

const PIPELINE: &str = r#"
step "prepare" {
    cmd "mkdir -p out && tr a-z A-Z < data/raw.csv > out/clean.csv"
    inputs "data/raw.csv"
    outputs "out/clean.csv"
}
step "train" {
    cmd "wc -c < out/clean.csv > out/model.txt"
    inputs "out/clean.csv"
    outputs "out/model.txt"
}
"#;

fn built() -> Output {
    Test::new()
        .manifest(PIPELINE)
        .file("data/raw.csv", "a,b\n")
        .args(&["build"])
        .run()
        .success()
}

#[test]
fn lineage_from_a_subdirectory_takes_the_path_from_there() {
    built()
        .again()
        .current_dir("out")
        .args(&["lineage", "model.txt"])
        .run()
        .success()
        .stdout_contains("out/model.txt")
        .stdout_contains("train (run 1)")
        .stdout_contains("data/raw.csv");
    built()
        .again()
        .current_dir("data")
        .args(&["lineage", "--down", "./raw.csv"])
        .run()
        .success()
        .stdout_contains("prepare (run 1)")
        .stdout_contains("out/model.txt");
}

#[test]
fn explain_and_build_take_a_path_target_from_the_current_directory() {
    built()
        .again()
        .current_dir("out")
        .args(&["explain", "clean.csv"])
        .run()
        .success()
        .stdout_contains("prepare: cached")
        .stdout_lacks("train");
    built()
        .again()
        .file("data/raw.csv", "c,d\n")
        .current_dir("out")
        .args(&["build", "clean.csv"])
        .run()
        .success()
        .stderr_contains("1 action: 1 ran");
    built()
        .again()
        .current_dir("data")
        .args(&["plan", "../out/model.txt"])
        .run()
        .success()
        .stdout_contains("train: cached");
}

#[test]
fn a_path_target_no_step_writes_is_an_unknown_target() {
    built()
        .again()
        .current_dir("data")
        .args(&["build", "raw.csv"])
        .run()
        .code(2)
        .stderr_contains("no step writes `data/raw.csv`");
}

#[test]
fn a_path_outside_the_workspace_is_refused() {
    built()
        .again()
        .current_dir("out")
        .args(&["lineage", "../../elsewhere.txt"])
        .run()
        .code(1)
        .stderr_contains("`../../elsewhere.txt` is outside the workspace");
    built()
        .again()
        .args(&["explain", "/etc/hostname"])
        .run()
        .stderr_contains("is outside the workspace");
}

#[test]
fn from_outside_the_workspace_with_dash_c_paths_are_taken_from_the_workspace_root() {
    let out = Test::new()
        .file("ws/zenbuild.kdl", PIPELINE)
        .file("ws/data/raw.csv", "a,b\n")
        .args(&["-C", "ws", "build"])
        .run()
        .success();
    out.again()
        .args(&["-C", "ws", "lineage", "out/model.txt"])
        .run()
        .success()
        .stdout_contains("train (run 1)")
        .stdout_contains("data/raw.csv");
}
