//! A real single-node Ray cluster on 127.0.0.1 for tests: `ray start --head` as the recipe of
//! `shared/services/README.md` has it, with every port it opens chosen free, a directory of its
//! own, fixed resources, a given environment and, optionally, another Unix user.
//!
//! What this Ray (2.60.0) was seen to do, on a 2-core machine shared with other work; the
//! Ray executor is designed on these:
//!
//! - **Cost.** Up (probe job succeeded) in 5–14 s, two at once in 10–19 s; 22–26 processes,
//!   ~800 MiB proportional set size (their RSS adds up to ~1.9 GiB: ~20 Python processes
//!   sharing pages). Stopped, everything killed at once, in 0.2–0.4 s.
//! - **Jobs.** A submission is answered in ~15 ms (26–41 a second, one after another). A
//!   job is `RUNNING` ~1 s after its submission on an idle cluster and a `true` ends ~0.1 s
//!   later: each job's supervisor actor is a new Python worker process. 50 `true` jobs of
//!   1 CPU on 2 CPUs all `SUCCEEDED` after 53–61 s (~2.2 s a job per CPU). A listing
//!   (`GET /api/jobs/`) of ~50 jobs takes 15–60 ms; Ray reads every kept job's record for
//!   it, so it grows with the jobs kept until `DELETE`d.
//! - **Ends.** Exit 0: `SUCCEEDED`, `driver_exit_code` 0. Exit 3: `FAILED`, 3, `error_type`
//!   `JOB_ENTRYPOINT_COMMAND_ERROR` and a message with the last 20,000 characters of the log.
//!   A command not found: `FAILED`, 127. Killed by a signal: `FAILED`, -9 (Python's negative
//!   return code). `POST …/stop`: `STOPPED` with no exit code 2.5–3.1 s later; the
//!   entrypoint and its descendants get SIGTERM, SIGKILL after 3 s
//!   (`RAY_JOB_STOP_WAIT_TIME_S`), and are gone once it says `STOPPED`.
//! - **Pending.** A job asking more than any node has stays `PENDING` with a message that
//!   names no resource, and a stop does not end it (`{"stopped": true}`, still `PENDING`):
//!   once it can be placed its entrypoint *starts*, then is stopped. A job pending longer
//!   than `RAY_JOB_START_TIMEOUT_SECONDS` (the head's; 15 minutes by default) ends `FAILED`,
//!   `JOB_SUPERVISOR_ACTOR_START_TIMEOUT`. Ray's `start_time` is the submission's.
//! - **Logs.** `GET …/logs` is the whole log in one JSON string: the entrypoint's stdout and
//!   stderr interleaved, and two lines of Ray's (`… INFO job_manager.py:581 -- Runtime env is
//!   setting up.` first, `Running entrypoint for job ID: COMMAND` written through a buffer
//!   flushed after the command starts: it was seen before, among and after its output).
//! - **Refusals.** An unknown id: 404 `Job ID does not exist` (job, logs, stop, delete). A
//!   submission id already taken: HTTP 500, a traceback ending in `ValueError: Job with
//!   submission_id ID already exists`. An unknown field: 400. Deleting a job that has not
//!   ended: 500.
//! - **What a job sees.** It runs as the user `ray start` ran as, through `/bin/sh -c` in a
//!   session of its own, in the directory `ray start` ran in, with `ray start`'s environment
//!   (PATH, HOME, TMPDIR, every variable given here) plus Ray's: `RAY_ADDRESS` (the GCS at
//!   the machine's own address, not the 127.0.0.1 the head was given), `PYTHONUNBUFFERED=1`,
//!   `OMP_NUM_THREADS=1`, `RAY_JOB_CONFIG_JSON_ENV_VAR` (its metadata), `RAY_worker_niceness`.
//! - **Another user.** Ray runs as `nobody` given a HOME, a temp dir and a TMPDIR of its
//!   own, and a Python it can reach: a venv links to its interpreter, so one made from
//!   pyenv's (in /root, mode 700) cannot run; `.ci/run` makes it from /usr/bin/python3. Its
//!   jobs cannot read a directory of mode 700 — but `tempfile` makes directories 0755, so a
//!   test's workspace is readable by every user until it is closed.
//! - **Ports.** Besides the GCS's (`--port`) and the dashboard's, Ray opens the node
//!   manager's, the object manager's, the dashboard agent's HTTP and gRPC ports, the metrics
//!   export port, the runtime env agent's, the Ray client server's (started, on 10001 by
//!   default, because `ray[default]` brings its dependencies), and two with no flag and a
//!   fixed default: the autoscaler's and the dashboard's metrics (`AUTOSCALER_METRIC_PORT`,
//!   `DASHBOARD_METRIC_PORT`). Each is given a free port; workers are told to bind port 0
//!   (`--min-worker-port=0 --max-worker-port=0`: the default range 10002–19999 would be
//!   every cluster's). The GCS, the node and object managers and the metrics servers listen
//!   on every interface (Ray has no setting for it); nothing is sent anywhere but here.
//!   Nothing is written outside the cluster's directory (no /tmp/ray, nothing in /dev/shm).
//!
//! Where Ray is found: `ZENBUILD_RAY` (the path of a `ray` executable, as `.ci/run` exports
//! for the venv it installs `ray[default]==2.60.0` into), else `ray` on PATH. Without it a
//! test is skipped on a laptop and fails under `CI=true`.
//!
//! Lifetime, as for the Slurm harness (tests/common/slurm.rs): a test binary's tests share
//! one cluster through [`Ray::shared`] (started by the first test that asks, with the
//! [`RayConfig`] every test of the binary must agree on), and a test that needs a cluster of
//! its own takes one with [`Ray::start`], stopped when dropped. Every cluster is started by
//! a guard (`ray_guard.py`, run by Ray's own Python) that is told on its stdin to stop it;
//! the pipe closes on drop, at the test binary's exit (an `atexit` hook stops the shared
//! cluster and waits) and when the test process is killed outright. The guard is the
//! cluster's child subreaper, so every process the cluster starts — Ray's daemons, the
//! entrypoints it runs in sessions of their own, what those detach — stays its descendant:
//! it SIGKILLs every descendant, by PID, until none is left, and removes the directory (a
//! kept directory's cluster first gets SIGTERM and 10 s to stop, so that its logs are whole).
//! Everything is a child of the test process or the guard, so it works the same inside a
//! PID namespace.
//!
//! `ZENBUILD_KEEP_RAY=1` keeps each cluster's directory (Ray's logs are in
//! `t/session_latest/logs/`); its path is printed when it starts. A cluster that fails to
//! start, or is dropped by a failing test, keeps it always; [`Ray::logs`] gives the last
//! lines of its main logs for an assertion's message.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::processes::is_alive;

/// What the node offers, whatever the machine has.
pub const CPUS: u32 = 2;
pub const MEMORY_BYTES: u64 = 4 << 30;
/// A custom resource the node has one of: a job that asks for it waits for the one that
/// holds it, whatever else runs.
pub const SLOT: &str = "zenbuild_test_slot";
/// The object store (shared memory); zenbuild's jobs put nothing in it.
const OBJECT_STORE_BYTES: u64 = 100 << 20;

/// The guard, run with Python's `-c`.
const GUARD: &str = include_str!("ray_guard.py");
/// Seconds `ray start` gets to stop what it started before the guard kills what is left,
/// when the directory is kept (else everything is killed at once).
const GRACE_SECONDS: &str = "10";
/// From `ray start` to a probe job that has succeeded.
const START_LIMIT: Duration = Duration::from_mins(3);

/// How a cluster is started. Tests sharing [`Ray::shared`] must ask for the same.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RayConfig {
    zenbuild: bool,
    path: Vec<PathBuf>,
    env: Vec<(String, String)>,
    user: Option<String>,
}

impl RayConfig {
    pub fn new() -> RayConfig {
        RayConfig::default()
    }

    /// A copy of the zenbuild binary under test, in a directory of the cluster's own, first
    /// on the cluster's PATH (so that jobs find `zenbuild` without seeing the build tree).
    pub fn with_zenbuild(mut self) -> RayConfig {
        self.zenbuild = true;
        self
    }

    /// A directory put on PATH before the system's (after zenbuild's).
    pub fn path_dir(mut self, dir: &Path) -> RayConfig {
        self.path.push(dir.to_path_buf());
        self
    }

    /// A variable of the cluster's environment, which its jobs inherit.
    pub fn env(mut self, name: &str, value: &str) -> RayConfig {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// Runs Ray (and so every job) as this Unix user, which must exist; the tests must run
    /// as root. Everything the cluster writes is in its directory, owned by that user.
    pub fn user(mut self, name: &str) -> RayConfig {
        self.user = Some(name.to_string());
        self
    }
}

pub struct Ray {
    dir: PathBuf,
    config: RayConfig,
    ports: Ports,
    /// The user's uid and gid, when the cluster runs as another user.
    owner: Option<(u32, u32)>,
    start_pid: u32,
    guard_pid: u32,
    /// The guard and the pipe that keeps it waiting; `None` once stopped.
    guard: Mutex<Option<(Child, ChildStdin)>>,
    started_in: Duration,
}

/// One process of the cluster, as /proc shows it.
#[derive(Clone, Debug)]
pub struct Process {
    pub pid: i32,
    pub ppid: i32,
    pub uid: u32,
    /// `comm`: the executable's name, at most 15 bytes.
    pub name: String,
    pub cmdline: String,
    pub rss_bytes: u64,
}

static SHARED: OnceLock<Option<Ray>> = OnceLock::new();

impl Ray {
    /// A cluster of this test's own, stopped when dropped; `None` when Ray is not installed
    /// (or another user is asked for and the tests do not run as root) outside CI.
    pub fn start(config: &RayConfig) -> Option<Ray> {
        Ray::launch(config)
    }

    /// The test binary's cluster, started by the first test that asks and stopped when the
    /// binary exits. Its tests must tell their jobs apart (by submission id).
    pub fn shared(config: &RayConfig) -> Option<&'static Ray> {
        let ray = SHARED
            .get_or_init(|| {
                stop_at_exit();
                Ray::launch(config)
            })
            .as_ref()?;
        assert_eq!(
            &ray.config, config,
            "the tests of one binary share one Ray cluster and must ask for the same one"
        );
        Some(ray)
    }

    /// The Jobs API's (dashboard's) URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.dashboard)
    }

    /// The GCS address (`ray.init(address=…)`, `RAY_ADDRESS`).
    pub fn gcs_address(&self) -> String {
        format!("127.0.0.1:{}", self.ports.gcs)
    }

    /// The cluster's directory: `log/`, `t/` (Ray's temp dir), `home/`, `bin/`, `work/`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the copy of zenbuild is (see [`RayConfig::with_zenbuild`]).
    pub fn bin_dir(&self) -> PathBuf {
        self.dir.join("bin")
    }

    /// The HOME of Ray's processes and jobs.
    pub fn home(&self) -> PathBuf {
        self.dir.join("home")
    }

    pub fn user(&self) -> Option<&str> {
        self.config.user.as_deref()
    }

    /// Every port the cluster was told to use, by `ray start` flag (or variable).
    pub fn ports(&self) -> Vec<(&'static str, u16)> {
        self.ports.named()
    }

    /// How long it took from starting the guard to a probe job that succeeded.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// A fresh directory that the cluster's jobs can write and the test can read.
    pub fn scratch_dir(&self) -> PathBuf {
        let dir = tempfile::Builder::new()
            .prefix("s")
            .tempdir_in(self.dir.join("work"))
            .expect("a scratch directory")
            .keep();
        self.own(&dir)
            .expect("give the scratch directory to Ray's user");
        dir
    }

    /// Every live process of the cluster: the guard's descendants.
    pub fn processes(&self) -> Vec<Process> {
        descendants(self.guard_pid as i32)
    }

    /// The resident memory of all of them (pages they share counted once per process).
    pub fn rss_bytes(&self) -> u64 {
        self.processes().iter().map(|p| p.rss_bytes).sum()
    }

    /// Their proportional set size: each shared page divided among its sharers, which is
    /// what the cluster costs the machine (Ray's ~20 Python processes share much).
    pub fn pss_bytes(&self) -> u64 {
        self.processes().iter().map(|p| pss_bytes(p.pid)).sum()
    }

    /// The last lines of the cluster's main logs, for a failing assertion's message.
    pub fn logs(&self) -> String {
        logs(&self.dir)
    }

    /// Stops the cluster (idempotent) and waits until the guard has stopped every process
    /// and removed the directory.
    pub fn stop(&self) {
        let guard = self
            .guard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let Some((mut guard, pipe)) = guard else {
            return;
        };
        drop(pipe);
        let _ = guard.wait();
    }

    fn launch(config: &RayConfig) -> Option<Ray> {
        let ray = match find_ray() {
            Ok(ray) => ray,
            Err(why) => return skip(&why),
        };
        if config.user.is_some() && unsafe_geteuid() != 0 {
            return skip("a Ray cluster as another user needs the tests to run as root");
        }
        let python = python_of(&ray);
        let dir = tempfile::Builder::new()
            .prefix("zbray-")
            .tempdir()
            .expect("a directory for the cluster")
            .keep();
        let started = Instant::now();
        let mut cluster = match Ray::spawn(&dir, config, &ray, &python) {
            Ok(cluster) => cluster,
            Err(why) => panic!(
                "Ray did not start: {why}\n(kept {}){}",
                dir.display(),
                logs(&dir)
            ),
        };
        if let Err(why) = cluster.boot() {
            let hint = match &config.user {
                Some(user) => format!(
                    "\n({user} must be able to run {} and the Python it names: a venv of a \
                     Python under a private directory, such as pyenv's in /root, is not)",
                    ray.display()
                ),
                None => String::new(),
            };
            let message = format!(
                "Ray did not start: {why}{hint}\n(kept {}){}",
                dir.display(),
                cluster.logs()
            );
            cluster.keep();
            cluster.stop();
            panic!("{message}");
        }
        cluster.started_in = started.elapsed();
        eprintln!(
            "ray: cluster up in {:.1} s, {} processes, {} MiB PSS ({} MiB RSS), dashboard {}, in {}",
            cluster.started_in.as_secs_f64(),
            cluster.processes().len(),
            cluster.pss_bytes() >> 20,
            cluster.rss_bytes() >> 20,
            cluster.url(),
            dir.display()
        );
        Some(cluster)
    }

    /// Lays out the directory and starts the guard, which starts `ray start`.
    fn spawn(dir: &Path, config: &RayConfig, ray: &Path, python: &Path) -> Result<Ray, String> {
        set_mode(dir, 0o755)?;
        let owner = match &config.user {
            Some(user) => Some(user_ids(user)?),
            None => None,
        };
        for sub in ["log", "bin", "t", "home", "tmp", "work"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|e| format!("mkdir {sub}: {e}"))?;
            // What Ray writes (its temp dir, HOME, TMPDIR) and what jobs write is its user's.
            if let (Some((uid, gid)), "t" | "home" | "tmp" | "work") = (owner, sub) {
                std::os::unix::fs::chown(&path, Some(uid), Some(gid))
                    .map_err(|e| format!("chown {}: {e}", path.display()))?;
            }
        }
        if config.zenbuild {
            let binary = Path::new(env!("CARGO_BIN_EXE_zenbuild"));
            let copy = dir.join("bin/zenbuild");
            // A hard link costs nothing and leaves the build tree out of the job's reach
            // (only the path matters). Another file system needs a copy, made by `cp`: a
            // file this process held open for writing would be inherited by the children
            // other tests fork meanwhile, and running it would fail with "Text file busy".
            if std::fs::hard_link(binary, &copy).is_err() {
                let copied = Command::new("cp").arg(binary).arg(&copy).status();
                if !copied.is_ok_and(|status| status.success()) {
                    return Err(format!("cannot copy zenbuild into {}", dir.display()));
                }
            }
            set_mode(&copy, 0o755)?;
        }
        let ports = Ports::pick();
        let mut guard = Command::new(python)
            .arg("-c")
            .arg(GUARD)
            .arg(dir)
            .arg(config.user.as_deref().unwrap_or(""))
            .arg(dir.join("log/ray-start.out"))
            .arg(GRACE_SECONDS)
            .arg("--")
            .arg(ray)
            .args(start_args(dir, &ports))
            .env_clear()
            .envs(environment(dir, config, ray, &ports))
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file(dir, "guard.out")?)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start the guard with {}: {e}", python.display()))?;
        let pipe = guard.stdin.take().expect("the guard's stdin");
        let mut line = String::new();
        let read = guard
            .stdout
            .take()
            .map(|out| BufReader::new(out).read_line(&mut line));
        let guard_pid = guard.id();
        let mut cluster = Ray {
            dir: dir.to_path_buf(),
            config: config.clone(),
            ports,
            owner,
            start_pid: line.trim().parse().unwrap_or(0),
            guard_pid,
            guard: Mutex::new(Some((guard, pipe))),
            started_in: Duration::ZERO,
        };
        if std::env::var_os("ZENBUILD_KEEP_RAY").is_some() {
            cluster.keep();
        }
        if !matches!(read, Some(Ok(n)) if n > 0) {
            cluster.start_pid = 0;
        }
        Ok(cluster)
    }

    /// Waits for the dashboard and runs a probe job.
    fn boot(&self) -> Result<(), String> {
        if self.start_pid == 0 {
            return Err("the guard did not start `ray start`".into());
        }
        let url = format!("{}/api/version", self.url());
        wait_until("the dashboard", START_LIMIT, || {
            if !is_alive(self.start_pid as i32) {
                return Err("`ray start` exited".into());
            }
            Ok(curl(&["--max-time", "5", &url]).is_ok())
        })?;
        self.probe()
    }

    /// Runs one job to its end: a dashboard that answers is not yet a cluster that runs
    /// jobs (the job agent registers later), and a test's first timing would be off.
    fn probe(&self) -> Result<(), String> {
        let id = "zenbuild-harness-probe";
        let body = format!(r#"{{"entrypoint": "true", "submission_id": "{id}"}}"#);
        self.post("/api/jobs/", &body)?;
        let status = |ray: &Ray| -> Result<String, String> {
            let job = ray.get(&format!("/api/jobs/{id}"))?;
            Ok(job["status"].as_str().unwrap_or_default().to_string())
        };
        wait_until("the probe job to succeed", START_LIMIT, || {
            match status(self)?.as_str() {
                "SUCCEEDED" => Ok(true),
                "FAILED" | "STOPPED" => Err(format!(
                    "the probe job ended {}",
                    self.get(&format!("/api/jobs/{id}")).unwrap_or_default()
                )),
                _ => Ok(false),
            }
        })
    }

    /// `GET` on the dashboard, as JSON.
    pub fn get(&self, path: &str) -> Result<serde_json::Value, String> {
        let text = curl(&["--max-time", "30", &format!("{}{path}", self.url())])?;
        serde_json::from_str(&text).map_err(|e| format!("GET {path}: {e}: {text}"))
    }

    /// `POST` of a JSON body on the dashboard, as JSON.
    pub fn post(&self, path: &str, body: &str) -> Result<serde_json::Value, String> {
        let url = format!("{}{path}", self.url());
        let text = curl(&[
            "--max-time",
            "30",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            body,
            &url,
        ])?;
        serde_json::from_str(&text).map_err(|e| format!("POST {path}: {e}: {text}"))
    }

    fn own(&self, path: &Path) -> Result<(), String> {
        match self.owner {
            Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", path.display())),
            None => Ok(()),
        }
    }

    /// Tells the guard to leave the directory in place.
    fn keep(&self) {
        if let Some((_, pipe)) = self
            .guard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_mut()
        {
            let _ = writeln!(pipe, "keep");
        }
    }
}

impl Drop for Ray {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("ray: kept {} for the failing test", self.dir.display());
            self.keep();
        }
        self.stop();
    }
}

fn skip<T>(why: &str) -> Option<T> {
    assert!(std::env::var_os("CI").is_none(), "{why} (see .ci/run)");
    eprintln!("skipped: {why}");
    None
}

/// Stops the shared cluster when the test binary exits (statics are never dropped), so that
/// cargo's next test binary starts on a quiet machine.
fn stop_at_exit() {
    extern "C" fn stop_shared() {
        if let Some(Some(ray)) = SHARED.get() {
            // Nothing may unwind out of an atexit hook.
            let _ = std::panic::catch_unwind(|| ray.stop());
        }
    }
    static REGISTERED: OnceLock<()> = OnceLock::new();
    REGISTERED.get_or_init(|| {
        // SAFETY: atexit takes a plain function pointer that stays valid for the process.
        unsafe { libc::atexit(stop_shared) };
    });
}

/// `ZENBUILD_RAY`, else `ray` on PATH.
fn find_ray() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("ZENBUILD_RAY") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "ZENBUILD_RAY={} is not a file",
            path.display()
        );
        return Ok(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("ray"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            "Ray is not installed: pip install 'ray[default]==2.60.0' and set ZENBUILD_RAY".into()
        })
}

/// The Python of Ray's venv, from the `ray` script's `#!` line; else `python3`.
fn python_of(ray: &Path) -> PathBuf {
    let first = std::fs::read(ray)
        .ok()
        .and_then(|bytes| {
            let line = bytes.split(|b| *b == b'\n').next()?.to_vec();
            String::from_utf8(line).ok()
        })
        .unwrap_or_default();
    first
        .strip_prefix("#!")
        .map(|interpreter| PathBuf::from(interpreter.trim()))
        .filter(|interpreter| interpreter.is_file())
        .unwrap_or_else(|| PathBuf::from("python3"))
}

fn start_args(dir: &Path, ports: &Ports) -> Vec<String> {
    let mut args: Vec<String> = [
        "start",
        "--head",
        "--block",
        "--disable-usage-stats",
        "--node-ip-address=127.0.0.1",
        "--dashboard-host=127.0.0.1",
        "--include-dashboard=true",
        "--log-style=record",
        "--log-color=false",
    ]
    .map(String::from)
    .to_vec();
    for (flag, port) in ports.named() {
        if let Some(flag) = flag.strip_prefix("--") {
            args.push(format!("--{flag}={port}"));
        }
    }
    args.extend([
        format!("--temp-dir={}", dir.join("t").display()),
        format!("--num-cpus={CPUS}"),
        "--num-gpus=0".to_string(),
        format!("--resources={{\"{SLOT}\": 1}}"),
        format!("--memory={MEMORY_BYTES}"),
        format!("--object-store-memory={OBJECT_STORE_BYTES}"),
        // Each worker binds a port the system picks, so that no range is shared.
        "--min-worker-port=0".to_string(),
        "--max-worker-port=0".to_string(),
    ]);
    args
}

/// The whole environment of the cluster (nothing of the test's is inherited).
fn environment(dir: &Path, config: &RayConfig, ray: &Path, ports: &Ports) -> Vec<(String, String)> {
    let mut path: Vec<PathBuf> = Vec::new();
    if config.zenbuild {
        path.push(dir.join("bin"));
    }
    path.extend(config.path.iter().cloned());
    // Ray's venv: a job that runs `python` gets Ray's, as on a cluster built from Ray's image.
    path.extend(ray.parent().map(Path::to_path_buf));
    path.extend(["/usr/local/bin", "/usr/bin", "/bin"].map(PathBuf::from));
    let path = std::env::join_paths(path).expect("a PATH");
    let mut env = vec![
        ("PATH".to_string(), path.to_string_lossy().into_owned()),
        ("HOME".to_string(), dir.join("home").display().to_string()),
        ("TMPDIR".to_string(), dir.join("tmp").display().to_string()),
        ("LANG".to_string(), "C.UTF-8".to_string()),
        ("LC_ALL".to_string(), "C.UTF-8".to_string()),
        ("RAY_USAGE_STATS_ENABLED".to_string(), "0".to_string()),
    ];
    for (name, port) in ports.named() {
        if !name.starts_with("--") {
            env.push((name.to_string(), port.to_string()));
        }
    }
    env.extend(config.env.iter().cloned());
    env
}

struct Ports {
    gcs: u16,
    dashboard: u16,
    others: Vec<(&'static str, u16)>,
}

/// The ports Ray opens besides the GCS's and the dashboard's, by `ray start` flag, or by the
/// variable Ray reads it from (the autoscaler's and the dashboard's metrics, which have no
/// flag and fixed defaults that two clusters would both take).
const OTHER_PORTS: [&str; 9] = [
    "--node-manager-port",
    "--object-manager-port",
    "--dashboard-agent-listen-port",
    "--dashboard-agent-grpc-port",
    "--metrics-export-port",
    "--runtime-env-agent-port",
    "--ray-client-server-port",
    "AUTOSCALER_METRIC_PORT",
    "DASHBOARD_METRIC_PORT",
];

impl Ports {
    /// Free ports of 127.0.0.1, held open together so that they differ, then released.
    fn pick() -> Ports {
        let listeners: Vec<TcpListener> = (0..OTHER_PORTS.len() + 2)
            .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
            .collect();
        let port = |i: usize| listeners[i].local_addr().expect("its address").port();
        Ports {
            gcs: port(0),
            dashboard: port(1),
            others: OTHER_PORTS
                .iter()
                .enumerate()
                .map(|(i, name)| (*name, port(i + 2)))
                .collect(),
        }
    }

    fn named(&self) -> Vec<(&'static str, u16)> {
        let mut all = vec![("--port", self.gcs), ("--dashboard-port", self.dashboard)];
        all.extend(self.others.iter().copied());
        all
    }
}

/// `curl --silent --fail` and its stdout.
fn curl(args: &[&str]) -> Result<String, String> {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--fail"])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run curl: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "curl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The uid and gid of `user`, from `id`.
fn user_ids(user: &str) -> Result<(u32, u32), String> {
    let id = |flag: &str| -> Result<u32, String> {
        let output = Command::new("id")
            .args([flag, user])
            .output()
            .map_err(|e| format!("id {flag} {user}: {e}"))?;
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .map_err(|_| format!("no user {user:?}"))
    };
    Ok((id("-u")?, id("-g")?))
}

/// The state and parent of a `/proc/PID/stat` line: `pid (comm) state ppid …`, where comm
/// may hold spaces and parentheses.
fn stat_fields(stat: &str) -> Option<(String, i32)> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.to_string();
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// The live descendants of `root`, per /proc.
pub fn descendants(root: i32) -> Vec<Process> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let all: Vec<Process> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(process)
        .collect();
    let mut found: Vec<Process> = Vec::new();
    let mut parents = vec![root];
    while let Some(parent) = parents.pop() {
        for child in all.iter().filter(|p| p.ppid == parent) {
            parents.push(child.pid);
            found.push(child.clone());
        }
    }
    found
}

/// One live process from /proc; `None` for a zombie or one that is gone.
fn process(pid: i32) -> Option<Process> {
    let base = PathBuf::from(format!("/proc/{pid}"));
    let (state, ppid) = stat_fields(&std::fs::read_to_string(base.join("stat")).ok()?)?;
    if state == "Z" || state == "X" {
        return None;
    }
    let status = std::fs::read_to_string(base.join("status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|value| value.parse::<u64>().ok())
    };
    let cmdline = std::fs::read(base.join("cmdline")).unwrap_or_default();
    Some(Process {
        pid,
        ppid,
        uid: field("Uid:").unwrap_or(u64::MAX) as u32,
        name: std::fs::read_to_string(base.join("comm"))
            .unwrap_or_default()
            .trim()
            .to_string(),
        cmdline: String::from_utf8_lossy(&cmdline)
            .replace('\0', " ")
            .trim()
            .to_string(),
        rss_bytes: field("VmRSS:").unwrap_or(0) * 1024,
    })
}

/// `Pss:` of `/proc/PID/smaps_rollup`, 0 when it cannot be read.
fn pss_bytes(pid: i32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    text.lines()
        .find_map(|line| line.strip_prefix("Pss:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

fn unsafe_geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {:o} {}: {e}", mode, path.display()))
}

fn log_file(dir: &Path, name: &str) -> Result<std::fs::File, String> {
    std::fs::File::options()
        .create(true)
        .append(true)
        .open(dir.join("log").join(name))
        .map_err(|e| format!("open log/{name}: {e}"))
}

/// Polls `ready` every 100 ms until it says yes, fails, or `limit` passes.
fn wait_until(
    what: &str,
    limit: Duration,
    mut ready: impl FnMut() -> Result<bool, String>,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while !ready()? {
        if Instant::now() > deadline {
            return Err(format!("no {what} after {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// The logs a failure is most often explained by.
const LOGS: [&str; 8] = [
    "log/guard.out",
    "log/ray-start.out",
    "t/session_latest/logs/gcs_server.out",
    "t/session_latest/logs/raylet.out",
    "t/session_latest/logs/dashboard.log",
    "t/session_latest/logs/dashboard_agent.log",
    "t/session_latest/logs/runtime_env_agent.log",
    "t/session_latest/logs/monitor.log",
];

fn logs(dir: &Path) -> String {
    LOGS.iter()
        .filter_map(|name| {
            let text = std::fs::read_to_string(dir.join(name)).ok()?;
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(15)..].join("\n");
            Some(format!("\n--- {name} ---\n{tail}"))
        })
        .collect()
}
