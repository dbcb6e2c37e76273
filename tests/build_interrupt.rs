//! Ctrl-C during a build: zenbuild stops the running step's process group, exits 130, reports
//! the step `interrupted` and caches nothing for it.

mod common;
use std::process::Child;
use std::time::{Duration, Instant};

use common::processes::{group_is_empty, wait_for};
use common::{Report, Test, wait};

/// `slow` sleeps for as long as the undeclared file `delay` says, so that the rebuild can be
/// quick without changing the step's key. It leaves its process group's id (its shell's pid)
/// in `slow.group`.
const MANIFEST: &str = r#"
step "slow" {
    cmd "echo $$ > slow.group; touch slow.started; sleep $(cat delay); printf done > out/slow.txt"
    outputs "out/slow.txt"
}
step "after" {
    cmd "cat out/slow.txt > out/after.txt"
    inputs "out/slow.txt"
    outputs "out/after.txt"
}
"#;

/// Waits up to `limit` for the process to exit; kills it and fails the test otherwise.
fn exits_within(child: &mut Child, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().expect("poll zenbuild").is_some() {
            return;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("zenbuild did not exit within {limit:?} of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigint_stops_the_build_with_130_and_caches_nothing() {
    let test = Test::new().manifest(MANIFEST).file("delay", "30");
    let mut child = test.spawn(&["build", "--report", "interrupted.json"]);
    wait_for(&test.path().join("slow.started"), &mut child);
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
    // SAFETY: kill has no memory-safety preconditions; the pid is our own live child's.
    let sent = unsafe { libc::kill(pid, libc::SIGINT) };
    assert_eq!(sent, 0, "kill: {}", std::io::Error::last_os_error());
    exits_within(&mut child, Duration::from_secs(4));
    let (code, _, stderr) = wait(child);
    assert_eq!(code, Some(130), "{stderr}");

    let report = Report::read(&test.path().join("interrupted.json"));
    assert_eq!(report.status("slow"), "interrupted", "{report}");
    assert_eq!(report.status("after"), "skipped", "{report}");
    assert_eq!(report.summary("interrupted"), 1);
    assert!(!test.path().join("out/slow.txt").exists());
    let group = std::fs::read_to_string(test.path().join("slow.group")).expect("slow.group");
    let group: i32 = group.trim().parse().expect("a process group id");
    assert!(
        group_is_empty(group),
        "the step's processes outlived the build"
    );

    // Nothing was cached for the interrupted step: the next build runs it.
    let out = test.file("delay", "0").build(&[]).run().success();
    let report = out.report();
    assert_eq!(report.ran(), ["slow", "after"], "{report}");
    assert_eq!(out.read("out/after.txt"), "done");
}
