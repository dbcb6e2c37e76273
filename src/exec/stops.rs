//! Stopping single running actions: watch mode cancels the steps whose inputs changed under
//! them and lets the others finish. The watcher asks here, from its own thread; the scheduler
//! takes the requests at its next tick and cancels those actions' attempts with their
//! executor, which reports them as cancelled (an interrupted action, neither cached nor
//! retried). Ctrl-C still stops everything, through the build's interrupt.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};

#[derive(Debug, Default)]
pub struct ActionStops {
    /// The actions being run now, by name, from their first attempt to their outcome.
    running: Mutex<HashSet<String>>,
    /// Cancellations asked for and not yet taken by the scheduler.
    requested: Mutex<Vec<String>>,
}

impl ActionStops {
    /// Action `name` starts running.
    pub fn start(&self, name: &str) {
        lock(&self.running).insert(name.to_string());
    }

    /// Action `name` has its outcome.
    pub fn finish(&self, name: &str) {
        lock(&self.running).remove(name);
    }

    /// Asks to stop action `name` if it is running; says whether it was.
    pub fn cancel(&self, name: &str) -> bool {
        if !lock(&self.running).contains(name) {
            return false;
        }
        lock(&self.requested).push(name.to_string());
        true
    }

    /// The cancellations asked for since the last call, for the scheduler.
    pub fn take_requested(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.requested))
    }

    /// Forgets requests nobody took, before a new build.
    pub fn reset(&self) {
        lock(&self.requested).clear();
    }

    /// The actions running now, by name.
    pub fn running(&self) -> Vec<String> {
        lock(&self.running).iter().cloned().collect()
    }
}

/// The data behind these locks stays sound if a worker panicked holding one.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_running_action_can_be_cancelled_and_each_request_is_taken_once() {
        let stops = ActionStops::default();
        stops.start("a");
        stops.start("b");
        assert!(stops.cancel("a"));
        assert!(!stops.cancel("c"), "never started");
        assert_eq!(stops.take_requested(), ["a"]);
        assert!(stops.take_requested().is_empty());
        stops.finish("a");
        assert!(!stops.cancel("a"), "no longer running");
        assert_eq!(stops.running(), ["b"]);
        assert!(stops.cancel("b"));
        stops.reset();
        assert!(stops.take_requested().is_empty());
    }
}
