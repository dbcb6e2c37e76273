//! Directory outputs (`out/dir/`): saved as a whole tree and restored as one, so a restore
//! leaves exactly the files of the cached result, none that a later run left there.

mod common;
use common::Test;

/// `make` writes one file per name in `names.txt` into `out/dir/`, and a nested file;
/// `list` reads the directory.
const MANIFEST: &str = r#"
step "make" {
    cmd "mkdir -p out/dir/sub && for f in $(cat names.txt); do printf $f > out/dir/$f.txt; done && printf deep > out/dir/sub/deep.txt"
    inputs "names.txt"
    outputs "out/dir/"
}
step "list" {
    cmd "cd out/dir && find . -type f | sort > ../listing.txt"
    inputs "out/dir/"
    outputs "out/listing.txt"
}
"#;

const FIRST: &str = "./a.txt\n./b.txt\n./sub/deep.txt\n";

fn workspace() -> Test {
    Test::new().manifest(MANIFEST).file("names.txt", "a b")
}

#[test]
fn a_deleted_output_directory_is_restored_whole() {
    let out = workspace().build(&[]).run().success();
    assert_eq!(out.report().ran(), ["make", "list"]);
    assert_eq!(out.read("out/listing.txt"), FIRST);
    let digest = out.report().output("make", "out/dir/");

    let out = out.again().remove("out/dir").build(&[]).run().success();
    let report = out.report();
    assert_eq!(report.cached(), ["make", "list"], "{report}");
    assert_eq!(report.output("make", "out/dir/"), digest);
    assert_eq!(out.read("out/dir/a.txt"), "a");
    assert_eq!(out.read("out/dir/sub/deep.txt"), "deep");
}

#[test]
fn restoring_a_directory_removes_files_a_later_run_left_in_it() {
    let out = workspace().build(&[]).run().success();
    let out = out
        .again()
        .file("names.txt", "a b c")
        .build(&[])
        .run()
        .success();
    assert_eq!(out.report().ran(), ["make", "list"]);
    assert!(out.exists("out/dir/c.txt"));

    // Back to the first names: the first result is restored, without the later `c.txt`.
    let out = out
        .again()
        .file("names.txt", "a b")
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.cached(), ["make", "list"], "{report}");
    assert!(
        !out.exists("out/dir/c.txt"),
        "a stale file survived the restore"
    );
    assert_eq!(out.read("out/listing.txt"), FIRST);
}

#[test]
fn a_stray_file_dropped_into_an_output_directory_is_removed() {
    let out = workspace().build(&[]).run().success();
    let out = out
        .again()
        .file("out/dir/stray.txt", "not from the step")
        .file("out/dir/sub/deep.txt", "edited")
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.cached(), ["make", "list"], "{report}");
    assert!(!out.exists("out/dir/stray.txt"));
    assert_eq!(out.read("out/dir/sub/deep.txt"), "deep");
}

#[test]
fn a_rerun_starts_from_an_empty_directory() {
    let out = workspace()
        .file("out/dir/leftover.txt", "from before zenbuild")
        .build(&[])
        .run()
        .success();
    assert_eq!(out.read("out/listing.txt"), FIRST);
}
