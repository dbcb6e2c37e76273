//! `clean --cache` empties the local cache only: with a remote that holds the results, the
//! next build downloads them rather than rerunning anything, and the help says so (it used
//! to promise that "the next build reruns everything").

mod common;
use common::remote_user;

#[test]
fn clean_cache_help_does_not_promise_a_full_rerun() {
    remote_user("file:///nowhere", "")
        .args(&["clean", "--help"])
        .run()
        .success()
        .stdout_lacks("reruns everything")
        .stdout_contains("no remote cache holds");
}

#[test]
fn after_clean_cache_a_remote_still_supplies_the_results() {
    let shared = tempfile::tempdir().unwrap();
    let url = format!("file://{}", shared.path().display());
    let out = remote_user(&url, "")
        .run()
        .success()
        .stderr_contains("2 ran");
    let out = out.again().args(&["clean", "--cache"]).run().success();
    assert!(!out.exists(".zenbuild/cache/ac"));
    out.again()
        .run()
        .success()
        .stderr_contains("0 ran, 2 cached");
}
