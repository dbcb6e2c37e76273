//! The walk driven by a fake backend that runs nothing: each attempt "runs" on a thread of the
//! backend's for as long as its action's name says and ends out of order with the others,
//! reported through `poll` and a wake, as a cluster's would.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::*;
use crate::exec::event::Failure;
use crate::graph::Resources;

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

/// The work: which actions are cached, which panic when attempted, which fail their first
/// attempt only (and are attempted again).
#[derive(Default)]
struct Fake {
    cached: HashSet<&'static str>,
    panicking: HashSet<&'static str>,
    flaky: HashSet<&'static str>,
}

impl Work for (&Graph, &Fake) {
    /// How many attempts were made.
    type Pending = u32;

    fn check(&self, id: ActionId) -> Check<u32> {
        let (graph, fake) = *self;
        if fake.cached.contains(graph.action(id).name.as_str()) {
            return Check::Done(Outcome::Cached(Box::default()));
        }
        Check::Run(0)
    }

    fn attempt(&self, id: ActionId, attempts: &mut u32, grant: &Grant) -> Attempt {
        let (graph, fake) = *self;
        let name = &graph.action(id).name;
        assert!(!fake.panicking.contains(name.as_str()), "a bug in {name}");
        *attempts += 1;
        Attempt::Submit(Box::new(spec(name, *attempts, grant)))
    }

    fn ended(&self, id: ActionId, attempts: &mut u32, ended: Ended) -> Option<Outcome> {
        let (graph, fake) = *self;
        let name = graph.action(id).name.as_str();
        match ended.how {
            Ending::Exited(0) => Some(Outcome::Ran(Box::default())),
            Ending::Cancelled => Some(Outcome::Interrupted),
            _ if fake.flaky.contains(name) && *attempts == 1 => None,
            how => Some(Outcome::Failed(Failure {
                message: how.describe(),
                ..Failure::default()
            })),
        }
    }
}

fn spec(name: &str, attempt: u32, grant: &Grant) -> ActionSpec {
    ActionSpec {
        name: name.to_string(),
        executor: "local".into(),
        key: Digest::of(name.as_bytes()),
        command: "x".into(),
        env: BTreeMap::default(),
        root: PathBuf::from("/nowhere"),
        workdir: String::new(),
        inputs: Vec::new(),
        outputs: vec![format!("out/{name}")],
        resources: Resources::default(),
        gpus: grant.gpus.clone(),
        timeout: None,
        attempt,
        log: PathBuf::from("/nowhere/log"),
        platform: None,
        cache: true,
        metrics: Vec::new(),
    }
}

/// A backend whose attempts take `millis` each (by name, else `default_millis`), fail when their
/// name says so (on their first attempt only, for flaky ones), and end on a thread of their
/// own: `poll` reports what ended since the last call, as a cluster's squeue would.
#[derive(Default)]
struct Backend {
    millis: HashMap<&'static str, u64>,
    /// For the names `millis` does not list; 20 when zero.
    default_millis: u64,
    failing: HashSet<&'static str>,
    /// Attempts that end only when cancelled.
    endless: HashSet<&'static str>,
    /// Report through `poll` alone, never waking the walk.
    silent: bool,
    state: Arc<BackendState>,
}

#[derive(Default)]
struct BackendState {
    next: AtomicUsize,
    running: AtomicUsize,
    most_running: AtomicUsize,
    polls: AtomicUsize,
    log: Mutex<Vec<String>>,
    ended: Mutex<Vec<(Ticket, Ended)>>,
    cancelled: Mutex<HashSet<Ticket>>,
    /// Names of the attempts by ticket, and how many attempts each name had.
    attempts: Mutex<HashMap<String, u32>>,
}

impl Backend {
    fn log(&self) -> Vec<String> {
        self.state.log.lock().unwrap().clone()
    }

    fn most_running(&self) -> usize {
        self.state.most_running.load(Ordering::SeqCst)
    }
}

impl Executor for Backend {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn submit(&self, spec: ActionSpec, wake: &Wake) -> Result<Ticket, String> {
        let state = Arc::clone(&self.state);
        let ticket = Ticket(state.next.fetch_add(1, Ordering::SeqCst) as u64);
        let name = spec.name.clone();
        let first = {
            let mut attempts = state.attempts.lock().unwrap();
            let count = attempts.entry(name.clone()).or_default();
            *count += 1;
            *count == 1
        };
        let now = state.running.fetch_add(1, Ordering::SeqCst) + 1;
        state.most_running.fetch_max(now, Ordering::SeqCst);
        state.log.lock().unwrap().push(format!("start {name}"));
        let default = if self.default_millis == 0 {
            20
        } else {
            self.default_millis
        };
        let millis = self.millis.get(name.as_str()).copied().unwrap_or(default);
        let fails = self.failing.contains(name.as_str()) && first;
        let endless = self.endless.contains(name.as_str());
        let wake = (!self.silent).then(|| wake.clone());
        std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_millis(millis);
            let how = loop {
                if state.cancelled.lock().unwrap().contains(&ticket) {
                    break Ending::Cancelled;
                }
                if !endless && Instant::now() >= until {
                    break if fails {
                        Ending::Exited(1)
                    } else {
                        Ending::Exited(0)
                    };
                }
                std::thread::sleep(Duration::from_millis(2));
            };
            state.log.lock().unwrap().push(format!("end {name}"));
            state.running.fetch_sub(1, Ordering::SeqCst);
            state
                .ended
                .lock()
                .unwrap()
                .push((ticket, Ended::new(how, "fake")));
            if let Some(wake) = wake {
                wake.wake();
            }
        });
        Ok(ticket)
    }

    fn poll(&self) -> Vec<(Ticket, Ended)> {
        self.state.polls.fetch_add(1, Ordering::SeqCst);
        std::mem::take(&mut *self.state.ended.lock().unwrap())
    }

    fn cancel(&self, ticket: Ticket) {
        self.state.cancelled.lock().unwrap().insert(ticket);
    }
}

fn options(cpus: u32, keep_going: bool) -> Options {
    Options {
        capacity: Capacity {
            cpus,
            memory: None,
            gpus: vec![],
        },
        lanes: Vec::new(),
        keep_going,
        check_threads: 2,
    }
}

fn build(
    graph: &Graph,
    fake: &Fake,
    backend: &Backend,
    cpus: u32,
    keep_going: bool,
) -> Vec<(String, &'static str)> {
    let targets = graph.topological_order();
    let outcomes = run(
        graph,
        &targets,
        &(graph, fake),
        backend,
        &options(cpus, keep_going),
        Control::new(&|| false),
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
    let result = build(&graph, &fake, &Backend::default(), 2, true);
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
    let backend = Backend::default();
    let result = build(&graph, &Fake::default(), &backend, 4, false);
    assert_eq!(
        result,
        statuses(&[("a", "ran"), ("b", "ran"), ("c", "ran")])
    );
    assert_eq!(
        backend.log(),
        ["start a", "end a", "start b", "end b", "start c", "end c"]
    );
}

/// Attempts end in another order than they started; each dependent starts when its own
/// dependency ends, and the outcomes still come back in the targets' order.
#[test]
fn attempts_that_end_out_of_order_release_their_own_dependents() {
    let graph = graph(&manifest(&[
        ("slow", &[], 1),
        ("fast", &[], 1),
        ("after_slow", &["slow"], 1),
        ("after_fast", &["fast"], 1),
    ]));
    let backend = Backend {
        millis: HashMap::from([("slow", 300), ("fast", 5)]),
        ..Backend::default()
    };
    let result = build(&graph, &Fake::default(), &backend, 4, false);
    assert_eq!(
        result,
        statuses(&[
            ("slow", "ran"),
            ("fast", "ran"),
            ("after_slow", "ran"),
            ("after_fast", "ran")
        ])
    );
    let log = backend.log();
    let at = |line: &str| log.iter().position(|l| l == line).unwrap();
    assert!(at("end fast") < at("end slow"), "{log:?}");
    assert!(at("start after_fast") < at("end slow"), "{log:?}");
    assert!(at("end slow") < at("start after_slow"), "{log:?}");
}

/// A backend keeps hundreds of attempts in flight and reports them in batches: the walk
/// needs no thread per attempt and no wake, only polls.
#[test]
fn hundreds_of_attempts_in_flight_are_learned_of_by_polling() {
    let names: Vec<String> = (0..300).map(|i| format!("s{i}")).collect();
    let steps: Vec<(&str, &[&str], u32)> = names.iter().map(|n| (n.as_str(), &[][..], 1)).collect();
    let graph = graph(&manifest(&steps));
    let backend = Backend {
        default_millis: 400,
        silent: true,
        ..Backend::default()
    };
    let result = build(&graph, &Fake::default(), &backend, u32::MAX, false);
    assert!(result.iter().all(|(_, status)| *status == "ran"));
    assert_eq!(backend.most_running(), 300);
    let polls = backend.state.polls.load(Ordering::SeqCst);
    // Asked once per tick, not once per attempt or per message (which would be 600 and more).
    assert!(polls < 100, "{polls} polls for 300 attempts");
}

#[test]
fn parallelism_is_bounded_by_cpu_slots() {
    let steps: Vec<(&str, &[&str], u32)> = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .map(|n| (*n, &[][..], 1))
        .collect();
    let graph = graph(&manifest(&steps));
    let backend = Backend::default();
    build(&graph, &Fake::default(), &backend, 2, false);
    assert_eq!(backend.most_running(), 2);
}

/// `-j 0` is `u32::MAX` slots: no overflow in counting threads or slots, and steps that
/// declare several CPUs still start side by side.
#[test]
fn unlimited_cpu_slots_run_everything_without_overflow() {
    let graph = graph(&manifest(&[("a", &[], 8), ("b", &[], 8), ("c", &["a"], 1)]));
    let result = build(
        &graph,
        &Fake::default(),
        &Backend::default(),
        u32::MAX,
        false,
    );
    assert_eq!(
        result,
        statuses(&[("a", "ran"), ("b", "ran"), ("c", "ran")])
    );
}

#[test]
fn declared_cpus_take_several_slots() {
    let graph = graph(&manifest(&[("a", &[], 2), ("b", &[], 2), ("c", &[], 2)]));
    let backend = Backend::default();
    build(&graph, &Fake::default(), &backend, 2, false);
    assert_eq!(backend.most_running(), 1);
}

#[test]
fn cached_actions_do_not_run_and_release_their_dependents() {
    let graph = graph(&manifest(&[("a", &[], 1), ("b", &["a"], 1)]));
    let fake = Fake {
        cached: HashSet::from(["a"]),
        ..Fake::default()
    };
    let backend = Backend::default();
    let result = build(&graph, &fake, &backend, 2, false);
    assert_eq!(result, statuses(&[("a", "cached"), ("b", "ran")]));
    assert_eq!(backend.log(), ["start b", "end b"]);
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
    let backend = Backend {
        failing: HashSet::from(["a"]),
        ..Backend::default()
    };
    let result = build(&graph, &Fake::default(), &backend, 1, false);
    let status = |name: &str| result.iter().find(|(n, _)| n == name).map(|(_, s)| *s);
    assert_eq!(status("a"), Some("failed"));
    assert_eq!(status("b"), Some("skipped"));
    assert_eq!(status("c"), Some("skipped"));
    assert!(!backend.log().contains(&"start c".to_string()));
}

#[test]
fn keep_going_builds_what_does_not_depend_on_the_failure() {
    let graph = graph(&manifest(&[("a", &[], 1), ("b", &["a"], 1), ("c", &[], 1)]));
    let backend = Backend {
        failing: HashSet::from(["a"]),
        ..Backend::default()
    };
    let result = build(&graph, &Fake::default(), &backend, 1, true);
    assert_eq!(
        result,
        statuses(&[("a", "failed"), ("b", "skipped"), ("c", "ran")])
    );
}

/// The work asks for another attempt; the walk submits it again, holding the same slot.
#[test]
fn a_failed_attempt_the_work_retries_is_submitted_again() {
    let graph = graph(&manifest(&[("a", &[], 1), ("b", &["a"], 1)]));
    let fake = Fake {
        flaky: HashSet::from(["a"]),
        ..Fake::default()
    };
    let backend = Backend {
        failing: HashSet::from(["a"]),
        ..Backend::default()
    };
    let result = build(&graph, &fake, &backend, 1, false);
    assert_eq!(result, statuses(&[("a", "ran"), ("b", "ran")]));
    assert_eq!(
        backend.log(),
        ["start a", "end a", "start a", "end a", "start b", "end b"]
    );
}

#[test]
fn a_step_needing_missing_gpus_fails_without_running() {
    let graph = graph(
        "step \"a\" {\ncmd \"x\"\noutputs \"out/a\"\nresources gpus=1\n}\nstep \"b\" {\ncmd \"x\"\ninputs \"out/a\"\n}\n",
    );
    let backend = Backend::default();
    let result = build(&graph, &Fake::default(), &backend, 2, true);
    assert_eq!(result, statuses(&[("a", "failed"), ("b", "skipped")]));
    assert!(backend.log().is_empty());
}

#[test]
fn stopping_leaves_unstarted_actions_stopped() {
    let graph = graph(&manifest(&[("a", &[], 1), ("b", &["a"], 1)]));
    let targets = graph.topological_order();
    // Ctrl-C arrives as the first action finishes.
    let interrupted = AtomicBool::new(false);
    let stop = || interrupted.load(Ordering::SeqCst);
    let mut emit = |event: &Event| {
        if matches!(event, Event::Finished { .. }) {
            interrupted.store(true, Ordering::SeqCst);
        }
    };
    let outcomes = run(
        &graph,
        &targets,
        &(&graph, &Fake::default()),
        &Backend::default(),
        &options(1, false),
        Control::new(&stop),
        &mut emit,
    );
    assert!(matches!(outcomes[0].1, Outcome::Ran(_)));
    assert!(matches!(outcomes[1].1, Outcome::Stopped));
}

/// Ctrl-C cancels what is in flight with the backend, which reports it cancelled.
#[test]
fn stopping_cancels_the_attempts_in_flight() {
    let graph = graph(&manifest(&[("a", &[], 1), ("b", &[], 1)]));
    let targets = graph.topological_order();
    let backend = Backend {
        endless: HashSet::from(["a", "b"]),
        ..Backend::default()
    };
    let stop = || backend.most_running() == 2;
    let outcomes = run(
        &graph,
        &targets,
        &(&graph, &Fake::default()),
        &backend,
        &options(2, false),
        Control::new(&stop),
        &mut |_| {},
    );
    let statuses: Vec<&str> = outcomes.iter().map(|(_, o)| o.status()).collect();
    assert_eq!(statuses, ["interrupted", "interrupted"]);
}

/// Watch mode cancels one running action by name; the others run on.
#[test]
fn a_cancelled_action_stops_and_the_others_finish() {
    let graph = graph(&manifest(&[("a", &[], 1), ("b", &[], 1)]));
    let targets = graph.topological_order();
    let backend = Backend {
        endless: HashSet::from(["a"]),
        millis: HashMap::from([("b", 200)]),
        ..Backend::default()
    };
    let stops = ActionStops::default();
    let never = || {
        // Asked from the walk's own thread here; watch mode asks from its watcher's.
        if stops.running().len() == 2 {
            stops.cancel("a");
        }
        false
    };
    let outcomes = run(
        &graph,
        &targets,
        &(&graph, &Fake::default()),
        &backend,
        &options(2, false),
        Control {
            stop: &never,
            stops: Some(&stops),
        },
        &mut |_| {},
    );
    let statuses: Vec<&str> = outcomes.iter().map(|(_, o)| o.status()).collect();
    assert_eq!(statuses, ["interrupted", "ran"]);
    assert!(stops.running().is_empty());
}
