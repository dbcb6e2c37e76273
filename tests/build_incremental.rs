//! Incremental builds: what reruns after which change, judged by the `--report` JSON. A change
//! of bytes reruns exactly what depends on them; timestamps, and outputs deleted from the
//! workspace, rerun nothing.

mod common;
use common::Test;

/// `b` reads what `a` writes; `c` stands apart.
const CHAIN: &str = r#"
step "a" {
    cmd "cat in_a.txt > out/a.txt"
    inputs "in_a.txt"
    outputs "out/a.txt"
}
step "b" {
    cmd "cat out/a.txt > out/b.txt; printf +b >> out/b.txt"
    inputs "out/a.txt"
    outputs "out/b.txt"
}
step "c" {
    cmd "cat in_c.txt > out/c.txt"
    inputs "in_c.txt"
    outputs "out/c.txt"
}
"#;

fn chain() -> Test {
    Test::new()
        .manifest(CHAIN)
        .file("in_a.txt", "A1")
        .file("in_c.txt", "C1")
}

#[test]
fn a_cold_build_runs_everything_and_a_second_build_nothing() {
    let out = chain().build(&[]).run().success();
    let report = out.report();
    assert_eq!(report.ran(), ["a", "b", "c"], "{report}");
    for name in ["a", "b", "c"] {
        assert_eq!(report.reasons(name), "never built");
    }
    assert_eq!(out.read("out/b.txt"), "A1+b");
    assert_eq!(report.summary("ran"), 3);

    let out = out.again().build(&[]).run().success();
    let report = out.report();
    assert_eq!(report.cached(), ["a", "b", "c"], "{report}");
    assert_eq!(report.summary("ran"), 0);
    assert_eq!(report.summary("cached"), 3);
    assert_eq!(out.read("out/b.txt"), "A1+b");
}

#[test]
fn the_cached_report_gives_the_same_keys_and_output_digests() {
    let out = chain().build(&[]).run().success();
    let first = out.report();
    let out = out.again().build(&[]).run().success();
    let second = out.report();
    for name in ["a", "b", "c"] {
        assert_eq!(first.action(name)["key"], second.action(name)["key"]);
        assert_eq!(
            first.action(name)["outputs"],
            second.action(name)["outputs"]
        );
    }
    assert!(first.output("b", "out/b.txt").len() == 64, "{first}");
}

#[test]
fn changed_input_bytes_rerun_exactly_their_dependents() {
    let out = chain().build(&[]).run().success();
    let out = out
        .again()
        .file("in_a.txt", "A2")
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.ran(), ["a", "b"], "{report}");
    assert_eq!(report.cached(), ["c"], "{report}");
    assert!(report.reasons("a").contains("in_a.txt changed"), "{report}");
    assert!(
        report.reasons("b").contains("out/a.txt changed"),
        "{report}"
    );
    assert_eq!(out.read("out/b.txt"), "A2+b");

    let out = out
        .again()
        .file("in_c.txt", "C2")
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.ran(), ["c"], "{report}");
    assert_eq!(report.cached(), ["a", "b"], "{report}");
    assert_eq!(out.read("out/c.txt"), "C2");
}

#[test]
fn going_back_to_earlier_bytes_is_a_cache_hit() {
    let out = chain().build(&[]).run().success();
    let out = out
        .again()
        .file("in_a.txt", "A2")
        .build(&[])
        .run()
        .success();
    let out = out
        .again()
        .file("in_a.txt", "A1")
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.cached(), ["a", "b", "c"], "{report}");
    assert_eq!(out.read("out/b.txt"), "A1+b");
}

#[test]
fn touching_a_file_reruns_nothing() {
    let out = chain().build(&[]).run().success();
    let out = out
        .again()
        .touch("in_a.txt")
        .touch("in_c.txt")
        .touch("out/a.txt")
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.cached(), ["a", "b", "c"], "{report}");
}

#[test]
fn editing_a_command_reruns_that_step() {
    let out = chain().build(&[]).run().success();
    let edited = CHAIN.replace("printf +b", "printf +B");
    let out = out.again().manifest(&edited).build(&[]).run().success();
    let report = out.report();
    assert_eq!(report.ran(), ["b"], "{report}");
    assert_eq!(report.cached(), ["a", "c"], "{report}");
    assert!(
        report.reasons("b").contains("the command changed"),
        "{report}"
    );
    assert_eq!(out.read("out/b.txt"), "A1+B");
}

#[test]
fn a_deleted_output_is_restored_from_the_cache_without_running() {
    let out = chain().build(&[]).run().success();
    let out = out
        .again()
        .remove("out/a.txt")
        .remove("out/c.txt")
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.cached(), ["a", "b", "c"], "{report}");
    assert_eq!(out.read("out/a.txt"), "A1");
    assert_eq!(out.read("out/c.txt"), "C1");
}

#[test]
fn an_output_edited_by_hand_is_put_back() {
    let out = chain().build(&[]).run().success();
    let out = out
        .again()
        .file("out/b.txt", "edited")
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.cached(), ["a", "b", "c"], "{report}");
    assert_eq!(out.read("out/b.txt"), "A1+b");
}

#[test]
fn a_named_target_builds_only_it_and_its_dependencies() {
    let out = chain().build(&["b"]).run().success();
    let report = out.report();
    assert_eq!(report.names(), ["a", "b"], "{report}");
    assert_eq!(report.ran(), ["a", "b"]);
    assert!(!out.exists("out/c.txt"));
}

#[test]
fn a_source_directory_input_reruns_on_content_not_on_timestamps() {
    let out = Test::new()
        .manifest(
            r#"
step "list" {
    cmd "find data -type f | sort | xargs cat > out/all.txt"
    inputs "data/"
    outputs "out/all.txt"
}
"#,
        )
        .file("data/a.txt", "a\n")
        .file("data/sub/b.txt", "b\n")
        .build(&[])
        .run()
        .success();
    assert_eq!(out.read("out/all.txt"), "a\nb\n");

    let out = out
        .again()
        .touch("data/sub/b.txt")
        .build(&[])
        .run()
        .success();
    assert_eq!(out.report().cached(), ["list"]);

    let out = out
        .again()
        .file("data/sub/c.txt", "c\n")
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.ran(), ["list"], "{report}");
    assert!(report.reasons("list").contains("data/ changed"), "{report}");
    assert_eq!(out.read("out/all.txt"), "a\nb\nc\n");

    let out = out.again().remove("data/a.txt").build(&[]).run().success();
    assert_eq!(out.report().ran(), ["list"]);
    assert_eq!(out.read("out/all.txt"), "b\nc\n");
}

#[test]
fn setting_the_executable_bit_of_an_input_reruns_its_readers() {
    use std::os::unix::fs::PermissionsExt;
    let out = chain().build(&[]).run().success();
    let path = out.path().join("in_c.txt");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = out.again().build(&[]).run().success();
    let report = out.report();
    assert_eq!(report.ran(), ["c"], "{report}");
    assert!(
        report.reasons("c").contains("in_c.txt: executable bit set"),
        "{report}"
    );
}

/// The stat cache trusts an entry only once the file is older than its racy window (2 s);
/// then a same-size edit that even restores the old mtime (as `cp -p` or rsync do) must
/// still be seen, because the ctime moved.
#[test]
fn a_same_size_edit_that_keeps_the_mtime_is_seen_by_a_trusting_stat_cache() {
    let out = chain().build(&[]).run().success();
    std::thread::sleep(std::time::Duration::from_millis(2200));
    // This build records entries old enough to be trusted next time.
    let out = out.again().build(&[]).run().success();
    assert_eq!(out.report().cached(), ["a", "b", "c"]);

    let path = out.path().join("in_a.txt");
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::fs::write(&path, "A9").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|file| file.set_modified(mtime))
        .unwrap();
    let out = out.again().build(&[]).run().success();
    let report = out.report();
    assert_eq!(report.ran(), ["a", "b"], "{report}");
    assert_eq!(out.read("out/b.txt"), "A9+b");
}
