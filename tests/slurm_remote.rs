//! The Slurm executor with `remote=`, against a real Slurm whose node does not see the
//! workspaces (tests/common/slurm.rs: slurmd in a mount namespace with an empty tmpfs over the
//! directory they are made in) and a real S3 remote (SeaweedFS, tests/common/seaweed.rs). Each
//! batch job runs `zenbuild worker` (the binary under test, found on the PATH the build hands
//! its jobs), which reads the remote's credentials from the job's `~/.config/zenbuild/worker.env`.
#![cfg(feature = "remote-s3")]

mod common;
use common::seaweed::{ACCESS_KEY, SECRET_KEY, Seaweed};
use common::slurm::Slurm;
use common::{Output, Test};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The binary's S3 server, shared by its tests (each under a prefix of its own).
fn seaweed() -> Option<&'static Seaweed> {
    static SERVER: OnceLock<Option<Seaweed>> = OnceLock::new();
    SERVER.get_or_init(Seaweed::start).as_ref()
}

fn servers() -> Option<(&'static Slurm, &'static Seaweed)> {
    Some((Slurm::shared_hiding_workspaces()?, seaweed()?))
}

/// A home for the jobs, outside the hidden directory, whose `worker.env` gives the worker the
/// remote's credentials.
fn job_home() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| {
        let home = tempfile::tempdir().expect("a home for the jobs");
        let dir = home.path().join(".config/zenbuild");
        std::fs::create_dir_all(&dir).expect("its config directory");
        std::fs::write(
            dir.join("worker.env"),
            format!(
                "export AWS_ACCESS_KEY_ID={ACCESS_KEY}\nexport AWS_SECRET_ACCESS_KEY={SECRET_KEY}\n"
            ),
        )
        .expect("worker.env");
        home
    })
    .path()
}

/// The directory of the binary under test, which the jobs find `zenbuild` in.
fn zenbuild_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_zenbuild"))
        .parent()
        .expect("the binary's directory")
        .to_path_buf()
}

fn header(slurm: &Slurm, remote: &str) -> String {
    format!(
        "remote \"team\" url=\"{remote}\"\nexecutor \"hpc\" type=\"slurm\" partition=\"{}\" remote=\"team\" poll-min=\"200ms\" poll-max=\"1s\"\n",
        slurm.partition()
    )
}

/// A workspace in the directory the jobs cannot see, its commands finding the cluster, the
/// remote's credentials in the build's environment (not in the jobs'), and `zenbuild` on the
/// PATH handed to the jobs when `installed`.
fn workspace(slurm: &Slurm, manifest: &str, installed: bool) -> Test {
    let hidden = slurm.hidden().expect("the cluster hides a directory");
    let mut path = std::env::var("PATH").unwrap_or_default();
    if installed {
        path = format!("{}:{path}", zenbuild_dir().display());
    }
    let mut test = Test::new_in(hidden)
        .manifest(manifest)
        .env("PATH", &path)
        .env("HOME", &job_home().display().to_string())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3");
    for (name, value) in slurm.env() {
        test = test.env(&name, &value);
    }
    test
}

/// Eight actions, all but the report on `executor`: three prepared, three featurized (a
/// directory each), one trained, one report.
fn pipeline(header: &str, executor: &str) -> String {
    format!(
        r#"{header}
template "there" {{
    executor "{executor}"
}}
step "prepare" template="there" {{
    matrix {{ i 1 2 3; }}
    inputs "src/{{{{i}}}}.txt" "tools/prep.sh"
    outputs "out/prep/{{{{i}}}}.txt"
    cmd "sh tools/prep.sh src/{{{{i}}}}.txt > out/prep/{{{{i}}}}.txt"
}}
step "featurize" template="there" {{
    matrix {{ j 1 2 3; }}
    inputs "out/prep/1.txt" "out/prep/{{{{j}}}}.txt"
    outputs "out/feat/{{{{j}}}}/"
    cmd "mkdir -p out/feat/{{{{j}}}} && cat out/prep/1.txt out/prep/{{{{j}}}}.txt | sort > out/feat/{{{{j}}}}/all.txt"
}}
step "train" template="there" {{
    inputs "out/feat/1/" "out/feat/2/" "out/feat/3/"
    outputs "out/model.txt"
    cmd "cat out/feat/*/all.txt | tr a-z A-Z > out/model.txt; echo trained on $(hostname) in $PWD"
}}
step "report" {{
    inputs "out/model.txt"
    outputs "out/report.txt"
    cmd "wc -c < out/model.txt > out/report.txt"
}}
"#
    )
}

fn with_sources(mut test: Test) -> Test {
    test = test.file("tools/prep.sh", "tr 0-9 a-j < \"$1\"\n");
    for i in 1..=3 {
        test = test.file(&format!("src/{i}.txt"), &format!("{i}0{i}\n7{i}\n"));
    }
    test
}

const OUTPUTS: &[&str] = &[
    "out/prep/1.txt",
    "out/prep/3.txt",
    "out/feat/2/all.txt",
    "out/model.txt",
    "out/report.txt",
];

#[test]
fn a_pipeline_runs_on_slurm_nodes_that_do_not_see_the_workspace() {
    let Some((slurm, s3)) = servers() else {
        return;
    };
    let hidden = slurm.hidden().expect("a hidden directory");
    // The node sees the hidden directory empty: a job that reached for the workspace would
    // find nothing.
    let probe = slurm.sbatch(&[
        "--output=/dev/null",
        &format!("--wrap=test -z \"$(ls -A {})\"", hidden.display()),
    ]);
    let job = slurm.wait_for_end(probe, std::time::Duration::from_mins(1));
    assert_eq!(job.state, "COMPLETED", "{job:?}{}", slurm.logs());

    let manifest = pipeline(&header(slurm, &s3.url("pipeline")), "hpc");
    let there = with_sources(workspace(slurm, &manifest, true))
        .build(&[])
        .run()
        .success();
    let report = there.report();
    assert_eq!(report.ran().len(), 8, "{report}\n{}", slurm.logs());
    for name in ["prepare@i=1", "featurize@j=2", "train"] {
        let action = report.action(name);
        assert_eq!(action["executor"], "hpc", "{name}: {action}");
        assert!(
            action["job_id"]
                .as_str()
                .is_some_and(|id| id.bytes().all(|b| b.is_ascii_digit())),
            "{name}: {action}"
        );
    }
    // What the step printed came back through the remote; it ran in the worker's scratch
    // directory, not in the workspace.
    let log = there.read(".zenbuild/logs/train.log");
    assert!(log.starts_with("trained on "), "{log}");
    assert!(!log.contains(&there.path().display().to_string()), "{log}");
    assert!(
        there.stderr.contains("executor `hpc`: sent "),
        "{}",
        there.stderr
    );
    let made: Vec<String> = OUTPUTS.iter().map(|path| there.read(path)).collect();

    // The same pipeline built here makes the same bytes.
    let here = pipeline(&header(slurm, &s3.url("pipeline")), "local");
    let local = with_sources(workspace(slurm, &here, true))
        .build(&["--no-remote"])
        .run()
        .success();
    assert_eq!(local.report().ran().len(), 8);
    for (path, bytes) in OUTPUTS.iter().zip(&made) {
        assert_eq!(&local.read(path), bytes, "{path}");
    }

    // A fresh clone that only has the remote runs nothing.
    let clone = with_sources(workspace(slurm, &manifest, true))
        .build(&[])
        .run()
        .success();
    assert_eq!(clone.report().ran(), Vec::<String>::new());
    for (path, bytes) in OUTPUTS.iter().zip(&made) {
        assert_eq!(&clone.read(path), bytes, "{path}");
    }
}

#[test]
fn a_step_that_fails_on_a_node_shows_its_exit_code_and_what_it_printed() {
    let Some((slurm, s3)) = servers() else {
        return;
    };
    let manifest = format!(
        "{}step \"bad\" {{\n    executor \"hpc\"\n    outputs \"out.txt\"\n    cmd \"echo about to fail; echo the reason >&2; exit 3\"\n}}\n",
        header(slurm, &s3.url("failing"))
    );
    let failed: Output = workspace(slurm, &manifest, true).build(&[]).run().code(1);
    let failed = failed
        .stderr_contains("bad: exited with code 3")
        .stderr_contains("the reason");
    assert_eq!(failed.report().status("bad"), "failed");
}

/// Nodes without zenbuild: the first job says so, and the build fails with one message that
/// tells what to install, not one per step.
#[test]
fn nodes_without_zenbuild_fail_the_build_with_one_clear_message() {
    let Some((slurm, s3)) = servers() else {
        return;
    };
    let manifest = format!(
        "{}step \"a\" {{\n    executor \"hpc\"\n    matrix {{ i 1 2 3 4 5 6; }}\n    outputs \"out-{{{{i}}}}.txt\"\n    cmd \"echo {{{{i}}}} > out-{{{{i}}}}.txt\"\n}}\n",
        header(slurm, &s3.url("not-installed"))
    );
    let failed = workspace(slurm, &manifest, false)
        .build(&["--keep-going"])
        .run()
        .code(1)
        .stderr_contains("zenbuild is not installed on the nodes of Slurm executor `hpc`")
        .stderr_contains("docs/remote-execution.md")
        // Said in full once; every other step says it briefly.
        .stderr_contains_once("install zenbuild")
        .stderr_contains_times("(as said above)", 5);
    let report = failed.report();
    assert!(report.ran().is_empty(), "{report}");
}

/// The remote stops answering while a job runs: the step fails with a message that names the
/// remote, the build ends instead of waiting, and nothing half-fetched is left in the local
/// store under a digest's name.
#[test]
fn the_remote_going_down_mid_build_fails_the_step_clearly_and_corrupts_nothing() {
    let Some(slurm) = Slurm::shared_hiding_workspaces() else {
        return;
    };
    // A server of this test's own, since it is stopped halfway.
    let Some(s3) = Seaweed::start() else {
        return;
    };
    let manifest = format!(
        "{}step \"first\" {{\n    executor \"hpc\"\n    inputs \"data.txt\"\n    outputs \"out/first.txt\"\n    cmd \"tr a-z A-Z < data.txt > out/first.txt\"\n}}\nstep \"second\" {{\n    executor \"hpc\"\n    inputs \"out/first.txt\"\n    outputs \"out/second.txt\"\n    cmd \"sleep 4; rev out/first.txt > out/second.txt\"\n}}\n",
        header(slurm, &s3.url("going-down"))
    );
    let test = workspace(slurm, &manifest, true).file("data.txt", "some data\n");
    let child = test.spawn(&["build"]);
    let first = test.path().join("out/first.txt");
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(2);
    while !first.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first step never came back"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Down while the second step's job runs on the node (its command sleeps 4 s).
    let running = || {
        slurm
            .run("squeue", &["-h", "-t", "running", "-o", "%k"])
            .lines()
            .any(|comment| comment.trim() == "second")
    };
    while !running() {
        assert!(
            std::time::Instant::now() < deadline,
            "the second step's job never ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    drop(s3);
    let (code, _, stderr) = common::wait(child);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("FAILED second"), "{stderr}");
    assert!(
        stderr.contains("cannot read its worker's report from remote `team`"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&first).expect("the first step's output"),
        "SOME DATA\n"
    );
    assert!(!test.path().join("out/second.txt").exists());
    // Every blob in the local store is what its name says.
    let checked = common::assert_store_sound(test.path());
    assert!(checked >= 1, "{checked} blobs");
}

/// On a terminal, the progress bar says how many bytes went up to the remote and came back
/// while jobs run.
#[test]
fn the_progress_bar_shows_the_bytes_moved_through_the_remote() {
    let Some((slurm, s3)) = servers() else {
        return;
    };
    let manifest = format!(
        "{}step \"slow\" {{\n    executor \"hpc\"\n    inputs \"data.txt\"\n    outputs \"out.txt\"\n    cmd \"sleep 3; cp data.txt out.txt\"\n}}\n",
        header(slurm, &s3.url("progress"))
    );
    let shown = workspace(slurm, &manifest, true)
        .file("data.txt", &"x".repeat(5000))
        .env_remove("CI")
        .terminal()
        .args(&["build"])
        .run()
        .success();
    assert!(shown.stdout.contains("↑"), "{}", shown.stdout);
    assert!(shown.stdout.contains("KiB ↓"), "{}", shown.stdout);
}
