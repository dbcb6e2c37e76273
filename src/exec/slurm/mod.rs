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
//!
//! With `remote=` the nodes need not see the workspace at all: a few stager threads
//! (`stager.rs`) upload each attempt's inputs and description through the [`Courier`]
//! before the monitor submits it, the batch script runs `zenbuild worker` instead of the
//! command, and the end of a job is read from the worker's report in the remote once Slurm
//! says the job is over (`through_remote.rs`), instead of from an exit file.

mod commands;
mod ending;
mod ledger;
mod leftovers;
mod monitor;
pub mod script;
mod stager;
pub mod states;
mod through_remote;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::courier::{Courier, SENDERS, Sent};
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
    stagers: Vec<JoinHandle<()>>,
}

/// What the executor's caller, its monitor and its stagers share.
struct Shared {
    config: Config,
    /// With `remote=`: how actions reach the nodes, which do not see the workspace.
    courier: Option<Courier>,
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
    /// Attempts given to the executor and not yet handed to `sbatch` (with `remote=`: not
    /// yet taken by a stager).
    queued: VecDeque<Queued>,
    /// With `remote=`: attempts a stager is uploading, those of them the scheduler asked to
    /// stop meanwhile, and those uploaded and waiting for `sbatch`.
    sending: HashSet<Ticket>,
    stop_after_send: HashSet<Ticket>,
    staged: VecDeque<Queued>,
    /// With `remote=`: why no attempt can run on this cluster (zenbuild missing on its
    /// nodes): every later attempt ends with it at once, so the build fails with one message.
    broken: Option<String>,
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
    /// With `remote=`, once staged: the attempt in the remote.
    sent: Option<Sent>,
}

/// A job in flight, as the monitor knows it.
struct Job {
    id: String,
    spec: ActionSpec,
    files: AttemptFiles,
    /// With `remote=`: the attempt in the remote, whose report says how it ended.
    sent: Option<Sent>,
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
    /// (`.zenbuild/slurm/`) and, given a `courier`, moving each action through its remote;
    /// its jobs are cancelled when `interrupt` is raised. Returns the
    /// notes for the user: jobs an earlier, killed build left behind are cancelled first,
    /// and the build waits (a bounded time) until Slurm says they are over, so that none of
    /// them writes into an output this build is making.
    pub fn start(
        name: &str,
        settings: &SlurmSettings,
        slurm_dir: &Path,
        courier: Option<Courier>,
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
        let staging = courier.is_some();
        let shared = Arc::new(Shared {
            config,
            courier,
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
        let stagers = (0..if staging { SENDERS } else { 0 })
            .filter_map(|index| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("slurm {name} stager {index}"))
                    .spawn(move || stager::run(&shared))
                    .ok()
            })
            .collect::<Vec<_>>();
        let monitor = monitor.filter(|_| !staging || !stagers.is_empty());
        let executor = SlurmExecutor {
            name: name.to_string(),
            shared,
            monitor,
            stagers,
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
        if let Some(why) = &state.broken {
            return Err(why.clone());
        }
        let ticket = Ticket(state.next);
        state.next += 1;
        state.queued.push_back(Queued {
            ticket,
            spec,
            wake: wake.clone(),
            sent: None,
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

    fn transferred(&self) -> Option<(u64, u64)> {
        self.shared.courier.as_ref().map(Courier::moved)
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
        for thread in self.stagers.drain(..).chain(self.monitor.take()) {
            let _ = thread.join();
        }
    }
}

impl State {
    /// The attempts ready for `sbatch`: as queued, or (`through_remote`) once uploaded.
    fn ready(&mut self, through_remote: bool) -> &mut VecDeque<Queued> {
        if through_remote {
            &mut self.staged
        } else {
            &mut self.queued
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
