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
use std::sync::{Arc, Condvar, Mutex};
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
/// How often the walk asks the executor which attempts wait in its own queue.
const QUEUE_LOOK: Duration = Duration::from_secs(1);

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
    /// The pool `id` takes its resources from: 0 for this machine, else one of
    /// [`Options::lanes`] (a cluster's executor, counted in jobs in flight).
    fn lane(&self, _id: ActionId) -> usize {
        0
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
    Submit(Box<ActionSpec>),
    /// It cannot be attempted (its old outputs cannot be removed): the action's outcome.
    Done(Outcome),
}

#[derive(Clone, Debug)]
pub struct Options {
    /// What this machine offers: lane 0.
    pub capacity: Capacity,
    /// How many actions each other lane keeps in flight (lane 1 first): executors that run
    /// steps elsewhere, whose own scheduler grants CPUs, memory and GPUs.
    pub lanes: Vec<u32>,
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
    /// Ask the executor what ended, and take those attempts on.
    Poll,
    Ended(ActionId, P, Grant, Ended),
}

/// The pool's jobs, in two queues: what moves running actions on (attempts, their ends) goes
/// before the cache checks, so that a cold build's thousand queued checks never hold up the
/// step that just ended, and the slot it frees.
struct Jobs<P> {
    queues: Mutex<Queues<P>>,
    ready: Condvar,
}

struct Queues<P> {
    running: VecDeque<Job<P>>,
    checks: VecDeque<Job<P>>,
    /// The walk is over: the threads leave once the queues are empty.
    over: bool,
}

impl<P> Jobs<P> {
    fn new() -> Jobs<P> {
        Jobs {
            queues: Mutex::new(Queues {
                running: VecDeque::new(),
                checks: VecDeque::new(),
                over: false,
            }),
            ready: Condvar::new(),
        }
    }

    fn push(&self, job: Job<P>) {
        let mut queues = lock(&self.queues);
        match job {
            Job::Check(_) => queues.checks.push_back(job),
            _ => queues.running.push_back(job),
        }
        drop(queues);
        self.ready.notify_one();
    }

    /// The next job, waiting for one; `None` once the walk is over.
    fn pop(&self) -> Option<Job<P>> {
        let mut queues = lock(&self.queues);
        loop {
            if let Some(job) = queues
                .running
                .pop_front()
                .or_else(|| queues.checks.pop_front())
            {
                return Some(job);
            }
            if queues.over {
                return None;
            }
            queues = self
                .ready
                .wait(queues)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    fn close(&self) {
        lock(&self.queues).over = true;
        self.ready.notify_all();
    }
}

enum Message<P> {
    Checked(ActionId, Check<P>),
    Ran(ActionId, Outcome, Grant),
}

/// An action between its first attempt and its outcome.
struct Running<P> {
    id: ActionId,
    pending: P,
    grant: Grant,
}

/// The attempts in the executor's hands, shared by the pool's threads (which submit them and
/// learn of their ends) and the walk (which cancels them).
struct Flight<P> {
    running: HashMap<Ticket, Running<P>>,
    /// Attempts that ended before the thread that submitted them put them in `running`.
    early: HashMap<Ticket, Ended>,
    /// Ctrl-C: every attempt is cancelled, those submitted from now on included.
    cancelling: bool,
}

/// What the pool's threads share besides the work and the executor.
struct Workers<'a, P> {
    flight: &'a Mutex<Flight<P>>,
    jobs: &'a Jobs<P>,
    results: mpsc::Sender<Message<P>>,
    wake: Wake,
}

/// Brings `targets` (an action set closed under dependencies) up to date and returns each
/// one's outcome, in the order given.
///
/// The walk itself (this thread) only hands out checks and attempts and takes their
/// outcomes. The pool's threads check, ready and submit attempts, and poll the executor when
/// it wakes them (or the walk's tick asks), taking each ended attempt on at once: storing its
/// result or submitting it again. So an attempt that ends costs the walk one message, its
/// outcome, as when a thread of the pool ran it.
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
    emit: &mut dyn FnMut(&Event),
) -> Vec<(ActionId, Outcome)> {
    let mut walk = Walk::new(graph, targets, options);
    emit(&Event::Started {
        total: targets.len(),
    });
    let threads = (options.capacity.cpus.max(1) as usize)
        .saturating_add(options.check_threads.max(1))
        .min(MAX_WORKERS)
        .min(targets.len().max(1));
    let tick = executor.poll_every().min(TICK);
    let flight = Mutex::new(Flight {
        running: HashMap::new(),
        early: HashMap::new(),
        cancelling: false,
    });
    // Shared with the executor's wake, which may outlive the walk.
    let jobs = Arc::new(Jobs::<W::Pending>::new());
    std::thread::scope(|scope| {
        let (result_sender, results) = mpsc::channel::<Message<W::Pending>>();
        let wake = {
            let jobs = Arc::clone(&jobs);
            Wake::new(move || jobs.push(Job::Poll))
        };
        for _ in 0..threads {
            let pool = Workers {
                flight: &flight,
                jobs: &jobs,
                results: result_sender.clone(),
                wake: wake.clone(),
            };
            scope.spawn(move || worker(work, executor, &pool));
        }
        drop(result_sender);
        // Checks handed to the pool and not answered yet.
        let mut checking = 0usize;
        // Actions holding their resources, from their first attempt to their outcome.
        let mut holding = 0usize;
        let mut last_poll = Instant::now();
        let mut last_queue_look = Instant::now();
        // What each action that waits in the executor's queue waits for, as last shown.
        let mut queued: HashMap<ActionId, String> = HashMap::new();
        // What the executors had moved through their remotes when last told.
        let mut transferred = (0_u64, 0_u64);
        loop {
            if !walk.stopping {
                while let Some(id) = walk.ready.pop_first() {
                    checking += 1;
                    jobs.push(Job::Check(walk.order[id]));
                }
                for (id, pending, grant) in walk.take_runnable(MAX_WORKERS - holding, emit) {
                    holding += 1;
                    emit(&Event::Running {
                        id,
                        key: W::key_of(&pending),
                    });
                    if let Some(stops) = control.stops {
                        stops.start(&graph.action(id).name);
                    }
                    jobs.push(Job::Attempt(id, pending, grant));
                }
            }
            if checking == 0 && holding == 0 {
                break;
            }
            match results.recv_timeout(tick) {
                Ok(Message::Checked(id, Check::Done(outcome))) => {
                    checking -= 1;
                    walk.finish(id, outcome, emit);
                }
                Ok(Message::Checked(id, Check::Run(pending))) => {
                    checking -= 1;
                    walk.runnable(work.lane(id), id, pending);
                }
                Ok(Message::Ran(id, outcome, grant)) => {
                    holding -= 1;
                    if let Some(stops) = control.stops {
                        stops.finish(&graph.action(id).name);
                    }
                    walk.release(grant);
                    walk.finish(id, outcome, emit);
                }
                Err(RecvTimeoutError::Timeout) => emit(&Event::Waiting),
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if holding > 0 && last_queue_look.elapsed() >= QUEUE_LOOK {
                last_queue_look = Instant::now();
                show_queued(executor, &flight, &mut queued, &walk, emit);
                if let Some((sent, received)) = executor.transferred()
                    && transferred != (sent, received)
                {
                    transferred = (sent, received);
                    emit(&Event::Transferred { sent, received });
                }
            }
            // A backend that learns of ends only when asked is asked once per tick.
            if holding > 0 && last_poll.elapsed() >= tick {
                last_poll = Instant::now();
                jobs.push(Job::Poll);
            }
            if (control.stop)() {
                walk.stopping = true;
                let mut flight = lock(&flight);
                if !flight.cancelling {
                    flight.cancelling = true;
                    flight.running.keys().for_each(|&t| executor.cancel(t));
                }
            }
            if let Some(stops) = control.stops {
                for name in stops.take_requested() {
                    let flight = lock(&flight);
                    flight
                        .running
                        .iter()
                        .filter(|(_, running)| graph.action(running.id).name == name)
                        .for_each(|(&ticket, _)| executor.cancel(ticket));
                }
            }
        }
        jobs.close();
    });
    walk.outcomes(emit)
}

/// Tells which running actions wait in the executor's own queue, and why, as that changes:
/// `shown` is what was told last.
fn show_queued<P>(
    executor: &dyn Executor,
    flight: &Mutex<Flight<P>>,
    shown: &mut HashMap<ActionId, String>,
    walk: &Walk<P>,
    emit: &mut dyn FnMut(&Event),
) {
    let waiting = executor.queued();
    if waiting.is_empty() && shown.is_empty() {
        return;
    }
    let now: HashMap<ActionId, String> = {
        let flight = lock(flight);
        waiting
            .into_iter()
            .filter_map(|(ticket, why)| Some((flight.running.get(&ticket)?.id, why)))
            .collect()
    };
    shown.retain(|id, _| {
        if now.contains_key(id) {
            return true;
        }
        // Left the queue: running now, unless it already finished (which says it all).
        if !walk.is_finished(*id) {
            emit(&Event::Queued {
                id: *id,
                reason: None,
            });
        }
        false
    });
    for (id, why) in now {
        if shown.get(&id) != Some(&why) {
            emit(&Event::Queued {
                id,
                reason: Some(why.clone()),
            });
            shown.insert(id, why);
        }
    }
}

fn worker<W: Work>(work: &W, executor: &dyn Executor, pool: &Workers<W::Pending>) {
    loop {
        let Some(job) = pool.jobs.pop() else {
            return;
        };
        // A panic is a bug in zenbuild, but it must fail the one action, not leave the walk
        // waiting forever for a message from a thread that died.
        let message = match job {
            Job::Check(id) => {
                let checked = panic::catch_unwind(AssertUnwindSafe(|| work.check(id)));
                Message::Checked(
                    id,
                    checked.unwrap_or_else(|cause| Check::Done(internal_error(&*cause))),
                )
            }
            Job::Attempt(id, pending, grant) => {
                match guarded(|| submit(work, executor, pool, id, pending, &grant)) {
                    Some(outcome) => Message::Ran(id, outcome, grant),
                    None => continue,
                }
            }
            Job::Poll => {
                let mut ended = take_ended(executor, pool.flight).into_iter();
                let Some(first) = ended.next() else {
                    continue;
                };
                // Others ended too (a cluster's batch): the pool's other threads take them.
                for (running, how) in ended {
                    pool.jobs
                        .push(Job::Ended(running.id, running.pending, running.grant, how));
                }
                let (Running { id, pending, grant }, how) = first;
                match guarded(|| end(work, executor, pool, id, pending, &grant, how)) {
                    Some(outcome) => Message::Ran(id, outcome, grant),
                    None => continue,
                }
            }
            Job::Ended(id, pending, grant, how) => {
                match guarded(|| end(work, executor, pool, id, pending, &grant, how)) {
                    Some(outcome) => Message::Ran(id, outcome, grant),
                    None => continue,
                }
            }
        };
        if pool.results.send(message).is_err() {
            return;
        }
    }
}

/// Runs `step` on a running action, a panic failing the action.
fn guarded(step: impl FnOnce() -> Option<Outcome>) -> Option<Outcome> {
    panic::catch_unwind(AssertUnwindSafe(step))
        .unwrap_or_else(|cause| Some(internal_error(&*cause)))
}

/// The attempts in flight that the executor says ended, taken out of the flight table;
/// ends of attempts not in it yet wait in it for their submitter.
fn take_ended<P>(executor: &dyn Executor, flight: &Mutex<Flight<P>>) -> Vec<(Running<P>, Ended)> {
    let polled = executor.poll();
    if polled.is_empty() {
        return Vec::new();
    }
    let mut flight = lock(flight);
    let mut taken = Vec::with_capacity(polled.len());
    for (ticket, ended) in polled {
        match flight.running.remove(&ticket) {
            Some(running) => taken.push((running, ended)),
            None => {
                flight.early.insert(ticket, ended);
            }
        }
    }
    taken
}

/// What an attempt's end means for the action: its outcome, or (`None`) another attempt in
/// flight.
fn end<W: Work>(
    work: &W,
    executor: &dyn Executor,
    pool: &Workers<W::Pending>,
    id: ActionId,
    mut pending: W::Pending,
    grant: &Grant,
    ended: Ended,
) -> Option<Outcome> {
    match work.ended(id, &mut pending, ended) {
        Some(outcome) => Some(outcome),
        None => submit(work, executor, pool, id, pending, grant),
    }
}

/// Attempts `id` until an attempt is in the executor's hands (`None`) or the action has its
/// outcome: an attempt the executor refuses, or one that ended before it was put in flight,
/// is taken on at once, and may be retried like any other.
fn submit<W: Work>(
    work: &W,
    executor: &dyn Executor,
    pool: &Workers<W::Pending>,
    id: ActionId,
    mut pending: W::Pending,
    grant: &Grant,
) -> Option<Outcome> {
    loop {
        let spec = match work.attempt(id, &mut pending, grant) {
            Attempt::Submit(spec) => *spec,
            Attempt::Done(outcome) => return Some(outcome),
        };
        let ended = match executor.submit(spec, &pool.wake) {
            Ok(ticket) => {
                let mut flight = lock(pool.flight);
                if let Some(ended) = flight.early.remove(&ticket) {
                    ended
                } else {
                    if flight.cancelling {
                        executor.cancel(ticket);
                    }
                    let grant = grant.clone();
                    flight
                        .running
                        .insert(ticket, Running { id, pending, grant });
                    return None;
                }
            }
            Err(why) => Ended::new(Ending::NotStarted(why), executor.name()),
        };
        if let Some(outcome) = work.ended(id, &mut pending, ended) {
            return Some(outcome);
        }
    }
}

/// The tables behind these locks stay sound if a thread panicked holding one.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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
    /// Checked actions waiting for their resources, a queue per lane.
    runnable: Vec<VecDeque<(ActionId, P)>>,
    outcomes: Vec<Option<Outcome>>,
    /// Lane 0 is this machine; the others, executors that run steps elsewhere.
    pools: Vec<Pool>,
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
            runnable: (0..=options.lanes.len()).map(|_| VecDeque::new()).collect(),
            outcomes: (0..targets.len()).map(|_| None).collect(),
            pools: std::iter::once(Pool::new(options.capacity.clone()))
                .chain(options.lanes.iter().map(|&slots| Pool::slots(slots)))
                .collect(),
            keep_going: options.keep_going,
            stopping: false,
        }
    }

    /// Whether `id` has its outcome.
    fn is_finished(&self, id: ActionId) -> bool {
        self.position[id.0].is_some_and(|index| self.outcomes[index].is_some())
    }

    fn index(&self, id: ActionId) -> usize {
        self.position[id.0].expect("only targets are scheduled")
    }

    /// `id` is checked and must run: it waits for its resources in `lane`'s queue (this
    /// machine's for a lane that does not exist).
    fn runnable(&mut self, lane: usize, id: ActionId, pending: P) {
        let lane = if lane < self.runnable.len() { lane } else { 0 };
        self.runnable[lane].push_back((id, pending));
    }

    fn release(&mut self, grant: Grant) {
        if let Some(pool) = self.pools.get_mut(grant.lane) {
            pool.release(grant);
        }
    }

    /// Runnable actions whose resources are free now, at most `most`, in the order they became
    /// runnable in each lane; an action that can never get its resources fails at once.
    fn take_runnable(
        &mut self,
        most: usize,
        emit: &mut dyn FnMut(&Event),
    ) -> Vec<(ActionId, P, Grant)> {
        let mut started = Vec::new();
        for lane in 0..self.pools.len() {
            self.take_from_lane(lane, most, &mut started, emit);
        }
        started
    }

    fn take_from_lane(
        &mut self,
        lane: usize,
        most: usize,
        started: &mut Vec<(ActionId, P, Grant)>,
        emit: &mut dyn FnMut(&Event),
    ) {
        let mut waiting = VecDeque::new();
        // Every action takes a CPU slot at least, so with none free nothing can start: going
        // through every runnable action at each slot's turn made a cold build quadratic
        // (100,000 steps: minutes of moving the queue).
        while started.len() < most && self.pools[lane].has_free_cpu() {
            let Some((id, pending)) = self.runnable[lane].pop_front() else {
                break;
            };
            let wanted = &self.graph.action(id).resources;
            if let Some(why) = self.pools[lane].impossible(wanted) {
                let failure = super::event::Failure {
                    message: format!("`{}` {why}", self.graph.action(id).name),
                    ..Default::default()
                };
                self.finish(id, Outcome::Failed(failure), emit);
                continue;
            }
            match self.pools[lane].acquire(wanted) {
                Some(mut grant) => {
                    grant.lane = lane;
                    started.push((id, pending, grant));
                }
                None => waiting.push_back((id, pending)),
            }
        }
        // Those passed over keep their places, ahead of the ones not looked at.
        while let Some(passed) = waiting.pop_back() {
            self.runnable[lane].push_front(passed);
        }
    }

    fn finish(&mut self, id: ActionId, outcome: Outcome, emit: &mut dyn FnMut(&Event)) {
        let index = self.index(id);
        let success = outcome.is_success();
        // Shown by reference, then kept: a clone per action cost an incremental build of
        // 10,000 cached actions 7% of its time.
        let event = Event::Finished { id, outcome };
        emit(&event);
        if let Event::Finished { outcome, .. } = event {
            self.outcomes[index] = Some(outcome);
        }
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
            emit(&Event::Finished {
                id: self.order[next],
                outcome: skipped,
            });
            stack.extend(self.dependents[next].iter().copied());
        }
    }

    /// Every target's outcome; those never started are [`Outcome::Stopped`].
    fn outcomes(self, emit: &mut dyn FnMut(&Event)) -> Vec<(ActionId, Outcome)> {
        self.order
            .iter()
            .zip(self.outcomes)
            .map(|(&id, outcome)| {
                let outcome = outcome.unwrap_or_else(|| {
                    emit(&Event::Finished {
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
