//! The Ray executor: each attempt a job on a Ray cluster, submitted through the Jobs REST API
//! of its dashboard. Ray's machines do not see the workspace, so every action travels through
//! the team remote the executor names (`remote=`): the [`Courier`] uploads the inputs and a
//! description of the action, the job runs `zenbuild worker`, which fetches them, runs the
//! command and writes the result back, and the courier brings the outputs home.
//!
//! [`RayExecutor::submit`] only queues an attempt. A few sender threads do the uploads and
//! the submissions (uploads can take long; polling must not wait behind them), and one monitor
//! thread lists all jobs once per polling cycle (`GET /api/jobs/`, backing off from
//! `poll-min` to `poll-max` while nothing changes), stops what the scheduler cancels, and
//! reads each ended job's report from the remote.

pub mod api;
mod monitor;
mod sender;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::courier::{Courier, SENDERS, Sent};
use super::executor::{ActionSpec, Ended, Executor, Ticket, Wake};
use super::interrupt::Interrupt;
use crate::manifest::model::RaySettings;
use api::{JobStatus, RayJobs};

/// Jobs in flight at once when the executor does not say (`jobs=`).
pub const DEFAULT_JOBS: u32 = 100;
const DEFAULT_POLL_MIN: Duration = Duration::from_secs(1);
const DEFAULT_POLL_MAX: Duration = Duration::from_secs(10);

/// Runs attempts as Ray jobs.
pub struct RayExecutor {
    name: String,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

/// What the executor's caller, its senders and its monitor share.
struct Shared {
    config: Config,
    jobs_api: RayJobs,
    courier: Courier,
    /// Whether the Jobs API answered when first asked, by the first attempt sent: a build
    /// whose steps on this cluster are all cached never asks.
    reachable: OnceLock<Result<(), String>>,
    state: Mutex<State>,
    /// Signalled when there is something for the threads: a submission, a cancel, the end.
    work: Condvar,
}

/// What does not change during a build.
struct Config {
    /// The executor's name in the manifest, as results record where they ran.
    executor: String,
    /// The start of this build's submission ids, which tells its jobs from others'.
    tag: String,
    poll_min: Duration,
    poll_max: Duration,
    interrupt: Interrupt,
}

#[derive(Default)]
struct State {
    next: u64,
    /// Attempts given to the executor and not yet taken by a sender.
    queued: VecDeque<Queued>,
    /// Attempts a sender is uploading and submitting, and those of them the scheduler asked
    /// to stop meanwhile.
    sending: HashSet<Ticket>,
    stop_after_send: HashSet<Ticket>,
    /// Submitted jobs whose end has not been reported.
    jobs: HashMap<Ticket, Job>,
    /// Attempts the scheduler asked to stop.
    cancels: Vec<Ticket>,
    ended: Vec<(Ticket, Ended)>,
    /// Why no attempt can run on this cluster (zenbuild missing on its machines): every
    /// later attempt ends with it at once, so the build fails with one message.
    broken: Option<String>,
    /// The build is over: submit nothing more, stop what is left, end the threads.
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
    sent: Sent,
    wake: Wake,
    submitted: Instant,
    /// When a listing first saw it running.
    started: Option<Instant>,
    /// What the last listing said of it.
    status: Option<JobStatus>,
    message: String,
    /// The entrypoint's exit code, once Ray knows it.
    exit_code: Option<i32>,
    /// When a listing first did not have it.
    missing_since: Option<Instant>,
    cancelled: bool,
}

impl RayExecutor {
    /// An executor named `name` with `settings`, moving actions through `courier`; its jobs
    /// are stopped when `interrupt` is raised. Nothing is asked of the cluster until an
    /// attempt is submitted.
    pub fn start(
        name: &str,
        settings: &RaySettings,
        courier: Courier,
        interrupt: Interrupt,
    ) -> Result<RayExecutor, String> {
        let jobs_api =
            RayJobs::new(&settings.url).map_err(|e| format!("executor `{name}`: {e}"))?;
        let poll_min = settings.poll_min.unwrap_or(DEFAULT_POLL_MIN);
        let config = Config {
            executor: name.to_string(),
            tag: format!("zenbuild-{}", super::slurm::build_tag()),
            poll_min,
            poll_max: settings.poll_max.unwrap_or(DEFAULT_POLL_MAX).max(poll_min),
            interrupt,
        };
        let shared = Arc::new(Shared {
            config,
            jobs_api,
            courier,
            reachable: OnceLock::new(),
            state: Mutex::default(),
            work: Condvar::new(),
        });
        let mut threads = Vec::new();
        for index in 0..SENDERS {
            let shared = Arc::clone(&shared);
            let thread = std::thread::Builder::new()
                .name(format!("ray {name} sender {index}"))
                .spawn(move || sender::run(&shared))
                .map_err(|e| format!("executor `{name}`: cannot start a thread: {e}"))?;
            threads.push(thread);
        }
        let monitor = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("ray {name}"))
                .spawn(move || monitor::run(&shared))
                .map_err(|e| format!("executor `{name}`: cannot start a thread: {e}"))?
        };
        threads.push(monitor);
        Ok(RayExecutor {
            name: name.to_string(),
            shared,
            threads,
        })
    }
}

impl Executor for RayExecutor {
    fn name(&self) -> &str {
        &self.name
    }

    fn submit(&self, spec: ActionSpec, wake: &Wake) -> Result<Ticket, String> {
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
            .filter(|(_, job)| job.status == Some(JobStatus::Pending))
            .map(|(ticket, job)| (*ticket, pending_reason(&job.message)))
            .collect()
    }

    fn transferred(&self) -> Option<(u64, u64)> {
        Some(self.shared.courier.moved())
    }

    fn poll_every(&self) -> Duration {
        // The monitor wakes the scheduler when something ended; this only bounds how long
        // an end could wait if a wake were lost.
        Duration::from_millis(500)
    }
}

impl Drop for RayExecutor {
    fn drop(&mut self) {
        lock(&self.shared.state).closing = true;
        self.shared.work.notify_all();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// What keeps a pending job waiting, as the progress bar shows it: Ray's sentence for a job
/// that waits for free CPUs, GPUs or memory is the ordinary `Resources` (as Slurm says it),
/// anything else Ray's own words.
fn pending_reason(message: &str) -> String {
    if message.is_empty() || message.starts_with("Job has not started yet") {
        "Resources".to_string()
    } else {
        message.to_string()
    }
}

/// The state stays sound if a thread panicked holding it.
fn lock(mutex: &Mutex<State>) -> MutexGuard<'_, State> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::pending_reason;

    #[test]
    fn waiting_for_resources_is_the_ordinary_wait() {
        assert_eq!(
            pending_reason(
                "Job has not started yet. It may be waiting for resources (CPUs, GPUs, memory, \
                 custom resources) to become available."
            ),
            "Resources"
        );
        assert_eq!(pending_reason(""), "Resources");
        assert_eq!(
            pending_reason("Runtime env is setting up."),
            "Runtime env is setting up."
        );
    }
}
