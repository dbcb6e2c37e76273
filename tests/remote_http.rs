//! An HTTP cache as the team's remote, against a real nginx on 127.0.0.1 (WebDAV PUT, Bazel's
//! layout): user A builds and uploads, user B (an empty local cache) restores everything; a
//! tampered blob is caught; a server that stops mid-build, a read-only remote and wrong
//! credentials are handled.

#![cfg(feature = "remote-http")]

mod common;
use common::nginx::Nginx;
use common::{Output, Test, remote_manifest, remote_user};

fn uploaded(server: &Nginx) -> Output {
    remote_user(&server.url(), "")
        .build(&[])
        .run()
        .success()
        .stderr_contains("2 ran")
        .stderr_lacks("remote `team`")
}

#[test]
fn what_one_user_builds_another_restores_without_running() {
    let Some(server) = Nginx::start() else { return };
    let a = uploaded(&server);
    let b = remote_user(&server.url(), "").build(&[]).run().success();
    let report = b.report();
    assert_eq!(report.cached(), ["prepare", "train"], "{report}");
    assert_eq!(report.action("train")["source"], "remote:team");
    for path in ["out/sorted.txt", "out/model.txt"] {
        assert_eq!(b.read(path), a.read(path), "{path}");
    }
    assert!(
        server.log().contains("\"GET /cache/ac/"),
        "{}",
        server.log()
    );
}

#[test]
fn a_tampered_blob_is_caught_and_the_step_reruns() {
    let Some(server) = Nginx::start() else { return };
    let a = uploaded(&server);
    let model = a.report().output("train", "out/model.txt");
    std::fs::write(server.data().join("cas").join(&model), "tampered").unwrap();
    let b = remote_user(&server.url(), "").build(&[]).run().success();
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
fn a_server_stopped_mid_build_is_one_warning_and_the_build_succeeds() {
    let Some(server) = Nginx::start() else { return };
    let stop = format!("; kill $(cat {})", server.pid_file().display());
    Test::new()
        .manifest(&remote_manifest(&server.url(), "", &stop))
        .file("data.txt", "b\na\n")
        .run()
        .success()
        .stderr_contains("2 ran")
        .stderr_contains_once("remote `team` failed");
}

#[test]
fn a_read_only_remote_receives_no_writes() {
    let Some(server) = Nginx::start() else { return };
    remote_user(&server.url(), " write=#false")
        .run()
        .success()
        .stderr_contains("2 ran");
    let log = server.log();
    assert!(log.contains("\"GET /cache/ac/"), "it was read: {log}");
    assert!(!log.contains("\"PUT "), "{log}");
}

#[test]
fn wrong_credentials_are_one_clear_warning_naming_the_remote() {
    let Some(server) = Nginx::start_with_auth("ci", "secret") else {
        return;
    };
    let out = remote_user(&server.url(), "")
        .env("ZENBUILD_REMOTE_TEAM_USER", "ci")
        .env("ZENBUILD_REMOTE_TEAM_PASSWORD", "wrong")
        .run()
        .success()
        .stderr_contains("2 ran")
        .stderr_contains_once("remote `team` failed");
    assert!(
        out.stderr.contains("refused the credentials (HTTP 401)"),
        "{}",
        out.stderr
    );

    // The right ones upload, and another user restores with them.
    remote_user(&server.url(), "")
        .env("ZENBUILD_REMOTE_TEAM_USER", "ci")
        .env("ZENBUILD_REMOTE_TEAM_PASSWORD", "secret")
        .run()
        .success()
        .stderr_lacks("remote `team`");
    remote_user(&server.url(), "")
        .env("ZENBUILD_REMOTE_TEAM_USER", "ci")
        .env("ZENBUILD_REMOTE_TEAM_PASSWORD", "secret")
        .run()
        .success()
        .stderr_contains("0 ran, 2 cached");
}
