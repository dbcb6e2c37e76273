//! Stopping single running actions: watch mode cancels the steps whose inputs changed under
//! them and lets the others finish. Each running action gets its own [`Interrupt`], a child
//! of the build's, so Ctrl-C still stops everything.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use super::interrupt::Interrupt;

#[derive(Debug, Default)]
pub struct ActionStops {
    running: Mutex<HashMap<String, Interrupt>>,
    cancelled: Mutex<HashSet<String>>,
}

impl ActionStops {
    /// The flag the command of action `name` watches while it runs.
    pub fn start(&self, name: &str, build: &Interrupt) -> Interrupt {
        let stop = build.child();
        lock(&self.running).insert(name.to_string(), stop.clone());
        stop
    }

    pub fn finish(&self, name: &str) {
        lock(&self.running).remove(name);
    }

    /// Stops action `name` if it is running; says whether it was.
    pub fn cancel(&self, name: &str) -> bool {
        let Some(stop) = lock(&self.running).get(name).cloned() else {
            return false;
        };
        lock(&self.cancelled).insert(name.to_string());
        stop.trigger();
        true
    }

    /// Whether action `name` was stopped by [`ActionStops::cancel`] (rather than failing).
    pub fn was_cancelled(&self, name: &str) -> bool {
        lock(&self.cancelled).contains(name)
    }

    /// Forgets past cancellations, before a new build.
    pub fn reset(&self) {
        lock(&self.cancelled).clear();
    }

    /// The actions running now, by name.
    pub fn running(&self) -> Vec<String> {
        lock(&self.running).keys().cloned().collect()
    }
}

/// The data behind these locks stays sound if a worker panicked holding one.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancels_one_action_and_remembers_it() {
        let build = Interrupt::new();
        let stops = ActionStops::default();
        let a = stops.start("a", &build);
        let b = stops.start("b", &build);
        assert!(stops.cancel("a"));
        assert!(a.is_triggered() && !b.is_triggered());
        assert!(stops.was_cancelled("a") && !stops.was_cancelled("b"));
        stops.finish("a");
        assert!(!stops.cancel("a"), "no longer running");
        assert_eq!(stops.running(), ["b"]);
        build.trigger();
        assert!(b.is_triggered());
        stops.reset();
        assert!(!stops.was_cancelled("a"));
    }
}
