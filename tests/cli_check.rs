//! `zenbuild check`: the summary of a valid manifest, and `project`.

mod common;
use common::Test;

#[test]
fn summarises_pipelines_steps_actions_and_artifacts() {
    Test::new()
        .manifest(
            r#"project "churn"
pipeline "train" {
    step "prep" { cmd "x"; outputs "data.csv"; }
    step "fit" {
        matrix {
            lr 0.1 0.2
        }
        cmd "fit"
        inputs "data.csv"
        outputs "model-{{lr}}.pkl"
    }
}
pipeline "data" default=#true {
    use "prep"
}
"#,
        )
        .args(&["check"])
        .run()
        .success()
        .stdout_contains("ok: zenbuild.kdl is valid: project churn\n")
        .stdout_contains("  2 pipelines (default: data), 2 steps, 3 actions, 3 artifacts\n");
}

#[test]
fn singular_counts_and_no_default_without_pipelines() {
    Test::new()
        .manifest("project \"one\"\nstep \"s\" { cmd \"x\"; outputs \"o\"; }\n")
        .args(&["check"])
        .run()
        .success()
        .stdout_contains("  0 pipelines, 1 step, 1 action, 1 artifact\n");
}

#[test]
fn an_empty_manifest_is_valid() {
    Test::new()
        .manifest("")
        .args(&["check"])
        .run()
        .success()
        .stdout_contains("0 pipelines, 0 steps, 0 actions, 0 artifacts");
}

#[test]
fn the_project_name_is_in_the_graph() {
    let out = Test::new()
        .manifest("project \"churn model\"\n")
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    assert_eq!(out.json()["project"], "churn model");
}

#[test]
fn project_needs_a_name() {
    Test::new()
        .manifest("project\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:1:1", "`project` needs a project name")
        .error_count(1);
}
