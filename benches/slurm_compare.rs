//! zenbuild against Snakemake on one Slurm: `cargo bench --bench slurm_compare`.
//!
//! Issue "Run steps on a Slurm cluster": 200 short actions through the same single-node
//! Slurm, zenbuild against Snakemake with `snakemake-executor-plugin-slurm`, the time to
//! finish and the number of status queries each sent.
//!
//! The cluster is the test harness's (tests/common/slurm.rs) with accounting, so that `sacct`
//! answers, which the plugin asks by default. Both tools build the same shallow DAG in a
//! fresh workspace each: 100 steps `cat src/I.txt > out/a/I.txt`, and 100 steps each reading
//! one of those and its source (`cat out/a/I.txt src/I.txt > out/b/I.txt`). zenbuild sends
//! every step to the cluster (`--executor cluster`), Snakemake every rule but `all`
//! (`--executor slurm`); both keep at most 100 jobs in flight, and both run with their
//! default polling (zenbuild: `poll-min` 2 s backing off to `poll-max` 30 s; the plugin: 40 s
//! after a check that saw a job end, 10 s more after each that saw none, up to 180 s).
//!
//! What each tool asks Slurm is counted by Slurm, not by the tools: slurmctld's and
//! slurmdbd's RPC counters by message type (`sdiag`, `sacctmgr show stats`), reset before
//! each run and read right after it. The queue is empty at each reset (the benchmark waits
//! for the previous run's jobs to leave it), so the counts are the run's own: its client
//! commands, and the RPCs that its jobs cause (slurmd's and slurmstepd's, `srun` inside a
//! Snakemake job).
//!
//! Snakemake 9.27.0 and the plugin 2.8.0 are installed, pinned, into a private virtualenv in
//! the temp directory (kept between runs, as benches/compare/compare.py does). Slurm runs as
//! root (slurmd starts the jobs in cgroups), so this benchmark does too.
//!
//! ```text
//! cargo bench --bench slurm_compare -- [--width 100] [--fast-snakemake]
//! ```
//!
//! `--fast-snakemake` adds a run of Snakemake with its first status check after 2 s
//! (`--slurm-init-seconds-before-status-checks=2`), nearer zenbuild's `poll-min`.

// slurm.rs takes its accounting database from mariadb.rs, which needs the two after it.
#[path = "../tests/common/guard.rs"]
#[allow(dead_code)]
mod guard;
#[path = "../tests/common/local_server.rs"]
#[allow(dead_code)]
mod local_server;
#[path = "../tests/common/mariadb.rs"]
#[allow(dead_code)]
mod mariadb;
#[path = "../tests/common/slurm.rs"]
#[allow(dead_code)]
mod slurm;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use slurm::Slurm;

const ZENBUILD: &str = env!("CARGO_BIN_EXE_zenbuild");
const PINNED: [&str; 2] = [
    "snakemake==9.27.0",
    "snakemake-executor-plugin-slurm==2.8.0",
];
/// Jobs in flight at once: zenbuild's default `jobs`, and Snakemake's `--jobs`.
const JOBS: &str = "100";
/// A run that has not finished by then has hung.
const RUN_LIMIT: Duration = Duration::from_mins(30);

/// slurmctld's message types that ask about jobs (`squeue`, `scontrol show job`).
const JOB_QUERIES: [&str; 3] = [
    "REQUEST_JOB_INFO",
    "REQUEST_JOB_INFO_SINGLE",
    "REQUEST_JOB_USER_INFO",
];
/// slurmdbd's message type that `sacct` sends.
const SACCT_QUERIES: [&str; 1] = ["DBD_GET_JOBS_COND"];
const SUBMISSIONS: [&str; 1] = ["REQUEST_SUBMIT_BATCH_JOB"];

fn main() {
    let mut width: usize = 100;
    let mut fast_snakemake = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--width" => width = args.next().and_then(|v| v.parse().ok()).expect("--width N"),
            "--fast-snakemake" => fast_snakemake = true,
            // cargo bench passes `--bench`.
            _ => {}
        }
    }
    let venv = install_snakemake();
    let Some(cluster) = Slurm::start_with_accounting() else {
        return;
    };
    let base = tempfile::Builder::new()
        .prefix("zenbuild-slurm-compare-")
        .tempdir()
        .expect("a temporary directory");

    let mut tools = vec![Tool::Zenbuild, Tool::Snakemake { init_seconds: None }];
    if fast_snakemake {
        tools.push(Tool::Snakemake {
            init_seconds: Some(2),
        });
    }
    let mut rows = Vec::new();
    let mut digests = Vec::new();
    for tool in &tools {
        eprintln!("{} …", tool.label());
        let root = base.path().join(tool.dir_name());
        generate(&root, width, tool, cluster.partition());
        wait_until_queue_empty(&cluster);
        reset_counters(&cluster);
        let seconds = tool.run(&root, &cluster, &venv);
        let ctld = counters(&cluster, "sdiag", &[]);
        let dbd = counters(&cluster, "sacctmgr", &["show", "stats"]);
        digests.push((tool.label(), outputs(&root, width)));
        eprintln!(
            "{}: {seconds:?} s, job queries {}, sacct queries {}, submissions {}",
            tool.label(),
            sum(&ctld, &JOB_QUERIES),
            sum(&dbd, &SACCT_QUERIES),
            sum(&ctld, &SUBMISSIONS)
        );
        rows.push(Row {
            label: tool.label(),
            seconds,
            ctld,
            dbd,
        });
    }

    print_table(&rows, width);
    println!("\n{}", versions(&cluster, &venv));
    let reference = &digests[0].1;
    for (label, digest) in &digests {
        assert!(
            digest == reference,
            "{label}'s outputs differ from {}'s",
            digests[0].0
        );
    }
    println!(
        "The outputs of {} are identical.",
        digests
            .iter()
            .map(|(label, _)| label.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// One tool's run: its wall time (`None`: it did not finish) and Slurm's counts by message
/// type, slurmctld's and slurmdbd's.
struct Row {
    label: String,
    seconds: Option<f64>,
    ctld: BTreeMap<String, u64>,
    dbd: BTreeMap<String, u64>,
}

fn print_table(rows: &[Row], width: usize) {
    println!(
        "{} actions ({width} + {width}, one level of dependencies) through one Slurm node ({} CPUs), one run each on a shared machine\n",
        2 * width,
        slurm::CPUS
    );
    println!(
        "| tool | wall time | job queries to slurmctld | sacct queries to slurmdbd | submissions | all RPCs to slurmctld |"
    );
    println!("|---|---|---|---|---|---|");
    for Row {
        label,
        seconds,
        ctld,
        dbd,
    } in rows
    {
        println!(
            "| {label} | {} | {} | {} | {} | {} |",
            seconds.map_or_else(
                || format!("did not finish in {} min", RUN_LIMIT.as_secs() / 60),
                |s| format!("{s:.1} s")
            ),
            sum(ctld, &JOB_QUERIES),
            sum(dbd, &SACCT_QUERIES),
            sum(ctld, &SUBMISSIONS),
            ctld.iter()
                .filter(|(name, _)| name.as_str() != "REQUEST_STATS_INFO")
                .map(|(_, count)| count)
                .sum::<u64>(),
        );
    }
    println!(
        "\njob queries: slurmctld's {} (sdiag); sacct queries: slurmdbd's {} (sacctmgr show stats); \
         submissions: {}; all RPCs: every message slurmctld received, from the tool, its jobs \
         and slurmd, but sdiag's own REQUEST_STATS_INFO. Counted by Slurm between a reset \
         before the run and its end.",
        JOB_QUERIES.join(" + "),
        SACCT_QUERIES.join(" + "),
        SUBMISSIONS.join(" + "),
    );
    println!("\nEvery RPC by message type:\n");
    for Row {
        label, ctld, dbd, ..
    } in rows
    {
        let all: Vec<String> = ctld
            .iter()
            .chain(dbd)
            .map(|(name, count)| format!("{name} {count}"))
            .collect();
        println!("- {label}: {}", all.join(", "));
    }
}

enum Tool {
    Zenbuild,
    Snakemake { init_seconds: Option<u32> },
}

impl Tool {
    fn label(&self) -> String {
        match self {
            Tool::Zenbuild => "zenbuild".to_string(),
            Tool::Snakemake { init_seconds: None } => "Snakemake".to_string(),
            Tool::Snakemake {
                init_seconds: Some(s),
            } => format!("Snakemake, first check after {s} s"),
        }
    }

    fn dir_name(&self) -> String {
        match self {
            Tool::Zenbuild => "zenbuild".to_string(),
            Tool::Snakemake { init_seconds } => {
                format!("snakemake-{}", init_seconds.unwrap_or(0))
            }
        }
    }

    /// Wall seconds from spawn to exit; `None` when it did not finish in [`RUN_LIMIT`].
    fn run(&self, root: &Path, cluster: &Slurm, venv: &Path) -> Option<f64> {
        let mut command = match self {
            Tool::Zenbuild => {
                let mut command = Command::new(ZENBUILD);
                command
                    .args(["build", "--executor", "cluster"])
                    .env("CI", "1");
                command
            }
            Tool::Snakemake { init_seconds } => {
                let mut command = Command::new(venv.join("bin/snakemake"));
                command.args([
                    "--executor",
                    "slurm",
                    "--jobs",
                    JOBS,
                    "--default-resources",
                    &format!("slurm_partition={}", cluster.partition()),
                ]);
                if let Some(seconds) = init_seconds {
                    command.arg(format!(
                        "--slurm-init-seconds-before-status-checks={seconds}"
                    ));
                }
                // The jobs run `python -m snakemake` from the submitting environment, and
                // it runs `srun` with every `SLURM_` variable but a few removed, SLURM_CONF
                // among them (snakemake-executor-plugin-slurm-jobstep 0.6.1): a cluster
                // whose slurm.conf is not at /etc/slurm/slurm.conf, as this one, needs an
                // `srun` that finds it, as a real cluster's nodes have.
                let shim = srun_shim(root, cluster);
                let path = std::env::var("PATH").unwrap_or_default();
                command.env(
                    "PATH",
                    format!("{}:{}:{path}", venv.join("bin").display(), shim.display()),
                );
                command
            }
        };
        for (name, value) in cluster.env() {
            command.env(name, value);
        }
        let log = std::fs::File::create(root.join("tool.log")).expect("a log file");
        let started = Instant::now();
        let mut child = command
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.label()));
        loop {
            if let Some(status) = child.try_wait().expect("wait for the tool") {
                let seconds = started.elapsed().as_secs_f64();
                let text = std::fs::read_to_string(root.join("tool.log")).unwrap_or_default();
                assert!(
                    status.success(),
                    "{} failed ({status}):\n{}",
                    self.label(),
                    tail(&text, 40)
                );
                return Some(seconds);
            }
            if started.elapsed() > RUN_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                cluster.run("scancel", &["--user=root"]);
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The same DAG for each tool in a fresh `git init` workspace: `width` steps copying a
/// source each, and `width` steps each reading one of their outputs and its source.
fn generate(root: &Path, width: usize, tool: &Tool, partition: &str) {
    std::fs::create_dir_all(root.join("src")).expect("a workspace");
    let git = Command::new("git")
        .args(["init", "-q"])
        .current_dir(root)
        .status()
        .expect("git init");
    assert!(git.success(), "git init failed");
    for i in 0..width {
        std::fs::write(root.join(format!("src/{i}.txt")), format!("source {i}\n")).expect("src");
    }
    let a = |i: usize| {
        (
            format!("cat src/{i}.txt > out/a/{i}.txt"),
            format!("out/a/{i}.txt"),
        )
    };
    let b = |i: usize| {
        (
            format!("cat out/a/{i}.txt src/{i}.txt > out/b/{i}.txt"),
            format!("out/b/{i}.txt"),
        )
    };
    let mut text = String::new();
    match tool {
        Tool::Zenbuild => {
            let _ = writeln!(
                text,
                "project \"slurm-compare\"\nexecutor \"cluster\" type=\"slurm\" partition=\"{partition}\""
            );
            for i in 0..width {
                let (cmd, output) = a(i);
                let _ = write!(
                    text,
                    "step \"a{i}\" {{\n    inputs \"src/{i}.txt\"\n    outputs \"{output}\"\n    cmd \"{cmd}\"\n}}\n"
                );
                let (cmd, output) = b(i);
                let _ = write!(
                    text,
                    "step \"b{i}\" {{\n    inputs \"out/a/{i}.txt\" \"src/{i}.txt\"\n    outputs \"{output}\"\n    cmd \"{cmd}\"\n}}\n"
                );
            }
            std::fs::write(root.join("zenbuild.kdl"), text).expect("zenbuild.kdl");
        }
        Tool::Snakemake { .. } => {
            let finals: Vec<String> = (0..width).map(|i| format!("\"{}\"", b(i).1)).collect();
            let _ = write!(text, "rule all:\n    input: [{}]\n\n", finals.join(", "));
            for i in 0..width {
                let (cmd, output) = a(i);
                let _ = write!(
                    text,
                    "rule a{i}:\n    input: \"src/{i}.txt\"\n    output: \"{output}\"\n    shell: \"{cmd}\"\n\n"
                );
                let (cmd, output) = b(i);
                let _ = write!(
                    text,
                    "rule b{i}:\n    input: [\"out/a/{i}.txt\", \"src/{i}.txt\"]\n    output: \"{output}\"\n    shell: \"{cmd}\"\n\n"
                );
            }
            std::fs::write(root.join("Snakefile"), text).expect("Snakefile");
        }
    }
}

/// A directory holding an `srun` that runs Slurm's with this cluster's `SLURM_CONF`.
fn srun_shim(root: &Path, cluster: &Slurm) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = root.join(".srun-shim");
    std::fs::create_dir_all(&dir).expect("the shim's directory");
    let srun = Command::new("sh")
        .args(["-c", "command -v srun"])
        .output()
        .expect("command -v srun");
    let srun = String::from_utf8_lossy(&srun.stdout).trim().to_string();
    assert!(!srun.is_empty(), "srun is not installed");
    let script = dir.join("srun");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nexport SLURM_CONF='{}'\nexec {srun} \"$@\"\n",
            cluster.conf().display()
        ),
    )
    .expect("write the srun shim");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .expect("chmod the srun shim");
    dir
}

/// Every output's bytes, in order.
fn outputs(root: &Path, width: usize) -> Vec<Vec<u8>> {
    (0..width)
        .flat_map(|i| [format!("out/a/{i}.txt"), format!("out/b/{i}.txt")])
        .map(|path| {
            std::fs::read(root.join(&path))
                .unwrap_or_else(|e| panic!("{}: {e}", root.join(&path).display()))
        })
        .collect()
}

/// Until the previous run's jobs have left the queue (pending, running, completing), so that
/// nothing of theirs lands in the next run's counts.
fn wait_until_queue_empty(cluster: &Slurm) {
    let deadline = Instant::now() + Duration::from_mins(5);
    while !cluster.squeue_jobs().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the queue is not empty after 5 min"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // slurmctld's last messages to slurmdbd about them (a job's end) follow its end.
    std::thread::sleep(Duration::from_secs(2));
}

fn reset_counters(cluster: &Slurm) {
    cluster.run("sdiag", &["--reset"]);
    cluster.run("sacctmgr", &["-i", "clear", "stats"]);
}

/// The "Remote Procedure Call statistics by message type" section of `sdiag` or
/// `sacctmgr show stats`: each line `NAME ( id) count:N ave_time:… total_time:…`.
fn counters(cluster: &Slurm, program: &str, args: &[&str]) -> BTreeMap<String, u64> {
    let text = cluster.run(program, args);
    let mut counts = BTreeMap::new();
    let mut in_section = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if !line.starts_with([' ', '\t']) {
            in_section = trimmed.starts_with("Remote Procedure Call statistics by message type");
            continue;
        }
        if !in_section {
            continue;
        }
        let name = trimmed.split_whitespace().next().unwrap_or_default();
        let count = trimmed
            .split_whitespace()
            .find_map(|word| word.strip_prefix("count:"))
            .and_then(|n| n.parse().ok());
        if let Some(count) = count {
            counts.insert(name.to_string(), count);
        }
    }
    assert!(
        !counts.is_empty() || !text.is_empty(),
        "{program} printed nothing"
    );
    counts
}

fn sum(counts: &BTreeMap<String, u64>, names: &[&str]) -> u64 {
    names.iter().filter_map(|name| counts.get(*name)).sum()
}

/// A private virtualenv with the pinned Snakemake and plugin, kept between runs.
fn install_snakemake() -> PathBuf {
    let venv = std::env::temp_dir().join("zenbuild-slurm-compare-venv");
    if !venv.join("bin/python").exists() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 -m venv");
        assert!(made.success(), "python3 -m venv failed");
    }
    let installed = Command::new(venv.join("bin/pip"))
        .args(["install", "-q"])
        .args(PINNED)
        .status()
        .expect("pip install");
    assert!(installed.success(), "pip install {PINNED:?} failed");
    venv
}

fn versions(cluster: &Slurm, venv: &Path) -> String {
    let first_line = |command: &mut Command| {
        command.output().map_or_else(
            |e| format!("? ({e})"),
            |out| {
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .next()
                    .unwrap_or("?")
                    .trim()
                    .to_string()
            },
        )
    };
    let zenbuild = first_line(Command::new(ZENBUILD).arg("--version"));
    let snakemake = first_line(Command::new(venv.join("bin/snakemake")).arg("--version"));
    let plugin = first_line(Command::new(venv.join("bin/python")).args([
        "-c",
        "import importlib.metadata as m; print(m.version('snakemake-executor-plugin-slurm'))",
    ]));
    let slurm = first_line(cluster.command("sinfo").arg("--version"));
    format!(
        "Versions: {zenbuild}; Snakemake {snakemake} with snakemake-executor-plugin-slurm {plugin}; {slurm}."
    )
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
