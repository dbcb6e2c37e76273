//! `zenbuild worker` through the real binary, against a shared-directory remote: attempts that
//! a real build of a project handed its executor, staged by the library, run by a copy of the
//! binary in a directory of its own while the workspace is out of reach. The same round trip
//! against SeaweedFS's S3 is in `remote_worker_s3.rs`.

mod common;
#[path = "common/staging.rs"]
mod staging;

use std::fs;
use std::time::{Duration, Instant};

use common::file_url;
use staging::{
    PIPELINE, PIPELINE_FILES, Project, assert_scratch_empty, build_and_stage, install_worker,
    outcome, round_trip, run_worker, staged_for, worker_command,
};
use zenbuild::exec::event::Printed;
use zenbuild::hash::{Digest, Platform};
use zenbuild::remote::{DirRemote, Remote};
use zenbuild::remote_exec::outcome::outcome_key;
use zenbuild::remote_exec::{End, read_log};

/// A project with `manifest` (its remote the shared directory beside it) and its remote.
fn project(manifest: &str, files: &[(&str, &str)]) -> (Project, DirRemote, String) {
    let project = Project::new(&manifest.replace("URL", "file://REMOTE_DIR"), files);
    let dir = project.remote_dir();
    (project, DirRemote::new(&dir), file_url(&dir))
}

#[test]
fn a_pipeline_run_by_workers_without_the_workspace_restores_in_a_fresh_clone() {
    let (project, remote, url) = project(PIPELINE, PIPELINE_FILES);
    let outcomes = round_trip(&project, &remote, &url, &[]);
    let names: Vec<&str> = outcomes
        .iter()
        .map(|(staged, _)| staged.description.name.as_str())
        .collect();
    assert_eq!(names, ["prepare", "train"]);
    let (_, train) = &outcomes[1];
    let result = train.result.as_ref().expect("a result");
    assert_eq!(
        result.metrics["out/metrics.json"],
        serde_json::json!({"loss": 0.25})
    );
    assert_eq!(result.execution.attempts, 1);
    // What it printed, both streams in one, came back with it.
    let log = read_log(&remote, train, &project.dir("logs")).expect("the log");
    assert_eq!(
        log,
        Printed::Kept {
            text: "trained\nto-stderr\n".to_string(),
            cut: false
        }
    );
    let variables = fs::read_to_string(project.tmp.path().join("clone/out/variables.txt"));
    assert_eq!(variables.expect("variables.txt"), "GREETING\nSEED\n");
}

/// One step, for the scenarios below: the attempts are staged from a build of it.
fn one_step(body: &str) -> String {
    format!("remote \"team\" url=\"URL\"\nstep \"step\" {{\n{body}\n}}\n")
}

#[test]
fn a_tampered_input_is_a_digest_error_and_nothing_is_cached() {
    let (project, remote, url) = project(
        &one_step(r#"cmd "cat data.txt > out.txt"; inputs "data.txt"; outputs "out.txt""#),
        &[("data.txt", "the real data\n")],
    );
    let (staged, _) = build_and_stage(&project.root(), &remote, &|_, _| {});
    let attempt = staged_for(&staged, "step");
    let blob = project
        .remote_dir()
        .join("cas")
        .join(Digest::of(b"the real data\n").to_hex());
    fs::write(&blob, "forged data\n").expect("tamper with the blob");
    let home = project.dir("worker-home");
    let run = run_worker(
        &install_worker(&project.dir("bin")),
        &home,
        &url,
        &attempt.digest,
        &[],
    );
    assert_eq!(run.code, Some(125), "{run:?}");
    assert!(run.stderr.contains("hashes to"), "{run:?}");
    let outcome = outcome(&remote, attempt);
    let End::NotRun { message } = &outcome.end else {
        panic!("{outcome:?}");
    };
    assert!(message.contains("input `data.txt`"), "{message}");
    assert!(
        message.contains(&Digest::of(b"forged data\n").to_hex()),
        "{message}"
    );
    assert!(outcome.result.is_none());
    assert_eq!(
        remote.get_action_result(&attempt.description.key).unwrap(),
        None
    );
    assert_scratch_empty(&home);
}

#[test]
fn a_result_already_in_the_remote_is_not_run_again() {
    let mark = tempfile::tempdir().expect("a directory outside the project");
    let marks = mark.path().join("runs");
    let (project, remote, url) = project(
        &one_step(&format!(
            r##"env MARK="{}"; cmd #"echo ran >> "$MARK"; echo out > out.txt"#; outputs "out.txt""##,
            marks.display()
        )),
        &[],
    );
    let (staged, _) = build_and_stage(&project.root(), &remote, &|_, _| {});
    let attempt = staged_for(&staged, "step");
    let (binary, home) = (
        install_worker(&project.dir("bin")),
        project.dir("worker-home"),
    );
    assert_eq!(
        fs::read_to_string(&marks).unwrap(),
        "ran\n",
        "the build here ran it"
    );
    let first = run_worker(&binary, &home, &url, &attempt.digest, &[]);
    assert_eq!(first.code, Some(0), "{first:?}");
    assert_eq!(fs::read_to_string(&marks).unwrap(), "ran\nran\n");
    let first_result = outcome(&remote, attempt).result;

    let again = run_worker(&binary, &home, &url, &attempt.digest, &[]);
    assert_eq!(again.code, Some(0), "{again:?}");
    assert!(again.stderr.contains("in the remote already"), "{again:?}");
    assert_eq!(
        fs::read_to_string(&marks).unwrap(),
        "ran\nran\n",
        "ran again"
    );
    let outcome = outcome(&remote, attempt);
    assert_eq!(outcome.end, End::Reused);
    assert_eq!(outcome.result, first_result);
    assert_scratch_empty(&home);
}

#[test]
fn a_failing_command_reports_its_exit_code_and_the_end_of_its_log() {
    let (project, remote, url) = project(
        &one_step(r##"cmd #"echo working; echo oops >&2; exit 3"#; outputs "out.txt""##),
        &[],
    );
    let (staged, failed) = build_and_stage(&project.root(), &remote, &|_, _| {});
    assert_eq!(failed, 1);
    let attempt = staged_for(&staged, "step");
    let home = project.dir("worker-home");
    let run = run_worker(
        &install_worker(&project.dir("bin")),
        &home,
        &url,
        &attempt.digest,
        &[],
    );
    assert_eq!(run.code, Some(3), "{run:?}");
    // The engine's log is the worker's stdout: what the command printed, as it came.
    assert_eq!(run.stdout, "working\noops\n");
    assert!(run.stderr.contains("exited with code 3"), "{run:?}");
    let outcome = outcome(&remote, attempt);
    assert_eq!(outcome.end, End::Exited { code: 3 });
    assert_eq!(
        read_log(&remote, &outcome, &home).unwrap(),
        Printed::Kept {
            text: "working\noops\n".to_string(),
            cut: false
        }
    );
    assert_eq!(
        remote.get_action_result(&attempt.description.key).unwrap(),
        None
    );
}

#[test]
fn a_timeout_stops_the_command_and_its_children() {
    let (project, remote, url) = project(
        &one_step(
            r##"timeout 1; cmd #"echo started; sleep 30 & echo $! > /dev/null; wait"#; outputs "out.txt""##,
        ),
        &[],
    );
    let (staged, failed) = build_and_stage(&project.root(), &remote, &|_, _| {});
    assert_eq!(failed, 1);
    let attempt = staged_for(&staged, "step");
    let home = project.dir("worker-home");
    let started = Instant::now();
    let run = run_worker(
        &install_worker(&project.dir("bin")),
        &home,
        &url,
        &attempt.digest,
        &[],
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(run.code, Some(124), "{run:?}");
    assert_eq!(run.stdout, "started\n");
    let outcome = outcome(&remote, attempt);
    let End::TimedOut { after_ms } = outcome.end else {
        panic!("{outcome:?}");
    };
    assert!(after_ms >= 1000, "{after_ms}");
    assert!(outcome.result.is_none());
    assert_scratch_empty(&home);
}

#[test]
fn outputs_that_are_symlinks_out_of_the_scratch_directory_are_refused() {
    for (outputs, made) in [
        (r#"outputs "out/link""#, "ln -s /etc/hostname out/link"),
        (r#"outputs "out/up""#, "ln -s ../../../../secret out/up"),
        (
            r#"outputs "out/dir/""#,
            "mkdir -p out/dir && ln -s ../../.. out/dir/root",
        ),
    ] {
        let (project, remote, url) = project(&one_step(&format!("{outputs}; cmd \"{made}\"")), &[]);
        let (staged, _) = build_and_stage(&project.root(), &remote, &|_, _| {});
        let attempt = staged_for(&staged, "step");
        let home = project.dir("worker-home");
        let run = run_worker(
            &install_worker(&project.dir("bin")),
            &home,
            &url,
            &attempt.digest,
            &[],
        );
        assert_eq!(run.code, Some(125), "{made}: {run:?}");
        let outcome = outcome(&remote, attempt);
        let End::Failed { message } = &outcome.end else {
            panic!("{made}: {outcome:?}");
        };
        assert!(message.contains("is a symlink to"), "{made}: {message}");
        assert!(message.contains("outside"), "{made}: {message}");
        assert!(outcome.result.is_none());
        assert_eq!(
            remote.get_action_result(&attempt.description.key).unwrap(),
            None
        );
        assert_scratch_empty(&home);
    }
}

#[test]
fn a_step_that_may_not_be_cached_hands_its_result_over_in_the_outcome_only() {
    let (project, remote, url) = project(
        &one_step(r#"cache #false; cmd "date +%N > out.txt"; outputs "out.txt""#),
        &[],
    );
    let (staged, _) = build_and_stage(&project.root(), &remote, &|_, _| {});
    let attempt = staged_for(&staged, "step");
    assert!(!attempt.description.cache);
    let binary = install_worker(&project.dir("bin"));
    let home = project.dir("worker-home");
    for _ in 0..2 {
        let run = run_worker(&binary, &home, &url, &attempt.digest, &[]);
        assert_eq!(run.code, Some(0), "{run:?}");
        // Never reused: a step that may not be cached always runs.
        assert!(!run.stderr.contains("in the remote already"), "{run:?}");
        let outcome = outcome(&remote, attempt);
        assert_eq!(outcome.end, End::Exited { code: 0 });
        let result = outcome.result.expect("the result, in the outcome");
        let file = &result.output_files[0];
        assert_eq!(file.path, "out.txt");
        assert!(
            remote.contains_blob(&file.digest).unwrap(),
            "its blob is uploaded"
        );
        assert_eq!(
            remote.get_action_result(&attempt.description.key).unwrap(),
            None
        );
    }
}

#[test]
fn an_action_keyed_for_another_platform_is_refused() {
    let (project, remote, url) = project(
        &one_step(r#"cmd "echo hi > out.txt"; outputs "out.txt""#),
        &[],
    );
    let elsewhere = Platform {
        os: "plan9".to_string(),
        arch: "mips".to_string(),
    };
    let (staged, _) = build_and_stage(&project.root(), &remote, &|_, terms| {
        terms.platform = Some(elsewhere.clone());
    });
    let attempt = staged_for(&staged, "step");
    let home = project.dir("worker-home");
    let run = run_worker(
        &install_worker(&project.dir("bin")),
        &home,
        &url,
        &attempt.digest,
        &[],
    );
    assert_eq!(run.code, Some(125), "{run:?}");
    let outcome = outcome(&remote, attempt);
    let End::NotRun { message } = &outcome.end else {
        panic!("{outcome:?}");
    };
    assert!(message.contains("keyed for plan9-mips"), "{message}");
    assert_eq!(
        remote.get_action_result(&attempt.description.key).unwrap(),
        None
    );
}

#[test]
fn a_description_the_remote_lacks_or_garbles_is_reported_in_its_outcome() {
    let (project, remote, url) = project(
        &one_step(r#"cmd "echo hi > out.txt"; outputs "out.txt""#),
        &[],
    );
    let binary = install_worker(&project.dir("bin"));
    let home = project.dir("worker-home");
    let absent = Digest::of(b"no such description");
    let run = run_worker(&binary, &home, &url, &absent, &[]);
    assert_eq!(run.code, Some(125), "{run:?}");
    let stored = remote.get_action_result(&outcome_key(&absent)).unwrap();
    let outcome: serde_json::Value = serde_json::from_slice(&stored.expect("an outcome")).unwrap();
    assert_eq!(outcome["end"]["how"], "not_run");
    assert!(
        outcome["end"]["message"]
            .as_str()
            .unwrap()
            .contains("is not in the remote")
    );
    assert!(outcome["key"].is_null());

    // A description of a newer format: refused with a message that says so.
    let newer = br#"{"format":"zenbuild-action/2","command":"rm -rf /"}"#;
    let path = project.dir("blobs").join("newer");
    fs::write(&path, newer).unwrap();
    let digest = Digest::of(newer);
    remote.put_blob(&digest, &path).unwrap();
    let run = run_worker(&binary, &home, &url, &digest, &[]);
    assert_eq!(run.code, Some(125), "{run:?}");
    assert!(run.stderr.contains("`zenbuild-action/2`"), "{run:?}");

    let not_a_digest = std::process::Command::new(&binary)
        .args(["worker", "--remote", url.as_str(), "abc"])
        .output()
        .unwrap();
    assert_eq!(not_a_digest.status.code(), Some(125));
}

#[test]
fn a_worker_told_to_stop_stops_its_command_and_says_so() {
    // Quick where the build stages it, long on the worker, whose HOME is its own.
    let (project, remote, url) = project(
        &one_step(
            r##"cmd #"echo started; case "$HOME" in */worker-home) sleep 30 & echo $! > "$HOME/sleeper"; wait;; esac; echo done > out.txt"#; outputs "out.txt""##,
        ),
        &[],
    );
    let (staged, failed) = build_and_stage(&project.root(), &remote, &|_, _| {});
    assert_eq!(failed, 0);
    let attempt = staged_for(&staged, "step");
    let home = project.dir("worker-home");
    let binary = install_worker(&project.dir("bin"));
    let mut child = worker_command(&binary, &home, &url, &attempt.digest, &[])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the worker");
    let sleeper = home.join("sleeper");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sleeper.exists() {
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let stopped = Instant::now();
    // SAFETY: kill has no memory-safety preconditions; the pid is our own child's.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = child.wait().expect("wait for the worker");
    assert!(
        stopped.elapsed() < Duration::from_secs(10),
        "{:?}",
        stopped.elapsed()
    );
    assert_eq!(status.code(), Some(130));
    assert_eq!(outcome(&remote, attempt).end, End::Interrupted);
    // The command's whole process group went with it.
    let pid = fs::read_to_string(&sleeper).unwrap();
    let stat = fs::read_to_string(format!("/proc/{}/stat", pid.trim()));
    let alive = stat.is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    });
    assert!(!alive, "the command's child {pid} outlived its worker");
    assert_scratch_empty(&home);
}
