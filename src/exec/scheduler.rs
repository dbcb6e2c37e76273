//! The graph walker: runs every selected action once its dependencies are done, in parallel
//! within the resource pool. It knows nothing of hashing, caches or processes; a [`Work`]
//! does that, first checking (`check`: cached or not), then, holding resources, running.

use std::any::Any;
use std::collections::{BTreeSet, VecDeque};
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::event::{Event, Outcome};
use super::resources::{Capacity, Grant, Pool};
use crate::graph::{ActionId, Graph};
use crate::hash::Digest;

/// The most threads a build starts, whatever `-j` says: `-j 0` (no limit) on a graph of
/// thousands of actions must not ask the system for a thread per action, which it may refuse.
pub const MAX_WORKERS: usize = 512;

/// What a cache check decided.
pub enum Check<P> {
    /// Up to date (or failed before running); nothing to run.
    Done(Outcome),
    /// Must run; `P` carries what the check learned (the key, the input digests).
    Run(P),
}

/// Brings one action up to date. Called from worker threads.
pub trait Work: Sync {
    type Pending: Send;
    /// The action key a check found, for the progress view; `None` when the work has none.
    fn key_of(_pending: &Self::Pending) -> Option<Digest> {
        None
    }
    fn check(&self, id: ActionId) -> Check<Self::Pending>;
    fn run(&self, id: ActionId, pending: Self::Pending, grant: &Grant) -> Outcome;
}

#[derive(Clone, Debug)]
pub struct Options {
    pub capacity: Capacity,
    /// Go on with actions that do not depend on a failed one.
    pub keep_going: bool,
    /// Threads for cache checks, besides those running commands.
    pub check_threads: usize,
}

enum Job<P> {
    Check(ActionId),
    Run(ActionId, P, Grant),
}

enum Message<P> {
    Checked(ActionId, Check<P>),
    Ran(ActionId, Outcome, Grant),
}

/// Brings `targets` (an action set closed under dependencies) up to date and returns each
/// one's outcome, in the order given. `stop` is polled to end the build early (Ctrl-C).
pub fn run<W: Work>(
    graph: &Graph,
    targets: &[ActionId],
    work: &W,
    options: &Options,
    stop: &(dyn Fn() -> bool + Sync),
    emit: &mut dyn FnMut(Event),
) -> Vec<(ActionId, Outcome)> {
    let mut walk = Walk::new(graph, targets, options);
    emit(Event::Started {
        total: targets.len(),
    });
    let threads = (options.capacity.cpus.max(1) as usize)
        .saturating_add(options.check_threads.max(1))
        .min(MAX_WORKERS);
    std::thread::scope(|scope| {
        let (job_sender, job_receiver) = mpsc::channel::<Job<W::Pending>>();
        let job_receiver = Arc::new(Mutex::new(job_receiver));
        let (result_sender, results) = mpsc::channel::<Message<W::Pending>>();
        for _ in 0..threads.min(targets.len().max(1)) {
            let jobs = Arc::clone(&job_receiver);
            let results = result_sender.clone();
            scope.spawn(move || worker(work, &jobs, &results));
        }
        drop(result_sender);
        let mut in_flight = 0usize;
        loop {
            if !walk.stopping {
                while let Some(id) = walk.ready.pop_first() {
                    in_flight += 1;
                    let _ = job_sender.send(Job::Check(walk.order[id]));
                }
                for (id, pending, grant) in walk.take_runnable(emit) {
                    in_flight += 1;
                    emit(Event::Running {
                        id,
                        key: W::key_of(&pending),
                    });
                    let _ = job_sender.send(Job::Run(id, pending, grant));
                }
            }
            if in_flight == 0 {
                break;
            }
            let message = match results.recv_timeout(Duration::from_millis(50)) {
                Ok(message) => message,
                Err(RecvTimeoutError::Timeout) => {
                    emit(Event::Waiting);
                    walk.stopping |= stop();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            in_flight -= 1;
            match message {
                Message::Checked(id, Check::Done(outcome)) => walk.finish(id, outcome, emit),
                Message::Checked(id, Check::Run(pending)) => walk.runnable.push_back((id, pending)),
                Message::Ran(id, outcome, grant) => {
                    walk.pool.release(grant);
                    walk.finish(id, outcome, emit);
                }
            }
            walk.stopping |= stop();
        }
        drop(job_sender);
    });
    walk.outcomes(emit)
}

fn worker<W: Work>(
    work: &W,
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
            Ok(Job::Run(id, pending, grant)) => {
                let ran = panic::catch_unwind(AssertUnwindSafe(|| work.run(id, pending, &grant)));
                Message::Ran(
                    id,
                    ran.unwrap_or_else(|cause| internal_error(&*cause)),
                    grant,
                )
            }
            Err(_) => return,
        };
        if results.send(message).is_err() {
            return;
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

    /// Runnable actions whose resources are free now, in the order they became runnable; an
    /// action that can never get its resources fails at once.
    fn take_runnable(&mut self, emit: &mut dyn FnMut(Event)) -> Vec<(ActionId, P, Grant)> {
        let mut started = Vec::new();
        let mut waiting = VecDeque::new();
        while let Some((id, pending)) = self.runnable.pop_front() {
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
mod tests {
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::exec::event::Failure;

    fn graph(manifest: &str) -> Graph {
        crate::graph::compile_text(manifest)
    }

    /// A step per name, each writing `out/NAME`, reading the outputs of the steps listed.
    fn manifest(steps: &[(&str, &[&str], u32)]) -> String {
        steps
            .iter()
            .map(|(name, reads, cpus)| {
                let inputs: Vec<String> = reads.iter().map(|r| format!("\"out/{r}\"")).collect();
                let inputs = if inputs.is_empty() {
                    String::new()
                } else {
                    format!("inputs {}\n", inputs.join(" "))
                };
                format!(
                    "step \"{name}\" {{\ncmd \"x\"\n{inputs}outputs \"out/{name}\"\nresources cpus={cpus}\n}}\n"
                )
            })
            .collect()
    }

    #[derive(Default)]
    struct Fake {
        cached: HashSet<&'static str>,
        failing: HashSet<&'static str>,
        panicking: HashSet<&'static str>,
        running: AtomicUsize,
        most_running: AtomicUsize,
        log: Mutex<Vec<String>>,
    }

    impl Work for (&Graph, &Fake) {
        type Pending = ();

        fn check(&self, id: ActionId) -> Check<()> {
            let (graph, fake) = *self;
            if fake.cached.contains(graph.action(id).name.as_str()) {
                return Check::Done(Outcome::Cached(Box::default()));
            }
            Check::Run(())
        }

        fn run(&self, id: ActionId, _: (), _: &Grant) -> Outcome {
            let (graph, fake) = *self;
            let name = &graph.action(id).name;
            assert!(!fake.panicking.contains(name.as_str()), "a bug in {name}");
            let now = fake.running.fetch_add(1, Ordering::SeqCst) + 1;
            fake.most_running.fetch_max(now, Ordering::SeqCst);
            fake.log.lock().unwrap().push(format!("start {name}"));
            std::thread::sleep(Duration::from_millis(20));
            fake.log.lock().unwrap().push(format!("end {name}"));
            fake.running.fetch_sub(1, Ordering::SeqCst);
            if fake.failing.contains(name.as_str()) {
                Outcome::Failed(Failure::default())
            } else {
                Outcome::Ran(Box::default())
            }
        }
    }

    fn build(
        graph: &Graph,
        fake: &Fake,
        cpus: u32,
        keep_going: bool,
    ) -> Vec<(String, &'static str)> {
        let options = Options {
            capacity: Capacity {
                cpus,
                memory: None,
                gpus: vec![],
            },
            keep_going,
            check_threads: 2,
        };
        let targets = graph.topological_order();
        let outcomes = run(
            graph,
            &targets,
            &(graph, fake),
            &options,
            &|| false,
            &mut |_| {},
        );
        outcomes
            .into_iter()
            .map(|(id, outcome)| (graph.action(id).name.clone(), outcome.status()))
            .collect()
    }

    fn statuses(pairs: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        pairs.iter().map(|(n, s)| (n.to_string(), *s)).collect()
    }

    /// A worker that panicked used to leave the build waiting forever for its answer.
    #[test]
    fn a_panic_in_a_worker_fails_that_action_and_the_build_ends() {
        let graph = graph(&manifest(&[("a", &[], 1), ("b", &["a"], 1), ("c", &[], 1)]));
        let fake = Fake {
            panicking: HashSet::from(["a"]),
            ..Fake::default()
        };
        let result = build(&graph, &fake, 2, true);
        assert_eq!(
            result,
            statuses(&[("a", "failed"), ("b", "skipped"), ("c", "ran")])
        );
    }

    #[test]
    fn dependencies_finish_first() {
        let graph = graph(&manifest(&[
            ("a", &[], 1),
            ("b", &["a"], 1),
            ("c", &["b"], 1),
        ]));
        let fake = Fake::default();
        let result = build(&graph, &fake, 4, false);
        assert_eq!(
            result,
            statuses(&[("a", "ran"), ("b", "ran"), ("c", "ran")])
        );
        let log = fake.log.lock().unwrap().clone();
        assert_eq!(
            log,
            ["start a", "end a", "start b", "end b", "start c", "end c"]
        );
    }

    #[test]
    fn parallelism_is_bounded_by_cpu_slots() {
        let steps: Vec<(&str, &[&str], u32)> = ["a", "b", "c", "d", "e", "f"]
            .iter()
            .map(|n| (*n, &[][..], 1))
            .collect();
        let graph = graph(&manifest(&steps));
        let fake = Fake::default();
        build(&graph, &fake, 2, false);
        assert_eq!(fake.most_running.load(Ordering::SeqCst), 2);
    }

    /// `-j 0` is `u32::MAX` slots: no overflow in counting threads or slots, and steps that
    /// declare several CPUs still start side by side.
    #[test]
    fn unlimited_cpu_slots_run_everything_without_overflow() {
        let graph = graph(&manifest(&[("a", &[], 8), ("b", &[], 8), ("c", &["a"], 1)]));
        let fake = Fake::default();
        let result = build(&graph, &fake, u32::MAX, false);
        assert_eq!(
            result,
            statuses(&[("a", "ran"), ("b", "ran"), ("c", "ran")])
        );
    }

    #[test]
    fn declared_cpus_take_several_slots() {
        let graph = graph(&manifest(&[("a", &[], 2), ("b", &[], 2), ("c", &[], 2)]));
        let fake = Fake::default();
        build(&graph, &fake, 2, false);
        assert_eq!(fake.most_running.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn cached_actions_do_not_run_and_release_their_dependents() {
        let graph = graph(&manifest(&[("a", &[], 1), ("b", &["a"], 1)]));
        let fake = Fake {
            cached: HashSet::from(["a"]),
            ..Fake::default()
        };
        let result = build(&graph, &fake, 2, false);
        assert_eq!(result, statuses(&[("a", "cached"), ("b", "ran")]));
        assert_eq!(*fake.log.lock().unwrap(), ["start b", "end b"]);
    }

    #[test]
    fn a_failure_stops_the_build_and_skips_dependents() {
        // `a` and `x` race for the one cpu slot; `c` waits for `x`. Whichever runs first,
        // once `a` has failed nothing new starts, so `c` never runs.
        let graph = graph(&manifest(&[
            ("a", &[], 1),
            ("b", &["a"], 1),
            ("x", &[], 1),
            ("c", &["x"], 1),
        ]));
        let fake = Fake {
            failing: HashSet::from(["a"]),
            ..Fake::default()
        };
        let result = build(&graph, &fake, 1, false);
        let status = |name: &str| result.iter().find(|(n, _)| n == name).map(|(_, s)| *s);
        assert_eq!(status("a"), Some("failed"));
        assert_eq!(status("b"), Some("skipped"));
        assert_eq!(status("c"), Some("skipped"));
        assert!(!fake.log.lock().unwrap().contains(&"start c".to_string()));
    }

    #[test]
    fn keep_going_builds_what_does_not_depend_on_the_failure() {
        let graph = graph(&manifest(&[("a", &[], 1), ("b", &["a"], 1), ("c", &[], 1)]));
        let fake = Fake {
            failing: HashSet::from(["a"]),
            ..Fake::default()
        };
        let result = build(&graph, &fake, 1, true);
        assert_eq!(
            result,
            statuses(&[("a", "failed"), ("b", "skipped"), ("c", "ran")])
        );
    }

    #[test]
    fn a_step_needing_missing_gpus_fails_without_running() {
        let graph = graph(
            "step \"a\" {\ncmd \"x\"\noutputs \"out/a\"\nresources gpus=1\n}\nstep \"b\" {\ncmd \"x\"\ninputs \"out/a\"\n}\n",
        );
        let fake = Fake::default();
        let result = build(&graph, &fake, 2, true);
        assert_eq!(result, statuses(&[("a", "failed"), ("b", "skipped")]));
        assert!(fake.log.lock().unwrap().is_empty());
    }

    #[test]
    fn stopping_leaves_unstarted_actions_stopped() {
        let graph = graph(&manifest(&[("a", &[], 1), ("b", &["a"], 1)]));
        let fake = Fake::default();
        let options = Options {
            capacity: Capacity {
                cpus: 1,
                memory: None,
                gpus: vec![],
            },
            keep_going: false,
            check_threads: 1,
        };
        let targets = graph.topological_order();
        // Ctrl-C arrives as the first action finishes.
        let interrupted = std::sync::atomic::AtomicBool::new(false);
        let stop = || interrupted.load(Ordering::SeqCst);
        let mut emit = |event: Event| {
            if matches!(event, Event::Finished { .. }) {
                interrupted.store(true, Ordering::SeqCst);
            }
        };
        let outcomes = run(
            &graph,
            &targets,
            &(&graph, &fake),
            &options,
            &stop,
            &mut emit,
        );
        assert!(matches!(outcomes[0].1, Outcome::Ran(_)));
        assert!(matches!(outcomes[1].1, Outcome::Stopped));
    }
}
