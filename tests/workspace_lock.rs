//! Every command that changes `.zenbuild/` or the outputs takes the workspace lock: it waits
//! for a running build (and says so) instead of pulling the files from under it.

mod common;
use std::process::Child;
use std::time::{Duration, Instant};

use common::processes::wait_for;
use common::{Test, wait};

/// `slow` holds the build until the test creates the undeclared file `release`.
fn held_build(remote: &std::path::Path) -> Test {
    Test::new().manifest(&format!(
        r#"
remote "team" url="file://{}"
step "slow" {{
    cmd "touch slow.started; while [ ! -e release ]; do sleep 0.05; done; echo done > out.txt"
    outputs "out.txt"
}}
"#,
        remote.display()
    ))
}

/// Starts a build, then `args` while the build's step runs; checks that `args` waits for the
/// build and says so; returns what `args` printed.
fn waits_for_the_build(test: &Test, args: &[&str]) -> (Option<i32>, String) {
    let mut build = test.spawn(&["build"]);
    wait_for(&test.path().join("slow.started"), &mut build);
    let mut other = test.spawn(args);
    let waited = still_running_after(&mut other, Duration::from_secs(1));
    std::fs::write(test.path().join("release"), "").expect("release the build");
    let (code, _, stderr) = wait(build);
    assert_eq!(code, Some(0), "the build failed: {stderr}");
    let (code, stdout, stderr) = wait(other);
    assert!(
        waited,
        "{args:?} did not wait for the build: {stdout}{stderr}"
    );
    assert!(
        stderr.contains("waiting for zenbuild (pid"),
        "{args:?} did not say what it waits for: {stderr}"
    );
    (code, stdout)
}

fn still_running_after(child: &mut Child, time: Duration) -> bool {
    let deadline = Instant::now() + time;
    while Instant::now() < deadline {
        if child.try_wait().expect("poll zenbuild").is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

#[test]
fn clean_waits_for_a_running_build() {
    let remote = tempfile::tempdir().unwrap();
    let test = held_build(remote.path());
    let (code, stdout) = waits_for_the_build(&test, &["clean"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("removed 1 output"), "{stdout}");
    assert!(!test.path().join("out.txt").exists());
}

#[test]
fn cache_push_waits_for_a_running_build() {
    let remote = tempfile::tempdir().unwrap();
    let test = held_build(remote.path());
    let (code, stdout) = waits_for_the_build(&test, &["cache", "push"]);
    assert_eq!(code, Some(0), "{stdout}");
    // It pushed what the build stored, which it could only see after the build.
    assert!(stdout.contains("pushed 1 of 1"), "{stdout}");
}

#[test]
fn cache_pull_waits_for_a_running_build() {
    let remote = tempfile::tempdir().unwrap();
    let test = held_build(remote.path());
    let (code, stdout) = waits_for_the_build(&test, &["cache", "pull"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("now in the local cache: 1 of 1"),
        "{stdout}"
    );
}
