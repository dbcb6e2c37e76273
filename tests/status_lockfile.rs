//! `zenbuild.lock` and `zenbuild status --check`: a successful build writes the lockfile, the
//! same build writes the same bytes, and status judges the lockfile against the files as they
//! are, without needing the outputs or a cache (as in CI on a fresh clone).

mod common;
use common::{Output, Test};

const PIPELINE: &str = common::TWO_STEPS;

fn built() -> Output {
    Test::new()
        .manifest(PIPELINE)
        .file("params.yaml", "lr: 0.1\n")
        .file("data/raw.txt", "b\na\n")
        .run()
        .success()
}

fn status_check(out: Output) -> Output {
    out.again().args(&["status", "--check"]).run()
}

#[test]
fn a_build_writes_the_lockfile_and_status_passes() {
    let out = built();
    let lock: serde_json::Value = serde_json::from_str(&out.read("zenbuild.lock")).unwrap();
    assert_eq!(lock["version"], 1);
    let train = &lock["actions"]["train"];
    assert_eq!(train["params"]["lr"], 0.1);
    assert!(train["inputs"]["out/sorted.txt"].is_string());
    assert!(train["outputs"]["out/model.txt"].is_string());
    assert_eq!(
        lock["actions"]["prepare"]["outputs"]["out/sorted.txt"],
        train["inputs"]["out/sorted.txt"]
    );
    status_check(out)
        .success()
        .stdout_contains("zenbuild.lock: 2 actions up to date");
}

#[test]
fn the_same_build_writes_the_same_bytes() {
    let out = built();
    let first = out.read("zenbuild.lock");
    let out = out.again().run().success();
    assert_eq!(out.read("zenbuild.lock"), first);
    let out = out
        .again()
        .remove(".zenbuild")
        .remove("out")
        .run()
        .success()
        .stderr_contains("2 ran");
    assert_eq!(out.read("zenbuild.lock"), first);
}

#[test]
fn an_edited_input_fails_the_check_until_the_next_build() {
    let out = built()
        .again()
        .file("data/raw.txt", "c\nb\na\n")
        .run_status();
    let out = out
        .code(1)
        .stdout_contains("2 of 2 actions stale")
        .stdout_contains("prepare: data/raw.txt changed")
        .stdout_contains("train: after prepare")
        .stderr_contains("zenbuild.lock is out of date");
    let out = out.again().run().success();
    status_check(out).success();
}

#[test]
fn a_changed_param_names_the_param() {
    built()
        .again()
        .file("params.yaml", "lr: 0.2\n")
        .run_status()
        .code(1)
        .stdout_contains("param lr changed: 0.1 → 0.2");
}

#[test]
fn a_fresh_clone_without_outputs_or_cache_passes() {
    let out = built()
        .again()
        .remove(".zenbuild")
        .remove("out")
        .run_status();
    out.success().stdout_contains("2 actions up to date");
}

#[test]
fn a_missing_lockfile_and_dropped_steps_are_reported() {
    let out = built()
        .again()
        .remove("zenbuild.lock")
        .run_status()
        .code(1)
        .stdout_contains("prepare: not in zenbuild.lock");
    let out = out.again().run().success();
    let only_prepare = PIPELINE.split("step \"train\"").next().unwrap();
    let out = out.again().manifest(only_prepare).run_status();
    let out = out
        .code(1)
        .stdout_contains("train: in zenbuild.lock but no longer in the manifest");
    let out = out.again().run().success();
    assert!(!out.read("zenbuild.lock").contains("\"train\""));
    status_check(out).success();
}

#[test]
fn a_conflicted_lockfile_is_replaced_by_the_next_build() {
    let out = built()
        .again()
        .file(
            "zenbuild.lock",
            "<<<<<<< HEAD\n{}\n=======\n{}\n>>>>>>> other\n",
        )
        .args(&["status"])
        .run()
        .code(1)
        .stderr_contains("zenbuild.lock is not a lockfile");
    let out = out.again().run().success();
    status_check(out).success();
}

trait RunStatus {
    fn run_status(self) -> Output;
}

impl RunStatus for Test {
    fn run_status(self) -> Output {
        self.args(&["status", "--check"]).run()
    }
}
