//! Regression tests, each named after what broke.

mod common;
use common::Test;

#[test]
fn matrix_variable_named_step_is_rejected() {
    Test::new()
        .manifest(
            "step \"a\" {\n    matrix {\n        step 1 2\n    }\n    cmd \"echo {{step}}\"\n}\n",
        )
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:3:9", "`step` cannot be a matrix variable");
}

#[test]
fn pipeline_description_set_twice_is_an_error() {
    Test::new()
        .manifest("pipeline \"p\" {\n    description \"one\"\n    description \"two\"\n}\n")
        .args(&["check"])
        .run()
        .bad_manifest()
        .error_at("zenbuild.kdl:3:5", "`description` is set twice");
}

#[test]
fn path_in_outputs_and_metrics_stays_a_metrics_file() {
    let output = Test::new()
        .manifest(
            "step \"a\" {\n    cmd \"true\"\n    outputs \"m.json\"\n    metrics \"m.json\"\n}\n",
        )
        .args(&["graph", "--format", "json"])
        .run()
        .success();
    let json = output.json();
    assert_eq!(json["actions"][0]["outputs"], serde_json::json!(["m.json"]));
    assert_eq!(json["actions"][0]["metrics"], serde_json::json!(["m.json"]));
}

#[test]
fn graph_into_a_closed_pipe_does_not_panic() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    // Far more output than a pipe buffers, so writes fail after the reader leaves.
    let values: Vec<String> = (0..3000).map(|i| i.to_string()).collect();
    let test = Test::new().manifest(&format!(
        "step \"a\" {{\n    matrix {{\n        i {}\n    }}\n    cmd \"true\"\n    outputs \"out/{{{{i}}}}.txt\"\n}}\n",
        values.join(" ")
    ));
    let dir = test.run().dir;
    std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir.path())
        .status()
        .expect("git init");
    let mut child = Command::new(env!("CARGO_BIN_EXE_zenbuild"))
        .args(["graph", "--format", "json"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start zenbuild");
    // Read one byte, then hang up: the rest of the output has nowhere to go.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).expect("first byte");
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let status = child.wait().expect("wait for zenbuild");
    assert!(!stderr.contains("panicked"), "zenbuild panicked: {stderr}");
    assert!(
        status.code().is_some_and(|code| code != 101),
        "exit status {status:?}, stderr: {stderr}"
    );
}
