//! `--link`: how outputs come back from the cache. `hardlink` links the store's read-only
//! blob (the same inode); `copy` writes an independent, writable file.

mod common;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::{Output, Test};

const MANIFEST: &str = r#"
step "make" {
    cmd "cat in.txt in.txt > out/made.txt"
    inputs "in.txt"
    outputs "out/made.txt"
}
"#;

/// Builds, deletes the output, and builds again with `--link MODE`.
fn restored_with(mode: &str) -> Output {
    let out = Test::new()
        .manifest(MANIFEST)
        .file("in.txt", "bytes\n")
        .build(&[])
        .run()
        .success();
    let out = out
        .again()
        .remove("out/made.txt")
        .build(&["--link", mode])
        .run()
        .success();
    assert_eq!(out.report().cached(), ["make"], "{mode}");
    assert_eq!(out.read("out/made.txt"), "bytes\nbytes\n", "{mode}");
    out
}

fn blob(out: &Output) -> std::path::PathBuf {
    let hex = out.report().output("make", "out/made.txt");
    zenbuild::workspace::StateDir::of(out.path())
        .cas()
        .join(format!("{}/{hex}", &hex[..2]))
}

fn meta(path: &Path) -> std::fs::Metadata {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn hardlink_restores_the_read_only_blob_itself() {
    let out = restored_with("hardlink");
    let output = meta(&out.path().join("out/made.txt"));
    let stored = meta(&blob(&out));
    assert_eq!(output.ino(), stored.ino(), "not the blob's inode");
    assert_eq!(output.dev(), stored.dev());
    assert_eq!(output.permissions().mode() & 0o777, 0o444);
    assert_eq!(output.permissions().mode() & 0o222, 0, "writable");
}

#[test]
fn copy_restores_a_writable_file_of_its_own() {
    let out = restored_with("copy");
    let path = out.path().join("out/made.txt");
    let output = meta(&path);
    assert_ne!(output.ino(), meta(&blob(&out)).ino());
    assert_ne!(output.permissions().mode() & 0o200, 0, "not writable");
    // Writing into it leaves the store alone: the next build puts the output back.
    std::fs::write(&path, "edited").unwrap();
    let out = out.again().build(&[]).run().success();
    assert_eq!(out.report().cached(), ["make"]);
    assert_eq!(out.read("out/made.txt"), "bytes\nbytes\n");
}

#[test]
fn a_step_rerunning_over_a_hardlinked_output_does_not_write_into_the_store() {
    let out = restored_with("hardlink");
    let blob_path = blob(&out);
    let out = out
        .again()
        .file("in.txt", "other\n")
        .build(&["--link", "hardlink"])
        .run()
        .success();
    assert_eq!(out.report().ran(), ["make"]);
    assert_eq!(out.read("out/made.txt"), "other\nother\n");
    assert_eq!(
        std::fs::read_to_string(&blob_path).unwrap(),
        "bytes\nbytes\n",
        "the step wrote through the link into the store"
    );
}
