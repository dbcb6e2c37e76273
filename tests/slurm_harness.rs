//! The real-Slurm harness (tests/common/slurm.rs) works, and the end states the Slurm executor
//! relies on are what this Slurm really reports: a job over its `--mem` ends `OUT_OF_MEMORY`,
//! one over its `--time` ends `TIMEOUT`, a non-zero exit `FAILED`, `scancel` `CANCELLED`.
//! The tests share the binary's cluster (two CPUs) and tell their jobs apart by id and name.

mod common;
use common::slurm::Slurm;
use std::path::Path;
use std::time::{Duration, Instant};

/// Allocates 20 MiB every 50 ms up to 2 GiB: far over any `--mem` a test gives it.
const GREEDY: &str = r#"python3 -c '
import time
blocks = []
for _ in range(100):
    blocks.append(bytearray(20 << 20))
    time.sleep(0.05)
print("survived")
'"#;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[test]
fn a_batch_job_runs_where_it_is_told_and_writes_its_files() {
    let Some(slurm) = Slurm::shared() else { return };
    let work = tempfile::tempdir().expect("a work directory");
    let chdir = format!("--chdir={}", work.path().display());
    let id = slurm.sbatch(&[
        &chdir,
        "--output=step.out",
        "--error=step.err",
        "--job-name=zb-harness-writes",
        "--comment=zenbuild step writes",
        "--cpus-per-task=1",
        "--mem=64M",
        "--time=2",
        &format!("--partition={}", slurm.partition()),
        "--wrap",
        "echo made > made.txt; echo to stdout; echo to stderr >&2; echo $SLURM_CPUS_PER_TASK > cpus",
    ]);
    let named = slurm.run(
        "squeue",
        &[
            "-h",
            "-t",
            "all",
            "--name=zb-harness-writes",
            "-o",
            "%i|%j|%k",
        ],
    );
    assert_eq!(
        named.trim(),
        format!("{id}|zb-harness-writes|zenbuild step writes")
    );

    let job = slurm.wait_for_end(id, Duration::from_secs(30));
    assert_eq!(
        (job.state.as_str(), job.reason.as_str(), job.nodes.as_str()),
        ("COMPLETED", "None", slurm.node()),
        "{}",
        slurm.logs()
    );
    assert_eq!(read(&work.path().join("made.txt")), "made\n");
    assert_eq!(read(&work.path().join("step.out")), "to stdout\n");
    assert_eq!(read(&work.path().join("step.err")), "to stderr\n");
    assert_eq!(read(&work.path().join("cpus")), "1\n");
    assert!(!slurm.squeue_jobs().contains(&id));
}

#[test]
fn a_job_over_its_memory_ends_out_of_memory() {
    let Some(slurm) = Slurm::shared() else { return };
    let work = tempfile::tempdir().expect("a work directory");
    let id = slurm.sbatch(&[
        &format!("--chdir={}", work.path().display()),
        "--output=greedy.out",
        "--job-name=zb-harness-oom",
        "--mem=50M",
        "--wrap",
        GREEDY,
    ]);
    let job = slurm.wait_for_end(id, Duration::from_mins(1));
    assert_eq!(
        (job.state.as_str(), job.reason.as_str()),
        ("OUT_OF_MEMORY", "OutOfMemory"),
        "{}",
        slurm.logs()
    );
    let out = read(&work.path().join("greedy.out"));
    assert!(!out.contains("survived"), "{out}");
    assert!(out.contains("oom-kill"), "{out}");
}

#[test]
fn a_failing_command_ends_failed() {
    let Some(slurm) = Slurm::shared() else { return };
    let id = slurm.sbatch(&["--output=/dev/null", "--wrap", "exit 3"]);
    let job = slurm.wait_for_end(id, Duration::from_secs(30));
    assert_eq!(
        (job.state.as_str(), job.reason.as_str()),
        ("FAILED", "NonZeroExitCode")
    );
}

#[test]
fn scancel_ends_a_running_job_and_a_pending_one_cancelled() {
    let Some(slurm) = Slurm::shared() else { return };
    let work = tempfile::tempdir().expect("a work directory");
    let running = slurm.sbatch(&[
        &format!("--chdir={}", work.path().display()),
        "--output=running.out",
        "--wrap",
        "trap 'echo terminated; exit 7' TERM; echo started; sleep 120 & wait",
    ]);
    // Held, so that it stays pending whatever else runs on the shared node.
    let pending = slurm.sbatch(&["--hold", "--output=/dev/null", "--wrap", "true"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !read_or_empty(&work.path().join("running.out")).contains("started") {
        assert!(Instant::now() < deadline, "the job never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    let held = slurm.job(pending).expect("the held job");
    assert_eq!(
        (held.state.as_str(), held.reason.as_str()),
        ("PENDING", "JobHeldUser")
    );

    slurm.run("scancel", &[&running.to_string(), &pending.to_string()]);
    for id in [running, pending] {
        let job = slurm.wait_for_end(id, Duration::from_secs(30));
        assert_eq!(job.state, "CANCELLED", "{job:?}");
    }
    assert_eq!(slurm.job(pending).expect("the job").nodes, "");
    let out = read(&work.path().join("running.out"));
    assert!(
        out.contains("terminated"),
        "scancel sends SIGTERM first: {out}"
    );
    let ours = slurm.squeue_jobs();
    assert!(!ours.contains(&running) && !ours.contains(&pending));
}

/// Slow (60–95 s): `--time=1` is the shortest limit there is, and slurmctld checks limits
/// every 30 s from its own start, so the job ends 60–90 s after it starts, then `KillWait=2`.
#[test]
fn a_job_over_its_time_ends_timeout() {
    let Some(slurm) = Slurm::shared() else { return };
    let work = tempfile::tempdir().expect("a work directory");
    let started = Instant::now();
    let id = slurm.sbatch(&[
        &format!("--chdir={}", work.path().display()),
        "--output=slow.out",
        "--time=1",
        "--wrap",
        "sleep 300",
    ]);
    let job = slurm.wait_for_end(id, Duration::from_mins(2));
    let took = started.elapsed();
    assert_eq!(
        (job.state.as_str(), job.reason.as_str()),
        ("TIMEOUT", "TimeLimit")
    );
    assert!(
        took >= Duration::from_mins(1) && took < Duration::from_secs(110),
        "ended after {took:?}"
    );
    assert!(read(&work.path().join("slow.out")).contains("DUE TO TIME LIMIT"));
}

#[test]
fn sacct_reports_how_finished_jobs_ended() {
    let Some(slurm) = Slurm::shared_with_accounting() else {
        return;
    };
    let work = tempfile::tempdir().expect("a work directory");
    let chdir = format!("--chdir={}", work.path().display());
    let completed = slurm.sbatch(&[
        &chdir,
        "--output=/dev/null",
        "--job-name=zb-acct",
        "--comment=zenbuild acct",
        "--wrap",
        "true",
    ]);
    let failed = slurm.sbatch(&[&chdir, "--output=/dev/null", "--wrap", "exit 3"]);
    let oom = slurm.sbatch(&[&chdir, "--output=/dev/null", "--mem=50M", "--wrap", GREEDY]);
    for id in [completed, failed, oom] {
        slurm.wait_for_end(id, Duration::from_mins(1));
    }
    let node = slurm.node();
    assert_eq!(
        slurm.sacct(completed),
        format!("{completed}|COMPLETED|0:0|{node}")
    );
    assert_eq!(slurm.sacct(failed), format!("{failed}|FAILED|3:0|{node}"));
    assert_eq!(
        slurm.sacct(oom),
        format!("{oom}|OUT_OF_MEMORY|0:125|{node}")
    );
    // Not by --name, nor JobName: jobs submitted in a fresh cluster's first seconds can reach
    // slurmdbd without their start record (JobName `allocation`, no eligible time, which
    // `sacct` without `-j` skips), while their state, exit code and comment are right.
    let comment = slurm.run(
        "sacct",
        &[
            "-X",
            "-n",
            "-P",
            "-j",
            &completed.to_string(),
            "-o",
            "JobID,Comment",
        ],
    );
    assert_eq!(comment.trim(), format!("{completed}|zenbuild acct"));
}

/// A cluster of its own leaves no daemon and no directory behind once dropped.
#[test]
fn a_dropped_cluster_leaves_nothing_behind() {
    let Some(slurm) = Slurm::start() else { return };
    let dir = slurm.dir().to_path_buf();
    let pids: Vec<String> = ["munged", "slurmctld", "slurmd"]
        .iter()
        .map(|name| {
            let pid = read(&dir.join(format!("run/{name}.pid")));
            pid.trim().to_string()
        })
        .collect();
    let job = slurm.sbatch(&["--output=/dev/null", "--wrap", "sleep 300"]);
    slurm.wait_for_start(job, Duration::from_secs(30));
    drop(slurm);
    for pid in &pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} outlived its cluster"
        );
    }
    assert!(!dir.exists(), "{} is left", dir.display());
    let step = format!("slurmstepd: [{job}.");
    let stepds: Vec<String> = std::fs::read_dir("/proc")
        .expect("list /proc")
        .flatten()
        .filter_map(|process| std::fs::read(process.path().join("cmdline")).ok())
        .map(|cmdline| String::from_utf8_lossy(&cmdline).into_owned())
        .filter(|cmdline| cmdline.starts_with(&step))
        .collect();
    assert!(stepds.is_empty(), "the job's steps outlived it: {stepds:?}");
}

fn read_or_empty(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
