//! The watch loop: build, wait for a change that alters bytes and let it settle (the
//! debounce), build again, until asked to quit. While a build runs, changes keep arriving: an
//! action whose inputs change under it is stopped and runs again in the next cycle, and the
//! others finish. Changes that leave the bytes as they were (a `touch`, a save without edits)
//! start nothing, and what steps write never counts.
//!
//! The loop owns the watching and the engine calls; what a cycle builds and how it is shown
//! are its [`Host`]'s, so the command line keeps only its arguments and its rendering.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::Known;
use super::plan::{Change, WatchPlan};
use super::watcher::{Next, Watcher};
use crate::Manifest;
use crate::error::Error;
use crate::exec::interrupt::Interrupt;
use crate::exec::stops::ActionStops;
use crate::exec::{Build, BuildRequest, RunReport, Sink};
use crate::graph::{ActionId, Graph};
use crate::hash::{FileSystem, RealFileSystem, StatCache};
use crate::workspace::Workspace;

/// How long the loop waits for a notification before looking at the interrupt again.
const TICK: Duration = Duration::from_millis(50);

/// A cycle's manifest, compiled, and the actions it builds (dependencies first).
pub struct Compiled {
    pub manifest: Manifest,
    pub graph: Graph,
    pub targets: Vec<ActionId>,
}

/// What started a cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The build watch mode begins with.
    FirstBuild,
    /// What changed, as paths relative to the workspace joined by `, ` (or why a change
    /// could not be told, such as a lost notification).
    Changed(String),
}

/// What the loop has to say, for its [`Host`] to show.
pub enum Shown<'a> {
    /// A cycle begins, before its manifest is compiled.
    CycleStarting,
    /// The manifest did not compile.
    ManifestErrors(&'a Error),
    /// The manifest's files are watched, and nothing else until they compile.
    WaitingForManifest,
    /// A cycle's build ended.
    CycleDone {
        trigger: &'a Trigger,
        report: &'a RunReport,
        took: Duration,
    },
    /// The loop waits for the next change.
    Watching { dirs: usize, actions: usize },
}

/// What watch mode builds and how it is shown, supplied by its caller.
pub trait Host {
    /// Compiles the manifest as it is now and picks the targets.
    fn compile(&mut self) -> Result<Compiled, Error>;

    /// The request of one cycle's build, begun at `started_ns`; an error ends the watch.
    fn request(&mut self, compiled: &Compiled, started_ns: i64) -> Result<BuildRequest, Error>;

    /// Where the events of one cycle's build of `request` go. The build runs in a thread of
    /// its own.
    fn sink<'g>(
        &mut self,
        compiled: &'g Compiled,
        request: &BuildRequest,
    ) -> Box<dyn Sink + Send + 'g>;

    fn show(&mut self, shown: Shown<'_>);
}

/// Builds, then rebuilds on every change that alters bytes, until `interrupt` is raised. A
/// change must be quiet for `debounce` before a cycle starts.
pub fn run(
    workspace: &Workspace,
    debounce: Duration,
    interrupt: &Interrupt,
    host: &mut dyn Host,
) -> Result<(), Error> {
    let mut watcher = Watcher::new()?;
    let stops = ActionStops::default();
    let mut known = Known::default();
    let mut manifests: HashSet<PathBuf> = HashSet::from([workspace.manifest.clone()]);
    let mut trigger = Trigger::FirstBuild;
    loop {
        let started = Instant::now();
        let started_ns = RealFileSystem.now_ns();
        host.show(Shown::CycleStarting);
        let compiled = match host.compile() {
            Ok(compiled) => compiled,
            Err(error) => {
                host.show(Shown::ManifestErrors(&error));
                let plan = WatchPlan::manifest_only(&workspace.root, manifests.clone());
                watcher.watch(&plan.dirs)?;
                host.show(Shown::WaitingForManifest);
                match wait_for_change(&watcher, &plan, &mut known, workspace, debounce, interrupt)?
                {
                    Some(what) => {
                        trigger = Trigger::Changed(what);
                        continue;
                    }
                    None => return Ok(()),
                }
            }
        };
        known.learn_manifest(&compiled.manifest);
        let plan = WatchPlan::new(
            &workspace.root,
            &compiled.manifest,
            &compiled.graph,
            &compiled.targets,
        );
        manifests.clone_from(plan.manifests());
        watcher.watch(&plan.dirs)?;
        stops.reset();
        let request = host.request(&compiled, started_ns)?;
        let sink = host.sink(&compiled, &request);
        let cycle = Cycle {
            workspace,
            compiled: &compiled,
            request: &request,
            interrupt,
            stops: &stops,
        };
        let (done, noted, mut pending) =
            build_while_watching(&cycle, sink, &watcher, (&plan, &mut known))?;
        known.learn_build(&done.outcomes, &plan, &noted);
        host.show(Shown::CycleDone {
            trigger: &trigger,
            report: &done,
            took: started.elapsed(),
        });
        if interrupt.is_triggered() {
            return Ok(());
        }
        // Changes that arrived during the build start the next cycle at once.
        if let Some(what) = pending.take() {
            trigger = Trigger::Changed(what);
            continue;
        }
        host.show(Shown::Watching {
            dirs: watcher.len(),
            actions: compiled.targets.len(),
        });
        match wait_for_change(&watcher, &plan, &mut known, workspace, debounce, interrupt)? {
            Some(what) => trigger = Trigger::Changed(what),
            None => return Ok(()),
        }
    }
}

/// One cycle's build, as the engine takes it.
struct Cycle<'a> {
    workspace: &'a Workspace,
    compiled: &'a Compiled,
    request: &'a BuildRequest,
    interrupt: &'a Interrupt,
    stops: &'a ActionStops,
}

/// Runs the cycle's build in a thread while this one keeps reading notifications: an action
/// whose source changes under it is stopped. Returns the build's report, the sources that
/// changed meanwhile, and how to say what changed.
fn build_while_watching(
    cycle: &Cycle,
    mut sink: Box<dyn Sink + Send + '_>,
    watcher: &Watcher,
    (plan, known): (&WatchPlan, &mut Known),
) -> Result<(RunReport, HashSet<String>, Option<String>), Error> {
    let root = &cycle.workspace.root;
    let graph = &cycle.compiled.graph;
    let mut changed: Vec<String> = Vec::new();
    let mut noted = HashSet::new();
    let done = std::thread::scope(|scope| {
        let build = scope.spawn(|| {
            Build::new(cycle.workspace, &cycle.compiled.manifest, graph)
                .with_stops(cycle.stops)
                .run(
                    cycle.request,
                    None,
                    Some(cycle.interrupt.clone()),
                    &mut *sink,
                )
        });
        let mut cache: Option<StatCache> = None;
        while !build.is_finished() {
            let Ok(Next::Paths(paths)) = watcher.next(TICK) else {
                continue;
            };
            for change in paths.iter().filter_map(|path| plan.classify(path)) {
                let stat_cache = || StatCache::load(&cycle.workspace.state_dir().stat_cache());
                let cache = cache.get_or_insert_with(stat_cache);
                if !known.check(&change, plan, root, cache) {
                    continue;
                }
                if let Change::Source(source) = &change {
                    noted.insert(source.clone());
                    for id in plan.affected(graph, std::slice::from_ref(source)) {
                        cycle.stops.cancel(&graph.action(id).name);
                    }
                }
                let what = describe(&change, root);
                if !changed.contains(&what) {
                    changed.push(what);
                }
            }
        }
        build.join()
    });
    let done = match done {
        Ok(done) => done?,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    let pending = (!changed.is_empty()).then(|| changed.join(", "));
    Ok((done, noted, pending))
}

/// Waits until a change that alters bytes arrives and settles; `None` when asked to quit.
fn wait_for_change(
    watcher: &Watcher,
    plan: &WatchPlan,
    known: &mut Known,
    workspace: &Workspace,
    debounce: Duration,
    interrupt: &Interrupt,
) -> Result<Option<String>, Error> {
    let root = &workspace.root;
    loop {
        let mut changes: Vec<Change> = Vec::new();
        // Collect until the paths have been quiet for the debounce (at most ten of them, so
        // that a steady stream of writes still gets built).
        let mut deadline: Option<Instant> = None;
        let mut cap: Option<Instant> = None;
        loop {
            if interrupt.is_triggered() {
                return Ok(None);
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline)
                || cap.is_some_and(|cap| Instant::now() >= cap)
            {
                break;
            }
            let wait = deadline.map_or(TICK, |d| d.saturating_duration_since(Instant::now()));
            match watcher.next(wait.min(TICK)) {
                Ok(Next::Paths(paths)) => {
                    let relevant: Vec<Change> = paths
                        .iter()
                        .filter_map(|path| plan.classify(path))
                        .collect();
                    if !relevant.is_empty() {
                        let now = Instant::now();
                        deadline = Some(now + debounce);
                        cap.get_or_insert(now + debounce * 10);
                        for change in relevant {
                            if !changes.contains(&change) {
                                changes.push(change);
                            }
                        }
                    }
                }
                Ok(Next::Timeout) => {}
                // A lost notification could hide a change: build to find out.
                Err(e) => return Ok(Some(e.to_string())),
            }
        }
        let cache = StatCache::load(&workspace.state_dir().stat_cache());
        let real: Vec<String> = changes
            .iter()
            .filter(|change| known.check(change, plan, root, &cache))
            .map(|change| describe(change, root))
            .collect();
        if !real.is_empty() {
            return Ok(Some(real.join(", ")));
        }
    }
}

/// A change as a path relative to the workspace.
fn describe(change: &Change, root: &std::path::Path) -> String {
    match change {
        Change::Source(path) | Change::NewMatch(path) => path.clone(),
        Change::Manifest(path) => path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Event;

    /// Compiles the workspace's manifest (or fails to), keeps what the loop shows, and quits
    /// once the first build is done.
    struct Fake<'a> {
        workspace: &'a Workspace,
        broken: bool,
        interrupt: Interrupt,
        shown: Vec<String>,
    }

    /// Raises the interrupt when the scheduler is done, as a `q` typed during the build would.
    struct QuitAfter(Interrupt);

    impl Sink for QuitAfter {
        fn event(&mut self, _: &Event) {}

        fn finished(&mut self) {
            self.0.trigger();
        }
    }

    impl Host for Fake<'_> {
        fn compile(&mut self) -> Result<Compiled, Error> {
            if self.broken {
                return Err(Error::BadArgument("broken".into()));
            }
            let (manifest, graph) = crate::load_graph(self.workspace)?;
            let targets = graph.topological_order();
            Ok(Compiled {
                manifest,
                graph,
                targets,
            })
        }

        fn request(&mut self, compiled: &Compiled, started_ns: i64) -> Result<BuildRequest, Error> {
            let selection = crate::exec::up_to_date::selection(&[], false);
            Ok(BuildRequest::new(
                compiled.targets.clone(),
                selection,
                started_ns,
            ))
        }

        fn sink<'g>(&mut self, _: &'g Compiled, _: &BuildRequest) -> Box<dyn Sink + Send + 'g> {
            Box::new(QuitAfter(self.interrupt.clone()))
        }

        fn show(&mut self, shown: Shown<'_>) {
            self.shown.push(match shown {
                Shown::CycleStarting => "starting".into(),
                Shown::ManifestErrors(error) => format!("errors: {error}"),
                Shown::WaitingForManifest => "waiting for the manifest".into(),
                Shown::CycleDone {
                    trigger, report, ..
                } => format!("{trigger:?}: {} finished", report.outcomes.len()),
                Shown::Watching { .. } => "watching".into(),
            });
        }
    }

    fn workspace(dir: &std::path::Path) -> Workspace {
        let step = "step \"a\" {\n    cmd \"echo a > a.txt\"\n    outputs \"a.txt\"\n}\n";
        std::fs::write(dir.join("zenbuild.kdl"), step).unwrap();
        let root = dir.canonicalize().unwrap();
        Workspace {
            manifest: root.join("zenbuild.kdl"),
            git_root: root.clone(),
            root,
        }
    }

    #[test]
    fn the_first_build_runs_through_the_engine_and_a_quit_during_it_ends_the_loop() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = workspace(dir.path());
        let interrupt = Interrupt::new();
        let mut host = Fake {
            workspace: &workspace,
            broken: false,
            interrupt: interrupt.clone(),
            shown: Vec::new(),
        };
        run(&workspace, Duration::from_millis(10), &interrupt, &mut host).unwrap();
        assert_eq!(host.shown, ["starting", "FirstBuild: 1 finished"]);
        assert!(workspace.root.join("a.txt").is_file());
    }

    #[test]
    fn a_manifest_with_errors_is_shown_and_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = workspace(dir.path());
        let interrupt = Interrupt::new();
        interrupt.trigger();
        let mut host = Fake {
            workspace: &workspace,
            broken: true,
            interrupt: interrupt.clone(),
            shown: Vec::new(),
        };
        run(&workspace, Duration::from_millis(10), &interrupt, &mut host).unwrap();
        assert_eq!(
            host.shown,
            ["starting", "errors: broken", "waiting for the manifest"]
        );
    }
}
