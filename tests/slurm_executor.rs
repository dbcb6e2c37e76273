//! The Slurm executor against a real Slurm (tests/common/slurm.rs): steps run as batch jobs
//! through the real binary, their outputs are those of a local build, and each of Slurm's
//! ways for a job to end is told in words that name the cause.

mod common;
use common::slurm::Slurm;
use common::{Test, wait};
use std::time::{Duration, Instant};

/// The executor as the tests declare it: quick polling, for a cluster of one node.
fn executor(slurm: &Slurm) -> String {
    format!(
        "executor \"cluster\" type=\"slurm\" partition=\"{}\" poll-min=\"300ms\" poll-max=\"1s\" latency-wait=\"2s\"\n",
        slurm.partition()
    )
}

/// A workspace whose commands find the cluster.
fn on(slurm: &Slurm, manifest: &str) -> Test {
    with_env(slurm, Test::new().manifest(manifest))
}

/// `test`, its commands finding the cluster.
fn with_env(slurm: &Slurm, mut test: Test) -> Test {
    for (name, value) in slurm.env() {
        test = test.env(&name, &value);
    }
    test
}

/// A pipeline of 20 actions: 8 prepared, 8 featurized from them, 3 models, one report.
fn pipeline(header: &str, train_executor: &str) -> String {
    format!(
        r#"{header}
step "prepare" {{
    matrix {{ i 1 2 3 4 5 6 7 8; }}
    inputs "data.txt"
    outputs "out/prep-{{{{i}}}}.txt"
    cmd "sed 's/^/{{{{i}}}}:/' data.txt > out/prep-{{{{i}}}}.txt"
}}
step "featurize" {{
    matrix {{ i 1 2 3 4 5 6 7 8; }}
    inputs "out/prep-{{{{i}}}}.txt"
    outputs "out/feat-{{{{i}}}}.txt"
    cmd "wc -l < out/prep-{{{{i}}}}.txt > out/feat-{{{{i}}}}.txt; tr a-z A-Z < out/prep-{{{{i}}}}.txt >> out/feat-{{{{i}}}}.txt"
}}
step "train" {{
    executor "{train_executor}"
    matrix {{ depth 1 2 3; }}
    inputs "out/feat-1.txt" "out/feat-2.txt" "out/feat-3.txt" "out/feat-4.txt" "out/feat-5.txt" "out/feat-6.txt" "out/feat-7.txt" "out/feat-8.txt"
    outputs "out/model-{{{{depth}}}}.txt"
    cmd "cat out/feat-*.txt | head -n {{{{depth}}}}0 | sort > out/model-{{{{depth}}}}.txt"
}}
step "report" {{
    executor "local"
    inputs "out/model-1.txt" "out/model-2.txt" "out/model-3.txt"
    outputs "out/report.txt"
    cmd "cat out/model-*.txt | wc -c > out/report.txt"
}}
"#
    )
}

const DATA: &str = "alpha\nbeta\ngamma\ndelta\n";

fn outputs(test: &common::Output) -> Vec<(String, String)> {
    let mut names: Vec<String> = std::fs::read_dir(test.path().join("out"))
        .expect("out/")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let text = test.read(&format!("out/{name}"));
            (name, text)
        })
        .collect()
}

fn pipeline_runs_through_slurm_as_it_runs_here(slurm: &Slurm) {
    let header = executor(slurm);
    let here = Test::new()
        .manifest(&pipeline("", "local"))
        .file("data.txt", DATA)
        .build(&[])
        .run()
        .success();
    let there = on(slurm, &pipeline(&header, "cluster"))
        .file("data.txt", DATA)
        .build(&["--executor", "cluster"])
        .run()
        .success();
    let report = there.report();
    assert_eq!(report.ran().len(), 20, "{}", there.dump());
    assert_eq!(outputs(&there), outputs(&here));
    for (name, expected) in [
        ("prepare@i=1", "cluster"),
        ("train@depth=2", "cluster"),
        ("report", "local"),
    ] {
        let action = report.action(name);
        assert_eq!(action["executor"], expected, "{name}: {action}");
        assert_eq!(
            action["job_id"].is_string(),
            expected == "cluster",
            "{name}: {action}"
        );
    }
    assert_eq!(report.action("train@depth=1")["node"], slurm.node());
    // The lineage says where each ran.
    let shown = with_env(slurm, there.again())
        .args(&["show"])
        .run()
        .success();
    let line = shown
        .stdout
        .lines()
        .find(|line| line.contains("train@depth=3"))
        .unwrap_or_default()
        .to_string();
    assert!(line.contains("on cluster (job "), "{line}");

    // Nothing runs the second time, and a local build of the same steps is all cached.
    let second = with_env(slurm, shown.again())
        .build(&["--executor", "cluster"])
        .run()
        .success();
    assert_eq!(second.report().ran(), Vec::<String>::new());
    std::fs::remove_dir_all(second.path().join("out")).expect("remove outputs");
    let local = second
        .again()
        .manifest(&pipeline(&header, "local"))
        .build(&[])
        .run()
        .success();
    assert_eq!(local.report().cached().len(), 20, "{}", local.dump());
    assert_eq!(outputs(&local), outputs(&here));
}

#[test]
fn a_pipeline_runs_through_slurm_with_the_outputs_of_a_local_build() {
    let Some(slurm) = Slurm::shared() else { return };
    pipeline_runs_through_slurm_as_it_runs_here(slurm);
}

/// With accounting on, the build asks `sacct` instead of `squeue`: the same outcome.
#[test]
fn with_accounting_the_pipeline_runs_the_same() {
    let Some(slurm) = Slurm::shared_with_accounting() else {
        return;
    };
    pipeline_runs_through_slurm_as_it_runs_here(slurm);
}

#[test]
fn a_step_over_its_memory_is_said_to_have_run_out_of_memory() {
    let Some(slurm) = Slurm::shared() else { return };
    let manifest = format!(
        "{}step \"hog\" {{\n    executor \"cluster\"\n    resources memory=\"60MiB\"\n    inputs \"hog.py\"\n    outputs \"hog.txt\"\n    cmd \"python3 hog.py && echo survived > hog.txt\"\n}}\n",
        executor(slurm)
    );
    // 20 MiB more every 50 ms, up to 2 GiB: far over its 60 MiB.
    let hog = "import time\nblocks = []\nfor _ in range(100):\n    blocks.append(bytearray(20 << 20))\n    time.sleep(0.05)\n";
    let test = on(slurm, &manifest)
        .file("hog.py", hog)
        .build(&[])
        .run()
        .code(1);
    let error = test.report().error("hog");
    assert!(
        error.contains("ran out of memory: it exceeded its 60.0 MiB; raise `resources memory`"),
        "{error}\n{}",
        test.dump()
    );
    assert!(!test.exists("hog.txt"));
}

#[test]
fn a_step_over_its_timeout_is_said_to_have_timed_out() {
    let Some(slurm) = Slurm::shared() else { return };
    let manifest = format!(
        "{}step \"slow\" {{\n    executor \"cluster\"\n    timeout \"2s\"\n    outputs \"slow.txt\"\n    cmd \"sleep 60; echo > slow.txt\"\n}}\n",
        executor(slurm)
    );
    let started = Instant::now();
    let test = on(slurm, &manifest).build(&[]).run().code(1);
    assert_eq!(test.report().error("slow"), "timed out after 2.0s");
    // Stopped by the job's own script on time, not by Slurm's minute-grained limit.
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_failing_step_shows_its_exit_code_and_output() {
    let Some(slurm) = Slurm::shared() else { return };
    let manifest = format!(
        "{}step \"bad\" {{\n    executor \"cluster\"\n    outputs \"bad.txt\"\n    cmd \"echo something broke; exit 3\"\n}}\n",
        executor(slurm)
    );
    let test = on(slurm, &manifest).build(&[]).run().code(1);
    assert_eq!(test.report().error("bad"), "exited with code 3");
    assert!(test.stderr.contains("something broke"), "{}", test.dump());
    assert_eq!(test.read(".zenbuild/logs/bad.log"), "something broke\n");
}

#[test]
fn a_job_slurm_will_never_start_fails_at_once() {
    let Some(slurm) = Slurm::shared() else { return };
    let manifest = format!(
        "{}step \"huge\" {{\n    executor \"cluster\"\n    resources cpus=64\n    outputs \"huge.txt\"\n    cmd \"echo > huge.txt\"\n}}\n",
        executor(slurm)
    );
    let test = on(slurm, &manifest).build(&[]).run().code(1);
    let report = test.report();
    let error = report.error("huge");
    assert!(
        error.contains("could not start: Slurm will never start its job"),
        "{error}"
    );
    let id: u64 = report.action("huge")["job_id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("the job's id in the report");
    let job = slurm.wait_for_end(id, Duration::from_secs(10));
    assert_eq!(job.state, "CANCELLED");
}

#[test]
fn ctrl_c_cancels_every_job_of_the_build() {
    let Some(slurm) = Slurm::shared() else { return };
    let test = on(slurm, &sleepers(slurm, 4));
    let child = test.spawn(&["build"]);
    let name = wait_for_jobs(slurm, test.path(), 4);
    let pid = i32::try_from(child.id()).expect("a pid");
    // SAFETY: kill(2) on a child of this test that has not been waited for.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0, "send SIGINT");
    let (code, _, stderr) = wait(child);
    assert_eq!(code, Some(130), "{stderr}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !live_jobs(slurm, &name).is_empty() {
        assert!(
            Instant::now() < deadline,
            "jobs left: {:?}",
            live_jobs(slurm, &name)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_job_cancelled_from_outside_fails_its_step_with_that_reason() {
    let Some(slurm) = Slurm::shared() else { return };
    let test = on(slurm, &sleepers(slurm, 1));
    let child = test.spawn(&["build"]);
    let name = wait_for_jobs(slurm, test.path(), 1);
    for id in live_jobs(slurm, &name) {
        slurm.run("scancel", &[&id.to_string()]);
    }
    let (code, stdout, stderr) = wait(child);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("was cancelled outside this build"),
        "{stdout}{stderr}"
    );
}

#[test]
fn after_a_kill_the_next_build_cancels_the_jobs_left_behind() {
    let Some(slurm) = Slurm::shared() else { return };
    let manifest = sleepers(slurm, 2);
    let test = on(slurm, &manifest);
    let mut child = test.spawn(&["build"]);
    let name = wait_for_jobs(slurm, test.path(), 2);
    child.kill().expect("kill -9");
    let _ = child.wait();
    let left = live_jobs(slurm, &name);
    assert_eq!(left.len(), 2, "the killed build's jobs go on");
    let quick = manifest.replace("sleep 120", "true");
    let next = test.manifest(&quick).build(&[]).run().success();
    assert!(
        next.dump()
            .contains("cancelled 2 Slurm jobs that an earlier build left running"),
        "{}",
        next.dump()
    );
    assert!(live_jobs(slurm, &name).is_empty());
}

/// A job lost with its node is submitted again without that node: on a cluster of one node,
/// Slurm then has none to give, which the step's failure says.
#[test]
fn a_job_lost_with_its_node_is_tried_again_elsewhere() {
    // A cluster of its own: its only node goes down.
    let Some(slurm) = Slurm::start() else { return };
    let test = on(&slurm, &sleepers(&slurm, 1));
    let child = test.spawn(&["build", "--report", common::REPORT]);
    let name = wait_for_jobs(&slurm, test.path(), 1);
    // Down while it runs: a job still pending would only wait for the node to come back.
    let id = live_jobs(&slurm, &name)[0];
    slurm.wait_for_start(id, Duration::from_secs(30));
    let node = format!("nodename={}", slurm.node());
    slurm.run(
        "scontrol",
        &["update", &node, "state=down", "reason=zenbuild-test"],
    );
    let (code, stdout, stderr) = wait(child);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let report = common::Report::read(&test.path().join(common::REPORT));
    let error = report.error("sleepy@i=1");
    assert!(
        error.contains("Requested node configuration is not available")
            && error.ends_with("(after 2 attempts, 1 lost with its node)"),
        "{error}"
    );
}

/// `count` steps on the cluster that each sleep two minutes: builds to stop.
fn sleepers(slurm: &Slurm, count: usize) -> String {
    let values: Vec<String> = (1..=count).map(|i| i.to_string()).collect();
    format!(
        "{}step \"sleepy\" {{\n    executor \"cluster\"\n    matrix {{ i {}; }}\n    outputs \"s{{{{i}}}}.txt\"\n    cmd \"sleep 120; echo > s{{{{i}}}}.txt\"\n}}\n",
        executor(slurm),
        values.join(" ")
    )
}

/// Waits until the build in `root` has `count` jobs in Slurm; their job name.
fn wait_for_jobs(slurm: &Slurm, root: &std::path::Path, count: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let name = std::fs::read_dir(root.join(".zenbuild/slurm"))
            .ok()
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .find(|name| name.starts_with("zenbuild-"));
        if let Some(name) = name
            && live_jobs(slurm, &name).len() >= count
        {
            return name;
        }
        assert!(
            Instant::now() < deadline,
            "the build's jobs never showed:\n{}",
            slurm.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The ids of the jobs named `name` that are not over.
fn live_jobs(slurm: &Slurm, name: &str) -> Vec<u64> {
    let listed = slurm.run(
        "squeue",
        &["-h", "-t", "all", &format!("--name={name}"), "-o", "%i|%T"],
    );
    listed
        .lines()
        .filter_map(|line| {
            let (id, state) = line.trim().split_once('|')?;
            matches!(state, "PENDING" | "RUNNING" | "CONFIGURING" | "COMPLETING")
                .then(|| id.parse().ok())
                .flatten()
        })
        .collect()
}
