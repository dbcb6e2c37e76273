//! `zenbuild graph TARGET…`: a pipeline, a step (every instance) or one action, each with
//! everything it depends on.

mod common;
use common::Test;

const MANIFEST: &str = r#"pipeline "train" {
    step "prep" { cmd "prep"; outputs "data.csv"; }
    step "fit" {
        matrix {
            lr 0.1 0.2
        }
        cmd "fit {{lr}}"
        inputs "data.csv"
        outputs "m-{{lr}}.pkl"
    }
    step "report" { cmd "report"; needs "fit"; }
}
pipeline "lint" {
    step "ruff" { cmd "ruff check"; }
}
"#;

fn actions_for(targets: &[&str]) -> Vec<String> {
    let mut args = vec!["graph", "--format", "json"];
    args.extend_from_slice(targets);
    Test::new()
        .manifest(MANIFEST)
        .args(&args)
        .run()
        .success()
        .action_names()
}

#[test]
fn a_pipeline_with_its_dependencies() {
    assert_eq!(
        actions_for(&["train"]),
        ["prep", "fit@lr=0.1", "fit@lr=0.2", "report"]
    );
    assert_eq!(actions_for(&["lint"]), ["ruff"]);
}

#[test]
fn a_step_means_all_its_instances_and_their_dependencies() {
    assert_eq!(actions_for(&["fit"]), ["prep", "fit@lr=0.1", "fit@lr=0.2"]);
}

#[test]
fn one_action_instance() {
    assert_eq!(actions_for(&["fit@lr=0.2"]), ["prep", "fit@lr=0.2"]);
}

#[test]
fn several_targets_together() {
    assert_eq!(actions_for(&["ruff", "prep"]), ["prep", "ruff"]);
}

#[test]
fn only_the_selected_artifacts_are_shown() {
    Test::new()
        .manifest(MANIFEST)
        .args(&["graph", "fit@lr=0.1"])
        .run()
        .success()
        .stdout_contains("\"path:m-0.1.pkl\"")
        .stdout_lacks("m-0.2.pkl")
        .stdout_lacks("action:report");
}

#[test]
fn an_unknown_target_suggests_a_close_name() {
    Test::new()
        .manifest(MANIFEST)
        .args(&["graph", "fitt"])
        .run()
        .bad_manifest()
        .stderr_contains("error: `fitt` is not a pipeline, step or action in this manifest")
        .stderr_contains("help: did you mean `fit`?")
        .stdout_lacks("digraph");
}

#[test]
fn an_unknown_instance_suggests_a_close_instance() {
    Test::new()
        .manifest(MANIFEST)
        .args(&["graph", "fit@lr=0.3"])
        .run()
        .bad_manifest()
        .stderr_contains("did you mean `fit@lr=0.1`?");
}

#[test]
fn an_unknown_target_with_nothing_close_points_to_list() {
    Test::new()
        .manifest(MANIFEST)
        .args(&["graph", "deploy-to-production"])
        .run()
        .bad_manifest()
        .stderr_contains("`zenbuild list` shows the pipelines and steps");
}
