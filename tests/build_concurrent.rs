//! Two builds in one workspace at once: the second waits for the first's lock instead of
//! racing it for the same outputs, then finds everything cached.

mod common;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Report, Test, wait};

const MANIFEST: &str = r#"
step "slow" {
    cmd "touch slow.started; sleep 1; cat in.txt > out/slow.txt"
    inputs "in.txt"
    outputs "out/slow.txt"
}
step "next" {
    cmd "cat out/slow.txt out/slow.txt > out/next.txt"
    inputs "out/slow.txt"
    outputs "out/next.txt"
}
"#;

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_second_build_waits_for_the_first_and_finds_everything_cached() {
    let test = Test::new().manifest(MANIFEST).file("in.txt", "x\n");
    let first = test.spawn(&["build", "--report", "first.json"]);
    // The step has started, so the first build holds the workspace lock.
    wait_for(&test.path().join("slow.started"));
    let second = test.spawn(&["build", "--report", "second.json"]);

    let (first_code, _, first_err) = wait(first);
    let (second_code, _, second_err) = wait(second);
    assert_eq!(first_code, Some(0), "{first_err}");
    assert_eq!(second_code, Some(0), "{second_err}");
    assert!(
        second_err.contains("waiting for"),
        "the second build did not say it waits: {second_err}"
    );
    let first = Report::read(&test.path().join("first.json"));
    let second = Report::read(&test.path().join("second.json"));
    assert_eq!(first.ran(), ["slow", "next"], "{first}");
    assert_eq!(second.cached(), ["slow", "next"], "{second}");
    let next = std::fs::read_to_string(test.path().join("out/next.txt")).unwrap();
    assert_eq!(next, "x\nx\n");
}

#[test]
fn two_builds_started_together_both_succeed_and_one_of_them_runs() {
    let test = Test::new().manifest(MANIFEST).file("in.txt", "y\n");
    let a = test.spawn(&["build", "--report", "a.json"]);
    let b = test.spawn(&["build", "--report", "b.json"]);
    let (a_code, _, a_err) = wait(a);
    let (b_code, _, b_err) = wait(b);
    assert_eq!(a_code, Some(0), "{a_err}");
    assert_eq!(b_code, Some(0), "{b_err}");
    let a = Report::read(&test.path().join("a.json"));
    let b = Report::read(&test.path().join("b.json"));
    let mut ran = [a.ran(), b.ran()];
    ran.sort();
    assert_eq!(ran, [vec![], vec!["slow", "next"]], "{a}\n{b}");
    let mut cached = [a.cached(), b.cached()];
    cached.sort();
    assert_eq!(cached, [vec![], vec!["slow", "next"]], "{a}\n{b}");
}
