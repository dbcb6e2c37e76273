//! How actions come to depend on each other: through paths (an input that is another step's
//! output, lies inside its output directory, or is a directory holding its outputs) and
//! through `needs`; and the dependency errors.

mod common;
use common::Test;
use serde_json::json;

const PIPELINE: &str = r#"step "prep" {
    cmd "prep"
    outputs "data/clean.csv" "data/split/"
}
step "train" {
    cmd "train"
    inputs "data/clean.csv"
    outputs "model.pkl"
}
step "eval" {
    cmd "eval"
    inputs "data/split/test.csv" "model.pkl"
    outputs "metrics.json"
}
step "plot" {
    cmd "plot"
    outputs "figs/a.png" "figs/b.png"
}
step "report" {
    cmd "report"
    inputs "figs/"
}
step "fit" {
    matrix {
        lr 1 2
    }
    cmd "fit {{lr}}"
    outputs "m-{{lr}}.pkl" "m-{{lr}}/"
}
step "summary" {
    cmd "summarise"
    needs "fit"
    outputs "summary.md"
}
step "notify" {
    cmd "notify"
}
step "after" {
    cmd "after"
    needs "notify"
}
"#;

fn graph() -> common::Output {
    Test::new()
        .manifest(PIPELINE)
        .args(&["graph", "--format", "json"])
        .run()
        .success()
}

#[test]
fn an_input_equal_to_another_steps_output() {
    let out = graph();
    assert_eq!(out.action("train")["deps"], json!(["prep"]));
    let clean = out.artifact("data/clean.csv");
    assert_eq!(clean["producer"], "prep");
    assert_eq!(clean["consumers"], json!(["train"]));
}

#[test]
fn an_input_file_inside_another_steps_output_directory() {
    let out = graph();
    assert_eq!(out.action("eval")["deps"], json!(["prep", "train"]));
    assert_eq!(out.artifact("data/split/test.csv")["producer"], "prep");
}

#[test]
fn an_input_directory_holding_another_steps_outputs() {
    let out = graph();
    assert_eq!(out.action("report")["inputs"], json!(["figs/"]));
    assert_eq!(out.action("report")["deps"], json!(["plot"]));
}

#[test]
fn needs_makes_every_output_of_every_instance_an_input() {
    let out = graph();
    let summary = out.action("summary");
    assert_eq!(
        summary["inputs"],
        json!(["m-1/", "m-1.pkl", "m-2/", "m-2.pkl"])
    );
    assert_eq!(summary["deps"], json!(["fit@lr=1", "fit@lr=2"]));
}

#[test]
fn needs_on_a_step_without_outputs_still_orders_it() {
    let out = graph();
    let after = out.action("after");
    assert_eq!(after["inputs"], json!([]));
    assert_eq!(after["deps"], json!(["notify"]));
}

#[test]
fn actions_are_listed_after_their_dependencies() {
    let names = graph().action_names();
    let position = |name: &str| names.iter().position(|n| n == name).unwrap_or(usize::MAX);
    for (dep, action) in [
        ("prep", "train"),
        ("train", "eval"),
        ("plot", "report"),
        ("fit@lr=2", "summary"),
        ("notify", "after"),
    ] {
        assert!(
            position(dep) < position(action),
            "{dep} is not before {action}: {names:?}"
        );
    }
}

#[test]
fn dependencies_without_an_artifact_edge_are_drawn_dashed() {
    Test::new()
        .manifest(PIPELINE)
        .args(&["graph", "--format", "dot"])
        .run()
        .success()
        .stdout_contains("\"action:notify\" -> \"action:after\" [style=dashed];")
        .stdout_contains("\"action:plot\" -> \"action:report\" [style=dashed];")
        // data/split/test.csv hangs from the directory `prep` writes, which holds it.
        .stdout_contains(
            "\"path:data/split\" -> \"path:data/split/test.csv\" [style=dotted, label=\"holds\"];",
        )
        .stdout_lacks("\"action:prep\" -> \"action:eval\" [style=dashed];")
        // model.pkl does: no dashed edge besides it.
        .stdout_lacks("\"action:train\" -> \"action:eval\" [style=dashed];");
}

#[test]
fn a_cycle_through_three_steps_names_every_step() {
    Test::new()
        .manifest(
            r#"step "a" {
    cmd "x"
    inputs "c.txt"
    outputs "a.txt"
}
step "b" {
    cmd "x"
    inputs "a.txt"
    outputs "b.txt"
}
step "c" {
    cmd "x"
    inputs "b.txt"
    outputs "c.txt"
}
"#,
        )
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:1:6", "dependency cycle: a → b → c → a")
        .stderr_contains("`b` is on the cycle")
        .stderr_contains("`c` is on the cycle")
        .error_count(1);
}

#[test]
fn a_cycle_through_needs_follows_the_data_flow() {
    // a needs b, b needs c, c needs a: c's work flows into b, b's into a, a's into c.
    Test::new()
        .manifest("step \"a\" { cmd \"x\"; needs \"b\"; }\nstep \"b\" { cmd \"x\"; needs \"c\"; }\nstep \"c\" { cmd \"x\"; needs \"a\"; }\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:1:6", "dependency cycle: a → c → b → a")
        .error_count(1);
}

#[test]
fn a_step_that_needs_itself() {
    Test::new()
        .manifest("step \"a\" {\n    cmd \"x\"\n    needs \"a\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:1:6", "step `a` depends on itself")
        .stderr_contains("a step cannot need itself; remove it from its own `needs`")
        .error_count(1);
}

#[test]
fn needs_an_unknown_step() {
    Test::new()
        .manifest("step \"train\" { cmd \"x\"; }\nstep \"eval\" {\n    cmd \"x\"\n    needs \"trian\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:4:11", "step `trian` is not defined")
        .stderr_contains("did you mean `train`?")
        .error_count(1);
}
