//! The build work with a store in memory and an executor that runs no process: the cache
//! decisions alone.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::*;

use crate::exec::executor::{ActionSpec, Ended, Ending, Executor, OutputsAt, Ticket, Wake};
use crate::exec::preview::Preview;
use crate::exec::resources::Capacity;
use crate::exec::scheduler::{self, Control, Options};
use crate::hash::fake::{Op, TestFileSystem};
use crate::hash::{FileSystem, RealFileSystem};
use crate::store::{ActionResult, MemoryStore};

/// Runs commands of the form `cat SRC… > DST` or `fail` by doing the file work itself, when
/// submitted; `poll` reports them. With `to_store`, it writes the output into the store as
/// the action's result instead of into the workspace, as a worker without the workspace does.
#[derive(Default)]
struct FakeExecutor {
    ran: Mutex<Vec<String>>,
    ended: Mutex<Vec<(Ticket, Ended)>>,
    to_store: Option<Arc<MemoryStore>>,
}

impl FakeExecutor {
    fn run(&self, spec: &ActionSpec) -> Ended {
        let workdir = spec.workdir_path();
        let Some((sources, target)) = spec
            .command
            .strip_prefix("cat ")
            .and_then(|c| c.split_once(" > "))
        else {
            return Ended::new(Ending::Exited(1), "fake");
        };
        let mut bytes = Vec::new();
        for source in sources.split_whitespace() {
            bytes.extend(std::fs::read(workdir.join(source)).unwrap());
        }
        let mut ended = Ended::new(Ending::Exited(0), "fake");
        if let Some(store) = &self.to_store {
            let result = ActionResult {
                output_files: vec![crate::store::OutputFile {
                    path: target.to_string(),
                    digest: store.put_bytes(&bytes).unwrap(),
                    size: bytes.len() as u64,
                    executable: false,
                }],
                ..ActionResult::default()
            };
            store.put_action_result(&spec.key, &result).unwrap();
            ended.outputs = OutputsAt::Store;
        } else {
            let target = workdir.join(target);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(target, bytes).unwrap();
        }
        ended
    }
}

impl Executor for FakeExecutor {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn submit(&self, spec: ActionSpec, wake: &Wake) -> Result<Ticket, String> {
        let mut ran = self.ran.lock().unwrap();
        ran.push(spec.command.clone());
        let ticket = Ticket(ran.len() as u64);
        let ended = self.run(&spec);
        self.ended.lock().unwrap().push((ticket, ended));
        wake.wake();
        Ok(ticket)
    }

    fn poll(&self) -> Vec<(Ticket, Ended)> {
        std::mem::take(&mut *self.ended.lock().unwrap())
    }

    fn cancel(&self, _: Ticket) {}
}

struct World {
    dir: tempfile::TempDir,
    store: Arc<MemoryStore>,
    executor: FakeExecutor,
    stat_cache: StatCache,
    /// The actions the next builds force, by name.
    forced: RefCell<Vec<&'static str>>,
    /// What the next builds take as the up-to-date check's findings.
    unchanged: RefCell<Option<Unchanged>>,
}

impl World {
    fn new(manifest: &str, files: &[(&str, &str)]) -> World {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("zenbuild.kdl"), manifest).unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        World {
            dir,
            store: Arc::new(MemoryStore::new()),
            executor: FakeExecutor::default(),
            stat_cache: StatCache::in_memory(),
            forced: RefCell::new(Vec::new()),
            unchanged: RefCell::new(None),
        }
    }

    /// This world with its builds' file work (hashing included) done through `fs`.
    fn on(self, fs: TestFileSystem) -> World {
        World {
            stat_cache: StatCache::in_memory_with(fs),
            ..self
        }
    }

    fn write(&self, path: &str, text: &str) {
        std::fs::write(self.dir.path().join(path), text).unwrap();
    }

    fn graph(&self) -> Graph {
        let (manifest, problems) =
            crate::manifest::load(&self.dir.path().join("zenbuild.kdl")).unwrap();
        crate::graph::compile(&manifest, self.dir.path(), problems).unwrap()
    }

    /// Runs `work` with a builder over this world, as one build would.
    fn with_builder<T>(&self, graph: &Graph, work: impl FnOnce(&Builder) -> T) -> T {
        let last_keys = LastKeys::in_workspace(self.dir.path());
        let interrupt = Interrupt::new();
        let mut builder = Builder::new(
            graph,
            Context {
                root: self.dir.path(),
                store: &*self.store,
                stat_cache: &self.stat_cache,
                last_keys: &last_keys,
                link_mode: LinkMode::Copy,
                interrupt: &interrupt,
            },
        );
        let forced = self.forced.borrow();
        builder.force(
            forced
                .iter()
                .filter_map(|name| graph.action_by_name(name))
                .collect(),
        );
        let unchanged = self.unchanged.borrow();
        if let Some(unchanged) = &*unchanged {
            builder.known_unchanged(unchanged);
        }
        let result = work(&builder);
        last_keys.save().unwrap();
        result
    }

    /// Builds everything; returns each action's status and reasons, by name.
    fn build(&self) -> HashMap<String, (&'static str, Vec<String>)> {
        let graph = self.graph();
        let options = Options {
            capacity: Capacity {
                cpus: 2,
                memory: None,
                gpus: vec![],
            },
            lanes: Vec::new(),
            keep_going: true,
            check_threads: 1,
        };
        let targets = graph.topological_order();
        let outcomes = self.with_builder(&graph, |builder| {
            scheduler::run(
                &graph,
                &targets,
                builder,
                &self.executor,
                &options,
                Control::new(&|| false),
                &mut |_| {},
            )
        });
        outcomes
            .into_iter()
            .map(|(id, outcome)| {
                let reasons = match &outcome {
                    Outcome::Ran(done) => done.reasons.clone(),
                    Outcome::Failed(failure) => vec![failure.message.clone()],
                    _ => vec![],
                };
                (graph.action(id).name.clone(), (outcome.status(), reasons))
            })
            .collect()
    }

    /// What a build would do with each action, by name, without doing it.
    fn previews(&self) -> HashMap<String, Preview> {
        let graph = self.graph();
        let decided = self.with_builder(&graph, |builder| {
            let mut decided = HashMap::new();
            for id in graph.topological_order() {
                let preview = builder.preview(id, &decided);
                decided.insert(id, preview);
            }
            decided
        });
        decided
            .into_iter()
            .map(|(id, preview)| (graph.action(id).name.clone(), preview))
            .collect()
    }

    fn statuses(&self) -> Vec<(String, &'static str)> {
        let mut statuses: Vec<_> = self
            .build()
            .into_iter()
            .map(|(name, (status, _))| (name, status))
            .collect();
        statuses.sort();
        statuses
    }
}

const CHAIN: &str = "step \"a\" { cmd \"cat in.txt > a.txt\"; inputs \"in.txt\"; outputs \"a.txt\"; }\n\
                     step \"b\" { cmd \"cat a.txt > b.txt\"; inputs \"a.txt\"; outputs \"b.txt\"; }\n\
                     step \"c\" { cmd \"cat other.txt > c.txt\"; inputs \"other.txt\"; outputs \"c.txt\"; }\n";

fn pairs(expected: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
    expected.iter().map(|(n, s)| (n.to_string(), *s)).collect()
}

#[test]
fn a_second_build_runs_nothing() {
    let world = World::new(CHAIN, &[("in.txt", "1"), ("other.txt", "x")]);
    assert_eq!(
        world.statuses(),
        pairs(&[("a", "ran"), ("b", "ran"), ("c", "ran")])
    );
    assert_eq!(
        world.statuses(),
        pairs(&[("a", "cached"), ("b", "cached"), ("c", "cached")])
    );
    assert_eq!(world.executor.ran.lock().unwrap().len(), 3);
}

#[test]
fn a_changed_input_reruns_exactly_its_dependents_and_says_why() {
    let world = World::new(CHAIN, &[("in.txt", "1"), ("other.txt", "x")]);
    world.build();
    world.write("in.txt", "2");
    let result = world.build();
    assert_eq!(result["a"].0, "ran");
    assert!(
        result["a"].1[0].starts_with("in.txt changed ("),
        "{:?}",
        result["a"].1
    );
    assert_eq!(result["b"].0, "ran");
    assert!(
        result["b"].1[0].starts_with("a.txt changed ("),
        "{:?}",
        result["b"].1
    );
    assert_eq!(result["c"].0, "cached");
}

#[test]
fn identical_upstream_output_leaves_downstream_cached() {
    // `a` keeps only the first line of its input, so editing the second line reruns `a`,
    // which writes the same bytes: `b` stays cached (early cut-off).
    let manifest = "step \"a\" { cmd \"cat in.txt > a.txt\"; inputs \"in.txt\" \"note.txt\"; outputs \"a.txt\"; }\n\
                    step \"b\" { cmd \"cat a.txt > b.txt\"; inputs \"a.txt\"; outputs \"b.txt\"; }\n";
    let world = World::new(manifest, &[("in.txt", "1"), ("note.txt", "first")]);
    world.build();
    world.write("note.txt", "second");
    assert_eq!(world.statuses(), pairs(&[("a", "ran"), ("b", "cached")]));
}

#[test]
fn a_deleted_output_is_restored_without_running() {
    let world = World::new(CHAIN, &[("in.txt", "1"), ("other.txt", "x")]);
    world.build();
    std::fs::remove_file(world.dir.path().join("b.txt")).unwrap();
    assert_eq!(
        world.statuses(),
        pairs(&[("a", "cached"), ("b", "cached"), ("c", "cached")])
    );
    assert_eq!(
        std::fs::read_to_string(world.dir.path().join("b.txt")).unwrap(),
        "1"
    );
    assert_eq!(world.executor.ran.lock().unwrap().len(), 3);
}

#[test]
fn a_corrupt_blob_makes_the_step_run_again() {
    let world = World::new(CHAIN, &[("in.txt", "1"), ("other.txt", "x")]);
    world.build();
    world.store.corrupt(&Digest::of(b"x"));
    std::fs::remove_file(world.dir.path().join("c.txt")).unwrap();
    let result = world.build();
    assert_eq!(result["c"].0, "ran");
    assert!(result["c"].1[0].contains("corrupt"), "{:?}", result["c"].1);
    assert_eq!(
        std::fs::read_to_string(world.dir.path().join("c.txt")).unwrap(),
        "x"
    );
}

#[test]
fn a_failed_step_stores_nothing() {
    let manifest = "step \"a\" { cmd \"fail\"; outputs \"a.txt\"; }\n\
                    step \"b\" { cmd \"cat in.txt > b.txt\"; inputs \"in.txt\"; outputs \"b.txt\"; }\n";
    let world = World::new(manifest, &[("in.txt", "1")]);
    let result = world.build();
    assert_eq!(result["a"].0, "failed");
    assert_eq!(result["a"].1, ["exited with code 1"]);
    assert_eq!(result["b"].0, "ran");
    assert_eq!(world.store.results(), 1, "only b's result is stored");
}

#[test]
fn a_missing_source_input_fails_without_running() {
    let world = World::new(CHAIN, &[("in.txt", "1")]);
    let result = world.build();
    assert_eq!(result["c"].0, "failed");
    assert_eq!(result["c"].1, ["input `other.txt` does not exist"]);
    assert!(
        !world
            .executor
            .ran
            .lock()
            .unwrap()
            .iter()
            .any(|cmd| cmd.contains("other.txt"))
    );
}

#[test]
fn preview_decides_without_running_or_restoring() {
    let world = World::new(CHAIN, &[("in.txt", "1"), ("other.txt", "x")]);
    world.build();
    world.write("in.txt", "2");
    std::fs::remove_file(world.dir.path().join("c.txt")).unwrap();
    let previews = world.previews();
    let by_name = |name: &str| &previews[name];
    assert!(matches!(by_name("a"), Preview::Runs { .. }));
    assert!(matches!(by_name("b"), Preview::AfterRun { .. }));
    assert!(matches!(
        by_name("c"),
        Preview::Cached { restore: true, .. }
    ));
    assert!(
        !world.dir.path().join("c.txt").exists(),
        "preview restores nothing"
    );
    assert_eq!(
        world.executor.ran.lock().unwrap().len(),
        3,
        "preview runs nothing"
    );
}

#[test]
fn preview_knows_files_inside_a_cached_directory_output() {
    let manifest = "step \"a\" { cmd \"cat in.txt > d/x.txt\"; inputs \"in.txt\"; outputs \"d/\"; }\n\
                    step \"b\" { cmd \"cat d/x.txt > b.txt\"; inputs \"d/x.txt\"; outputs \"b.txt\"; }\n";
    let world = World::new(manifest, &[("in.txt", "1")]);
    world.build();
    std::fs::remove_dir_all(world.dir.path().join("d")).unwrap();
    let previews = world.previews();
    let by_name = |name: &str| &previews[name];
    assert!(matches!(
        by_name("a"),
        Preview::Cached { restore: true, .. }
    ));
    assert!(
        matches!(by_name("b"), Preview::Cached { restore: false, .. }),
        "{:?}",
        by_name("b")
    );
}

#[test]
fn a_forced_action_runs_though_cached_and_its_same_bytes_leave_dependents_cached() {
    let world = World::new(CHAIN, &[("in.txt", "1"), ("other.txt", "x")]);
    world.build();
    world.forced.borrow_mut().push("a");
    let previews = world.previews();
    assert!(
        matches!(&previews["a"], Preview::Runs { reasons, .. } if reasons == &[FORCED]),
        "{:?}",
        previews["a"]
    );
    assert!(matches!(previews["b"], Preview::AfterRun { .. }));
    assert!(matches!(previews["c"], Preview::Cached { .. }));
    let result = world.build();
    assert_eq!(result["a"], ("ran", vec![FORCED.to_string()]));
    assert_eq!(result["b"].0, "cached");
    assert_eq!(result["c"].0, "cached");
}

/// A backend without the workspace stores the result itself: the build restores it as it
/// would a cache hit, and dependents read what it restored.
#[test]
fn a_result_the_executor_stored_is_restored_into_the_workspace() {
    let mut world = World::new(CHAIN, &[("in.txt", "1"), ("other.txt", "x")]);
    world.executor.to_store = Some(Arc::clone(&world.store));
    assert_eq!(
        world.statuses(),
        pairs(&[("a", "ran"), ("b", "ran"), ("c", "ran")])
    );
    let read = |path: &str| std::fs::read_to_string(world.dir.path().join(path)).unwrap();
    assert_eq!(
        (read("a.txt"), read("b.txt"), read("c.txt")),
        ("1".into(), "1".into(), "x".into())
    );
    assert_eq!(
        world.statuses(),
        pairs(&[("a", "cached"), ("b", "cached"), ("c", "cached")])
    );
}

/// What the executor stored is held to what any cached result is: one that writes outside
/// its declared outputs fails the step and is not restored.
#[test]
fn a_stored_result_with_an_undeclared_output_fails_the_step() {
    let mut world = World::new(
        "step \"a\" { cmd \"cat in.txt > elsewhere.txt\"; inputs \"in.txt\"; outputs \"a.txt\"; }\n",
        &[("in.txt", "1")],
    );
    world.executor.to_store = Some(Arc::clone(&world.store));
    let built = world.build();
    let (status, reasons) = &built["a"];
    assert_eq!(*status, "failed");
    assert!(
        reasons[0].starts_with("the result its executor stored cannot be used"),
        "{reasons:?}"
    );
    assert!(!world.dir.path().join("elsewhere.txt").exists());
}

/// The builder's own file work goes through the stat cache's file system: the workdir is
/// created, the metrics are read and the result's start time is taken there, which only a
/// file system the test holds can show.
#[test]
fn the_workdir_the_metrics_and_the_clock_go_through_the_file_system() {
    let fs = TestFileSystem::new();
    // A clock a year ahead of the real one: the result's start time must come from it.
    fs.advance_secs(365 * 24 * 3600);
    let manifest = "step \"a\" { workdir \"sub/dir\"; cmd \"cat ../../in.json > ../../m.json\"; inputs \"in.json\"; metrics \"m.json\"; }\n";
    let world = World::new(manifest, &[("in.json", r#"{"loss": 0.5}"#)]).on(fs.clone());
    assert_eq!(world.statuses(), pairs(&[("a", "ran")]));

    let root = world.dir.path();
    let ops = fs.ops();
    assert!(
        ops.contains(&Op::CreateDirAll(root.join("sub/dir"))),
        "{ops:?}"
    );
    assert!(ops.contains(&Op::ReadEnd(root.join("m.json"))), "{ops:?}");

    let graph = world.graph();
    let id = graph.action_by_name("a").unwrap();
    let key = world.with_builder(&graph, |builder| builder.key(graph.action(id)).unwrap());
    let result = world
        .store
        .get_action_result(&key.digest())
        .unwrap()
        .unwrap();
    assert_eq!(result.metrics["m.json"], serde_json::json!({"loss": 0.5}));
    let now_ms = u64::try_from(fs.now_ns() / 1_000_000).unwrap();
    let started_ms = result.execution.started_ms;
    assert!(
        started_ms <= now_ms && started_ms + 60_000 > now_ms,
        "started at {started_ms}, the fake clock says {now_ms}"
    );
}

/// A file the up-to-date check found as its record has it, with the digest the record knew,
/// is not looked at again: an input's digest and an output's presence come from the check.
/// One the record knew by its signature alone is looked at as before.
#[test]
fn what_the_up_to_date_check_found_unchanged_is_not_looked_at_again() {
    let fs = TestFileSystem::new();
    let manifest =
        "step \"a\" { cmd \"cat in.txt > out.txt\"; inputs \"in.txt\"; outputs \"out.txt\"; }\n";
    let world = World::new(manifest, &[("in.txt", "x")]).on(fs.clone());
    assert_eq!(world.statuses(), pairs(&[("a", "ran")]));
    let root = world.dir.path();
    let found = |path: &str| {
        let absolute = root.join(path);
        let stat = RealFileSystem.stat(&absolute).unwrap();
        let digest = RealFileSystem.hash(&absolute, &stat).unwrap().digest;
        (stat, digest)
    };
    let ((input, input_digest), (output, output_digest)) = (found("in.txt"), found("out.txt"));
    let stats_of = |path: &str| {
        let absolute = root.join(path);
        fs.stats().iter().filter(|stat| **stat == absolute).count()
    };

    world.unchanged.replace(Some(Unchanged::of_files([
        ("in.txt", input, Some(input_digest)),
        ("out.txt", output, Some(output_digest)),
    ])));
    let (before_in, before_out) = (stats_of("in.txt"), stats_of("out.txt"));
    assert_eq!(world.statuses(), pairs(&[("a", "cached")]));
    assert_eq!(
        stats_of("in.txt"),
        before_in,
        "the input was looked at again"
    );
    assert_eq!(
        stats_of("out.txt"),
        before_out,
        "the output was looked at again"
    );

    world.unchanged.replace(Some(Unchanged::of_files([
        ("in.txt", input, None),
        ("out.txt", output, None),
    ])));
    assert_eq!(world.statuses(), pairs(&[("a", "cached")]));
    assert!(
        stats_of("in.txt") > before_in,
        "known by signature alone: looked at"
    );
    assert!(
        stats_of("out.txt") > before_out,
        "known by signature alone: looked at"
    );
}

/// A source that several actions read is looked at once per build, and each of them is keyed
/// with the same digest.
#[test]
fn a_source_many_actions_read_is_looked_at_once() {
    let fs = TestFileSystem::new();
    let manifest = "step \"a\" { cmd \"cat in.txt > a.txt\"; inputs \"in.txt\"; outputs \"a.txt\"; }\n\
                    step \"b\" { cmd \"cat in.txt > b.txt\"; inputs \"in.txt\"; outputs \"b.txt\"; }\n\
                    step \"c\" { cmd \"cat in.txt > c.txt\"; inputs \"in.txt\"; outputs \"c.txt\"; }\n";
    let world = World::new(manifest, &[("in.txt", "x")]).on(fs.clone());
    let input = world.dir.path().join("in.txt");
    let stats_of_input = || fs.stats().iter().filter(|stat| **stat == input).count();
    assert_eq!(
        world.statuses(),
        pairs(&[("a", "ran"), ("b", "ran"), ("c", "ran")])
    );
    assert_eq!(stats_of_input(), 1);
    assert_eq!(
        world.statuses(),
        pairs(&[("a", "cached"), ("b", "cached"), ("c", "cached")])
    );
    assert_eq!(stats_of_input(), 2, "once more for the second build");
}

/// The files inside a directory input that the up-to-date check found as recorded are not
/// looked at again either; the directory is still listed, so a file that came is seen.
#[test]
fn files_inside_a_directory_the_check_found_unchanged_are_not_looked_at_again() {
    let fs = TestFileSystem::new();
    let manifest =
        "step \"a\" { cmd \"cat d/x.txt > out.txt\"; inputs \"d/\"; outputs \"out.txt\"; }\n";
    let world = World::new(manifest, &[("d/x.txt", "x")]).on(fs.clone());
    assert_eq!(world.statuses(), pairs(&[("a", "ran")]));
    let root = world.dir.path();
    let inside = root.join("d/x.txt");
    let stat = RealFileSystem.stat(&inside).unwrap();
    let digest = RealFileSystem.hash(&inside, &stat).unwrap().digest;
    let stats_inside = || fs.stats().iter().filter(|stat| **stat == inside).count();

    world
        .unchanged
        .replace(Some(Unchanged::of_files([("d/x.txt", stat, Some(digest))])));
    let before = stats_inside();
    assert_eq!(world.statuses(), pairs(&[("a", "cached")]));
    assert_eq!(
        stats_inside(),
        before,
        "the file inside was looked at again"
    );

    world.write("d/y.txt", "y");
    assert_eq!(
        world.statuses(),
        pairs(&[("a", "ran")]),
        "a new file is seen"
    );
}
