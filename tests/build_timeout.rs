//! `timeout`: a step still running when its time is up is stopped and fails.

mod common;
use common::Test;

#[test]
fn a_step_over_its_timeout_fails_with_timed_out() {
    let out = Test::new()
        .manifest(
            r#"
step "slow" {
    cmd "sleep 5; printf late > out/slow.txt"
    outputs "out/slow.txt"
    timeout "1s"
}
step "after" {
    cmd "cat out/slow.txt > out/after.txt"
    inputs "out/slow.txt"
    outputs "out/after.txt"
}
"#,
        )
        .build(&[])
        .run()
        .code(1);
    let report = out.report();
    assert_eq!(report.status("slow"), "failed", "{report}");
    let error = report.error("slow");
    assert!(error.contains("timed out"), "{error}");
    assert_eq!(report.status("after"), "skipped", "{report}");
    assert!(!out.exists("out/slow.txt"));
    let out = out.stderr_contains("timed out");

    // A timeout is not cached: the next build tries again.
    let out = out.again().build(&[]).run().code(1);
    assert_eq!(out.report().status("slow"), "failed");
}
