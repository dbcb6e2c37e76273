//! The local executor: each attempt a process on this machine (see [`super::local`]), watched
//! by a thread that sleeps in `poll(2)` until the process exits, prints or must be stopped.
//! The scheduler never waits on a process: it is woken when one ends. A watcher that is done
//! waits for the next attempt rather than exiting, so a build of a thousand short steps starts
//! as many threads as it runs steps at once, not a thousand.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
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
    next: AtomicU64,
    shared: Arc<Shared>,
    /// Attempts for the watchers that wait for one; dropped with the executor, which ends
    /// them.
    handed: Sender<Handed>,
}

/// One attempt whose process started, as a watcher takes it.
struct Handed {
    ticket: Ticket,
    spec: ActionSpec,
    started: local::Started,
    stop: Interrupt,
    wake: Wake,
}

#[derive(Debug)]
struct Shared {
    /// Each running attempt's own stop flag, a child of the build's interrupt.
    running: Mutex<HashMap<Ticket, Interrupt>>,
    ended: Mutex<Vec<(Ticket, Ended)>>,
    /// Watchers waiting for an attempt, less those already promised one.
    idle: AtomicUsize,
    waiting: Mutex<Receiver<Handed>>,
}

impl LocalExecutor {
    /// An executor whose attempts all stop when `interrupt` is raised.
    pub fn new(interrupt: Interrupt) -> LocalExecutor {
        let (handed, waiting) = mpsc::channel();
        LocalExecutor {
            interrupt,
            next: AtomicU64::new(0),
            shared: Arc::new(Shared {
                running: Mutex::default(),
                ended: Mutex::default(),
                idle: AtomicUsize::new(0),
                waiting: Mutex::new(waiting),
            }),
            handed,
        }
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
        // Started here, on the submitting thread, so that a step starts without waiting for
        // another thread to be scheduled; only the waiting is handed on.
        let workdir = spec.workdir_path();
        let started = match local::start(&command(&spec, &workdir), &stop) {
            Ok(started) => started,
            Err(outcome) => {
                lock(&self.shared.running).remove(&ticket);
                lock(&self.shared.ended).push((ticket, ended(outcome, &spec)));
                wake.wake();
                return Ok(ticket);
            }
        };
        let handed = Handed {
            ticket,
            spec,
            started,
            stop,
            wake: wake.clone(),
        };
        // A watcher is promised this attempt before it is sent, so that each one sent has a
        // watcher that will take it, never waiting behind a running step.
        let promised = self
            .shared
            .idle
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |idle| {
                idle.checked_sub(1)
            })
            .is_ok();
        if promised {
            if let Err(mpsc::SendError(handed)) = self.handed.send(handed) {
                // Cannot happen while the executor holds the receiver's other end.
                return self.spawn_watcher(handed);
            }
            return Ok(ticket);
        }
        self.spawn_watcher(handed)
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

impl LocalExecutor {
    /// A new watcher, for `first` and then whatever it is handed.
    fn spawn_watcher(&self, first: Handed) -> Result<Ticket, String> {
        let ticket = first.ticket;
        let shared = Arc::clone(&self.shared);
        let name = format!("step {}", first.spec.name);
        let started = std::thread::Builder::new().name(name).spawn(move || {
            let mut next = first;
            loop {
                let Handed {
                    ticket,
                    spec,
                    started,
                    stop,
                    wake,
                } = next;
                let workdir = spec.workdir_path();
                let outcome = started.wait(&command(&spec, &workdir), &stop);
                lock(&shared.running).remove(&ticket);
                lock(&shared.ended).push((ticket, ended(outcome, &spec)));
                wake.wake();
                shared.idle.fetch_add(1, Ordering::SeqCst);
                // The executor is gone when this fails: nothing more will come.
                match lock(&shared.waiting).recv() {
                    Ok(handed) => next = handed,
                    Err(_) => return,
                }
            }
        });
        match started {
            Ok(_) => Ok(ticket),
            Err(e) => {
                lock(&self.shared.running).remove(&ticket);
                Err(format!("cannot start a thread to watch it: {e}"))
            }
        }
    }
}

/// The command that runs `spec` in `workdir` (its absolute working directory).
fn command<'a>(spec: &'a ActionSpec, workdir: &'a Path) -> Command<'a> {
    Command {
        cmd: &spec.command,
        workdir,
        env: &spec.env,
        extra_env: Vec::new(),
        timeout: spec.timeout,
        grace: DEFAULT_GRACE,
        log_path: &spec.log,
        echo: false,
    }
}

/// How the attempt at `spec` ended, from what running its command came to.
fn ended(outcome: RunOutcome, spec: &ActionSpec) -> Ended {
    let (how, ran) = match outcome {
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
