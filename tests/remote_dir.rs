//! A shared directory as the team's remote cache (`file://`): what user A builds, user B
//! (another workspace with an empty local cache) restores without running anything; a
//! tampered blob is caught; a remote that fails or may not be written is handled.

mod common;
use common::{file_url, remote_user, uploaded};

#[test]
fn what_one_user_builds_another_restores_without_running() {
    let shared = tempfile::tempdir().unwrap();
    let a = uploaded(shared.path());
    assert!(shared.path().join("ac").read_dir().unwrap().count() >= 2);

    let b = remote_user(&file_url(shared.path()), "")
        .build(&[])
        .run()
        .success();
    let report = b.report();
    assert_eq!(report.cached(), ["prepare", "train"], "{report}");
    for name in ["prepare", "train"] {
        assert_eq!(report.action(name)["source"], "remote:team", "{report}");
    }
    for path in ["out/sorted.txt", "out/model.txt"] {
        assert_eq!(b.read(path), a.read(path), "{path}");
    }
    let b = b
        .again()
        .args(&["cache", "stats"])
        .run()
        .success()
        .stdout_contains("last run (1): 2 actions: 2 remote:team hits");
    // Kept locally: the next build does not ask the remote.
    let again = b.again().build(&[]).run().success();
    assert_eq!(again.report().action("train")["source"], "local");
}

#[test]
fn a_tampered_blob_is_caught_and_the_step_reruns() {
    let shared = tempfile::tempdir().unwrap();
    let a = uploaded(shared.path());
    let report = a.report();
    let model = report.output("train", "out/model.txt");
    std::fs::write(shared.path().join("cas").join(&model), "tampered").unwrap();

    let b = remote_user(&file_url(shared.path()), "")
        .build(&[])
        .run()
        .success();
    let report = b.report();
    assert_eq!(report.status("prepare"), "cached", "{report}");
    assert_eq!(report.status("train"), "ran", "{report}");
    assert_eq!(b.read("out/model.txt"), a.read("out/model.txt"));
    assert!(
        b.stderr.contains("remote `team` sent a blob that is not"),
        "{}",
        b.stderr
    );
}

#[test]
fn a_read_only_remote_receives_nothing() {
    let shared = tempfile::tempdir().unwrap();
    remote_user(&file_url(shared.path()), " write=#false")
        .run()
        .success()
        .stderr_contains("2 ran");
    assert!(!shared.path().join("ac").exists());
    assert!(!shared.path().join("cas").exists());
}

#[test]
fn a_failing_remote_is_one_warning_and_the_build_goes_on() {
    // A "directory" below a regular file can be neither read nor written.
    let blocker = tempfile::NamedTempFile::new().unwrap();
    let broken = format!("file://{}/cache", blocker.path().display());
    remote_user(&broken, "")
        .run()
        .success()
        .stderr_contains("2 ran")
        .stderr_contains_once("remote `team` failed");
}

#[test]
fn no_remote_and_remote_name_choose_what_is_used() {
    let shared = tempfile::tempdir().unwrap();
    uploaded(shared.path());
    remote_user(&file_url(shared.path()), "")
        .args(&["build", "--no-remote"])
        .run()
        .success()
        .stderr_contains("2 ran");
    remote_user(&file_url(shared.path()), "")
        .args(&["build", "--remote", "team"])
        .run()
        .success()
        .stderr_contains("0 ran, 2 cached");
    remote_user(&file_url(shared.path()), "")
        .args(&["build", "--remote", "other"])
        .run()
        .code(1)
        .stderr_contains("the manifest declares no remote `other` (it has: team)");
}

#[test]
fn cache_push_and_pull_move_whole_pipelines() {
    let shared = tempfile::tempdir().unwrap();
    let remote = file_url(shared.path());
    // Built without the remote, then pushed.
    let a = remote_user(&remote, "")
        .args(&["build", "--no-remote"])
        .run()
        .success()
        .stderr_contains("2 ran");
    assert!(!shared.path().join("ac").exists());
    let model = a.read("out/model.txt");
    a.again()
        .args(&["cache", "push"])
        .run()
        .success()
        .stdout_contains("pushed 2 of 2 actions");

    // Pulled into a fresh workspace, which then builds with no remote at all.
    let b = remote_user(&remote, "")
        .args(&["cache", "pull"])
        .run()
        .success()
        .stdout_contains("now in the local cache: 2 of 2 actions");
    let b = b
        .again()
        .args(&["build", "--no-remote"])
        .run()
        .success()
        .stderr_contains("0 ran, 2 cached");
    assert_eq!(b.read("out/model.txt"), model);

    // Nothing to pull for inputs nobody built.
    remote_user(&remote, "")
        .file("data.txt", "other\n")
        .args(&["cache", "pull"])
        .run()
        .success()
        .stdout_contains("now in the local cache: 0 of 2 actions")
        .stdout_contains("in no cache under its current key: prepare, train");
}

#[test]
fn a_machine_switches_writing_off_in_its_environment() {
    let shared = tempfile::tempdir().unwrap();
    remote_user(&file_url(shared.path()), "")
        .env("ZENBUILD_REMOTE_TEAM_WRITE", "0")
        .run()
        .success()
        .stderr_contains("2 ran");
    assert!(!shared.path().join("ac").exists());
    // And on, over a manifest that says `write=#false`.
    remote_user(&file_url(shared.path()), " write=#false")
        .env("ZENBUILD_REMOTE_TEAM_WRITE", "true")
        .run()
        .success();
    assert!(shared.path().join("ac").exists());
}
