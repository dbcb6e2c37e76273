//! The local executor: each attempt a process on this machine (see [`super::local`]), watched
//! by a thread of its own that sleeps in `poll(2)` until the process exits, prints or must be
//! stopped. The scheduler never waits on a process: it is woken when one ends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::executor::{ActionSpec, Ended, Ending, Executor, Ticket, Wake};
use super::interrupt::Interrupt;
use super::local::{self, Command, DEFAULT_GRACE, RunOutcome};

/// Runs attempts as processes here, `sh -c` in their own process group.
#[derive(Debug)]
pub struct LocalExecutor {
    /// Ctrl-C: every attempt stops when it is raised, whether or not the scheduler cancels it.
    interrupt: Interrupt,
    /// Between SIGTERM and SIGKILL when an attempt is stopped.
    grace: Duration,
    next: AtomicU64,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    /// Each running attempt's own stop flag, a child of the build's interrupt.
    running: Mutex<HashMap<Ticket, Interrupt>>,
    ended: Mutex<Vec<(Ticket, Ended)>>,
}

impl LocalExecutor {
    /// An executor whose attempts all stop when `interrupt` is raised.
    pub fn new(interrupt: Interrupt) -> LocalExecutor {
        LocalExecutor {
            interrupt,
            grace: DEFAULT_GRACE,
            next: AtomicU64::new(0),
            shared: Arc::default(),
        }
    }

    /// The same with another grace period, for tests that stop steps.
    #[must_use]
    pub fn with_grace(self, grace: Duration) -> LocalExecutor {
        LocalExecutor { grace, ..self }
    }
}

impl Executor for LocalExecutor {
    fn name(&self) -> &'static str {
        "local"
    }

    fn submit(&self, spec: ActionSpec, wake: &Wake) -> Result<Ticket, String> {
        let ticket = Ticket(self.next.fetch_add(1, Ordering::Relaxed));
        let stop = self.interrupt.child();
        lock(&self.shared.running).insert(ticket, stop.clone());
        let shared = Arc::clone(&self.shared);
        let (grace, wake) = (self.grace, wake.clone());
        let watcher = std::thread::Builder::new()
            .name(format!("step {}", spec.name))
            .spawn(move || {
                let ended = run(&spec, grace, &stop);
                lock(&shared.running).remove(&ticket);
                lock(&shared.ended).push((ticket, ended));
                wake.wake();
            });
        match watcher {
            Ok(_) => Ok(ticket),
            Err(e) => {
                lock(&self.shared.running).remove(&ticket);
                Err(format!("cannot start a thread to watch it: {e}"))
            }
        }
    }

    fn poll(&self) -> Vec<(Ticket, Ended)> {
        std::mem::take(&mut *lock(&self.shared.ended))
    }

    fn cancel(&self, ticket: Ticket) {
        if let Some(stop) = lock(&self.shared.running).get(&ticket) {
            stop.trigger();
        }
    }
}

/// Runs one attempt to its end and says how it ended.
fn run(spec: &ActionSpec, grace: Duration, stop: &Interrupt) -> Ended {
    let workdir = spec.workdir_path();
    let command = Command {
        cmd: &spec.command,
        workdir: &workdir,
        env: &spec.env,
        extra_env: Vec::new(),
        timeout: spec.timeout,
        grace,
        log_path: &spec.log,
    };
    let (how, ran) = match local::run(&command, stop) {
        RunOutcome::Exited { code, duration } => (Ending::Exited(code), duration),
        RunOutcome::Signalled { signal, duration } => (Ending::Signalled(signal), duration),
        RunOutcome::TimedOut { after } => (Ending::TimedOut(after), after),
        RunOutcome::Interrupted => (Ending::Cancelled, Duration::ZERO),
        RunOutcome::SpawnFailed(e) => (Ending::NotStarted(e.to_string()), Duration::ZERO),
        RunOutcome::WaitFailed(e) => (
            Ending::Lost(format!("could not be waited for: {e}")),
            Duration::ZERO,
        ),
    };
    let mut ended = Ended::new(how, "local");
    ended.timings.ran = ran;
    ended.log = spec.log.is_file().then(|| spec.log.clone());
    ended
}

/// The maps stay sound if a watcher panicked holding one.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
