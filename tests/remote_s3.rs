//! S3 as the team's remote, against a real SeaweedFS on 127.0.0.1 that checks signatures.
//! One server (it takes seconds to start and much memory) serves every scenario, each under
//! its own prefix, in one test.

#![cfg(feature = "remote-s3")]

mod common;
use common::seaweed::{ACCESS_KEY, SECRET_KEY, Seaweed};
use common::{Output, Test};

fn manifest(url: &str, extra: &str) -> String {
    format!(
        r#"
remote "team" url="{url}"{extra}
step "prepare" {{
    cmd "sort data.txt > out/sorted.txt"
    inputs "data.txt"
    outputs "out/sorted.txt"
}}
step "big" {{
    cmd "head -c 70000000 /dev/zero | tr '\\0' z > out/big.bin; cat out/sorted.txt >> out/big.bin"
    inputs "out/sorted.txt"
    outputs "out/big.bin"
}}
"#
    )
}

fn user(url: &str, secret: &str) -> Test {
    user_with(url, secret, "")
}

fn user_with(url: &str, secret: &str, extra: &str) -> Test {
    Test::new()
        .manifest(&manifest(url, extra))
        .file("data.txt", "b\na\n")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3")
}

fn built(url: &str, secret: &str) -> Output {
    user(url, secret).build(&[]).run().success()
}

#[test]
fn s3_remote_scenarios() {
    let Some(server) = Seaweed::start() else {
        return;
    };

    // User A uploads (the 70 MB output in parts); user B restores everything.
    let url = server.url("restore");
    let a = built(&url, SECRET_KEY).stderr_lacks("remote `team`");
    assert_eq!(a.report().ran(), ["prepare", "big"]);
    let b = built(&url, SECRET_KEY);
    let report = b.report();
    assert_eq!(report.cached(), ["prepare", "big"], "{report}");
    assert_eq!(report.action("big")["source"], "remote:team");
    assert!(
        b.read("out/big.bin") == a.read("out/big.bin"),
        "byte-identical"
    );

    // A tampered object is caught and its step runs again.
    let tampered = a.report().output("prepare", "out/sorted.txt");
    let object = format!(
        "http://127.0.0.1:{}/zbtest/restore/cas/{tampered}",
        server.s3_port
    );
    let garbage = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(garbage.path(), "tampered").unwrap();
    // `-T` uploads the file with a signed PUT (curl signs form posts differently).
    let status = std::process::Command::new("curl")
        .args(["--no-progress-meter", "--fail", "-T"])
        .arg(garbage.path())
        .args(["--aws-sigv4", "aws:amz:us-east-1:s3"])
        .args(["--user", &format!("{ACCESS_KEY}:{SECRET_KEY}")])
        .arg(&object)
        .output()
        .expect("run curl");
    assert!(status.status.success(), "tamper with {object}: {status:?}");
    let c = built(&url, SECRET_KEY);
    assert_eq!(c.report().status("prepare"), "ran", "{}", c.report());
    assert!(
        c.stderr.contains("remote `team` sent a blob that is not"),
        "{}",
        c.stderr
    );

    // A read-only remote receives nothing: after a read-only user built, another still runs.
    let read_only = server.url("read-only");
    user_with(&read_only, SECRET_KEY, " write=#false")
        .run()
        .success()
        .stderr_contains("2 ran");
    built(&read_only, SECRET_KEY).stderr_contains("2 ran");

    // Wrong credentials: one warning naming the remote, and a local build.
    let wrong = built(&server.url("wrong"), "not-the-secret");
    assert_eq!(wrong.report().ran(), ["prepare", "big"]);
    let wrong = wrong.stderr_contains_once("remote `team` failed");
    assert!(
        wrong.stderr.contains("refused the credentials (HTTP 403)"),
        "{}",
        wrong.stderr
    );

    // The server gone: one warning, a local build.
    let gone_url = server.url("gone");
    drop(server);
    let gone = built(&gone_url, SECRET_KEY);
    assert_eq!(gone.report().ran(), ["prepare", "big"]);
    gone.stderr_contains_once("remote `team` failed");
}
