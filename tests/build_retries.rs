//! `retries N`: a failed run is tried up to N more times; the first success counts.

mod common;
use common::Test;

/// Fails until its counter file (`count-NAME`) reaches 3, i.e. on its first two runs.
fn flaky(name: &str, retries: u32) -> String {
    format!(
        r##"
step "{name}" {{
    cmd #"n=$(cat count-{name} 2>/dev/null || echo 0); n=$((n + 1)); echo $n > count-{name}; [ $n -ge 3 ] && printf ok > out/{name}.txt"#
    outputs "out/{name}.txt"
    retries {retries}
}}
"##
    )
}

#[test]
fn a_flaky_step_succeeds_within_its_retries() {
    let out = Test::new()
        .manifest(&flaky("flaky", 2))
        .build(&[])
        .run()
        .success();
    let report = out.report();
    assert_eq!(report.status("flaky"), "ran", "{report}");
    assert_eq!(out.read("count-flaky").trim(), "3");
    assert_eq!(out.read("out/flaky.txt"), "ok");

    // Its result was cached like any other.
    let out = out.again().build(&[]).run().success();
    assert_eq!(out.report().cached(), ["flaky"]);
    assert_eq!(out.read("count-flaky").trim(), "3");
}

#[test]
fn too_few_retries_fail_and_say_how_many_attempts_were_made() {
    let out = Test::new()
        .manifest(&flaky("flaky", 1))
        .build(&[])
        .run()
        .code(1);
    let report = out.report();
    assert_eq!(report.status("flaky"), "failed", "{report}");
    let error = report.error("flaky");
    assert!(error.contains("after 2 attempts"), "{error}");
    assert_eq!(out.read("count-flaky").trim(), "2");
}

#[test]
fn without_retries_a_failure_is_final() {
    let out = Test::new()
        .manifest(&flaky("flaky", 0))
        .build(&[])
        .run()
        .code(1);
    assert_eq!(out.report().error("flaky"), "exited with code 1");
    assert_eq!(out.read("count-flaky").trim(), "1");
}

/// Every attempt starts without outputs, as the first did: what a failed attempt wrote must
/// not end up in the result of a later, successful one.
#[test]
fn a_retry_does_not_inherit_what_the_failed_attempt_wrote() {
    let out = Test::new()
        .manifest(
            r##"
step "append" {
    cmd #"n=$(cat count 2>/dev/null || echo 0); n=$((n + 1)); echo $n > count; printf "attempt$n;" >> out/log.txt; [ $n -ge 2 ]"#
    outputs "out/log.txt"
    retries 1
}
"##,
        )
        .build(&[])
        .run()
        .success();
    assert_eq!(out.report().status("append"), "ran");
    assert_eq!(out.read("out/log.txt"), "attempt2;");
}
