//! A blob in the store whose bytes no longer match its digest (a torn write, a write through
//! a hard link) is never restored: the build notices, reruns the step and stores good bytes.

mod common;
use std::os::unix::fs::PermissionsExt;

use common::Test;

const MANIFEST: &str = r#"
step "make" {
    cmd "cat in.txt in.txt > out/made.txt"
    inputs "in.txt"
    outputs "out/made.txt"
}
step "use" {
    cmd "cat out/made.txt > out/used.txt"
    inputs "out/made.txt"
    outputs "out/used.txt"
}
"#;

/// Overwrites the blob stored under `hex` with other bytes of the same length, so that only
/// hashing, not a size check, can tell.
fn corrupt_blob(root: &std::path::Path, hex: &str) {
    let blob = zenbuild::workspace::StateDir::of(root)
        .cas()
        .join(format!("{}/{hex}", &hex[..2]));
    let mut bytes = std::fs::read(&blob).expect("read the blob");
    bytes.fill(b'X');
    std::fs::set_permissions(&blob, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::fs::write(&blob, &bytes).expect("overwrite the blob");
}

#[test]
fn a_corrupt_blob_is_detected_and_the_step_reruns() {
    for link in ["reflink", "hardlink", "copy"] {
        let out = Test::new()
            .manifest(MANIFEST)
            .file("in.txt", "data\n")
            .build(&["--link", link])
            .run()
            .success();
        let first = out.report();
        corrupt_blob(out.path(), &first.output("make", "out/made.txt"));

        let out = out
            .again()
            .remove("out/made.txt")
            .build(&["--link", link])
            .run()
            .success();
        let report = out.report();
        assert_eq!(report.status("make"), "ran", "{link}: {report}");
        assert!(
            report.reasons("make").contains("corrupt"),
            "{link}: {report}"
        );
        // The rerun wrote the same bytes: early cut-off keeps `use` cached.
        assert_eq!(report.status("use"), "cached", "{link}: {report}");
        assert_eq!(out.read("out/made.txt"), "data\ndata\n", "{link}");

        // The rerun stored good bytes again: the next restore works.
        let out = out
            .again()
            .remove("out/made.txt")
            .build(&["--link", link])
            .run()
            .success();
        let report = out.report();
        assert_eq!(report.cached(), ["make", "use"], "{link}: {report}");
        assert_eq!(out.read("out/made.txt"), "data\ndata\n", "{link}");
    }
}

/// A hardlinked output is the blob itself: writing into it (after a `chmod +w`) corrupts the
/// store, which the next build must notice rather than call the output up to date.
#[test]
fn writing_through_a_hardlinked_output_is_caught() {
    let out = Test::new()
        .manifest(MANIFEST)
        .file("in.txt", "data\n")
        .build(&[])
        .run()
        .success();
    let out = out
        .again()
        .remove("out/made.txt")
        .build(&["--link", "hardlink"])
        .run()
        .success();
    assert_eq!(out.report().status("make"), "cached");
    let made = out.path().join("out/made.txt");
    std::fs::set_permissions(&made, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::fs::write(&made, "XXXX\nXXXX\n").expect("write through the link");

    let out = out.again().build(&["--link", "hardlink"]).run().success();
    let report = out.report();
    assert_eq!(report.status("make"), "ran", "{report}");
    assert!(report.reasons("make").contains("corrupt"), "{report}");
    assert_eq!(report.status("use"), "cached", "{report}");
    assert_eq!(out.read("out/made.txt"), "data\ndata\n");
}

/// An action-cache entry that does not decode (a torn write) is a miss, not an error. While
/// the outputs the step last left are in place nothing needs the entry; once one has to be
/// restored, the step runs again.
#[test]
fn an_undecodable_action_result_reruns_the_step() {
    let out = Test::new()
        .manifest(MANIFEST)
        .file("in.txt", "data\n")
        .build(&[])
        .run()
        .success();
    let key = out.report().action("make")["key"]
        .as_str()
        .expect("a key")
        .to_string();
    let entry = zenbuild::workspace::StateDir::of(out.path())
        .ac()
        .join(format!("{}/{key}.json", &key[..2]));
    std::fs::write(&entry, "{ \"output_files\": [").expect("tear the entry");

    let out = out.again().build(&[]).run().success();
    assert_eq!(
        out.report().cached(),
        ["make", "use"],
        "outputs in place need no entry"
    );

    let out = out
        .again()
        .remove("out/made.txt")
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.status("make"), "ran", "{report}");
    assert!(report.reasons("make").contains("corrupt"), "{report}");
    assert_eq!(report.status("use"), "cached", "{report}");

    let out = out
        .again()
        .remove("out/made.txt")
        .build(&[])
        .run()
        .success();
    assert_eq!(out.report().cached(), ["make", "use"]);
}

/// A blob gone from the store (deleted by hand, pruned) makes its result unusable.
#[test]
fn a_missing_blob_reruns_the_step() {
    let out = Test::new()
        .manifest(MANIFEST)
        .file("in.txt", "data\n")
        .build(&[])
        .run()
        .success();
    let hex = out.report().output("make", "out/made.txt");
    std::fs::remove_file(
        zenbuild::workspace::StateDir::of(out.path())
            .cas()
            .join(format!("{}/{hex}", &hex[..2])),
    )
    .expect("remove the blob");

    let out = out
        .again()
        .remove("out/made.txt")
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.status("make"), "ran", "{report}");
    assert!(
        report.reasons("make").contains("not in the store"),
        "{report}"
    );
    assert_eq!(out.read("out/made.txt"), "data\ndata\n");
}
