//! The build right after a build: a build that ran steps writes the up-to-date record too,
//! with the files it just wrote (too fresh for their signatures to be trusted) recorded by
//! the digest it hashed, so the next build, started at once, takes the shortcut after
//! hashing those files again, and sees any change to them, even one that leaves their
//! signature as it was. Directories too fresh to trust (an editor's save renames a file into
//! one) are recorded by their listings, listed again by the next build.

mod common;
use common::{CHAIN, Test};

const SHORTCUT: &str = "up to date (nothing changed since the last build)";

#[test]
fn the_build_right_after_a_build_that_ran_takes_the_shortcut() {
    let out = Test::new()
        .manifest(CHAIN)
        .file("in.txt", "1")
        .run()
        .success()
        .stderr_contains("2 actions: 2 ran");
    let out = out.again().run().success().stderr_contains(SHORTCUT);
    // And the one after that, still inside the racy window.
    out.again().run().success().stderr_contains(SHORTCUT);
}

#[test]
fn an_edit_right_after_a_build_is_seen_and_the_build_after_it_takes_the_shortcut() {
    let out = Test::new()
        .manifest(CHAIN)
        .file("in.txt", "1")
        .run()
        .success();
    // The same size, other bytes, at once: within the racy window of the record.
    let out = out
        .again()
        .file("in.txt", "2")
        .run()
        .success()
        .stderr_lacks(SHORTCUT)
        .stderr_contains("2 ran");
    assert_eq!(out.read("out/b.txt"), "22");
    out.again().run().success().stderr_contains(SHORTCUT);
}

#[test]
fn an_output_overwritten_right_after_a_build_is_restored() {
    let out = Test::new()
        .manifest(CHAIN)
        .file("in.txt", "1")
        .run()
        .success();
    let out = out
        .again()
        .file("out/b.txt", "XX")
        .run()
        .success()
        .stderr_lacks(SHORTCUT);
    assert_eq!(out.read("out/b.txt"), "11");
}

/// A step that must run every time keeps every build from taking the shortcut.
#[test]
fn a_step_that_is_never_cached_runs_in_the_build_right_after() {
    let manifest = CHAIN.replace(
        "outputs \"out/b.txt\"",
        "outputs \"out/b.txt\"\n    cache #false",
    );
    let out = Test::new()
        .manifest(&manifest)
        .file("in.txt", "1")
        .run()
        .success();
    out.again()
        .run()
        .success()
        .stderr_lacks(SHORTCUT)
        .stderr_contains("1 ran");
}

/// The chain built, its outputs removed and restored from the cache.
fn restored() -> common::Output {
    let out = Test::new()
        .manifest(CHAIN)
        .file("in.txt", "1")
        .run()
        .success();
    let out = out.again().args(&["clean"]).run().success();
    out.again()
        .run()
        .success()
        .stderr_contains("2 cached (2 restored)")
}

/// Outputs put back from the cache were never hashed by this build: they are recorded by the
/// digests their results claim, hashed again by the next build, which then runs nothing.
#[test]
fn the_build_right_after_a_restore_takes_the_shortcut() {
    let out = restored().again().run().success().stderr_contains(SHORTCUT);
    assert_eq!(out.read("out/b.txt"), "11");
}

/// A restored output changed at once, to bytes of the same size, is seen however unchanged
/// its signature looks, and restored again.
#[test]
fn an_output_changed_right_after_a_restore_is_restored_again() {
    let out = restored()
        .again()
        .file("out/b.txt", "XX")
        .run()
        .success()
        .stderr_lacks(SHORTCUT);
    assert_eq!(out.read("out/b.txt"), "11");
}

const TWO: &str = r#"
step "a" {
    cmd "cat a.txt > out/a.txt"
    inputs "a.txt"
    outputs "out/a.txt"
}
step "b" {
    cmd "cat b.txt > out/b.txt"
    inputs "b.txt"
    outputs "out/b.txt"
}
"#;

/// An incremental build's record takes what the check before it found unchanged without a
/// second look; a file changed after that check is still seen by the next build.
#[test]
fn what_an_incremental_build_did_not_look_at_again_is_still_checked_next_time() {
    let test = Test::new()
        .manifest(TWO)
        .file("a.txt", "1")
        .file("b.txt", "1");
    // Old enough for their signatures to be trusted, as sources edited a while ago are.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let out = test.run().success().stderr_contains("2 ran");
    let out = out
        .again()
        .file("a.txt", "2")
        .run()
        .success()
        .stderr_contains("1 ran");
    let out = out
        .again()
        .file("b.txt", "2")
        .run()
        .success()
        .stderr_lacks(SHORTCUT)
        .stderr_contains("1 ran");
    assert_eq!(out.read("out/b.txt"), "2");
    assert_eq!(out.read("out/a.txt"), "2");
    out.again().run().success().stderr_contains(SHORTCUT);
}

const READS_LINK: &str = r#"
step "link" {
    cmd "readlink in.txt > out/target.txt"
    inputs "in.txt"
    outputs "out/target.txt"
}
"#;

/// A symlink made just before the build is recorded by the digest of its target, read again
/// by the next build: the build right after takes the shortcut, and a link that leads
/// elsewhere right after is seen.
#[test]
fn the_build_right_after_reading_a_fresh_symlink_takes_the_shortcut() {
    let out = Test::new()
        .manifest(READS_LINK)
        .file("a.txt", "a")
        .symlink("in.txt", "a.txt")
        .run()
        .success()
        .stderr_contains("1 ran");
    let out = out.again().run().success().stderr_contains(SHORTCUT);
    let out = out
        .again()
        .remove("in.txt")
        .symlink("in.txt", "b.txt")
        .run()
        .success()
        .stderr_lacks(SHORTCUT)
        .stderr_contains("1 ran");
    assert_eq!(out.read("out/target.txt"), "b.txt\n");
}

const READS_DIR: &str = r#"
step "list" {
    cmd "cat data/top.txt data/sub/*.txt > out/all.txt"
    inputs "data/"
    outputs "out/all.txt"
}
"#;

/// A directory input built, then a file inside one of its subdirectories saved as an editor
/// saves (a new file renamed over it, which moves the subdirectory's signature) and built
/// again, right after.
fn saved_inside_a_directory() -> common::Output {
    let out = Test::new()
        .manifest(READS_DIR)
        .file("data/top.txt", "t")
        .file("data/sub/a.txt", "a")
        .file("data/sub/b.txt", "b")
        .run()
        .success()
        .stderr_contains("1 ran");
    let out = out
        .again()
        .save("data/sub/a.txt", "A")
        .run()
        .success()
        .stderr_lacks(SHORTCUT)
        .stderr_contains("1 ran");
    assert_eq!(out.read("out/all.txt"), "tAb");
    assert!(
        out.exists(".zenbuild/state/up-to-date"),
        "the build recorded its fresh directories:\n{}",
        out.stderr
    );
    out
}

#[test]
fn the_builds_right_after_a_save_inside_a_directory_input_take_the_shortcut() {
    let out = saved_inside_a_directory()
        .again()
        .run()
        .success()
        .stderr_contains(SHORTCUT);
    out.again().run().success().stderr_contains(SHORTCUT);
}

#[test]
fn a_file_added_to_a_fresh_directory_right_after_a_build_is_seen() {
    let out = saved_inside_a_directory()
        .again()
        .file("data/sub/c.txt", "c")
        .run()
        .success()
        .stderr_lacks(SHORTCUT)
        .stderr_contains("1 ran");
    assert_eq!(out.read("out/all.txt"), "tAbc");
}

#[test]
fn a_file_removed_from_a_fresh_directory_right_after_a_build_is_seen() {
    let out = saved_inside_a_directory()
        .again()
        .remove("data/sub/b.txt")
        .run()
        .success()
        .stderr_lacks(SHORTCUT)
        .stderr_contains("1 ran");
    assert_eq!(out.read("out/all.txt"), "tA");
}

const WRITES_DIR: &str = r#"
step "parts" {
    cmd "mkdir -p out/parts/empty && cp in.txt out/parts/in.txt && ln -s in.txt out/parts/link"
    inputs "in.txt"
    outputs "out/parts/"
}
"#;

/// A directory output, with an empty directory and a symlink inside, is recorded by the
/// build that wrote it: the builds right after take the shortcut, and a file removed from
/// it is seen and put back.
#[test]
fn the_builds_right_after_writing_a_directory_output_take_the_shortcut() {
    let out = Test::new()
        .manifest(WRITES_DIR)
        .file("in.txt", "1")
        .run()
        .success()
        .stderr_contains("1 ran");
    let out = out.again().run().success().stderr_contains(SHORTCUT);
    let out = out.again().run().success().stderr_contains(SHORTCUT);
    let out = out
        .again()
        .remove("out/parts/in.txt")
        .run()
        .success()
        .stderr_lacks(SHORTCUT)
        .stderr_contains("1 cached (1 restored)");
    assert_eq!(out.read("out/parts/in.txt"), "1");
}

/// A file removed from a directory input after the build hashed it (here by the step
/// itself; an editor or a checkout could as well) leaves the directory fresh, and the key it
/// was built under holding the file: the build must not record the directory as it is now,
/// as if that had been built.
#[test]
fn a_file_removed_from_a_directory_input_during_the_build_is_built_by_the_next() {
    let manifest = READS_DIR.replace("> out/all.txt\"", "> out/all.txt; rm -f data/sub/b.txt\"");
    let out = Test::new()
        .manifest(&manifest)
        .file("data/top.txt", "t")
        .file("data/sub/a.txt", "a")
        .file("data/sub/b.txt", "b")
        .run()
        .success()
        .stderr_contains("1 ran");
    assert_eq!(out.read("out/all.txt"), "tab");
    let out = out
        .again()
        .run()
        .success()
        .stderr_lacks(SHORTCUT)
        .stderr_contains("1 ran");
    assert_eq!(out.read("out/all.txt"), "ta");
    out.again().run().success().stderr_contains(SHORTCUT);
}
