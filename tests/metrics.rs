//! `zenbuild metrics`, `metrics diff` and `params diff` between commits of a small repository
//! built in the test: each commit carries its `zenbuild.lock`, which names the metrics files
//! by digest.

mod common;
use common::{Output, Test, git};

/// A sweep over `depth`, each instance reporting a score that follows from its params.
const SWEEP: &str = r#"
params "params.yaml"
step "fit" {
    matrix {
        depth 1 2
    }
    cmd "printf '{\"score\": {{params.base}}%s, \"depth\": {{depth}}}' {{depth}} > out/m-{{depth}}.json"
    params "base"
    metrics "out/m-{{depth}}.json"
}
"#;

fn commit(out: &Output, message: &str) {
    git(out.path(), &["add", "-A"]);
    git(out.path(), &["commit", "-q", "-m", message]);
}

/// Two commits, each built before it was committed: `base: 0.5` then `base: 0.7`.
fn history() -> Output {
    let test = Test::new()
        .manifest(SWEEP)
        .file("params.yaml", "base: 0.5\n")
        .file(".gitignore", ".zenbuild/\nout/\n");
    git(test.path(), &["init", "-q"]);
    let out = test.run().success();
    commit(&out, "first");
    git(out.path(), &["tag", "first"]);
    let out = out
        .again()
        .file("params.yaml", "base: 0.7\n")
        .run()
        .success();
    commit(&out, "second");
    out
}

#[test]
fn a_sweep_is_one_table_a_row_per_instance() {
    let out = history().again().args(&["metrics"]).run().success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].contains("depth") && lines[0].contains("score"),
        "{}",
        out.stdout
    );
    assert!(
        lines[1].starts_with("workspace  fit@depth=1"),
        "{}",
        out.stdout
    );
    assert!(lines[1].contains("0.71"), "{}", out.stdout);
    assert!(
        lines[2].starts_with("workspace  fit@depth=2"),
        "{}",
        out.stdout
    );
    assert!(lines[2].contains("0.72"), "{}", out.stdout);
}

#[test]
fn metrics_diff_between_two_commits() {
    let out = history()
        .again()
        .args(&["metrics", "diff", "first", "HEAD", "--format", "json"])
        .run()
        .success();
    let json = out.json();
    assert_eq!(json["a"], "first");
    assert_eq!(json["b"], "HEAD");
    let score = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "fit@depth=2" && c["name"] == "score")
        .cloned()
        .unwrap();
    assert_eq!(score["a"], 0.52);
    assert_eq!(score["b"], 0.72);
    assert!(
        (score["delta"].as_f64().unwrap() - 0.2).abs() < 1e-9,
        "{score}"
    );

    let text = out
        .again()
        .args(&["metrics", "diff", "first"])
        .run()
        .success();
    assert!(text.stdout.contains("first"), "{}", text.stdout);
    assert!(text.stdout.contains("+0.2"), "{}", text.stdout);
}

#[test]
fn params_diff_shows_what_changed() {
    let out = history()
        .again()
        .args(&["params", "diff", "first", "HEAD"])
        .run()
        .success();
    assert!(
        out.stdout.contains("fit@depth=1  base   0.5    0.7"),
        "{}",
        out.stdout
    );
    let same = out
        .again()
        .args(&["params", "diff", "HEAD"])
        .run()
        .success();
    assert!(same.stdout.contains("no param changed"), "{}", same.stdout);
}

#[test]
fn runs_and_revisions_side_by_side() {
    let out = history()
        .again()
        .args(&["metrics", "first", "2", "--format", "json"])
        .run()
        .success();
    let sources = out.json()["sources"].as_array().unwrap().clone();
    assert_eq!(sources[0]["source"], "first");
    assert_eq!(
        sources[0]["actions"]["fit@depth=1"]["metrics"]["score"],
        0.51
    );
    assert_eq!(sources[1]["source"], "run 2");
    assert_eq!(
        sources[1]["actions"]["fit@depth=1"]["metrics"]["score"],
        0.71
    );
    out.again()
        .args(&["metrics", "nonesuch"])
        .run()
        .code(1)
        .stderr_contains("unknown revision `nonesuch`");
}

#[test]
fn a_revision_without_a_lockfile_is_the_run_built_at_it() {
    let test = Test::new()
        .manifest(SWEEP)
        .file("params.yaml", "base: 0.5\n")
        .file(".gitignore", ".zenbuild/\nout/\nzenbuild.lock\n");
    git(test.path(), &["init", "-q"]);
    git(test.path(), &["add", "-A"]);
    git(
        test.path(),
        &["commit", "-q", "-m", "no lockfile committed"],
    );
    let out = test.run().success();
    let out = out
        .again()
        .args(&["metrics", "HEAD", "--format", "json"])
        .run()
        .success();
    let source = &out.json()["sources"][0];
    assert_eq!(source["source"], "HEAD");
    assert_eq!(source["actions"]["fit@depth=2"]["metrics"]["score"], 0.52);
}
