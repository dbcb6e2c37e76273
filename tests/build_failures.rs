//! Failed steps: nothing of theirs is cached, so they run again next time; `-k` goes on with
//! what does not depend on them; the exit code is 1; a declared output the step did not write
//! is a failure that names it.

mod common;
use common::Test;

/// `bad` fails unless `in.txt` says `good`; `after` reads its output; `ok` stands apart.
const MANIFEST: &str = r#"
step "bad" {
    cmd "echo complaint >&2; grep -q good in.txt && cp in.txt out/bad.txt"
    inputs "in.txt"
    outputs "out/bad.txt"
}
step "after" {
    cmd "cp out/bad.txt out/after.txt"
    inputs "out/bad.txt"
    outputs "out/after.txt"
}
step "ok" {
    cmd "printf ok > out/ok.txt"
    outputs "out/ok.txt"
}
"#;

fn action_results(test: Test) -> (u64, Test) {
    let out = test.args(&["cache", "stats", "--json"]).run().success();
    let count = out.json()["action_results"]
        .as_u64()
        .expect("action_results is a count");
    (count, out.again())
}

#[test]
fn a_failed_step_caches_nothing_and_runs_again_until_it_succeeds() {
    let out = Test::new()
        .manifest(MANIFEST)
        .file("in.txt", "bad")
        .build(&["ok"])
        .run()
        .success();
    let (before, test) = action_results(out.again());
    assert_eq!(before, 1, "the result of `ok`");

    let out = test.build(&[]).run().code(1);
    let report = out.report();
    assert_eq!(report.status("bad"), "failed", "{report}");
    assert_eq!(report.error("bad"), "exited with code 1");
    let (after, test) = action_results(out.again());
    assert_eq!(after, before, "a failure stores no action result");

    // The same inputs again: the failure was not cached, so the step runs (and fails) again.
    let out = test.build(&["bad"]).run().code(1);
    assert_eq!(out.report().status("bad"), "failed");

    let out = out
        .again()
        .file("in.txt", "good")
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.ran(), ["bad", "after"], "{report}");
    assert_eq!(report.cached(), ["ok"], "{report}");
    assert_eq!(out.read("out/after.txt"), "good");
    let (fixed, _) = action_results(out.again());
    assert_eq!(fixed, before + 2);
}

#[test]
fn keep_going_builds_independent_steps_and_skips_dependents() {
    let out = Test::new()
        .manifest(MANIFEST)
        .file("in.txt", "bad")
        .build(&["-k"])
        .run()
        .code(1);
    let report = out.report();
    assert_eq!(report.status("bad"), "failed", "{report}");
    assert_eq!(report.status("after"), "skipped", "{report}");
    assert_eq!(report.reasons("after"), "bad failed");
    assert_eq!(report.status("ok"), "ran", "{report}");
    assert_eq!(report.summary("failed"), 1);
    assert_eq!(report.summary("skipped"), 1);
    assert_eq!(out.read("out/ok.txt"), "ok");
    assert!(!out.exists("out/after.txt"));
    // The step's stderr is shown with the failure.
    let out = out.stderr_contains("complaint");
    out.stderr_contains("1 action failed");
}

#[test]
fn without_keep_going_a_failure_exits_1_and_runs_no_dependent() {
    let out = Test::new()
        .manifest(MANIFEST)
        .file("in.txt", "bad")
        .build(&["-j", "1"])
        .run()
        .code(1);
    let report = out.report();
    assert_eq!(report.status("bad"), "failed", "{report}");
    assert_eq!(report.status("after"), "skipped", "{report}");
    assert!(!out.exists("out/after.txt"));
}

#[test]
fn a_declared_output_the_step_did_not_write_fails_naming_it() {
    let out = Test::new()
        .manifest(
            r#"
step "forgetful" {
    cmd "printf half > out/one.txt"
    outputs "out/one.txt" "out/two.txt"
}
"#,
        )
        .build(&[])
        .run()
        .code(1);
    let report = out.report();
    assert_eq!(report.status("forgetful"), "failed", "{report}");
    let error = report.error("forgetful");
    assert!(error.contains("`out/two.txt`"), "{error}");
    assert!(error.contains("did not create it"), "{error}");
    let out = out.stderr_contains("out/two.txt");

    // Nothing was cached: the next build runs it again.
    let out = out.again().build(&[]).run().code(1);
    assert_eq!(out.report().status("forgetful"), "failed");
}
