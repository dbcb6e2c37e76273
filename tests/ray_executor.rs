//! Steps run on a real Ray cluster (tests/common/ray.rs) through a real S3 remote (SeaweedFS,
//! tests/common/seaweed.rs): the build uploads each action, Ray runs `zenbuild worker` (a copy
//! of the binary under test on the cluster's PATH), and the outputs come back through the
//! remote. Ray runs as `nobody`, and every test workspace is a directory only root may enter,
//! so a job that reached for the workspace instead of the remote would fail.
#![cfg(all(feature = "remote-http", feature = "remote-s3"))]

mod common;
use common::ray::{Ray, RayConfig};
use common::seaweed::{ACCESS_KEY, SECRET_KEY, Seaweed};
use common::{Output, Test};
use std::sync::OnceLock;

/// The binary's S3 server, shared by its tests (each under a prefix of its own).
fn seaweed() -> Option<&'static Seaweed> {
    static SERVER: OnceLock<Option<Seaweed>> = OnceLock::new();
    SERVER.get_or_init(Seaweed::start).as_ref()
}

fn cluster() -> Option<&'static Ray> {
    Ray::shared(
        &RayConfig::new()
            .with_zenbuild()
            .user("nobody")
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
    )
}

/// Ten actions: four prepared from sources, three featurized from two of those each, two
/// trained, one report; every one on `executor` but the report.
fn pipeline(remote: &str, ray: &str, executor: &str) -> String {
    let mut text = format!(
        "remote \"team\" url=\"{remote}\"\nexecutor \"ray\" type=\"ray\" url=\"{ray}\" remote=\"team\" poll-min=\"200ms\" poll-max=\"1s\"\ntemplate \"on-ray\" {{\n    executor \"{executor}\"\n}}\n"
    );
    text.push_str(
        r#"
step "prepare" template="on-ray" {
    matrix { i 1 2 3 4; }
    inputs "src/{{i}}.txt" "tools/prep.sh"
    outputs "out/prep/{{i}}.txt"
    cmd "sh tools/prep.sh src/{{i}}.txt > out/prep/{{i}}.txt"
}
step "featurize" template="on-ray" {
    matrix { j 1 2 3; }
    inputs "out/prep/1.txt" "out/prep/{{j}}.txt"
    outputs "out/feat/{{j}}/"
    cmd "mkdir -p out/feat/{{j}} && cat out/prep/1.txt out/prep/{{j}}.txt | sort > out/feat/{{j}}/all.txt && wc -l < out/feat/{{j}}/all.txt > out/feat/{{j}}/count.txt"
}
step "train" template="on-ray" {
    matrix { k 1 2; }
    inputs "out/feat/{{k}}/" "out/feat/3/"
    outputs "out/model-{{k}}.txt"
    cmd "cat out/feat/{{k}}/all.txt out/feat/3/count.txt | tr a-z A-Z > out/model-{{k}}.txt; echo trained {{k}} on $(hostname)"
}
step "report" {
    inputs "out/model-1.txt" "out/model-2.txt"
    outputs "out/report.txt"
    cmd "cat out/model-1.txt out/model-2.txt | wc -c > out/report.txt"
}
"#,
    );
    text
}

fn workspace(manifest: &str) -> Test {
    let mut test = Test::new()
        .manifest(manifest)
        .file("tools/prep.sh", "tr 0-9 a-j < \"$1\"\n")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3");
    for i in 1..=4 {
        test = test.file(&format!("src/{i}.txt"), &format!("{i}0{i}\n7{i}\n"));
    }
    // tempfile makes directories 0755: closed to every user but root, so that a job of
    // Ray's (run as `nobody`) that reached for the workspace would fail.
    std::fs::set_permissions(
        test.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("close the workspace");
    test
}

const OUTPUTS: &[&str] = &[
    "out/prep/1.txt",
    "out/prep/4.txt",
    "out/feat/2/all.txt",
    "out/feat/3/count.txt",
    "out/model-1.txt",
    "out/model-2.txt",
    "out/report.txt",
];

#[test]
fn a_pipeline_runs_on_ray_through_the_remote_and_comes_back_byte_identical() {
    let (Some(ray), Some(s3)) = (cluster(), seaweed()) else {
        return;
    };
    let manifest = pipeline(&s3.url("pipeline"), &ray.url(), "ray");
    let on_ray = workspace(&manifest).build(&[]).run().success();
    let report = on_ray.report();
    assert_eq!(report.ran().len(), 10, "{report}\n{}", ray.logs());
    for name in ["prepare@i=1", "featurize@j=2", "train@k=1"] {
        let action = report.action(name);
        assert_eq!(action["executor"], "ray", "{name}: {action}");
        assert!(
            action["job_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("zenbuild-")),
            "{name}: {action}"
        );
    }
    assert_eq!(report.action("report")["executor"], "local");
    // What a step on Ray printed is its log here.
    assert!(
        on_ray
            .read(".zenbuild/logs/train@k=2.log")
            .starts_with("trained 2 on "),
        "{}",
        on_ray.read(".zenbuild/logs/train@k=2.log")
    );
    let made: Vec<String> = OUTPUTS.iter().map(|path| on_ray.read(path)).collect();
    // The lineage says where each ran.
    let shown = on_ray.again().args(&["show"]).run().success();
    let line = shown
        .stdout
        .lines()
        .find(|line| line.contains("train@k=1"))
        .unwrap_or_default()
        .to_string();
    assert!(line.contains("on ray (job zenbuild-"), "{line}");

    // The same pipeline built here, without the remote, makes the same bytes.
    let here = pipeline(&s3.url("pipeline"), &ray.url(), "local");
    let local = workspace(&here).build(&["--no-remote"]).run().success();
    assert_eq!(local.report().ran().len(), 10);
    for (path, bytes) in OUTPUTS.iter().zip(&made) {
        assert_eq!(&local.read(path), bytes, "{path}");
    }

    // A fresh clone that only has the remote runs nothing: everything comes back from it.
    let clone = workspace(&manifest).build(&[]).run().success();
    let report = clone.report();
    assert_eq!(report.ran(), Vec::<String>::new(), "{report}");
    for (path, bytes) in OUTPUTS.iter().zip(&made) {
        assert_eq!(&clone.read(path), bytes, "{path}");
    }
}

#[test]
fn a_step_that_fails_on_ray_shows_its_exit_code_and_what_it_printed() {
    let (Some(ray), Some(s3)) = (cluster(), seaweed()) else {
        return;
    };
    let manifest = format!(
        "remote \"team\" url=\"{}\"\nexecutor \"ray\" type=\"ray\" url=\"{}\" remote=\"team\" poll-min=\"200ms\" poll-max=\"1s\"\nstep \"bad\" {{\n    executor \"ray\"\n    outputs \"out.txt\"\n    cmd \"echo about to fail; echo the reason >&2; exit 3\"\n}}\n",
        s3.url("failing"),
        ray.url()
    );
    let failed: Output = workspace(&manifest).build(&[]).run().code(1);
    let failed = failed
        .stderr_contains("bad: exited with code 3")
        .stderr_lacks("waits in its executor's queue")
        .stderr_contains("the reason");
    assert_eq!(failed.report().status("bad"), "failed");
}

/// One step on Ray, reading `data.txt`.
fn one_step(remote: &str, ray: &str, cmd: &str) -> String {
    format!(
        "remote \"team\" url=\"{remote}\"\nexecutor \"ray\" type=\"ray\" url=\"{ray}\" remote=\"team\" poll-min=\"200ms\" poll-max=\"1s\"\nstep \"one\" {{\n    executor \"ray\"\n    inputs \"data.txt\"\n    outputs \"out.txt\"\n    cmd \"{cmd}\"\n}}\n"
    )
}

/// An input blob damaged in the remote (same length, other bytes) before the build: the
/// client finds it there and uploads nothing, the worker checks what it fetched, refuses to
/// run, and the step fails with the digest error; nothing is cached.
#[test]
fn a_tampered_input_blob_is_caught_by_the_worker() {
    let (Some(ray), Some(s3)) = (cluster(), seaweed()) else {
        return;
    };
    let data = "the real input\n";
    let digest = zenbuild::hash::Digest::of(data.as_bytes()).to_hex();
    let object = format!(
        "http://127.0.0.1:{}/zbtest/tampered/cas/{digest}",
        s3.s3_port
    );
    let garbage = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(garbage.path(), "a false input!\n").expect("write it");
    assert_eq!(data.len(), "a false input!\n".len());
    let put = std::process::Command::new("curl")
        .args(["--no-progress-meter", "--fail", "-T"])
        .arg(garbage.path())
        .args(["--aws-sigv4", "aws:amz:us-east-1:s3"])
        .args(["--user", &format!("{ACCESS_KEY}:{SECRET_KEY}")])
        .arg(&object)
        .output()
        .expect("run curl");
    assert!(put.status.success(), "tamper with {object}: {put:?}");

    let manifest = one_step(&s3.url("tampered"), &ray.url(), "cp data.txt out.txt");
    let failed = workspace(&manifest)
        .file("data.txt", data)
        .build(&[])
        .run()
        .code(1)
        .stderr_contains("hashes to");
    assert_eq!(failed.report().status("one"), "failed");
    // Nothing was cached from it: built again, it is tried again (and fails again).
    let again = failed.again().build(&[]).run().code(1);
    assert_eq!(again.report().status("one"), "failed");
}

/// Ctrl-C during a build stops its Ray jobs: the build exits 130 and Ray says the job is
/// over soon after.
#[test]
fn ctrl_c_stops_the_ray_jobs() {
    let (Some(ray), Some(s3)) = (cluster(), seaweed()) else {
        return;
    };
    let manifest = one_step(
        &s3.url("interrupted"),
        &ray.url(),
        "sleep 120 && cp data.txt out.txt",
    );
    let test = workspace(&manifest).file("data.txt", "slow\n");
    let child = test.spawn(&["build"]);
    let jobs = zenbuild::exec::ray::api::RayJobs::new(&ray.url()).expect("the dashboard");
    let running_job = |status: &str| {
        jobs.list().ok()?.into_iter().find(|job| {
            job.metadata.get("zenbuild_action").map(String::as_str) == Some("one")
                && job.entrypoint.contains("interrupted")
                && job.status.as_str() == status
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    let job = loop {
        if let Some(job) = running_job("RUNNING") {
            break job;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the job never ran\n{}",
            ray.logs()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let pid = i32::try_from(child.id()).expect("a pid");
    // SAFETY: kill(2) with a live child's pid and a valid signal has no memory effects.
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    let (code, _, stderr) = common::wait(child);
    assert_eq!(code, Some(130), "{stderr}");
    let id = job.submission_id.unwrap_or_default();
    let stopped = jobs
        .list()
        .expect("the jobs")
        .into_iter()
        .find(|job| job.submission_id.as_deref() == Some(id.as_str()))
        .map(|job| job.status.as_str().to_string());
    assert_eq!(stopped.as_deref(), Some("STOPPED"), "{stderr}");
}

/// A Ray cluster whose machines have no zenbuild: the first job says so, and the build fails
/// with one message that tells what to install, every other step saying it briefly.
#[test]
fn a_cluster_without_zenbuild_fails_the_build_with_one_clear_message() {
    let Some(s3) = seaweed() else {
        return;
    };
    let Some(bare) = Ray::start(
        &RayConfig::new()
            .user("nobody")
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
    ) else {
        return;
    };
    let manifest = format!(
        "remote \"team\" url=\"{}\"\nexecutor \"ray\" type=\"ray\" url=\"{}\" remote=\"team\" poll-min=\"200ms\" poll-max=\"1s\"\nstep \"a\" {{\n    executor \"ray\"\n    matrix {{ i 1 2 3 4; }}\n    outputs \"out-{{{{i}}}}.txt\"\n    cmd \"echo {{{{i}}}} > out-{{{{i}}}}.txt\"\n}}\n",
        s3.url("not-installed"),
        bare.url()
    );
    let failed = workspace(&manifest)
        .build(&["--keep-going"])
        .run()
        .code(1)
        .stderr_contains("zenbuild is not installed on the Ray cluster `ray`")
        // Said in full once; every other step says it briefly.
        .stderr_contains_once("install zenbuild")
        .stderr_contains_times("(as said above)", 3);
    assert!(failed.report().ran().is_empty());
}

/// The remote stops answering while a job runs: the step fails with a message that names the
/// remote, and nothing half-fetched is left in the local store under a digest's name.
#[test]
fn the_remote_going_down_mid_build_fails_the_step_clearly() {
    let Some(ray) = cluster() else {
        return;
    };
    // A server of this test's own, since it is stopped halfway.
    let Some(s3) = Seaweed::start() else {
        return;
    };
    let manifest = one_step(
        &s3.url("going-down"),
        &ray.url(),
        "sleep 6; cp data.txt out.txt",
    );
    let test = workspace(&manifest).file("data.txt", "some data\n");
    let child = test.spawn(&["build"]);
    let jobs = zenbuild::exec::ray::api::RayJobs::new(&ray.url()).expect("the dashboard");
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    while !jobs.list().is_ok_and(|listed| {
        listed
            .iter()
            .any(|job| job.entrypoint.contains("going-down") && job.status.as_str() == "RUNNING")
    }) {
        assert!(
            std::time::Instant::now() < deadline,
            "the job never ran\n{}",
            ray.logs()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    drop(s3);
    let (code, _, stderr) = common::wait(child);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot read its worker's report from remote `team`"),
        "{stderr}"
    );
    assert!(!test.path().join("out.txt").exists());
    common::assert_store_sound(test.path());
}
