//! S3 as the team's remote, against a real SeaweedFS on 127.0.0.1 that checks signatures.
//! One server (it takes seconds to start and much memory) serves every scenario, each under
//! its own prefix, in one test.

mod common;
use common::seaweed::{ACCESS_KEY, SECRET_KEY, Seaweed};
use common::{Output, Test};

fn manifest(url: &str) -> String {
    format!(
        r#"
remote "team" url="{url}"
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
    Test::new()
        .manifest(&manifest(url))
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

    // Wrong credentials: one warning naming the remote, and a local build.
    let wrong = built(&server.url("wrong"), "not-the-secret");
    assert_eq!(wrong.report().ran(), ["prepare", "big"]);
    assert_eq!(
        wrong.stderr.matches("remote `team` failed").count(),
        1,
        "{}",
        wrong.stderr
    );
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
    assert_eq!(
        gone.stderr.matches("remote `team` failed").count(),
        1,
        "{}",
        gone.stderr
    );
}
