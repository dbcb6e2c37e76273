//! Several executors behind one: each attempt goes to the executor its step selected
//! ([`ActionSpec::executor`]), and the scheduler sees one set of tickets. A build whose steps
//! all run here never uses it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::executor::{ActionSpec, Ended, Executor, Ticket, Wake};

/// The executors of one build, by name; the first takes what names none of them.
pub struct Router<'a> {
    backends: Vec<(String, &'a dyn Executor)>,
    next: AtomicU64,
    tickets: Mutex<Tickets>,
}

#[derive(Default)]
struct Tickets {
    /// The router's ticket of each attempt in flight, by its backend and that backend's
    /// ticket, and the other way round.
    outer: HashMap<(usize, Ticket), Ticket>,
    inner: HashMap<Ticket, (usize, Ticket)>,
    /// Ends a backend reported before the submitting thread recorded the attempt.
    early: Vec<((usize, Ticket), Ended)>,
}

impl<'a> Router<'a> {
    /// Routes to `backends`, each under the name steps select it by.
    pub fn new(backends: Vec<(String, &'a dyn Executor)>) -> Router<'a> {
        Router {
            backends,
            next: AtomicU64::new(0),
            tickets: Mutex::default(),
        }
    }

    fn backend_of(&self, spec: &ActionSpec) -> usize {
        self.backends
            .iter()
            .position(|(name, _)| *name == spec.executor)
            .unwrap_or(0)
    }
}

impl Executor for Router<'_> {
    fn name(&self) -> &str {
        self.backends.first().map_or("local", |(_, e)| e.name())
    }

    fn submit(&self, spec: ActionSpec, wake: &Wake) -> Result<Ticket, String> {
        let index = self.backend_of(&spec);
        let Some((_, backend)) = self.backends.get(index) else {
            return Err("no executor is configured".to_string());
        };
        let inner = backend.submit(spec, wake)?;
        let outer = Ticket(self.next.fetch_add(1, Ordering::Relaxed));
        let mut tickets = lock(&self.tickets);
        tickets.outer.insert((index, inner), outer);
        tickets.inner.insert(outer, (index, inner));
        // It may have ended, and been polled, before it was recorded: the next poll has it.
        if tickets.early.iter().any(|(at, _)| *at == (index, inner)) {
            wake.wake();
        }
        Ok(outer)
    }

    fn poll(&self) -> Vec<(Ticket, Ended)> {
        let mut polled: Vec<((usize, Ticket), Ended)> = Vec::new();
        for (index, (_, backend)) in self.backends.iter().enumerate() {
            polled.extend(
                backend
                    .poll()
                    .into_iter()
                    .map(|(ticket, ended)| ((index, ticket), ended)),
            );
        }
        let mut tickets = lock(&self.tickets);
        polled.append(&mut tickets.early);
        let mut ended = Vec::with_capacity(polled.len());
        for (at, how) in polled {
            match tickets.outer.remove(&at) {
                Some(outer) => {
                    tickets.inner.remove(&outer);
                    ended.push((outer, how));
                }
                None => tickets.early.push((at, how)),
            }
        }
        ended
    }

    fn cancel(&self, ticket: Ticket) {
        let at = lock(&self.tickets).inner.get(&ticket).copied();
        if let Some((index, inner)) = at
            && let Some((_, backend)) = self.backends.get(index)
        {
            backend.cancel(inner);
        }
    }

    fn transferred(&self) -> Option<(u64, u64)> {
        self.backends
            .iter()
            .filter_map(|(_, backend)| backend.transferred())
            .reduce(|(sent, got), (more_sent, more_got)| (sent + more_sent, got + more_got))
    }

    fn queued(&self) -> Vec<(Ticket, String)> {
        let mut queued = Vec::new();
        for (index, (_, backend)) in self.backends.iter().enumerate() {
            let waiting = backend.queued();
            if waiting.is_empty() {
                continue;
            }
            let tickets = lock(&self.tickets);
            queued.extend(
                waiting
                    .into_iter()
                    .filter_map(|(inner, why)| Some((*tickets.outer.get(&(index, inner))?, why))),
            );
        }
        queued
    }

    fn poll_every(&self) -> Duration {
        self.backends
            .iter()
            .map(|(_, backend)| backend.poll_every())
            .min()
            .unwrap_or(Duration::from_millis(50))
    }
}

/// The tables stay sound if a thread panicked holding them.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
