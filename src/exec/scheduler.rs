//! The graph walker: runs every selected action once its dependencies are done, in parallel
//! within the resource pool. It knows nothing of hashing, caches or processes: a [`Work`]
//! checks each action (cached or not) and describes each attempt at running one, and an
//! [`Executor`] runs the attempts. Checks, readying the workspace and storing results happen on
//! a pool of threads; the attempts themselves run wherever the executor puts them, and the walk
//! learns of their ends by polling it, so hundreds can be in flight without a thread each.

use std::any::Any;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::event::{Event, Outcome};
use super::executor::{ActionSpec, Ended, Ending, Executor, Ticket, Wake};
use super::resources::{Capacity, Grant, Pool};
use super::stops::ActionStops;
use crate::graph::{ActionId, Graph};
use crate::hash::Digest;

/// The most threads a build starts, and the most actions it keeps running at once, whatever
/// `-j` says: `-j 0` (no limit) on a graph of thousands of actions must not ask the system for
/// a process (and a thread to watch it) per action, which it may refuse.
pub const MAX_WORKERS: usize = 512;

/// The longest the walk goes without looking at Ctrl-C and the executor.
const TICK: Duration = Duration::from_millis(50);

/// What a cache check decided.
pub enum Check<P> {
    /// Up to date (or failed before running); nothing to run.
    Done(Outcome),
    /// Must run; `P` carries what the check learned (the key, the input digests) and what
    /// the attempts learn (how many there were).
    Run(P),
}

/// Brings one action up to date. Called from the pool's threads.
pub trait Work: Sync {
    type Pending: Send + 'static;
    /// The action key a check found, for the progress view; `None` when the work has none.
    fn key_of(_pending: &Self::Pending) -> Option<Digest> {
        None
    }
    fn check(&self, id: ActionId) -> Check<Self::Pending>;
    /// Readies the workspace for the next attempt at running `id` and describes it for the
    /// executor; the outcome instead when it cannot be attempted.
    fn attempt(&self, id: ActionId, pending: &mut Self::Pending, grant: &Grant) -> Attempt;
    /// What the end of an attempt means: the action's outcome (its result stored when it
    /// succeeded), or `None` to attempt it again.
    fn ended(&self, id: ActionId, pending: &mut Self::Pending, ended: Ended) -> Option<Outcome>;
}

/// What readying an attempt came to.
pub enum Attempt {
    /// Hand this to the executor.
    Submit(ActionSpec),
    /// It cannot be attempted (its old outputs cannot be removed): the action's outcome.
    Done(Outcome),
}

/// Where an action that was readied for an attempt stands.
enum Sent<P> {
    /// The executor has the attempt.
    InFlight(Ticket, P),
    Done(Outcome),
}

#[derive(Clone, Debug)]
pub struct Options {
    pub capacity: Capacity,
    /// Go on with actions that do not depend on a failed one.
    pub keep_going: bool,
    /// Threads for cache checks, besides those readying and storing runs.
    pub check_threads: usize,
}

/// What may stop a walk from outside.
#[derive(Clone, Copy)]
pub struct Control<'a> {
    /// Polled to end the build early (Ctrl-C): nothing new starts and what runs is cancelled.
    pub stop: &'a (dyn Fn() -> bool + Sync),
    /// Where watch mode asks to cancel single running actions; `None` in a plain build.
    pub stops: Option<&'a ActionStops>,
}

impl<'a> Control<'a> {
    /// A walk that `stop` alone ends.
    pub fn new(stop: &'a (dyn Fn() -> bool + Sync)) -> Control<'a> {
        Control { stop, stops: None }
    }
}

enum Job<P> {
    Check(ActionId),
    /// A first attempt, or another after `Ended` asked for one.
    Attempt(ActionId, P, Grant),
    Ended(ActionId, P, Grant, Ended),
}

enum Message<P> {
    Checked(ActionId, Check<P>),
    Submitted(ActionId, Ticket, P, Grant),
    Ran(ActionId, Outcome, Grant),
    /// The executor has something for `poll`.
    Wake,
}

/// An action between its first attempt and its outcome.
struct Running<P> {
    id: ActionId,
    pending: P,
    grant: Grant,
}

/// Brings `targets` (an action set closed under dependencies) up to date and returns each
/// one's outcome, in the order given.
#[allow(
    clippy::too_many_lines,
    reason = "one event loop whose bookkeeping is shared by every branch"
)]
pub fn run<W: Work>(
    graph: &Graph,
    targets: &[ActionId],
    work: &W,
    executor: &dyn Executor,
    options: &Options,
    control: Control,
    emit: &mut dyn FnMut(Event),
) -> Vec<(ActionId, Outcome)> {
    let mut walk = Walk::new(graph, targets, options);
    emit(Event::Started {
        total: targets.len(),
    });
    let threads = (options.capacity.cpus.max(1) as usize)
        .saturating_add(options.check_threads.max(1))
        .min(MAX_WORKERS);
    let tick = executor.poll_every().min(TICK);
    std::thread::scope(|scope| {
        let (job_sender, job_receiver) = mpsc::channel::<Job<W::Pending>>();
        let job_receiver = Arc::new(Mutex::new(job_receiver));
        let (result_sender, results) = mpsc::channel::<Message<W::Pending>>();
        let wake = {
            let sender = result_sender.clone();
            Wake::new(move || {
                let _ = sender.send(Message::Wake);
            })
        };
        for _ in 0..threads.min(targets.len().max(1)) {
            let jobs = Arc::clone(&job_receiver);
            let results = result_sender.clone();
            let wake = wake.clone();
            scope.spawn(move || worker(work, executor, &wake, &jobs, &results));
        }
        drop(result_sender);
        // Jobs handed to the pool and not answered yet.
        let mut busy = 0usize;
        // Actions holding their resources: being readied, running, or being stored.
        let mut holding = 0usize;
        let mut in_flight: HashMap<Ticket, Running<W::Pending>> = HashMap::new();
        // Attempts that ended before the walk heard they were submitted.
        let mut early: HashMap<Ticket, Ended> = HashMap::new();
        let mut cancelled_all = false;
        let (mut woken, mut last_poll) = (false, Instant::now());
        loop {
            if !walk.stopping {
                while let Some(id) = walk.ready.pop_first() {
                    busy += 1;
                    let _ = job_sender.send(Job::Check(walk.order[id]));
                }
                for (id, pending, grant) in walk.take_runnable(MAX_WORKERS - holding, emit) {
                    busy += 1;
                    holding += 1;
                    emit(Event::Running {
                        id,
                        key: W::key_of(&pending),
                    });
                    if let Some(stops) = control.stops {
                        stops.start(&graph.action(id).name);
                    }
                    let _ = job_sender.send(Job::Attempt(id, pending, grant));
                }
            }
            if busy == 0 && in_flight.is_empty() {
                break;
            }
            match results.recv_timeout(tick) {
                Ok(Message::Wake) => woken = true,
                Ok(Message::Checked(id, Check::Done(outcome))) => {
                    busy -= 1;
                    walk.finish(id, outcome, emit);
                }
                Ok(Message::Checked(id, Check::Run(pending))) => {
                    busy -= 1;
                    walk.runnable.push_back((id, pending));
                }
                Ok(Message::Submitted(id, ticket, pending, grant)) => {
                    busy -= 1;
                    if let Some(ended) = early.remove(&ticket) {
                        busy += 1;
                        let _ = job_sender.send(Job::Ended(id, pending, grant, ended));
                    } else {
                        if cancelled_all {
                            executor.cancel(ticket);
                        }
                        in_flight.insert(ticket, Running { id, pending, grant });
                    }
                }
                Ok(Message::Ran(id, outcome, grant)) => {
                    busy -= 1;
                    holding -= 1;
                    if let Some(stops) = control.stops {
                        stops.finish(&graph.action(id).name);
                    }
                    walk.pool.release(grant);
                    walk.finish(id, outcome, emit);
                }
                Err(RecvTimeoutError::Timeout) => emit(Event::Waiting),
                Err(RecvTimeoutError::Disconnected) => break,
            }
            // Once per tick, or at once when the executor says it has something: a backend
            // that asks a cluster is asked once for all its attempts, not once per message.
            if holding > 0 && (woken || last_poll.elapsed() >= tick) {
                woken = false;
                last_poll = Instant::now();
                for (ticket, ended) in executor.poll() {
                    match in_flight.remove(&ticket) {
                        Some(Running { id, pending, grant }) => {
                            busy += 1;
                            let _ = job_sender.send(Job::Ended(id, pending, grant, ended));
                        }
                        // Its submission is still on its way from the pool.
                        None => {
                            early.insert(ticket, ended);
                        }
                    }
                }
            }
            if (control.stop)() {
                walk.stopping = true;
                if !cancelled_all {
                    cancelled_all = true;
                    for &ticket in in_flight.keys() {
                        executor.cancel(ticket);
                    }
                }
            }
            if let Some(stops) = control.stops {
                for name in stops.take_requested() {
                    in_flight
                        .iter()
                        .filter(|(_, running)| graph.action(running.id).name == name)
                        .for_each(|(&ticket, _)| executor.cancel(ticket));
                }
            }
        }
        drop(job_sender);
    });
    walk.outcomes(emit)
}

fn worker<W: Work>(
    work: &W,
    executor: &dyn Executor,
    wake: &Wake,
    jobs: &Mutex<mpsc::Receiver<Job<W::Pending>>>,
    results: &mpsc::Sender<Message<W::Pending>>,
) {
    loop {
        // The lock is held only to take one job, never while working on it.
        let job = match jobs.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        // A panic is a bug in zenbuild, but it must fail the one action, not leave the walk
        // waiting forever for a message from a thread that died.
        let message = match job {
            Ok(Job::Check(id)) => {
                let checked = panic::catch_unwind(AssertUnwindSafe(|| work.check(id)));
                Message::Checked(
                    id,
                    checked.unwrap_or_else(|cause| Check::Done(internal_error(&*cause))),
                )
            }
            Ok(Job::Attempt(id, pending, grant)) => guarded(id, grant, |grant| {
                submit(work, executor, wake, id, pending, grant)
            }),
            Ok(Job::Ended(id, mut pending, grant, ended)) => guarded(id, grant, |grant| match work
                .ended(id, &mut pending, ended)
            {
                Some(outcome) => Sent::Done(outcome),
                None => submit(work, executor, wake, id, pending, grant),
            }),
            Err(_) => return,
        };
        if results.send(message).is_err() {
            return;
        }
    }
}

/// Runs `step` on a running action, a panic failing the action.
fn guarded<P>(id: ActionId, grant: Grant, step: impl FnOnce(&Grant) -> Sent<P>) -> Message<P> {
    match panic::catch_unwind(AssertUnwindSafe(|| step(&grant))) {
        Ok(Sent::InFlight(ticket, pending)) => Message::Submitted(id, ticket, pending, grant),
        Ok(Sent::Done(outcome)) => Message::Ran(id, outcome, grant),
        Err(cause) => Message::Ran(id, internal_error(&*cause), grant),
    }
}

/// Attempts `id` until an attempt is in the executor's hands or the action has its outcome:
/// an attempt the executor refuses ends at once, and may be retried like any other.
fn submit<W: Work>(
    work: &W,
    executor: &dyn Executor,
    wake: &Wake,
    id: ActionId,
    mut pending: W::Pending,
    grant: &Grant,
) -> Sent<W::Pending> {
    loop {
        let spec = match work.attempt(id, &mut pending, grant) {
            Attempt::Submit(spec) => spec,
            Attempt::Done(outcome) => return Sent::Done(outcome),
        };
        match executor.submit(spec, wake) {
            Ok(ticket) => return Sent::InFlight(ticket, pending),
            Err(why) => {
                let refused = Ended::new(Ending::NotStarted(why), executor.name());
                if let Some(outcome) = work.ended(id, &mut pending, refused) {
                    return Sent::Done(outcome);
                }
            }
        }
    }
}

/// The failure of an action whose check or run panicked; the panic itself has been printed.
fn internal_error(cause: &(dyn Any + Send)) -> Outcome {
    let what = cause
        .downcast_ref::<&str>()
        .map(|text| (*text).to_string())
        .or_else(|| cause.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_string());
    Outcome::Failed(super::event::Failure {
        message: format!("zenbuild hit an internal error on it (please report it): {what}"),
        ..Default::default()
    })
}

/// The walk's bookkeeping: the only mutable state of a build, owned by the main thread.
struct Walk<'g, P> {
    graph: &'g Graph,
    /// The targets in the order given; positions index everything below.
    order: Vec<ActionId>,
    position: Vec<Option<usize>>,
    waiting_on: Vec<usize>,
    dependents: Vec<Vec<usize>>,
    /// Positions whose dependencies are all done, lowest first.
    ready: BTreeSet<usize>,
    runnable: VecDeque<(ActionId, P)>,
    outcomes: Vec<Option<Outcome>>,
    pool: Pool,
    keep_going: bool,
    stopping: bool,
}

impl<'g, P> Walk<'g, P> {
    fn new(graph: &'g Graph, targets: &[ActionId], options: &Options) -> Walk<'g, P> {
        let mut position = vec![None; graph.actions.len()];
        for (index, id) in targets.iter().enumerate() {
            position[id.0] = Some(index);
        }
        let mut waiting_on = vec![0; targets.len()];
        let mut dependents = vec![Vec::new(); targets.len()];
        for (index, id) in targets.iter().enumerate() {
            for dep in &graph.action(*id).deps {
                if let Some(dep_index) = position[dep.0] {
                    waiting_on[index] += 1;
                    dependents[dep_index].push(index);
                }
            }
        }
        let ready = (0..targets.len()).filter(|&i| waiting_on[i] == 0).collect();
        Walk {
            graph,
            order: targets.to_vec(),
            position,
            waiting_on,
            dependents,
            ready,
            runnable: VecDeque::new(),
            outcomes: (0..targets.len()).map(|_| None).collect(),
            pool: Pool::new(options.capacity.clone()),
            keep_going: options.keep_going,
            stopping: false,
        }
    }

    fn index(&self, id: ActionId) -> usize {
        self.position[id.0].expect("only targets are scheduled")
    }

    /// Runnable actions whose resources are free now, at most `most`, in the order they became
    /// runnable; an action that can never get its resources fails at once.
    fn take_runnable(
        &mut self,
        most: usize,
        emit: &mut dyn FnMut(Event),
    ) -> Vec<(ActionId, P, Grant)> {
        let mut started = Vec::new();
        let mut waiting = VecDeque::new();
        while let Some((id, pending)) = self.runnable.pop_front() {
            if started.len() == most {
                waiting.push_back((id, pending));
                continue;
            }
            let wanted = &self.graph.action(id).resources;
            if let Some(why) = self.pool.impossible(wanted) {
                let failure = super::event::Failure {
                    message: format!("`{}` {why}", self.graph.action(id).name),
                    ..Default::default()
                };
                self.finish(id, Outcome::Failed(failure), emit);
                continue;
            }
            match self.pool.acquire(wanted) {
                Some(grant) => started.push((id, pending, grant)),
                None => waiting.push_back((id, pending)),
            }
        }
        self.runnable = waiting;
        started
    }

    fn finish(&mut self, id: ActionId, outcome: Outcome, emit: &mut dyn FnMut(Event)) {
        let index = self.index(id);
        let success = outcome.is_success();
        self.outcomes[index] = Some(outcome.clone());
        emit(Event::Finished { id, outcome });
        if success {
            for next in self.dependents[index].clone() {
                self.waiting_on[next] -= 1;
                if self.waiting_on[next] == 0 {
                    self.ready.insert(next);
                }
            }
            return;
        }
        if !self.keep_going {
            self.stopping = true;
        }
        // Everything downstream is skipped now, so the report says why at once.
        let mut stack = self.dependents[index].clone();
        while let Some(next) = stack.pop() {
            if self.outcomes[next].is_some() {
                continue;
            }
            let skipped = Outcome::Skipped { because: id };
            self.outcomes[next] = Some(skipped.clone());
            emit(Event::Finished {
                id: self.order[next],
                outcome: skipped,
            });
            stack.extend(self.dependents[next].iter().copied());
        }
    }

    /// Every target's outcome; those never started are [`Outcome::Stopped`].
    fn outcomes(self, emit: &mut dyn FnMut(Event)) -> Vec<(ActionId, Outcome)> {
        self.order
            .iter()
            .zip(self.outcomes)
            .map(|(&id, outcome)| {
                let outcome = outcome.unwrap_or_else(|| {
                    emit(Event::Finished {
                        id,
                        outcome: Outcome::Stopped,
                    });
                    Outcome::Stopped
                });
                (id, outcome)
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
