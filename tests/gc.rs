//! `zenbuild gc`: what the workspace, the lockfile and recent commits need stays cached;
//! everything else goes, and `--dry-run` only says so.

mod common;
use common::{Output, Test, git};

const PIPELINE: &str = common::TWO_STEPS;

fn workspace() -> Test {
    Test::new()
        .manifest(PIPELINE)
        .file("params.yaml", "lr: 0.1\n")
        .file("data/raw.txt", "b\na\n")
        .file(".gitignore", ".zenbuild/\nout/\n")
}

/// Built with `lr: 0.1`, then with `lr: 0.2`: the cache holds both trains.
fn two_trains(commit_first: bool) -> Output {
    let test = workspace();
    git(test.path(), &["init", "-q"]);
    let out = test.run().success();
    if commit_first {
        git(out.path(), &["add", "-A"]);
        git(out.path(), &["commit", "-q", "-m", "lr 0.1"]);
    }
    out.again()
        .file("params.yaml", "lr: 0.2\n")
        .run()
        .success()
        .stderr_contains("1 ran")
}

fn gc(out: Output, extra: &[&str]) -> Output {
    out.again()
        .args(&["gc", "--keep-days", "0", "--keep-commits", "0"])
        .args(extra)
        .run()
        .success()
}

#[test]
fn what_nothing_needs_goes_and_what_the_workspace_needs_stays() {
    let out = gc(two_trains(false), &["--format", "json"]);
    let json = out.json();
    let removed = json["removed"].as_array().unwrap();
    let results = removed.iter().filter(|r| r["kind"] == "result").count();
    assert_eq!(results, 1, "the lr 0.1 train: {json}");
    assert!(removed.iter().any(|r| r["kind"] == "blob"));

    // What the workspace was built with is still restorable.
    let out = out
        .again()
        .remove("out")
        .run()
        .success()
        .stderr_contains("0 ran, 2 cached");
    // The dropped result is gone: going back to lr 0.1 runs the step again.
    out.again()
        .file("params.yaml", "lr: 0.1\n")
        .run()
        .success()
        .stderr_contains("1 ran");
}

#[test]
fn a_lockfile_in_history_keeps_its_results() {
    let out = gc(two_trains(true), &[]).stdout_contains("removed 0 cached results");
    out.again()
        .file("params.yaml", "lr: 0.1\n")
        .run()
        .success()
        .stderr_contains("0 ran, 2 cached");
}

#[test]
fn a_dry_run_lists_and_keeps_everything() {
    let out = gc(two_trains(false), &["--dry-run"])
        .stdout_contains("would remove result ")
        .stdout_contains("gc: would remove 1 cached results");
    out.again()
        .file("params.yaml", "lr: 0.1\n")
        .run()
        .success()
        .stderr_contains("0 ran, 2 cached");
}
