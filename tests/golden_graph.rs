//! `graph --format json` of every example, pinned: a change to how manifests resolve shows up
//! here as a diff. Regenerate after an intended change with `ZENBUILD_BLESS=1 cargo test
//! --test golden_graph` and review the diff.

use std::path::Path;
use std::process::Command;

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
    let actual = graph_json(example);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{example}.json"));
    if std::env::var_os("ZENBUILD_BLESS").is_some() {
        std::fs::write(&path, &actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with ZENBUILD_BLESS=1 to create it)",
            path.display()
        )
    });
    assert!(
        actual == expected,
        "graph of {example} differs from {}\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
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
