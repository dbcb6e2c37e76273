//! `zenbuild worker` with S3 as the only thing shared, against a real SeaweedFS on 127.0.0.1
//! that checks signatures: a real build's attempts staged by the library, run by a copy of the
//! binary in a directory of its own with the workspace moved away and its credentials in its
//! environment only, then restored by a fresh clone running nothing. One test: the library
//! reads the S3 credentials from this process's environment, which is set once, before any
//! thread of the test's own.

#![cfg(feature = "remote-s3")]

mod common;
#[path = "common/staging.rs"]
mod staging;

use common::seaweed::{ACCESS_KEY, SECRET_KEY, Seaweed};
use staging::{PIPELINE, PIPELINE_FILES, Project, install_worker, outcome, round_trip, run_worker};
use zenbuild::hash::Digest;
use zenbuild::remote::{self, RemoteConfig};
use zenbuild::remote_exec::End;

#[test]
fn s3_is_all_a_worker_needs() {
    let Some(server) = Seaweed::start() else {
        return;
    };
    // SAFETY: this binary's only test, before it starts a thread; nothing else here reads
    // the environment meanwhile.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        std::env::remove_var("AWS_ENDPOINT_URL");
        std::env::remove_var("AWS_ENDPOINT_URL_S3");
    }
    let url = server.url("workers");
    let remote = remote::open(&RemoteConfig {
        name: "team".to_string(),
        url: url.clone(),
        read: true,
        write: true,
    })
    .expect("open the S3 remote");
    let credentials = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
    ];
    let project = Project::new(&PIPELINE.replace("URL", &url), PIPELINE_FILES);
    let outcomes = round_trip(&project, remote.as_ref(), &url, &credentials);
    assert_eq!(outcomes.len(), 2);

    // The worker's credentials are its environment's: without them, S3 refuses it, and it
    // says so rather than running anything.
    let (attempt, _) = &outcomes[0];
    let home = project.dir("uncredentialed");
    let binary = install_worker(&project.dir("bin2"));
    let run = run_worker(&binary, &home, &url, &attempt.digest, &[]);
    assert_eq!(run.code, Some(125), "{run:?}");
    assert!(run.stderr.contains("403"), "{run:?}");
    let wrong = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", "not-the-secret"),
    ];
    let run = run_worker(&binary, &home, &url, &attempt.digest, &wrong);
    assert_eq!(run.code, Some(125), "{run:?}");

    // With them, a second worker finds the result there and runs nothing.
    let run = run_worker(&binary, &home, &url, &attempt.digest, &credentials);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(outcome(remote.as_ref(), attempt).end, End::Reused);

    // A tampered input object is caught by the worker, and nothing is cached for it.
    let project = Project::new(
        &format!(
            "remote \"team\" url=\"{url}\"\nstep \"copy\" {{ cmd \"cat in.txt > out.txt\"; inputs \"in.txt\"; outputs \"out.txt\" }}\n"
        ),
        &[("in.txt", "s3 data\n")],
    );
    let (staged, _) = staging::build_and_stage(&project.root(), remote.as_ref(), &|_, _| {});
    let attempt = staging::staged_for(&staged, "copy");
    let forged = project.dir("forged").join("in.txt");
    std::fs::write(&forged, "forged\n").unwrap();
    remote
        .put_blob(&Digest::of(b"s3 data\n"), &forged)
        .expect("overwrite the object");
    let run = run_worker(
        &binary,
        &project.dir("home"),
        &url,
        &attempt.digest,
        &credentials,
    );
    assert_eq!(run.code, Some(125), "{run:?}");
    let outcome = outcome(remote.as_ref(), attempt);
    assert!(
        matches!(&outcome.end, End::NotRun { message } if message.contains("hashes to")),
        "{outcome:?}"
    );
    assert_eq!(
        remote.get_action_result(&attempt.description.key).unwrap(),
        None
    );
}
