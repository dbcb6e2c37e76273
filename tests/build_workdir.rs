//! `workdir`: the command starts there; paths in the manifest stay relative to the root.

mod common;
use common::Test;

const MANIFEST: &str = r#"
step "inside" {
    workdir "sub/dir"
    cmd "basename \"$(pwd)\" > ../../out/where.txt; cat local.txt >> ../../out/where.txt"
    inputs "sub/dir/local.txt"
    outputs "out/where.txt"
}
"#;

#[test]
fn the_command_runs_in_its_workdir() {
    let out = Test::new()
        .manifest(MANIFEST)
        .file("sub/dir/local.txt", "local\n")
        .build(&[])
        .run()
        .success();
    assert_eq!(out.report().ran(), ["inside"]);
    assert_eq!(out.read("out/where.txt"), "dir\nlocal\n");

    let out = out
        .again()
        .file("sub/dir/local.txt", "changed\n")
        .build(&[])
        .run()
        .success();
    assert_eq!(out.report().ran(), ["inside"]);
    assert_eq!(out.read("out/where.txt"), "dir\nchanged\n");
}

#[test]
fn changing_the_workdir_reruns_the_step() {
    let out = Test::new()
        .manifest(MANIFEST)
        .file("sub/dir/local.txt", "local\n")
        .file("sub/other/local.txt", "other\n")
        .build(&[])
        .run()
        .success();
    let moved = MANIFEST.replace("workdir \"sub/dir\"", "workdir \"sub/other\"");
    let out = out.again().manifest(&moved).build(&[]).run().success();
    let report = out.report();
    assert_eq!(report.ran(), ["inside"], "{report}");
    assert!(report.reasons("inside").contains("workdir"), "{report}");
    assert_eq!(out.read("out/where.txt"), "other\nother\n");
}

/// GRAMMAR.md: "The directory need not exist yet."
#[test]
fn a_missing_workdir_is_created() {
    let out = Test::new()
        .manifest(
            r#"
step "fresh" {
    workdir "not/yet"
    cmd "basename \"$(pwd)\" > ../../out/where.txt"
    outputs "out/where.txt"
}
"#,
        )
        .build(&[])
        .run()
        .success();
    assert_eq!(out.report().ran(), ["fresh"]);
    assert_eq!(out.read("out/where.txt"), "yet\n");
}
