//! The Slurm executor: each attempt a batch job on a cluster whose nodes share the
//! workspace's file system, planned, hashed and cached here (on the login node).
//!
//! [`SlurmExecutor::submit`] only queues an attempt; one thread of the executor (the
//! `monitor`) does all the talking to Slurm, so that a build of thousands of steps sends a
//! bounded number of submissions per second and **one** status query per polling cycle for
//! all its jobs (`squeue` filtered by the build's job name, or `sacct` when the cluster keeps
//! accounting), backing off from `poll-min` to `poll-max` while nothing changes. Between
//! queries it only looks at the files the jobs write in the workspace: the exit code each
//! batch script leaves (the source of truth for how the command ended) is seen within a
//! quarter of a second, without asking the controller anything.
//!
//! Each build's jobs share one name (`zenbuild-…`), carry the action's name as their comment,
//! and are written down in a ledger (`ledger.rs`) until they end, so that the next build
//! cancels what a killed one left behind.

mod commands;
mod ending;
mod ledger;
mod leftovers;
mod monitor;
pub mod script;
pub mod states;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::executor::{ActionSpec, Ended, Executor, Ticket, Wake};
use super::interrupt::Interrupt;
use crate::hash::Digest;
use crate::manifest::model::SlurmSettings;
use script::AttemptFiles;
use states::JobState;

/// Jobs in flight at once when the executor does not say (`jobs=`).
pub const DEFAULT_JOBS: u32 = 100;
const DEFAULT_POLL_MIN: Duration = Duration::from_secs(2);
const DEFAULT_POLL_MAX: Duration = Duration::from_secs(30);
const DEFAULT_LATENCY_WAIT: Duration = Duration::from_secs(5);
const DEFAULT_SUBMIT_RATE: u32 = 20;
const DEFAULT_NODE_RETRIES: u32 = 3;

/// Runs attempts as Slurm batch jobs.
pub struct SlurmExecutor {
    name: String,
    shared: Arc<Shared>,
    monitor: Option<JoinHandle<()>>,
}

/// What the executor's caller and its monitor share.
struct Shared {
    config: Config,
    state: Mutex<State>,
    /// Signalled when there is something for the monitor: a submission, a cancel, the end.
    work: Condvar,
}

/// Everything about the executor that does not change during a build.
struct Config {
    /// The executor's name in the manifest, as results record where they ran.
    executor: String,
    settings: SlurmSettings,
    /// The one name of this build's jobs, which status queries filter by.
    job_name: String,
    /// Where this build's batch scripts and exit files go.
    dir: PathBuf,
    poll_min: Duration,
    poll_max: Duration,
    latency_wait: Duration,
    submit_every: Duration,
    node_retries: u32,
    inherited: Vec<(String, String)>,
    interrupt: Interrupt,
}

#[derive(Default)]
struct State {
    next: u64,
    /// Attempts given to the executor and not yet handed to `sbatch`.
    queued: VecDeque<Queued>,
    /// Submitted jobs whose end has not been reported.
    jobs: HashMap<Ticket, Job>,
    /// Attempts the scheduler asked to stop.
    cancels: Vec<Ticket>,
    ended: Vec<(Ticket, Ended)>,
    /// The nodes that failed under each action's jobs, which its next job avoids, and how
    /// many of its jobs were lost so.
    failed_nodes: HashMap<Digest, Vec<String>>,
    losses: HashMap<Digest, u32>,
    /// The build is over: submit nothing more, cancel what is left, stop.
    closing: bool,
}

struct Queued {
    ticket: Ticket,
    spec: ActionSpec,
    wake: Wake,
}

/// A job in flight, as the monitor knows it.
struct Job {
    id: String,
    spec: ActionSpec,
    files: AttemptFiles,
    wake: Wake,
    submitted: Instant,
    /// When a query first saw it start.
    started: Option<Instant>,
    /// What the last status query said, and the nodes it gave.
    state: Option<JobState>,
    nodes: String,
    /// When a query first did not list it.
    missing_since: Option<Instant>,
    /// When a query first saw it over.
    over_since: Option<Instant>,
    /// What its exit file says, and when that was first read.
    exit: Option<(script::Written, Instant)>,
    /// Whether a status query has been made since the exit file was read.
    queried_after_exit: bool,
    cancelled: bool,
}

impl SlurmExecutor {
    /// An executor named `name` with `settings`, keeping its files in `slurm_dir`
    /// (`.zenbuild/slurm/`); its jobs are cancelled when `interrupt` is raised. Returns the
    /// notes for the user: jobs an earlier, killed build left behind are cancelled first,
    /// and the build waits (a bounded time) until Slurm says they are over, so that none of
    /// them writes into an output this build is making.
    pub fn start(
        name: &str,
        settings: &SlurmSettings,
        slurm_dir: &Path,
        interrupt: Interrupt,
    ) -> (SlurmExecutor, Vec<String>) {
        let job_name = format!("zenbuild-{}", build_tag());
        let mut ledger = ledger::Ledger::new(slurm_dir, name);
        let notes = leftovers::cancel_leftovers(&mut ledger);
        let submit_rate = settings.submit_rate.unwrap_or(DEFAULT_SUBMIT_RATE).max(1);
        let config = Config {
            executor: name.to_string(),
            settings: settings.clone(),
            dir: slurm_dir.join(&job_name),
            job_name,
            poll_min: settings.poll_min.unwrap_or(DEFAULT_POLL_MIN),
            poll_max: settings
                .poll_max
                .unwrap_or(DEFAULT_POLL_MAX)
                .max(settings.poll_min.unwrap_or(DEFAULT_POLL_MIN)),
            latency_wait: settings.latency_wait.unwrap_or(DEFAULT_LATENCY_WAIT),
            submit_every: Duration::from_secs(1) / submit_rate,
            node_retries: settings.node_retries.unwrap_or(DEFAULT_NODE_RETRIES),
            inherited: script::inherited_env(),
            interrupt,
        };
        let shared = Arc::new(Shared {
            config,
            state: Mutex::default(),
            work: Condvar::new(),
        });
        let monitor = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("slurm {name}"))
                .spawn(move || monitor::run(&shared, ledger))
                .ok()
        };
        let executor = SlurmExecutor {
            name: name.to_string(),
            shared,
            monitor,
        };
        (executor, notes)
    }
}

impl Executor for SlurmExecutor {
    fn name(&self) -> &str {
        &self.name
    }

    fn submit(&self, spec: ActionSpec, wake: &Wake) -> Result<Ticket, String> {
        if self.monitor.is_none() {
            return Err("the thread that talks to Slurm could not be started".to_string());
        }
        let mut state = lock(&self.shared.state);
        let ticket = Ticket(state.next);
        state.next += 1;
        state.queued.push_back(Queued {
            ticket,
            spec,
            wake: wake.clone(),
        });
        drop(state);
        self.shared.work.notify_all();
        Ok(ticket)
    }

    fn poll(&self) -> Vec<(Ticket, Ended)> {
        std::mem::take(&mut lock(&self.shared.state).ended)
    }

    fn cancel(&self, ticket: Ticket) {
        lock(&self.shared.state).cancels.push(ticket);
        self.shared.work.notify_all();
    }

    fn queued(&self) -> Vec<(Ticket, String)> {
        lock(&self.shared.state)
            .jobs
            .iter()
            .filter_map(|(ticket, job)| match &job.state {
                Some(JobState::Pending(reason)) => Some((*ticket, reason.clone())),
                _ => None,
            })
            .collect()
    }

    fn poll_every(&self) -> Duration {
        // The monitor wakes the scheduler when something ended; this only bounds how long
        // an end could wait if a wake were lost.
        Duration::from_millis(500)
    }
}

impl Drop for SlurmExecutor {
    fn drop(&mut self) {
        lock(&self.shared.state).closing = true;
        self.shared.work.notify_all();
        if let Some(monitor) = self.monitor.take() {
            let _ = monitor.join();
        }
    }
}

/// A name for this build's jobs that no other build shares: the time and this process.
pub(super) fn build_tag() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let seed = format!("{}:{}:{}", now.as_nanos(), std::process::id(), hostname());
    Digest::of(seed.as_bytes()).to_hex()[..12].to_string()
}

fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// The state stays sound if a thread panicked holding it.
fn lock(mutex: &Mutex<State>) -> MutexGuard<'_, State> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
