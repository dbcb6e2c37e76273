//! `graph --format json` of every example, pinned: a change to how manifests resolve shows up
//! here as a diff. Regenerate after an intended change with `ZENBUILD_BLESS=1 cargo test
//! --test golden_graph` and review the diff.

#[path = "common/golden.rs"]
mod golden;

use std::path::Path;
use std::process::Command;

use golden::assert_golden;

fn graph_json(example: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(env!("CARGO_BIN_EXE_zenbuild"))
        .args(["graph", "--format", "json", "-C"])
        .arg(root.join("examples").join(example))
        .env("NO_COLOR", "1")
        .output()
        .expect("run zenbuild");
    assert!(
        output.status.success(),
        "graph failed for {example}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

fn check_golden(example: &str) {
    assert_golden(
        &format!("tests/golden/{example}.json"),
        &graph_json(example),
    );
}

#[test]
fn quickstart_graph() {
    check_golden("quickstart");
}

#[test]
fn sweep_graph() {
    check_golden("sweep");
}

/// Every example directory has a golden file, so a new example cannot go unpinned.
#[test]
fn every_example_is_pinned() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(root.join("examples")).expect("examples directory") {
        let entry = entry.expect("directory entry");
        if entry.path().join("zenbuild.kdl").is_file() {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(
                root.join(format!("tests/golden/{name}.json")).is_file(),
                "examples/{name} has no tests/golden/{name}.json"
            );
        }
    }
}
