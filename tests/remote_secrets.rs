//! A password written into a remote's URL (`http://user:pw@host`, `s3://…?endpoint=http://
//! user:pw@host`) is used, never shown: not in the warning about a remote that fails, nor in
//! anything else a command prints or leaves behind (the report, the lineage).

#![cfg(all(feature = "remote-http", feature = "remote-s3"))]

mod common;
use common::{Output, Test, remote_manifest};

const PASSWORD: &str = "hunter2-secret";

/// A port on 127.0.0.1 that nothing listens on: bound, then let go.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    listener.local_addr().expect("local address").port()
}

/// Everything a run printed, for one assertion over both streams.
fn lacks_password(out: Output, what: &str) -> Output {
    assert!(
        !out.stdout.contains(PASSWORD) && !out.stderr.contains(PASSWORD),
        "{what} printed the password\n{}",
        out.dump()
    );
    out
}

fn file_lacks_password(out: &Output, path: &str) {
    let bytes = std::fs::read(out.path().join(path)).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains(PASSWORD), "{path} holds the password");
}

#[test]
fn a_password_in_a_remote_url_is_never_printed() {
    let port = closed_port();
    for url in [
        format!("http://alice:{PASSWORD}@127.0.0.1:{port}/cache"),
        format!("s3://bucket/zb?endpoint=http://alice:{PASSWORD}@127.0.0.1:{port}"),
    ] {
        let out = Test::new()
            .manifest(&remote_manifest(&url, "", ""))
            .file("data.txt", "b\na\nc\n")
            .build(&[])
            .run()
            .success();
        // The warning that the remote failed is there, and names it without the password.
        let out = lacks_password(out, &url)
            .stderr_contains("remote `team` failed, going on without it")
            .stderr_contains(":***@");
        file_lacks_password(&out, common::REPORT);
        file_lacks_password(&out, ".zenbuild/lineage.db");

        let out = lacks_password(
            out.again().args(&["cache", "push"]).run(),
            &format!("cache push to {url}"),
        );
        let out = lacks_password(
            out.again()
                .remove("out")
                .remove(".zenbuild/cache")
                .args(&["cache", "pull"])
                .run(),
            &format!("cache pull from {url}"),
        );
        let out = lacks_password(out.again().args(&["cache", "stats"]).run(), "cache stats");
        let out = lacks_password(out.again().args(&["log"]).run(), "log");
        let out = lacks_password(
            out.again().args(&["show", "--format", "json"]).run(),
            "show",
        );
        lacks_password(
            out.again().build(&["--verbose", "--jobs", "1"]).run(),
            "a verbose build",
        );
    }
}

#[test]
fn a_remote_url_that_cannot_be_used_is_reported_without_its_password() {
    let port = closed_port();
    for (url, says) in [
        (format!("https://alice:{PASSWORD}@[::1"), "alice:***@"),
        // S3 takes credentials from the environment: the URL is refused, not half-parsed.
        (
            format!("s3://AKIAEXAMPLE:{PASSWORD}@bucket/zb?endpoint=http://127.0.0.1:{port}"),
            "holds credentials",
        ),
    ] {
        let out = Test::new()
            .manifest(&remote_manifest(&url, "", ""))
            .file("data.txt", "b\na\nc\n")
            .build(&[])
            .run()
            .success()
            .stderr_lacks("panicked");
        lacks_password(out, &url).stderr_contains(says);
    }
}
