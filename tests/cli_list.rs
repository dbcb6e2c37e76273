//! `zenbuild list`: every pipeline with the actions it runs (dependencies included), then the
//! steps no pipeline names.

mod common;
use common::Test;

#[test]
fn lists_pipelines_their_actions_and_loose_steps() {
    let out = Test::new()
        .manifest(
            r#"pipeline "train" {
    description "Prepare and fit"
    step "prep" { cmd "x"; outputs "data.csv"; }
    step "fit" {
        description "One model per rate"
        matrix {
            lr 0.1 0.2
        }
        cmd "fit"
        inputs "data.csv"
        outputs "m-{{lr}}.pkl"
    }
}
pipeline "report" default=#true {
    step "report" { cmd "r"; needs "fit"; }
}
step "lint" { cmd "ruff check"; }
"#,
        )
        .args(&["list"])
        .run()
        .success();
    assert_eq!(
        out.stdout,
        "pipeline train — Prepare and fit
  prep
  fit@lr=0.1  One model per rate
  fit@lr=0.2  One model per rate
pipeline report (default)
  prep
  fit@lr=0.1  One model per rate
  fit@lr=0.2  One model per rate
  report
steps in no pipeline
  lint
"
    );
}

#[test]
fn a_bad_manifest_lists_nothing() {
    Test::new()
        .manifest("step \"s\" {}\n")
        .args(&["list"])
        .run()
        .bad_manifest()
        .stdout_lacks("s")
        .error_at("zenbuild.kdl:1:6", "step `s` has no `cmd`");
}
