//! The up-to-date record: a build that finds nothing to do lets the next one of the same
//! targets finish after a stat per file. Every scenario first settles a workspace (built,
//! which writes the record with what is too fresh to trust as racy, then checked once its
//! files are older than the racy window, which records their signatures), checks that a
//! third build takes the shortcut, then changes one thing: what the record covers must send
//! the build the whole way, and what it does not cover must not.

use std::time::Duration;

mod common;
use common::{Output, Test};

const SHORTCUT: &str = "up to date (nothing changed since the last build)";

/// Longer than the stat cache's racy window (2 s): only signatures older than that when a
/// build starts are recorded.
const RACY_WAIT: Duration = Duration::from_millis(2_100);

const MANIFEST: &str = r#"
params "params.yaml"
include "more.kdl"
step "a" {
    cmd "cat in/a.txt > out/a.txt"
    inputs "in/a.txt"
    outputs "out/a.txt"
}
step "b" {
    cmd "cat out/a.txt > out/b.txt; printf '+{{params.b}}' >> out/b.txt"
    inputs "out/a.txt"
    params "b"
    outputs "out/b.txt"
}
step "data" {
    cmd "find data -type f | sort > out/data.txt"
    inputs "data/"
    outputs "out/data.txt"
}
step "globbed" {
    cmd "cat src/*.py > out/globbed.txt"
    inputs "src/*.py"
    outputs "out/globbed.txt"
}
"#;

const MORE: &str = r#"
step "c" {
    cmd "printf c > out/c.txt"
    outputs "out/c.txt"
}
"#;

/// Built, then checked late enough to record every signature, then shown to take the
/// shortcut.
fn settled() -> Output {
    let out = Test::new()
        .manifest(MANIFEST)
        .file("more.kdl", MORE)
        .file("params.yaml", "b: one\nunused: 1\n")
        .file("in/a.txt", "A")
        .file("data/x.csv", "x")
        .file("data/sub/z.csv", "z")
        .file("src/m.py", "m")
        .file("README.md", "notes")
        .run()
        .success()
        .stderr_contains("5 actions: 5 ran");
    std::thread::sleep(RACY_WAIT);
    let out = out.again().run().success().stderr_contains(SHORTCUT);
    out.again().run().success().stderr_contains(SHORTCUT)
}

/// A plain build that must not take the shortcut.
fn whole_way(test: Test) -> Output {
    test.run().success().stderr_lacks(SHORTCUT)
}

#[test]
fn a_settled_workspace_takes_the_shortcut_every_time() {
    let out = settled();
    let out = out.again().run().success().stderr_contains(SHORTCUT);
    assert!(
        out.stderr.contains("zenbuild: 5 actions up to date"),
        "{}",
        out.stderr
    );
}

#[test]
fn changed_input_bytes_rerun_their_dependents() {
    let out = whole_way(settled().again().file("in/a.txt", "Z")).stderr_contains("2 ran");
    assert_eq!(out.read("out/b.txt"), "Z+one");
}

#[test]
fn an_edited_command_reruns_its_step() {
    let edited = MANIFEST.replace("printf '+{{params.b}}'", "printf '={{params.b}}'");
    let out = whole_way(settled().again().manifest(&edited)).stderr_contains("1 ran");
    assert_eq!(out.read("out/b.txt"), "A=one");
}

#[test]
fn a_changed_params_file_is_noticed() {
    let out = whole_way(settled().again().file("params.yaml", "b: two\nunused: 1\n"))
        .stderr_contains("1 ran");
    assert_eq!(out.read("out/b.txt"), "A+two");
}

#[test]
fn a_changed_include_is_noticed() {
    let out = settled()
        .again()
        .file("more.kdl", &MORE.replace("printf c", "printf C"))
        .run()
        .success()
        .stderr_lacks(SHORTCUT)
        .stderr_contains("1 ran");
    assert_eq!(out.read("out/c.txt"), "C");
}

#[test]
fn a_deleted_output_is_restored() {
    let out = settled()
        .again()
        .remove("out/b.txt")
        .run()
        .success()
        .stderr_lacks(SHORTCUT)
        .stderr_contains("0 ran");
    assert_eq!(out.read("out/b.txt"), "A+one");
}

#[test]
fn an_overwritten_output_is_restored() {
    let out = settled()
        .again()
        .file("out/c.txt", "damaged")
        .run()
        .success()
        .stderr_lacks(SHORTCUT)
        .stderr_contains("0 ran");
    assert_eq!(out.read("out/c.txt"), "c");
}

#[test]
fn a_new_file_deep_in_a_directory_input_reruns_its_reader() {
    let out = settled()
        .again()
        .file("data/sub/y.csv", "y")
        .run()
        .success()
        .stderr_lacks(SHORTCUT)
        .stderr_contains("1 ran");
    assert_eq!(
        out.read("out/data.txt"),
        "data/sub/y.csv\ndata/sub/z.csv\ndata/x.csv\n"
    );
}

#[test]
fn a_new_file_matching_a_glob_reruns_its_reader() {
    let out = settled()
        .again()
        .file("src/n.py", "n")
        .run()
        .success()
        .stderr_lacks(SHORTCUT)
        .stderr_contains("1 ran");
    assert_eq!(out.read("out/globbed.txt"), "mn");
}

#[test]
fn a_timestamp_alone_takes_the_shortcut_after_hashing_the_file_again() {
    for path in ["in/a.txt", "data/sub/z.csv", "out/b.txt"] {
        settled()
            .again()
            .touch(path)
            .run()
            .success()
            .stderr_contains(SHORTCUT);
    }
}

#[test]
fn the_same_bytes_saved_as_a_new_file_take_the_shortcut() {
    let out = settled();
    let path = out.path().join("in/a.txt");
    std::fs::write(out.path().join("in/a.txt.new"), "A").unwrap();
    std::fs::rename(out.path().join("in/a.txt.new"), &path).unwrap();
    out.again().run().success().stderr_contains(SHORTCUT);
}

#[test]
fn the_same_size_with_other_bytes_goes_the_whole_way() {
    // Same length, and the old modification time put back: only the bytes (and the ctime)
    // tell.
    let out = settled();
    let path = out.path().join("in/a.txt");
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::fs::write(&path, "Q").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    let out = whole_way(out.again()).stderr_contains("2 ran");
    assert_eq!(out.read("out/b.txt"), "Q+one");
}

#[test]
fn an_executable_bit_with_the_same_bytes_goes_the_whole_way() {
    use std::os::unix::fs::PermissionsExt;
    let out = settled();
    let path = out.path().join("in/a.txt");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    whole_way(out.again()).stderr_contains("1 ran");
}

#[test]
fn a_touched_file_is_hashed_again_only_until_its_new_signature_can_be_trusted() {
    let record =
        |out: &Output| std::fs::read(out.path().join(".zenbuild/state/up-to-date")).unwrap();
    let out = settled();
    let before = record(&out);
    let out = out
        .again()
        .touch("in/a.txt")
        .run()
        .success()
        .stderr_contains(SHORTCUT);
    // Too fresh to trust yet (the touch is an hour ahead, so it stays too fresh): kept.
    assert_eq!(record(&out), before);
    let path = out.path().join("in/a.txt");
    let past = std::time::SystemTime::now() - Duration::from_mins(1);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(past)
        .unwrap();
    std::thread::sleep(RACY_WAIT);
    let out = out.again().run().success().stderr_contains(SHORTCUT);
    let renewed = record(&out);
    assert_ne!(renewed, before, "the new signature was not recorded");
    let out = out.again().run().success().stderr_contains(SHORTCUT);
    assert_eq!(record(&out), renewed);
}

#[test]
fn an_input_directory_swapped_for_a_symlink_out_of_the_workspace_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("a.txt"), "A").unwrap();
    let target = outside.path().to_str().unwrap();
    let out = settled().again().remove("in").symlink("in", target).run();
    assert_ne!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.stderr.contains(SHORTCUT), "{}", out.stderr);
}

#[test]
fn files_outside_the_graph_change_nothing() {
    settled()
        .again()
        .file("README.md", "other notes")
        .file("new-file.txt", "x")
        .file("in/unrelated.txt", "x")
        .run()
        .success()
        .stderr_contains(SHORTCUT);
}

#[test]
fn other_targets_go_the_whole_way() {
    settled()
        .again()
        .args(&["build", "c"])
        .run()
        .success()
        .stderr_lacks(SHORTCUT)
        .stderr_contains("1 action: 0 ran, 1 cached");
}

#[test]
fn a_report_or_verbose_build_speaks_of_every_action() {
    let out = settled().again().build(&[]).run().success();
    assert_eq!(out.report().cached().len(), 5);
    out.again()
        .args(&["--verbose"])
        .run()
        .success()
        .stderr_lacks(SHORTCUT)
        .stderr_contains("cached a");
}

#[test]
fn a_damaged_record_is_ignored() {
    let out = settled()
        .again()
        .file(".zenbuild/state/up-to-date", "garbage")
        .run()
        .success()
        .stderr_lacks(SHORTCUT)
        .stderr_contains("0 ran, 5 cached");
    // Rewritten by the build that ignored it.
    out.again().run().success().stderr_contains(SHORTCUT);
}

#[test]
fn a_failed_build_leaves_no_record() {
    let out = settled()
        .again()
        .manifest(&MANIFEST.replace("cat in/a.txt", "exit 3; cat in/a.txt"))
        .run();
    assert_ne!(out.code, Some(0));
    assert!(!out.path().join(".zenbuild/state/up-to-date").exists());
}
