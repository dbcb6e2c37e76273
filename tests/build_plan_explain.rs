//! `zenbuild plan` and `zenbuild explain`: what a build would do and why, found without
//! running or restoring anything.

mod common;
use common::{CHAIN, Test};
use serde_json::json;

fn short(bytes: &str) -> String {
    blake3::hash(bytes.as_bytes()).to_hex()[..8].to_string()
}

/// `plan --format json`, as (name, status, reasons) per action.
fn plan_json(test: Test) -> (Vec<(String, String, Vec<String>)>, Test) {
    let out = test.args(&["plan", "--format", "json"]).run().success();
    let actions = out.json()["actions"]
        .as_array()
        .expect("plan JSON lists actions")
        .iter()
        .map(|action| {
            let reasons = action["reasons"]
                .as_array()
                .expect("reasons")
                .iter()
                .map(|r| r.as_str().unwrap_or_default().to_string())
                .collect();
            (
                action["name"].as_str().unwrap_or_default().to_string(),
                action["status"].as_str().unwrap_or_default().to_string(),
                reasons,
            )
        })
        .collect();
    (actions, out.again())
}

fn entry(name: &str, status: &str, reasons: &[&str]) -> (String, String, Vec<String>) {
    (
        name.to_string(),
        status.to_string(),
        reasons.iter().map(ToString::to_string).collect(),
    )
}

#[test]
fn plan_before_the_first_build_says_what_would_run_and_runs_nothing() {
    let test = Test::new().manifest(CHAIN).file("in.txt", "one\n");
    let out = test.args(&["plan"]).run().success();
    let out = out
        .stdout_contains("a: runs because never built")
        .stdout_contains("b: decided after `a` runs");
    assert!(!out.exists("out"), "plan wrote outputs");

    let (plan, test) = plan_json(out.again());
    assert_eq!(
        plan,
        [
            entry("a", "run", &["never built"]),
            entry("b", "after", &["after a"])
        ]
    );
    let out = test.args(&["plan", "--format", "json"]).run().success();
    assert!(out.json()["actions"][0]["key"].is_string());
    assert_eq!(out.json()["actions"][1]["key"], json!(null));
    assert!(!out.exists("out"), "plan wrote outputs");
    for keys in [".zenbuild/state/last-keys", ".zenbuild/state/keys.jsonl"] {
        assert!(!out.exists(keys), "plan recorded keys in {keys}");
    }
}

#[test]
fn plan_after_builds_and_edits() {
    let out = Test::new()
        .manifest(CHAIN)
        .file("in.txt", "one\n")
        .build(&[])
        .run()
        .success();
    let built = out.report();
    let (plan, test) = plan_json(out.again());
    assert_eq!(plan, [entry("a", "cached", &[]), entry("b", "cached", &[])]);

    let (plan, test) = plan_json(test.file("in.txt", "two\n"));
    let changed = format!("in.txt changed ({} → {})", short("one\n"), short("two\n"));
    assert_eq!(
        plan,
        [
            entry("a", "run", &[&changed]),
            entry("b", "after", &["after a"])
        ]
    );
    let out = test.args(&["plan"]).run().success();
    let out = out.stdout_contains(&format!("a: runs because {changed}"));
    assert_eq!(out.read("out/a.txt"), "one\n", "plan ran a step");

    // A deleted output would be restored, not rerun; plan does not restore it.
    let (plan, test) = plan_json(out.again().file("in.txt", "one\n").remove("out/b.txt"));
    assert_eq!(
        plan,
        [entry("a", "cached", &[]), entry("b", "restore", &[])]
    );
    let out = test.args(&["plan", "--format", "json"]).run().success();
    assert!(!out.exists("out/b.txt"), "plan restored an output");
    assert_eq!(out.json()["actions"][1]["key"], built.action("b")["key"]);
}

#[test]
fn explain_says_never_built_then_names_the_changed_input_with_both_digests() {
    let out = Test::new()
        .manifest(CHAIN)
        .file("in.txt", "one\n")
        .args(&["explain", "a"])
        .run()
        .success();
    let out = out
        .stdout_contains("never built")
        .stdout_contains(&format!("input in.txt {}", short("one\n")));
    assert!(!out.exists("out"));

    let out = out.again().build(&[]).run().success();
    let out = out.again().args(&["explain", "a"]).run().success();
    let out = out.stdout_contains("a: cached").stdout_lacks("never built");

    let out = out
        .again()
        .file("in.txt", "two\n")
        .args(&["explain", "a"])
        .run()
        .success();
    out.stdout_contains(&format!(
        "in.txt changed ({} → {})",
        short("one\n"),
        short("two\n")
    ))
    .stdout_contains(&format!("input in.txt {}", short("two\n")));
}

/// Issue 14, item 3: `explain` must read one plan. With `a`'s output deleted after a build,
/// `b` is cached (its key is computed from `a`'s recorded outputs, not the missing file), and
/// the key it prints is the one it printed before the deletion, not "cannot be computed yet".
#[test]
fn explain_of_a_dependent_after_its_input_was_deleted_prints_the_cached_key() {
    let key_line = |stdout: &str| {
        stdout
            .lines()
            .find(|line| line.trim_start().starts_with("key "))
            .map(str::to_string)
    };
    let test = Test::new().manifest(CHAIN).file("in.txt", "one\n");
    let out = test.build(&[]).run().success();
    let out = out.again().args(&["explain", "b"]).run().success();
    let before = key_line(&out.stdout).expect("explain prints b's key after a build");
    let out = out
        .again()
        .remove("out/a.txt")
        .args(&["explain", "b"])
        .run()
        .success();
    assert_eq!(key_line(&out.stdout).as_deref(), Some(before.as_str()));
    let out = out
        .stdout_contains("b: cached")
        .stdout_contains(&format!("input out/a.txt {} (from a)", short("one\n")))
        .stdout_lacks("cannot be computed");
    // explain restores nothing: the deleted output is still gone.
    assert!(!out.exists("out/a.txt"));
}
