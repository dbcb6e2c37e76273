//! The scalar settings of a step: `cmd`, `description`, `env`, `resources`, `workdir`,
//! `timeout`, `retries` and `cache`, resolved into the action, and their mistakes.

mod common;
use common::Test;
use serde_json::json;

#[test]
fn every_setting_reaches_the_action() {
    let out = Test::new()
        .manifest(
            r#"project "demo"
step "train" {
    description "Trains the model"
    cmd "python3 train.py"
    env A="1" B="two" TAG="{{project}}-{{step}}"
    env SEED=42 RATE=0.50 FAST=#true
    resources cpus=4 memory="2GiB" gpus=1
    workdir "sub/dir"
    timeout "1h30m"
    retries 3
    cache #false
}
"#,
        )
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    let action = out.action("train");
    assert_eq!(action["description"], "Trains the model");
    assert_eq!(action["cmd"], "python3 train.py");
    assert_eq!(
        action["env"],
        json!({"A": "1", "B": "two", "TAG": "demo-train", "SEED": "42", "RATE": "0.50", "FAST": "true"})
    );
    assert_eq!(
        action["resources"],
        json!({"cpus": 4, "memory": 2_147_483_648u64, "gpus": 1})
    );
    assert_eq!(action["workdir"], "sub/dir");
    assert_eq!(action["timeout_secs"], 5400.0);
    assert_eq!(action["retries"], 3);
    assert_eq!(action["cache"], false);
}

#[test]
fn unset_settings_take_their_defaults() {
    let out = Test::new()
        .manifest("step \"s\" { cmd \"true\"; }\n")
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    let action = out.action("s");
    assert_eq!(action["description"], serde_json::Value::Null);
    assert_eq!(action["env"], json!({}));
    assert_eq!(
        action["resources"],
        json!({"cpus": 1, "memory": null, "gpus": 0})
    );
    assert_eq!(action["workdir"], ".");
    assert_eq!(action["timeout_secs"], serde_json::Value::Null);
    assert_eq!(action["retries"], 0);
    assert_eq!(action["cache"], true);
}

#[test]
fn timeouts_and_sizes_in_other_units() {
    let out = Test::new()
        .manifest(
            r#"step "a" { cmd "x"; timeout 90; resources memory="512MiB"; }
step "b" { cmd "x"; timeout "2h"; resources memory="1.5G"; }
step "c" { cmd "x"; timeout "45s"; resources memory=1024; }
"#,
        )
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    assert_eq!(out.action("a")["timeout_secs"], 90.0);
    assert_eq!(out.action("a")["resources"]["memory"], 512 * 1024 * 1024);
    assert_eq!(out.action("b")["timeout_secs"], 7200.0);
    assert_eq!(out.action("b")["resources"]["memory"], 1_500_000_000u64);
    assert_eq!(out.action("c")["timeout_secs"], 45.0);
    assert_eq!(out.action("c")["resources"]["memory"], 1024);
}

#[test]
fn a_later_env_assignment_of_the_same_name_wins() {
    let out = Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    env A=\"1\"\n    env A=\"2\" B=\"3\"\n}\n")
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    assert_eq!(out.action("s")["env"], json!({"A": "2", "B": "3"}));
}

#[test]
fn retries_must_be_a_number() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    retries \"x\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:3:13",
            "expected the number of retries, found a string",
        )
        .error_count(1);
}

#[test]
fn retries_out_of_range() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    retries 1000\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:3:13",
            "the number of retries must be between 0 and 100",
        )
        .error_count(1);
}

#[test]
fn cache_must_be_a_kdl_boolean() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    cache \"yes\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:3:11",
            "expected #true or #false, found a string",
        )
        .stderr_contains("KDL booleans are written `#true` and `#false`")
        .error_count(1);
}

#[test]
fn cpus_must_be_a_number_and_at_least_one() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    resources cpus=\"four\"\n}\nstep \"t\" {\n    cmd \"x\"\n    resources cpus=0\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:3:20", "expected cpus, found a string")
        .error_at("zenbuild.kdl:7:20", "a step needs at least one cpu")
        .error_count(2);
}

#[test]
fn a_step_without_cmd() {
    Test::new()
        .manifest("step \"s\" {\n    outputs \"x\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:1:6", "step `s` has no `cmd`")
        .stderr_contains("add `cmd \"…\"`: the shell command this step runs")
        .error_count(1);
}

#[test]
fn an_empty_cmd() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"  \"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:2:9", "`cmd` is empty");
}

#[test]
fn a_duration_with_an_unknown_unit() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    timeout \"5x\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:3:13",
            "unknown time unit `x`: use ms, s, m, h or d",
        )
        .error_count(1);
}

#[test]
fn a_duration_that_is_not_one() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    timeout \"soon\"\n}\nstep \"t\" {\n    cmd \"x\"\n    timeout 0\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:3:13", "`soon` is not a duration like `90s`, `5m` or `1h30m`")
        .error_at("zenbuild.kdl:7:13", "a duration must be greater than zero")
        .error_count(2);
}

#[test]
fn a_size_with_an_unknown_unit() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    resources memory=\"2 parsecs\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:3:22",
            "unknown size unit `parsecs`: use B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB)",
        )
        .error_count(1);
}

#[test]
fn a_size_that_is_not_one() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    resources memory=\"lots\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:3:22",
            "`lots` is not a size like `512MiB` or `2GiB`",
        )
        .error_count(1);
}

#[test]
fn an_invalid_environment_variable_name() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    env OK=\"1\" \"1BAD\"=\"x\" \"A-B\"=\"y\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at(
            "zenbuild.kdl:3:16",
            "`1BAD` is not a valid environment variable name",
        )
        .error_at(
            "zenbuild.kdl:3:27",
            "`A-B` is not a valid environment variable name",
        )
        .stderr_contains("use letters, digits and `_`, not starting with a digit")
        .error_count(2);
}

#[test]
fn env_takes_properties_not_a_block() {
    Test::new()
        .manifest("step \"s\" {\n    cmd \"x\"\n    env {\n        A \"1\"\n    }\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        // The kdl crate's block span starts at the first node inside the braces.
        .error_at("zenbuild.kdl:4:9", "`env` takes properties, not a block")
        .stderr_contains("write `env NAME=\"value\"` instead")
        .error_count(1);
}
