//! `cache push` and `cache pull` that cannot move what they should say why and exit non-zero
//! (they used to print "pushed 0 of 2 actions" and exit 0); a push that fails for some
//! actions still pushes the rest, reports each cause once, and stops asking a remote that
//! keeps failing. An action that is in no cache to move from is listed, and is no failure.

mod common;
use common::{Output, Test, file_url, remote_manifest, remote_user};

/// A `file://` remote that can be neither read nor written: a directory below a regular file.
fn broken_remote() -> (tempfile::NamedTempFile, String) {
    let blocker = tempfile::NamedTempFile::new().unwrap();
    let url = format!("file://{}/cache", blocker.path().display());
    (blocker, url)
}

/// Built here without the remote, so the local cache holds both results.
fn built_locally(remote: &str) -> Output {
    remote_user(remote, "")
        .build(&["--no-remote"])
        .run()
        .success()
        .stderr_contains("2 ran")
}

#[test]
fn push_to_a_remote_that_fails_says_why_and_exits_non_zero() {
    let (_blocker, remote) = broken_remote();
    built_locally(&remote)
        .again()
        .args(&["cache", "push"])
        .run()
        .code(1)
        .stdout_contains("pushed 0 of 2 actions")
        .stdout_lacks("not in the local cache")
        .stderr_contains_once("cannot push prepare, train to remote `team`: ")
        .stderr_contains("2 of 2 actions could not be pushed");
}

#[test]
fn a_push_that_fails_for_one_action_pushes_the_others() {
    let shared = tempfile::tempdir().unwrap();
    let a = built_locally(&file_url(shared.path()));
    // The remote cannot take prepare's result: its name is taken by a directory.
    let key = a.report().action("prepare")["key"]
        .as_str()
        .unwrap()
        .to_string();
    let train = a.report().action("train")["key"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::create_dir_all(shared.path().join("ac").join(&key).join("in-the-way")).unwrap();
    a.again()
        .args(&["cache", "push"])
        .run()
        .code(1)
        .stdout_contains("pushed 1 of 2 actions")
        .stderr_contains_once("cannot push prepare to remote `team`")
        .stderr_contains("1 of 2 actions could not be pushed");
    assert!(shared.path().join("ac").join(train).is_file());
}

#[test]
fn a_remote_that_keeps_failing_is_given_up_with_one_line() {
    let (_blocker, remote) = broken_remote();
    let steps: String = (1..=6)
        .map(|n| {
            format!(
                "step \"s{n}\" {{ cmd \"echo {n} > out/{n}.txt\"; outputs \"out/{n}.txt\"; }}\n"
            )
        })
        .collect();
    let out = Test::new()
        .manifest(&format!("remote \"team\" url=\"{remote}\"\n{steps}"))
        .args(&["build", "--no-remote"])
        .run()
        .success()
        .stderr_contains("6 ran");
    let out = out
        .again()
        .args(&["cache", "push"])
        .run()
        .code(1)
        .stdout_contains("pushed 0 of 6 actions")
        .stderr_contains_once("cannot push s1, s2, s3 to remote `team`")
        .stderr_contains_once(
            "gave up on remote `team` after 3 failures in a row; not tried: s4, s5, s6",
        );
    assert_eq!(out.stderr.matches("error:").count(), 3, "{}", out.stderr);
}

#[test]
fn nothing_built_is_nothing_to_push_and_no_failure() {
    let shared = tempfile::tempdir().unwrap();
    remote_user(&file_url(shared.path()), "")
        .args(&["cache", "push"])
        .run()
        .success()
        .stdout_contains("pushed 0 of 2 actions")
        .stdout_contains("not in the local cache under its current key: prepare, train")
        .stderr_lacks("error:");
}

#[test]
fn push_with_no_writable_remote_fails() {
    let shared = tempfile::tempdir().unwrap();
    Test::new()
        .manifest(&remote_manifest(
            &file_url(shared.path()),
            " write=#false",
            "",
        ))
        .file("data.txt", "b\na\n")
        .args(&["cache", "push"])
        .run()
        .code(1)
        .stderr_contains("no remote may be written");
}

#[test]
fn pull_from_a_remote_that_fails_says_why_and_exits_non_zero() {
    let (_blocker, remote) = broken_remote();
    remote_user(&remote, "")
        .args(&["cache", "pull"])
        .run()
        .code(1)
        .stdout_contains("now in the local cache: 0 of 2 actions")
        .stdout_contains("not pulled: prepare, train")
        .stdout_lacks("in no cache")
        .stderr_contains_once("remote `team` failed")
        .stderr_contains("the pull is incomplete");
}
