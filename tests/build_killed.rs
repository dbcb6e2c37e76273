//! `kill -9` of zenbuild: the steps it started must not outlive it into the next build, or
//! whatever they write later lands in that build's outputs and is cached under its keys.

mod common;
use std::time::Duration;

use common::Test;
use common::processes::{group_in, group_is_empty, kill_9, kill_group, wait_for};

/// `a` reads its input at once but writes its output only after the undeclared `delay`
/// (a training job that loaded its data); `b` copies `a`'s output a while after it starts.
const READ_EARLY_WRITE_LATE: &str = r#"
step "a" {
    cmd "echo $$ > a.group; v=$(cat src.txt); touch a.started; sleep $(cat delay); echo $v > a.out"
    inputs "src.txt"
    outputs "a.out"
}
step "b" {
    cmd "sleep 3; cp a.out b.out"
    inputs "a.out"
    outputs "b.out"
}
"#;

#[test]
fn steps_of_a_killed_build_cannot_poison_the_next() {
    let test = Test::new()
        .manifest(READ_EARLY_WRITE_LATE)
        .file("src.txt", "old\n")
        .file("delay", "2");
    let mut killed = test.spawn(&["build"]);
    wait_for(&test.path().join("a.started"), &mut killed);
    kill_9(&mut killed);
    let orphan = group_in(&test.path().join("a.group"));

    // Without the fix, the first build's `a` writes `old` into a.out two seconds after it
    // started, while this build's `b` sleeps; `b` then copies `old` and stores it under the
    // key of `new`.
    let out = test
        .file("src.txt", "new\n")
        .file("delay", "0")
        .build(&[])
        .run();
    kill_group(orphan);
    let out = out.success();
    assert_eq!(out.report().ran(), ["a", "b"], "{}", out.report());
    assert_eq!(out.read("b.out"), "new\n");
    assert_eq!(out.read("a.out"), "new\n");
    assert!(
        group_is_empty(orphan),
        "the killed build's step outlived it"
    );

    std::thread::sleep(Duration::from_millis(500));
    let out = out.again().build(&[]).run().success();
    assert_eq!(out.report().cached(), ["a", "b"], "{}", out.report());
    assert_eq!(out.read("a.out"), "new\n");
    assert_eq!(out.read("b.out"), "new\n");
}

/// Not only a build: whichever command takes the workspace lock next stops them first.
#[test]
fn a_clean_after_a_killed_build_stops_its_steps_first() {
    let test = Test::new().manifest(
        r#"
step "slow" {
    cmd "echo $$ > slow.group; (sleep 30; echo late > late.txt) & touch slow.started; sleep 30; echo done > out.txt"
    outputs "out.txt"
}
"#,
    );
    let mut killed = test.spawn(&["build"]);
    wait_for(&test.path().join("slow.started"), &mut killed);
    kill_9(&mut killed);
    let orphan = group_in(&test.path().join("slow.group"));
    assert!(
        !group_is_empty(orphan),
        "the step died with zenbuild anyway"
    );

    let out = test.args(&["clean"]).run();
    let stopped = group_is_empty(orphan);
    kill_group(orphan);
    out.success();
    assert!(stopped, "the killed build's step survived `zenbuild clean`");
}

/// A process that left its step's group (`setsid`) still holds the build's descriptor of the
/// group log: the next command finds it there and stops it too.
#[test]
fn a_process_that_left_its_step_s_group_is_stopped_as_well() {
    let test = Test::new().manifest(
        r#"
step "detach" {
    cmd "setsid sh -c 'echo $$ > detached.pid; sleep 3; echo late > late.txt' & touch detach.started; sleep 30"
    outputs "out.txt"
}
"#,
    );
    let mut killed = test.spawn(&["build"]);
    wait_for(&test.path().join("detach.started"), &mut killed);
    let pid_file = test.path().join("detached.pid");
    while !pid_file.exists() {
        std::thread::sleep(Duration::from_millis(10));
    }
    kill_9(&mut killed);
    let detached: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let out = test.args(&["clean"]).run();
    // Alive: listed and not a zombie (reaped or not, a zombie cannot write).
    let alive = std::fs::read_to_string(format!("/proc/{detached}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    });
    // SAFETY: kill has no memory-safety preconditions; cleaning up after a failure.
    unsafe { libc::kill(detached, libc::SIGKILL) };
    let out = out.success();
    assert!(!alive, "the detached process outlived the next command");
    std::thread::sleep(Duration::from_millis(3500));
    assert!(!out.exists("late.txt"));
}
