//! `plan` against a real nginx on 127.0.0.1 as the team's HTTP cache: it reads the result
//! entries and asks for blobs with `HEAD`, never downloads one, and a server that is down is
//! a warning.

#![cfg(feature = "remote-http")]

mod common;
use common::nginx::Nginx;
use common::remote_user;

#[test]
fn plan_asks_the_http_remote_without_downloading_a_blob() {
    let Some(server) = Nginx::start() else { return };
    remote_user(&server.url(), "")
        .build(&[])
        .run()
        .success()
        .stderr_contains("2 ran");
    let before = server.log().lines().count();
    remote_user(&server.url(), "")
        .args(&["plan"])
        .run()
        .success()
        .stdout_contains("prepare: cached in remote team")
        .stdout_contains("train: cached in remote team");
    let log = server.log();
    let asked: Vec<&str> = log.lines().skip(before).collect();
    assert!(
        asked.iter().any(|line| line.contains("\"GET /cache/ac/")),
        "{log}"
    );
    assert!(
        asked.iter().any(|line| line.contains("\"HEAD /cache/cas/")),
        "{log}"
    );
    assert!(
        !asked
            .iter()
            .any(|line| line.contains("\"GET /cache/cas/") || line.contains("\"PUT ")),
        "{log}"
    );
}

#[test]
fn a_server_that_is_down_is_a_warning_in_the_plan() {
    let Some(mut server) = Nginx::start() else {
        return;
    };
    let url = server.url();
    server.stop();
    remote_user(&url, "")
        .args(&["plan"])
        .run()
        .success()
        .stdout_contains("prepare: runs because never built")
        .stderr_contains_once("remote `team` could not be asked");
}
