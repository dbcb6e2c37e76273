//! `plan` and `explain` ask the remotes: on a fresh clone whose pipeline a teammate built into
//! the team's `file://` remote, they say "cached in remote team" where they used to say "runs
//! because never built", without downloading or writing anything; an entry a build would not
//! use is not announced as cached, and a remote that cannot be asked is a warning.

mod common;
use common::{Output, file_url, remote_user, uploaded};

/// How many action results the local cache of `out`'s workspace holds.
fn local_results(out: &Output) -> usize {
    let ac = zenbuild::workspace::StateDir::of(out.path()).ac();
    let Ok(fan_out) = std::fs::read_dir(ac) else {
        return 0;
    };
    fan_out
        .filter_map(Result::ok)
        .map(|dir| std::fs::read_dir(dir.path()).map_or(0, Iterator::count))
        .sum()
}

#[test]
fn plan_on_a_fresh_clone_says_what_the_remote_holds() {
    let shared = tempfile::tempdir().unwrap();
    uploaded(shared.path());
    let b = remote_user(&file_url(shared.path()), "")
        .args(&["plan"])
        .run()
        .success()
        .stdout_contains("prepare: cached in remote team")
        .stdout_contains("train: cached in remote team")
        .stdout_lacks("never built")
        .stderr_lacks("remote `team`");
    // Asked, not downloaded: nothing came into the local cache or the workspace.
    assert_eq!(local_results(&b), 0);
    assert!(!b.exists("out/sorted.txt"));

    let b = b
        .again()
        .args(&["plan", "--format", "json"])
        .run()
        .success();
    let json = b.json();
    for action in json["actions"].as_array().unwrap() {
        assert_eq!(action["remote"], "team", "{json}");
        assert_eq!(action["status"], "restore", "{json}");
    }
    // And the build agrees.
    b.again()
        .build(&[])
        .run()
        .success()
        .stderr_contains("0 ran, 2 cached");
}

#[test]
fn explain_names_the_remote_and_the_key_it_found_there() {
    let shared = tempfile::tempdir().unwrap();
    let a = uploaded(shared.path());
    let key = a.report().action("train")["key"]
        .as_str()
        .unwrap()
        .to_string();
    remote_user(&file_url(shared.path()), "")
        .args(&["explain", "train"])
        .run()
        .success()
        .stdout_contains("train: cached in remote team")
        .stdout_contains(&format!("key {key}"))
        .stdout_lacks("cannot be computed");
}

#[test]
fn no_remote_plans_from_the_local_cache_only() {
    let shared = tempfile::tempdir().unwrap();
    uploaded(shared.path());
    remote_user(&file_url(shared.path()), "")
        .args(&["plan", "--no-remote"])
        .run()
        .success()
        .stdout_contains("prepare: runs because never built")
        .stdout_lacks("remote team");
}

#[test]
fn a_result_whose_blob_the_remote_lost_is_not_announced_as_cached() {
    let shared = tempfile::tempdir().unwrap();
    let a = uploaded(shared.path());
    let model = a.report().output("train", "out/model.txt");
    std::fs::remove_file(shared.path().join("cas").join(&model)).unwrap();
    let b = remote_user(&file_url(shared.path()), "")
        .args(&["plan"])
        .run()
        .success()
        .stdout_contains("prepare: cached in remote team")
        .stdout_contains("train: runs because never built");
    let b = b.again().build(&[]).run().success();
    assert_eq!(b.report().ran(), ["train"]);
}

#[test]
fn a_remote_result_the_build_would_refuse_is_not_announced_as_cached() {
    let shared = tempfile::tempdir().unwrap();
    let a = uploaded(shared.path());
    let key = a.report().action("prepare")["key"]
        .as_str()
        .unwrap()
        .to_string();
    // A teammate's result that would write a file the step does not declare.
    let entry = shared.path().join("ac").join(&key);
    let text = std::fs::read_to_string(&entry).unwrap();
    assert!(text.contains("\"out/sorted.txt\""), "{text}");
    std::fs::write(&entry, text.replace("\"out/sorted.txt\"", "\"evil.txt\"")).unwrap();
    let b = remote_user(&file_url(shared.path()), "")
        .args(&["plan"])
        .run()
        .success()
        .stdout_contains(
            "prepare: runs because its cached result cannot be used: `evil.txt` is not an output",
        )
        .stdout_lacks("prepare: cached");
    let b = b.again().build(&[]).run().success();
    assert_eq!(b.report().status("prepare"), "ran");
}

#[test]
fn a_remote_that_cannot_be_asked_is_one_warning_and_the_plan_says_so() {
    // A "directory" below a regular file can be neither read nor written.
    let blocker = tempfile::NamedTempFile::new().unwrap();
    let broken = format!("file://{}/cache", blocker.path().display());
    let out = remote_user(&broken, "")
        .args(&["plan"])
        .run()
        .success()
        .stdout_contains("prepare: runs because never built")
        .stderr_contains_once("remote `team` could not be asked");
    let json = out
        .again()
        .args(&["plan", "--format", "json"])
        .run()
        .success()
        .json();
    let warnings = json["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{json}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains("remote `team` could not be asked"),
        "{json}"
    );
}
