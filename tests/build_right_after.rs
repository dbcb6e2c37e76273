//! The build right after a build: a build that ran steps writes the up-to-date record too,
//! with the files it just wrote (too fresh for their signatures to be trusted) recorded by
//! the digest it hashed, so the next build, started at once, takes the shortcut after
//! hashing those files again, and sees any change to them, even one that leaves their
//! signature as it was.

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
