//! `cache push` and `cache pull` against an HTTP cache (a real nginx on 127.0.0.1) that is
//! down: the command says why and exits non-zero.

#![cfg(feature = "remote-http")]

mod common;
use common::nginx::Nginx;
use common::remote_user;

#[test]
fn push_and_pull_to_a_server_that_is_down_fail_with_the_reason() {
    let Some(mut server) = Nginx::start() else {
        return;
    };
    let url = server.url();
    server.stop();
    let out = remote_user(&url, "")
        .build(&["--no-remote"])
        .run()
        .success()
        .stderr_contains("2 ran");
    let out = out
        .again()
        .args(&["cache", "push"])
        .run()
        .code(1)
        .stdout_contains("pushed 0 of 2 actions")
        .stderr_contains_once("cannot push prepare, train to remote `team`: ")
        .stderr_contains("Connection refused");
    out.again()
        .remove("out")
        .remove(".zenbuild/cache")
        .args(&["cache", "pull"])
        .run()
        .code(1)
        .stdout_contains("not pulled: prepare, train")
        .stderr_contains_once("remote `team` failed")
        .stderr_contains("Connection refused");
}
