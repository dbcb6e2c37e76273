//! The build's last line says what the cached actions came to: their outputs put back from
//! the local cache (restored), their results downloaded from a remote, or neither (already in
//! place).

mod common;
use common::remote_user;

#[test]
fn the_summary_tells_restored_and_remote_hits_from_outputs_in_place() {
    let shared = tempfile::tempdir().unwrap();
    let url = format!("file://{}", shared.path().display());
    remote_user(&url, "")
        .build(&[])
        .run()
        .success()
        .stderr_contains("2 actions: 2 ran, 0 cached, 0 failed");

    // A fresh clone: everything comes from the team's remote.
    let b = remote_user(&url, "")
        .build(&[])
        .run()
        .success()
        .stderr_contains("2 actions: 0 ran, 2 cached (2 from remote team), 0 failed");
    // Outputs in place: nothing to put back.
    let b = b
        .again()
        .build(&[])
        .run()
        .success()
        .stderr_contains("2 actions: 0 ran, 2 cached, 0 failed");
    // One output deleted: put back from the local cache.
    b.again()
        .remove("out/model.txt")
        .build(&[])
        .run()
        .success()
        .stderr_contains("2 actions: 0 ran, 2 cached (1 restored), 0 failed");
}

#[test]
fn the_report_says_which_cached_actions_were_restored() {
    let shared = tempfile::tempdir().unwrap();
    let url = format!("file://{}", shared.path().display());
    let a = remote_user(&url, "").build(&[]).run().success();
    let a = a.again().remove("out/model.txt").build(&[]).run().success();
    let report = a.report();
    assert_eq!(report.action("prepare")["restored"], false, "{report}");
    assert_eq!(report.action("train")["restored"], true, "{report}");
}
