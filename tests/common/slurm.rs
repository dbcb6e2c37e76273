//! A real single-node Slurm cluster on 127.0.0.1 for tests: the recipe of
//! `shared/services/README.md` (slurmctld + slurmd), generated into a fresh temporary directory
//! with free ports, optionally with accounting (`slurmdbd` on a `MariaDB` of its own, from
//! `mariadb.rs`) so that `sacct` answers. Debian's `slurm-wlm`, `slurmdbd`, `munge` and
//! `mariadb-server` are found on PATH (and in /usr/sbin); without them a test is skipped on a
//! laptop and fails under `CI=true`, which `.ci/run` installs them for.
//!
//! Memory and time limits are enforced as on a real cluster: `task/cgroup` with `ConstrainRAMSpace`
//! ends a job over its `--mem` as `OUT_OF_MEMORY`, and `OverTimeLimit=0` with `KillWait=2` ends a
//! job over its `--time` as `TIMEOUT` a few seconds after slurmctld's periodic check notices (60 to
//! 90 s for `--time=1`, the shortest limit Slurm has).
//!
//! Lifetime. A cluster is ready in ~3.3 s: its node is idle after ~0.3 s, but slurmctld starts no
//! job before its first scheduling pass ~3 s after it starts, so the harness runs a probe job to
//! its end before it hands a cluster out (and with `batch_sched_delay=0` later jobs start within a
//! second, not after up to 3 s). With accounting it takes 5–8 s more (`mariadb-install-db` ~2–4 s,
//! slurmctld's first registration with slurmdbd ~2 s). So a test binary's tests share one cluster
//! through [`Slurm::shared`] or [`Slurm::shared_with_accounting`] (started by the first test that
//! asks, used by tests in parallel, which tell their jobs apart by id or name), and a test that
//! asserts on every job of a cluster (`squeue_jobs`) takes one of its own with [`Slurm::start`],
//! stopped when dropped. A static is never dropped, so every cluster is watched by a guard: a `sh`
//! started first that is told each daemon's PID on its stdin and, when that pipe closes, cancels
//! the cluster's jobs (so that no `slurmstepd` outlives slurmd), stops the daemons by PID (SIGTERM,
//! then SIGKILL) and removes the directory. The pipe closes on drop, at the test binary's exit (an
//! `atexit` hook stops the shared clusters and waits for their guards), and also when the test
//! process is killed outright, which no `Drop`, `atexit` or `PR_SET_PDEATHSIG` covers (the latter
//! fires when the spawning *thread* ends, which for a cluster started inside a test is that test's
//! end). Daemons and guard sit in process groups of their own, so a Ctrl-C on `cargo test` reaches
//! only the test process, and the guard then shuts the cluster down in order. Everything is a child
//! of the test process or the guard, so it works the same inside a PID namespace (`unshare -p -f
//! --mount-proc cargo test`).
//!
//! munge. Each cluster runs a munged of its own (`-F`, a fresh key and socket in its directory;
//! `AuthInfo=socket=…` for slurmctld, slurmd, slurmdbd and the client commands,
//! `AccountingStoragePass=<socket>` for slurmctld's connection to slurmdbd) instead of the
//! machine's `/run/munge/munge.socket.2`: no cluster depends on one that another test binary (or
//! another user of the machine) started and may stop, and the system key is not needed.
//!
//! Job ids start at `FirstJobId` = 1000 × the slurmctld port: the cgroup hierarchy
//! (`/sys/fs/cgroup/memory/slurm_<node>/uid_<uid>/job_<id>`) is per node, not per cluster, so two
//! clusters on one machine must not hand out the same ids.
//!
//! Nodes that do not see the workspace. [`Slurm::shared_hiding_workspaces`] starts slurmd in a
//! mount namespace of its own (`unshare --mount`) with an empty tmpfs over the cluster's
//! `hidden/` directory: workspaces made there ([`Slurm::hidden`]) are there for the build and
//! not for its jobs, as on a cluster whose nodes do not mount the login node's disks. Jobs
//! are children of slurmd and inherit its namespace; everything else on the machine (the
//! binaries, `/tmp`, a server on 127.0.0.1) they see as before.
//!
//! `ZENBUILD_KEEP_SLURM=1` keeps each cluster's directory (config, `log/`, job state) after it
//! stops; its path is printed when it starts. A cluster that fails to start, or is dropped by a
//! failing test, keeps it always; [`Slurm::logs`] gives the last lines of each log for an
//! assertion's message.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::mariadb::MariaDb;

pub const PARTITION: &str = "debug";
/// What each node offers, whatever the machine has (`SlurmdParameters=config_overrides`).
pub const CPUS: u32 = 2;
pub const REAL_MEMORY_MB: u32 = 4000;

/// Everything it needs: the client commands and the daemons.
const PROGRAMS: [&str; 6] = ["sbatch", "squeue", "sinfo", "munged", "slurmctld", "slurmd"];
const ACCOUNTING_PROGRAMS: [&str; 5] = [
    "slurmdbd",
    "sacct",
    "mariadbd",
    "mariadb-install-db",
    "mariadb",
];

/// Reads a PID per line until its stdin closes, then takes the cluster down (newest first) and
/// removes its directory unless a line said `keep`. `$1` is the directory.
const WATCH: &str = r#"
trap '' INT HUP
watched= keep=
while read -r line; do
    case $line in
        keep) keep=1 ;;
        *) watched="$line $watched" ;;
    esac
done
"#;

const STOP: &str = r#"
if [ -n "$watched" ]; then
    scancel --user="$(id -un)" >/dev/null 2>&1
    i=0
    while [ $i -lt 50 ] && [ -n "$(squeue -h -o %i 2>/dev/null)" ]; do
        sleep 0.1
        i=$((i + 1))
    done
    # slurmctld takes ~3 s to exit on SIGTERM, slurmd ~2 s, saving state that is thrown away.
    for pid in $watched; do alive "$pid" && kill -TERM "$pid" 2>/dev/null; done
    wait_gone 10 || for pid in $watched; do kill -KILL "$pid" 2>/dev/null; done
    wait_gone 50
    # A job whose node went down under it (a test takes the node down) keeps its slurmstepd
    # after slurmd is gone, and no scancel reaches it: this cluster's are found by their job
    # ids (FirstJobId = 1000 x SlurmctldPort, so the id starts with the port).
    port=$(sed -n 's/^SlurmctldPort=//p' "$1/etc/slurm.conf" 2>/dev/null)
    if [ -n "$port" ]; then
        for cmdline in /proc/[0-9]*/cmdline; do
            pid=${cmdline#/proc/}
            pid=${pid%/cmdline}
            case $(tr '\0' ' ' < "$cmdline" 2>/dev/null) in
                "slurmstepd: [$port"[0-9][0-9][0-9].*) kill -KILL "$pid" 2>/dev/null ;;
            esac
        done
    fi
fi
[ -n "$keep" ] || rm -rf "$1"
"#;

pub struct Slurm {
    dir: PathBuf,
    conf: PathBuf,
    node: String,
    partition: String,
    accounting: bool,
    /// The directory the node's jobs see empty, if any.
    hidden: Option<PathBuf>,
    /// The guard and the pipe that keeps it waiting; `None` once stopped.
    guard: Mutex<Option<(Child, ChildStdin)>>,
    /// The daemons, reaped once the guard has stopped them.
    daemons: Mutex<Vec<Child>>,
    /// slurmdbd's database, stopped after the daemons (with a guard of its own).
    database: Mutex<Option<MariaDb>>,
}

/// One row of `squeue -t all`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: u64,
    pub state: String,
    pub reason: String,
    pub nodes: String,
}

static SHARED: OnceLock<Option<Slurm>> = OnceLock::new();
static SHARED_WITH_ACCOUNTING: OnceLock<Option<Slurm>> = OnceLock::new();
static SHARED_HIDING: OnceLock<Option<Slurm>> = OnceLock::new();

impl Slurm {
    /// A cluster of this test's own without accounting (`squeue` only), stopped when dropped;
    /// `None` when Slurm is not installed (or not root) outside CI.
    pub fn start() -> Option<Slurm> {
        Slurm::launch(false, false)
    }

    /// A cluster of this test's own whose `sacct` answers, stopped when dropped.
    pub fn start_with_accounting() -> Option<Slurm> {
        Slurm::launch(true, false)
    }

    /// The test binary's cluster without accounting, started by the first test that asks and
    /// stopped when the binary exits. Tests sharing it must tell their jobs apart (by name).
    pub fn shared() -> Option<&'static Slurm> {
        SHARED
            .get_or_init(|| {
                stop_at_exit();
                Slurm::launch(false, false)
            })
            .as_ref()
    }

    /// The test binary's cluster (without accounting) whose jobs do not see [`Slurm::hidden`],
    /// where the tests make their workspaces.
    pub fn shared_hiding_workspaces() -> Option<&'static Slurm> {
        SHARED_HIDING
            .get_or_init(|| {
                stop_at_exit();
                Slurm::launch(false, true)
            })
            .as_ref()
    }

    /// The directory that this machine sees and the cluster's jobs see empty.
    pub fn hidden(&self) -> Option<&Path> {
        self.hidden.as_deref()
    }

    /// The test binary's cluster with accounting, as [`Slurm::shared`].
    pub fn shared_with_accounting() -> Option<&'static Slurm> {
        SHARED_WITH_ACCOUNTING
            .get_or_init(|| {
                stop_at_exit();
                Slurm::launch(true, false)
            })
            .as_ref()
    }

    /// The `slurm.conf` that client commands need (as `SLURM_CONF`).
    pub fn conf(&self) -> &Path {
        &self.conf
    }

    /// The environment a child process needs to talk to this cluster.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("SLURM_CONF".to_string(), self.conf.display().to_string())]
    }

    pub fn partition(&self) -> &str {
        &self.partition
    }

    /// The one node's name (`hostname -s`).
    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn has_accounting(&self) -> bool {
        self.accounting
    }

    /// The cluster's directory: `slurm.conf`, `log/`, `state/`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A Slurm client command (`sbatch`, `squeue`, `scancel`, `sacct`…) aimed at this cluster.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.env("SLURM_CONF", &self.conf);
        command
    }

    /// Runs a client command and returns its stdout; fails the test if it fails.
    pub fn run(&self, program: &str, args: &[&str]) -> String {
        let output = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            self.logs()
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `sbatch --parsable ARGS`: the new job's id.
    pub fn sbatch(&self, args: &[&str]) -> u64 {
        let mut all = vec!["--parsable"];
        all.extend_from_slice(args);
        let out = self.run("sbatch", &all);
        // `--parsable` prints `id` or `id;cluster`.
        let id = out.trim().split(';').next().unwrap_or_default();
        id.parse()
            .unwrap_or_else(|e| panic!("sbatch printed {out:?}, no job id: {e}"))
    }

    /// The ids of the jobs squeue shows by default: pending, running, completing — the jobs
    /// still holding or waiting for the node (a test asserting that none is left uses this).
    pub fn squeue_jobs(&self) -> Vec<u64> {
        self.run("squeue", &["-h", "-o", "%i"])
            .lines()
            .map(|id| id.trim().parse().expect("squeue printed a job id"))
            .collect()
    }

    /// Every job squeue still knows, finished ones included (for `MinJobAge` after they end).
    pub fn jobs(&self) -> Vec<Job> {
        self.run("squeue", &["-h", "-t", "all", "-o", "%i|%T|%r|%N"])
            .lines()
            .map(|line| {
                let fields: Vec<&str> = line.split('|').collect();
                let [id, state, reason, nodes] = fields[..] else {
                    panic!("squeue printed {line:?}, not id|state|reason|nodes")
                };
                Job {
                    id: id.parse().expect("squeue printed a job id"),
                    state: state.to_string(),
                    reason: reason.to_string(),
                    nodes: nodes.to_string(),
                }
            })
            .collect()
    }

    pub fn job(&self, id: u64) -> Option<Job> {
        self.jobs().into_iter().find(|job| job.id == id)
    }

    /// Waits until job `id` runs; fails the test if it ends first or after `limit`.
    pub fn wait_for_start(&self, id: u64, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let job = self.job(id);
            match job.as_ref().map(|job| job.state.as_str()) {
                Some("RUNNING") => return,
                Some("PENDING" | "CONFIGURING") => {}
                _ => panic!("job {id} did not start: {job:?}{}", self.logs()),
            }
            assert!(
                Instant::now() < deadline,
                "job {id} has not started after {limit:?}: {job:?}{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until job `id` has left the pending, running and completing states, and returns
    /// how squeue shows it then; fails the test after `limit`.
    pub fn wait_for_end(&self, id: u64, limit: Duration) -> Job {
        let deadline = Instant::now() + limit;
        loop {
            let job = self.job(id);
            if let Some(job) = &job
                && !matches!(
                    job.state.as_str(),
                    "PENDING" | "CONFIGURING" | "RUNNING" | "COMPLETING" | "SUSPENDED"
                )
            {
                return job.clone();
            }
            assert!(
                Instant::now() < deadline,
                "job {id} has not ended after {limit:?}: {job:?}{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `sacct -X -n -P -o JobID,State,ExitCode,NodeList -j ID`, e.g. `12|OUT_OF_MEMORY|0:125|vm`,
    /// once slurmdbd has the job's end: slurmctld sends it through a queue, so it can lag
    /// behind squeue. Fails the test after 30 s.
    pub fn sacct(&self, id: u64) -> String {
        assert!(self.accounting, "sacct needs a cluster with accounting");
        let id = id.to_string();
        let args = [
            "-X",
            "-n",
            "-P",
            "-o",
            "JobID,State,ExitCode,NodeList",
            "-j",
            &id,
        ];
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let line = self.run("sacct", &args).trim().to_string();
            let state = line.split('|').nth(1).unwrap_or_default();
            if !matches!(state, "" | "PENDING" | "RUNNING" | "REQUEUED" | "SUSPENDED") {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "sacct has not got the end of job {id}: {line:?}{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The last lines of every daemon's log, for a failing assertion's message.
    pub fn logs(&self) -> String {
        let database = self
            .database
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map(MariaDb::logs);
        logs(&self.dir) + &database.unwrap_or_default()
    }

    /// Stops the cluster (idempotent): the guard cancels its jobs, stops the daemons and
    /// removes the directory; this waits for all of it.
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
        // The guard counts zombies as gone, so it needs nothing from us; should it have died,
        // the daemons are killed here.
        let _ = guard.wait();
        for daemon in self
            .daemons
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter_mut()
        {
            if let Ok(None) = daemon.try_wait() {
                let _ = daemon.kill();
            }
            let _ = daemon.wait();
        }
        // Dropping it stops it, now that slurmdbd is gone.
        drop(
            self.database
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take(),
        );
    }

    fn launch(accounting: bool, hide: bool) -> Option<Slurm> {
        let mut needed = PROGRAMS.to_vec();
        if accounting {
            needed.extend(ACCOUNTING_PROGRAMS);
        }
        let missing: Vec<&str> = needed.into_iter().filter(|p| find(p).is_none()).collect();
        let root = unsafe_geteuid() == 0;
        if !missing.is_empty() || !root {
            let why = if missing.is_empty() {
                "Slurm tests run as root (slurmd starts jobs as their user, in cgroups)".to_string()
            } else {
                format!(
                    "{} not installed: apt-get install slurm-wlm slurmdbd munge mariadb-server",
                    missing.join(", ")
                )
            };
            assert!(std::env::var_os("CI").is_none(), "{why} (see .ci/run)");
            eprintln!("skipped: {why}");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("zenbuild-slurm-")
            .tempdir()
            .expect("a state directory")
            .keep();
        let started = Instant::now();
        let mut slurm = Slurm::spawn_guard(dir, accounting);
        if hide {
            slurm.hidden = Some(slurm.dir.join("hidden"));
        }
        if let Err(why) = slurm.boot() {
            let message = format!(
                "Slurm did not start: {why}\n(kept {}){}",
                slurm.dir.display(),
                slurm.logs()
            );
            slurm.keep();
            slurm.stop();
            panic!("{message}");
        }
        eprintln!(
            "slurm: cluster up in {:.1} s{} in {}",
            started.elapsed().as_secs_f64(),
            if accounting { " (with accounting)" } else { "" },
            slurm.dir.display()
        );
        Some(slurm)
    }

    fn spawn_guard(dir: PathBuf, accounting: bool) -> Slurm {
        let conf = dir.join("etc/slurm.conf");
        let mut guard = Command::new("sh")
            .arg("-c")
            .arg([WATCH, super::guard::WAITING, STOP].concat())
            .arg("zenbuild-slurm-guard")
            .arg(&dir)
            .env("SLURM_CONF", &conf)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start the guard");
        let pipe = guard.stdin.take().expect("the guard's stdin");
        let slurm = Slurm {
            dir,
            conf,
            node: short_hostname(),
            partition: PARTITION.to_string(),
            accounting,
            hidden: None,
            guard: Mutex::new(Some((guard, pipe))),
            daemons: Mutex::new(Vec::new()),
            database: Mutex::new(None),
        };
        if std::env::var_os("ZENBUILD_KEEP_SLURM").is_some() {
            slurm.keep();
        }
        slurm
    }

    /// Tells the guard to leave the directory in place.
    fn keep(&self) {
        self.tell_guard("keep");
        if let Some(database) = self
            .database
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
        {
            database.keep();
        }
    }

    fn tell_guard(&self, line: &str) {
        if let Some((_, pipe)) = self
            .guard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_mut()
        {
            let _ = writeln!(pipe, "{line}");
        }
    }

    /// Generates everything and starts the daemons in order, each once the one before answers.
    fn boot(&mut self) -> Result<(), String> {
        let dir = self.dir.clone();
        for sub in ["etc", "munge", "run", "log", "state", "spool"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| format!("mkdir {sub}: {e}"))?;
        }
        // munged wants every directory above its socket searchable by all, and its key
        // private; tempfile makes the directory 0700.
        set_mode(&dir, 0o755)?;
        set_mode(&dir.join("run"), 0o755)?;
        set_mode(&dir.join("munge"), 0o700)?;
        let key = dir.join("munge/munge.key");
        std::fs::write(&key, random_key()?).map_err(|e| format!("write the munge key: {e}"))?;
        set_mode(&key, 0o600)?;

        let ports = Ports::pick(self.accounting);
        let munge_socket = dir.join("run/munge.socket");
        std::fs::write(
            &self.conf,
            slurm_conf(&dir, &self.node, &ports, &munge_socket, self.accounting),
        )
        .map_err(|e| format!("write slurm.conf: {e}"))?;
        std::fs::write(dir.join("etc/cgroup.conf"), CGROUP_CONF)
            .map_err(|e| format!("write cgroup.conf: {e}"))?;

        self.daemon(
            "munged",
            &[
                "-F".into(),
                format!("--socket={}", munge_socket.display()),
                format!("--key-file={}", key.display()),
                format!("--pid-file={}", dir.join("run/munged.pid").display()),
                format!("--log-file={}", dir.join("log/munged.log").display()),
                format!("--seed-file={}", dir.join("munge/seed").display()),
            ],
        )?;
        wait_until("munged's socket", Duration::from_secs(10), || {
            munge_socket.exists()
        })?;

        if self.accounting {
            self.start_accounting(&ports, &munge_socket)?;
        }

        let conf = self.conf.display().to_string();
        self.daemon("slurmctld", &["-D".into(), "-f".into(), conf.clone()])?;
        wait_until("slurmctld's port", Duration::from_secs(30), || {
            TcpStream::connect(("127.0.0.1", ports.slurmctld)).is_ok()
        })?;
        let slurmd_args = vec!["-D".to_string(), "-f".into(), conf];
        match self.hidden.clone() {
            None => self.daemon("slurmd", &slurmd_args)?,
            Some(hidden) => {
                std::fs::create_dir_all(&hidden).map_err(|e| format!("mkdir hidden: {e}"))?;
                set_mode(&hidden, 0o755)?;
                let slurmd = find("slurmd").ok_or("slurmd is not installed")?;
                // unshare and sh exec what follows, so the PID the guard is told is slurmd's.
                let mut args = vec![
                    "--mount".to_string(),
                    "--propagation=private".into(),
                    "--".into(),
                    "sh".into(),
                    "-c".into(),
                    "mount -t tmpfs -o size=1m,mode=0755 zenbuild-hidden \"$0\" && exec \"$@\""
                        .into(),
                    hidden.display().to_string(),
                    slurmd.display().to_string(),
                ];
                args.extend(slurmd_args);
                self.daemon("unshare", &args)?;
            }
        }
        wait_until("the node to be idle", Duration::from_mins(1), || {
            self.command("sinfo")
                .args(["-h", "-n", &self.node, "-o", "%T"])
                .output()
                .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "idle")
        })?;
        self.probe()
    }

    /// Runs one job to its end. An idle node is not yet a working cluster: slurmctld starts
    /// no job until its first scheduling pass, ~3 s after it starts, so a test's first job
    /// would wait that long and a timing in it would be off.
    fn probe(&self) -> Result<(), String> {
        let output = self
            .command("sbatch")
            .args(["--parsable", "--job-name=zenbuild-harness-probe"])
            .args(["--output=/dev/null", "--wrap=true"])
            .output()
            .map_err(|e| format!("sbatch: {e}"))?;
        let id = String::from_utf8_lossy(&output.stdout).trim().to_string();
        if !output.status.success() || id.is_empty() {
            return Err(format!(
                "sbatch of the probe job failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        wait_until("end of the probe job", Duration::from_mins(1), || {
            self.command("squeue")
                .args(["-h", "-t", "all", "-j", &id, "-o", "%T"])
                .output()
                .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "COMPLETED")
        })
    }

    /// `MariaDB` on 127.0.0.1 (`mariadb.rs`, as root without a password), and slurmdbd on
    /// it. slurmctld then registers the cluster itself (`sacctmgr list cluster` shows it), so
    /// no `sacctmgr add`.
    fn start_accounting(&mut self, ports: &Ports, munge_socket: &Path) -> Result<(), String> {
        let dir = self.dir.clone();
        // slurmdbd warns below these (and its table creation is slow with less).
        let database = MariaDb::start_with(&[
            "--innodb-buffer-pool-size=128M",
            "--innodb-lock-wait-timeout=900",
        ])
        .ok_or("MariaDB is not installed")?;
        let database_port = database.port;
        *self
            .database
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(database);

        let dbd_conf = dir.join("etc/slurmdbd.conf");
        std::fs::write(
            &dbd_conf,
            slurmdbd_conf(&dir, ports, database_port, munge_socket),
        )
        .map_err(|e| format!("write slurmdbd.conf: {e}"))?;
        // slurmdbd refuses a config others can read (it holds the database password).
        set_mode(&dbd_conf, 0o600)?;
        // slurmdbd reads slurmdbd.conf beside $SLURM_CONF.
        self.daemon("slurmdbd", &["-D".into()])?;
        wait_until("slurmdbd's port", Duration::from_mins(1), || {
            TcpStream::connect(("127.0.0.1", ports.slurmdbd)).is_ok()
        })
    }

    /// Starts a daemon in the foreground, in a process group of its own, its output in
    /// `log/NAME.out`, and tells the guard its PID.
    fn daemon(&mut self, name: &str, args: &[String]) -> Result<(), String> {
        let program = find(name).ok_or_else(|| format!("{name} is not installed"))?;
        let child = Command::new(program)
            .args(args)
            .env("SLURM_CONF", &self.conf)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log_file(&self.dir, &format!("{name}.out"))?)
            .stderr(log_file(&self.dir, &format!("{name}.out"))?)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        self.tell_guard(&child.id().to_string());
        self.daemons
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(child);
        Ok(())
    }
}

impl Drop for Slurm {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("slurm: kept {} for the failing test", self.dir.display());
            self.keep();
        }
        self.stop();
    }
}

/// Stops the shared clusters when the test binary exits (statics are never dropped). Their
/// guards would also do it once the process is gone; this makes the binary wait for it, so
/// that cargo's next test binary starts on a quiet machine.
fn stop_at_exit() {
    extern "C" fn stop_shared() {
        for shared in [&SHARED, &SHARED_WITH_ACCOUNTING, &SHARED_HIDING] {
            if let Some(Some(slurm)) = shared.get() {
                // Nothing may unwind out of an atexit hook.
                let _ = std::panic::catch_unwind(|| slurm.stop());
            }
        }
    }
    static REGISTERED: OnceLock<()> = OnceLock::new();
    REGISTERED.get_or_init(|| {
        // SAFETY: atexit takes a plain function pointer that stays valid for the process.
        unsafe { libc::atexit(stop_shared) };
    });
}

struct Ports {
    slurmctld: u16,
    slurmd: u16,
    slurmdbd: u16,
}

impl Ports {
    /// Free ports of 127.0.0.1, held open together so that they differ, then released.
    fn pick(accounting: bool) -> Ports {
        let count = if accounting { 3 } else { 2 };
        let listeners: Vec<TcpListener> = (0..count)
            .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
            .collect();
        let port = |i: usize| {
            listeners
                .get(i)
                .map_or(0, |l| l.local_addr().expect("its address").port())
        };
        Ports {
            slurmctld: port(0),
            slurmd: port(1),
            slurmdbd: port(2),
        }
    }
}

/// `task/cgroup` enforces `--mem` (this machine has cgroup v1 with the memory controller;
/// `CgroupPlugin=autodetect` picks v1 or v2).
const CGROUP_CONF: &str = "CgroupPlugin=autodetect
ConstrainRAMSpace=yes
ConstrainSwapSpace=yes
";

fn slurm_conf(dir: &Path, node: &str, ports: &Ports, munge_socket: &Path, db: bool) -> String {
    let dir = dir.display();
    let munge_socket = munge_socket.display();
    let first_job_id = u32::from(ports.slurmctld) * 1000;
    let accounting = if db {
        format!(
            "AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={}
AccountingStoragePass={munge_socket}
AccountingStoreFlags=job_comment",
            ports.slurmdbd
        )
    } else {
        "AccountingStorageType=accounting_storage/none".to_string()
    };
    format!(
        "ClusterName=zbtest
SlurmctldHost={node}(127.0.0.1)
SlurmUser=root
SlurmctldPort={ctld}
SlurmdPort={slurmd}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup
JobAcctGatherType=jobacct_gather/cgroup
JobAcctGatherFrequency=1
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
SlurmdParameters=config_overrides
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
FirstJobId={first_job_id}
MinJobAge=300
OverTimeLimit=0
KillWait=2
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/run/slurmctld.pid
SlurmdPidFile={dir}/run/slurmd.pid
SlurmctldLogFile={dir}/log/slurmctld.log
SlurmdLogFile={dir}/log/slurmd.log
{accounting}
JobCompType=jobcomp/none
NodeName={node} NodeAddr=127.0.0.1 CPUs={CPUS} RealMemory={REAL_MEMORY_MB} State=UNKNOWN
PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
",
        ctld = ports.slurmctld,
        slurmd = ports.slurmd,
    )
}

fn slurmdbd_conf(dir: &Path, ports: &Ports, database_port: u16, munge_socket: &Path) -> String {
    let dir = dir.display();
    format!(
        "AuthType=auth/munge
AuthInfo=socket={munge_socket}
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={dbd}
SlurmUser=root
LogFile={dir}/log/slurmdbd.log
PidFile={dir}/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={mariadb}
StorageUser=root
StorageLoc=slurm_acct_db
",
        munge_socket = munge_socket.display(),
        dbd = ports.slurmdbd,
        mariadb = database_port,
    )
}

/// `hostname -s`: the node's name, which slurmd looks itself up by.
fn short_hostname() -> String {
    let output = Command::new("hostname")
        .arg("-s")
        .output()
        .expect("run hostname -s");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A program on PATH or in the sbin directories that a non-login root PATH may lack.
fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into(), "/usr/bin".into()])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn unsafe_geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn random_key() -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut key = vec![0; 1024];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut key))
        .map_err(|e| format!("read /dev/urandom: {e}"))?;
    Ok(key)
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

fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while !ready() {
        if Instant::now() > deadline {
            return Err(format!("no {what} after {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn logs(dir: &Path) -> String {
    let Ok(entries) = std::fs::read_dir(dir.join("log")) else {
        return String::new();
    };
    let mut names: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
    names.sort();
    names
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(15)..].join("\n");
            format!("\n--- {} ---\n{tail}", path.display())
        })
        .collect()
}
