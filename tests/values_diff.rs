//! `params diff` and `metrics diff`: what they call a change. The workspace side of a params
//! diff is the params files as they are now; a metrics diff shows what changed unless `--all`.

mod common;
use common::{Output, Test, git};

const TWO_STEPS: &str = r#"
params "params.yaml"
step "fit" {
    cmd "mkdir -p out && echo {{params.lr}} > out/fit.txt"
    params "lr"
    outputs "out/fit.txt"
}
step "score" {
    cmd "mkdir -p out && echo {{params.lr}} > out/score.txt"
    params "lr"
    outputs "out/score.txt"
}
"#;

fn committed(test: Test) -> Output {
    git(test.path(), &["init", "-q"]);
    let out = test.run().success();
    git(out.path(), &["add", "-A"]);
    git(out.path(), &["commit", "-q", "-m", "built"]);
    out
}

#[test]
fn params_diff_sees_an_edit_before_the_build() {
    let out = committed(
        Test::new()
            .manifest(TWO_STEPS)
            .file("params.yaml", "lr: 0.1\n")
            .file(".gitignore", ".zenbuild/\nout/\n"),
    );
    let out = out
        .again()
        .file("params.yaml", "lr: 0.2\n")
        .args(&["params", "diff"])
        .run()
        .success()
        .stdout_lacks("no param changed");
    assert!(
        out.stdout.contains("fit     lr     0.1   0.2        +0.1"),
        "{}",
        out.stdout
    );
    let json = out
        .again()
        .args(&["params", "diff", "HEAD", "workspace", "--format", "json"])
        .run()
        .success()
        .json();
    assert_eq!(json["changes"][0]["b"], 0.2, "{json}");
    assert_eq!(json["changes"][0]["change"], "changed", "{json}");
}

#[test]
fn params_diff_between_runs_of_different_targets_calls_no_action_changed() {
    let test = Test::new()
        .manifest(TWO_STEPS)
        .file("params.yaml", "lr: 0.1\n")
        .args(&["build", "fit"]);
    let out = test.run().success();
    let out = out.again().args(&["build", "score"]).run().success();
    let out = out
        .again()
        .args(&["params", "diff", "1", "2"])
        .run()
        .success()
        .stdout_contains("no param changed");
    assert!(
        out.stdout.contains("only run 1 has them: fit"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("only run 2 has them: score"),
        "{}",
        out.stdout
    );
    let json = out
        .again()
        .args(&["params", "diff", "1", "2", "--format", "json"])
        .run()
        .success()
        .json();
    assert_eq!(json["changes"].as_array().map(Vec::len), Some(0), "{json}");
    assert_eq!(json["only_in_a"][0], "fit", "{json}");
}

/// A step whose metrics file gains `f1` and loses `loss` between two builds, keeping `acc`.
fn metrics_history() -> Output {
    let manifest = r#"
step "eval" {
    cmd "mkdir -p out && cat metrics.in > out/m.json"
    inputs "metrics.in"
    metrics "out/m.json"
}
"#;
    let out = committed(
        Test::new()
            .manifest(manifest)
            .file("metrics.in", r#"{"acc": 0.5, "loss": 1.5}"#)
            .file(".gitignore", ".zenbuild/\nout/\n"),
    );
    out.again()
        .file("metrics.in", r#"{"acc": 0.5, "f1": 0.75}"#)
        .run()
        .success()
}

#[test]
fn metrics_diff_shows_only_what_changed_unless_all() {
    let out = metrics_history()
        .again()
        .args(&["metrics", "diff"])
        .run()
        .success();
    let rows: Vec<&str> = out.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{}", out.stdout);
    assert!(!out.stdout.contains("acc"), "{}", out.stdout);
    let all = out
        .again()
        .args(&["metrics", "diff", "--all"])
        .run()
        .success();
    assert!(all.stdout.contains("acc"), "{}", all.stdout);
}

#[test]
fn a_new_metric_is_added_and_a_gone_one_removed() {
    let out = metrics_history()
        .again()
        .args(&["metrics", "diff"])
        .run()
        .success();
    assert!(
        out.stdout
            .contains("eval    f1      -     0.75       added"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("eval    loss    1.5   -          removed"),
        "{}",
        out.stdout
    );
    let json = out
        .again()
        .args(&["metrics", "diff", "--format", "json"])
        .run()
        .success()
        .json();
    let kinds: Vec<(String, String)> = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].to_string(), c["change"].to_string()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("\"f1\"".to_string(), "\"added\"".to_string()),
            ("\"loss\"".to_string(), "\"removed\"".to_string())
        ]
    );
}
