//! The engine called as a library, the way `zenbuild build` calls it: `exec::Build` with a
//! `BuildRequest`, its events in a sink, its end in the `RunReport`.

use std::sync::Mutex;
use zenbuild::exec::event::Outcome;
use zenbuild::exec::interrupt::Interrupt;

use zenbuild::exec::executor::{ActionSpec, Ended, Executor, LocalExecutor, Ticket, Wake};
use zenbuild::exec::{Build, BuildRequest, Event, RunReport, Sink, up_to_date};
use zenbuild::hash::{FileSystem, RealFileSystem};
use zenbuild::{Error, Workspace};

mod common;
use common::{CHAIN, Test};

/// Keeps every event's kind, and each finished action's status, in order.
#[derive(Default)]
struct Kept(Vec<String>);

impl Sink for Kept {
    fn event(&mut self, event: &Event) {
        self.0.push(match event {
            Event::Started { total } => format!("started {total}"),
            Event::Running { .. } => "running".into(),
            Event::Finished { outcome, .. } => format!("finished {}", outcome.status()),
            Event::Note { message } => format!("note {message}"),
            // New kinds of event may come (the enum is non-exhaustive); this sink keeps these.
            _ => return,
        });
    }

    fn finished(&mut self) {
        self.0.push("done".into());
    }
}

/// The workspace's default build, as a bare `zenbuild` asks for it.
fn build(test: &Test, sink: &mut dyn Sink) -> Result<RunReport, Error> {
    build_on(test, None, sink)
}

/// The same, its steps run on `executor` when given.
fn build_on(
    test: &Test,
    executor: Option<&dyn Executor>,
    sink: &mut dyn Sink,
) -> Result<RunReport, Error> {
    if !test.path().join(".git").exists() {
        let status = std::process::Command::new("git")
            .args(["init", "-q"])
            .current_dir(test.path())
            .status()
            .expect("run git init");
        assert!(status.success(), "git init failed");
    }
    let started_ns = RealFileSystem.now_ns();
    let workspace = Workspace::discover(test.path())?;
    let (manifest, graph) = zenbuild::load_graph(&workspace)?;
    let request = BuildRequest::new(
        graph.topological_order(),
        up_to_date::selection(&[], false),
        started_ns,
    );
    let build = Build::new(&workspace, &manifest, &graph);
    let build = match executor {
        Some(executor) => build.with_executor(executor),
        None => build,
    };
    build.run(&request, None, Some(Interrupt::new()), sink)
}

fn statuses(report: &RunReport) -> Vec<&'static str> {
    report.outcomes.iter().map(|(_, o)| o.status()).collect()
}

#[test]
fn a_build_runs_then_restores_and_tells_its_sink() {
    let test = Test::new().manifest(CHAIN).file("in.txt", "A");
    let mut sink = Kept::default();
    let report = build(&test, &mut sink).expect("the build runs");
    assert_eq!(statuses(&report), ["ran", "ran"]);
    assert_eq!((report.failed, report.interrupted), (0, false));
    let finished: Vec<&str> = sink
        .0
        .iter()
        .map(String::as_str)
        .filter(|event| !event.starts_with("note"))
        .collect();
    assert_eq!(
        finished,
        [
            "started 2",
            "running",
            "finished ran",
            "running",
            "finished ran",
            "done"
        ]
    );
    assert_eq!(
        std::fs::read_to_string(test.path().join("out/b.txt")).unwrap(),
        "AA"
    );

    let again = build(&test, &mut ()).expect("the second build runs");
    assert_eq!(statuses(&again), ["cached", "cached"]);
}

#[test]
fn a_failed_step_is_a_report_not_an_error() {
    let test = Test::new()
        .manifest(&CHAIN.replace("cat in.txt > out/a.txt", "exit 3"))
        .file("in.txt", "A");
    let report = build(&test, &mut ()).expect("a failure is reported");
    assert_eq!(report.failed, 1);
    assert!(matches!(report.outcomes[0].1, Outcome::Failed(_)));
    assert!(
        !report.outcomes.iter().any(|(_, o)| o.is_success()),
        "b does not run after a failed"
    );
}

/// A backend of a program's own: it sees each attempt as the contract describes it and
/// hands it on to the local executor.
struct Watching {
    local: LocalExecutor,
    seen: Mutex<Vec<ActionSpec>>,
}

impl Executor for Watching {
    fn name(&self) -> &'static str {
        "watching"
    }

    fn submit(&self, spec: ActionSpec, wake: &Wake) -> Result<Ticket, String> {
        self.seen.lock().unwrap().push(spec.clone());
        self.local.submit(spec, wake)
    }

    fn poll(&self) -> Vec<(Ticket, Ended)> {
        self.local.poll()
    }

    fn cancel(&self, ticket: Ticket) {
        self.local.cancel(ticket);
    }
}

#[test]
fn a_program_runs_the_steps_on_its_own_executor() {
    let test = Test::new().manifest(CHAIN).file("in.txt", "A");
    let executor = Watching {
        local: LocalExecutor::new(Interrupt::new()),
        seen: Mutex::new(Vec::new()),
    };
    let report = build_on(&test, Some(&executor), &mut ()).expect("the build runs");
    assert_eq!(statuses(&report), ["ran", "ran"]);
    let seen = executor.seen.into_inner().unwrap();
    let names: Vec<&str> = seen.iter().map(|spec| spec.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    let b = &seen[1];
    assert_eq!(b.outputs, ["out/b.txt"]);
    assert_eq!(b.attempt, 1);
    // b's input is a's output, with the digest a's run produced.
    assert_eq!(b.inputs.len(), 1);
    assert_eq!(b.inputs[0].path, "out/a.txt");
    assert_eq!(b.inputs[0].digest, zenbuild::hash::Digest::of(b"A"));
    assert_eq!(
        std::fs::read_to_string(test.path().join("out/b.txt")).unwrap(),
        "AA"
    );
    let again = build(&test, &mut ()).expect("the second build runs");
    assert_eq!(statuses(&again), ["cached", "cached"]);
}
