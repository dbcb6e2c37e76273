//! Where a step's command runs: the contract between the scheduler and a backend.
//!
//! The scheduler [`submit`](Executor::submit)s an [`ActionSpec`] and gets a [`Ticket`] back at
//! once; it learns how attempts ended by calling [`poll`](Executor::poll), which returns every
//! attempt that ended since the last call. So a backend keeps as many actions in flight as the
//! scheduler gives it and asks its engine about all of them once per poll (one `squeue` for
//! hundreds of jobs), with no thread waiting per action. A backend that learns of an ending
//! between polls (a process exits) calls the [`Wake`] it was given, so that the scheduler polls
//! at once instead of at its next tick. [`cancel`](Executor::cancel) asks an attempt to stop;
//! its ending still comes through `poll`, as [`Ending::Cancelled`](super::ended::Ending).
//!
//! The executor is not part of the action key: where a step ran never changes what it means.

use std::sync::Arc;
use std::time::Duration;

pub use super::ended::{Ended, Ending, OutputsAt, Timings, Usage};
pub use super::local_executor::LocalExecutor;
pub use super::spec::ActionSpec;

/// A backend that runs actions.
pub trait Executor: Sync {
    /// The backend's name, as results record where they ran (`local`, `slurm`).
    fn name(&self) -> &str;

    /// Starts an attempt, or queues it with the backend, and returns without waiting for it.
    /// `wake` may be called (from any thread, any number of times) when something is ready
    /// for [`Executor::poll`]. An error means the attempt never started, as a phrase that
    /// follows "could not start: ".
    fn submit(&self, spec: ActionSpec, wake: &Wake) -> Result<Ticket, String>;

    /// Every attempt that ended since the last call, each reported once. It may ask the
    /// backend's engine (once for all attempts in flight) but must not wait for an attempt
    /// to end.
    fn poll(&self) -> Vec<(Ticket, Ended)>;

    /// Asks an attempt to stop. It is reported by `poll` once it has stopped; a ticket that
    /// already ended is ignored.
    fn cancel(&self, ticket: Ticket);

    /// The attempts that wait in the backend's own queue, each with the backend's reason,
    /// as its last look at them found: shown while a cluster is busy. Must not wait.
    fn queued(&self) -> Vec<(Ticket, String)> {
        Vec::new()
    }

    /// The bytes it sent to and brought back from a remote so far, for a backend whose
    /// actions travel through one; `None` for one that shares the workspace.
    fn transferred(&self) -> Option<(u64, u64)> {
        None
    }

    /// The longest the scheduler waits between polls when nothing wakes it: how fresh the
    /// backend's own view of its attempts should be kept.
    fn poll_every(&self) -> Duration {
        Duration::from_millis(50)
    }
}

/// An executor's handle on one submitted attempt, unique within that executor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ticket(pub u64);

/// Tells the scheduler that an executor has something for [`Executor::poll`].
#[derive(Clone)]
pub struct Wake(Arc<dyn Fn() + Send + Sync>);

impl Wake {
    pub fn new(wake: impl Fn() + Send + Sync + 'static) -> Wake {
        Wake(Arc::new(wake))
    }

    pub fn wake(&self) {
        (self.0)();
    }
}

impl std::fmt::Debug for Wake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Wake")
    }
}

/// For a thread of an executor that works through a queue: waits on `work` until `take`
/// gives it something from the state `guard` holds, or `closing` says the executor closes
/// (`None`).
pub fn wait_for<'a, S, T>(
    mut guard: std::sync::MutexGuard<'a, S>,
    work: &std::sync::Condvar,
    closing: impl Fn(&S) -> bool,
    mut take: impl FnMut(&mut S) -> Option<T>,
) -> Option<(std::sync::MutexGuard<'a, S>, T)> {
    loop {
        if closing(&guard) {
            return None;
        }
        if let Some(taken) = take(&mut guard) {
            return Some((guard, taken));
        }
        guard = work
            .wait(guard)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
    }
}

/// Runs one attempt on `executor` and waits for its end: for a caller that has one action to
/// run and nothing else to do meanwhile (`zenbuild verify`).
pub fn run_one(executor: &dyn Executor, spec: ActionSpec) -> Ended {
    let (woken, wakes) = std::sync::mpsc::channel();
    let wake = Wake::new(move || {
        let _ = woken.send(());
    });
    let ticket = match executor.submit(spec, &wake) {
        Ok(ticket) => ticket,
        Err(why) => return Ended::new(Ending::NotStarted(why), executor.name()),
    };
    loop {
        if let Some((_, ended)) = executor.poll().into_iter().find(|(t, _)| *t == ticket) {
            return ended;
        }
        let _ = wakes.recv_timeout(executor.poll_every());
    }
}
