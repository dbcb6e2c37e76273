//! `template` and `extends`: what a step inherits through a chain of templates, following the
//! merge rules of src/manifest/template.rs, and the mistakes a chain can hold.

mod common;
use common::Test;
use serde_json::json;

const CHAIN: &str = r#"template "base" {
    cmd "base-cmd"
    description "from base"
    inputs "src/common.py"
    outputs "out/base-{{lr}}-{{seed}}.txt"
    env A="base" B="base"
    resources cpus=2 memory="1GiB"
    timeout "10m"
    retries 1
    cache #false
    workdir "base"
    matrix {
        lr 0.1 0.2
        seed 1
    }
}
template "mid" extends="base" {
    description "from mid"
    inputs "src/mid.py"
    env B="mid" C="mid"
    resources gpus=1
    retries 2
}
step "leaf" template="mid" {
    cmd "leaf-cmd"
    inputs "src/leaf.py"
    env C="leaf"
    resources memory="512MiB"
    matrix {
        seed 7 8
    }
}
step "replacer" template="mid" {
    inputs "src/leaf.py" replace=#true
    outputs "out/r-{{lr}}-{{seed}}.txt" replace=#true
    matrix {
        lr 0.5
    }
}
"#;

fn chain() -> common::Output {
    Test::new()
        .manifest(CHAIN)
        .args(&["graph", "--format", "json"])
        .run()
        .success()
}

#[test]
fn a_step_inherits_through_two_levels_of_extends() {
    let out = chain();
    let leaf = out.action("leaf@lr=0.1,seed=7");
    // Scalars: the nearest setting wins, however far up the chain it is.
    assert_eq!(leaf["cmd"], "leaf-cmd");
    assert_eq!(leaf["description"], "from mid");
    assert_eq!(leaf["timeout_secs"], 600.0);
    assert_eq!(leaf["retries"], 2);
    assert_eq!(leaf["cache"], false);
    assert_eq!(leaf["workdir"], "base");
    // Lists append, from the root of the chain down.
    assert_eq!(
        leaf["inputs"],
        json!(["src/common.py", "src/leaf.py", "src/mid.py"])
    );
    assert_eq!(leaf["outputs"], json!(["out/base-0.1-7.txt"]));
}

#[test]
fn env_merges_by_name() {
    let out = chain();
    assert_eq!(
        out.action("leaf@lr=0.1,seed=7")["env"],
        json!({"A": "base", "B": "mid", "C": "leaf"})
    );
}

#[test]
fn resources_merge_property_by_property() {
    let out = chain();
    assert_eq!(
        out.action("leaf@lr=0.2,seed=8")["resources"],
        json!({"cpus": 2, "memory": 512 * 1024 * 1024, "gpus": 1})
    );
}

#[test]
fn matrix_merges_by_variable() {
    let out = chain();
    // `seed` is replaced by the step's values; `lr` is kept from the template, first.
    assert_eq!(
        out.action_names(),
        [
            "leaf@lr=0.1,seed=7",
            "leaf@lr=0.1,seed=8",
            "leaf@lr=0.2,seed=7",
            "leaf@lr=0.2,seed=8",
            "replacer@lr=0.5,seed=1",
        ]
    );
}

#[test]
fn replace_true_replaces_an_inherited_list() {
    let out = chain();
    let replacer = out.action("replacer@lr=0.5,seed=1");
    assert_eq!(replacer["inputs"], json!(["src/leaf.py"]));
    assert_eq!(replacer["outputs"], json!(["out/r-0.5-1.txt"]));
    assert_eq!(replacer["cmd"], "base-cmd");
}

#[test]
fn a_template_cycle_names_every_template() {
    Test::new()
        .manifest(
            "template \"a\" extends=\"b\" { cmd \"x\"; }\ntemplate \"b\" extends=\"c\" {}\ntemplate \"c\" extends=\"a\" {}\nstep \"s\" template=\"a\" {}\n",
        )
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:1:22", "templates extend each other in a cycle: a → b → c → a")
        .stderr_contains("a template cannot inherit from itself, directly or through others")
        // The step on the broken chain is not reported again.
        .error_count(1);
}

#[test]
fn a_template_extending_itself() {
    Test::new()
        .manifest("template \"a\" extends=\"a\" { cmd \"x\"; }\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:1:22",
            "templates extend each other in a cycle: a → a",
        )
        .error_count(1);
}

#[test]
fn an_undefined_template_suggests_a_close_one() {
    Test::new()
        .manifest("template \"python\" { cmd \"x\"; }\nstep \"s\" template=\"pyton\" {}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:2:19", "template `pyton` is not defined")
        .stderr_contains("did you mean `python`?")
        .error_count(1);
}

#[test]
fn extending_an_undefined_template_suggests_a_close_one() {
    Test::new()
        .manifest("template \"python\" { cmd \"x\"; }\ntemplate \"gpu\" extends=\"pythn\" {}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:2:24", "template `pythn` is not defined")
        .stderr_contains("did you mean `python`?")
        .error_count(1);
}

#[test]
fn a_step_whose_template_has_no_cmd() {
    Test::new()
        .manifest("template \"env-only\" {\n    env A=\"1\"\n}\nstep \"s\" template=\"env-only\" {\n    outputs \"x\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:4:6", "step `s` has no `cmd`")
        .stderr_contains("add `cmd \"…\"` to the step or to template `env-only`")
        .error_count(1);
}
