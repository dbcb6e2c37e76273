//! The lineage stores side by side: `cargo bench --bench lineage`.
//!
//! Target (issue: lineage): on each store, SQLite, PostgreSQL and MariaDB, recording a
//! 1,000-action run is quick, and the queries behind `zenbuild log`, `show` and `lineage` on
//! 1,000,000 recorded run-actions each answer within 50 ms.
//!
//! For each backend in turn (a server is started by the test harness, filled, measured, then
//! stopped and removed before the next):
//!
//! - recording a first build, 1,000 new actions, into an empty store: as the build's recorder
//!   writes it (the run begun, its actions in batches of 100, the run finished) and as a clone
//!   sends a finished run (`deliver_run`, one transaction; SQLite has none, so there one
//!   `record_actions` of the whole run);
//! - filling a store with the history of `history.rs` (1,000-action runs, 98% restored from
//!   the cache, 2% new contents), each run sent whole as a clone sends it, and how long that
//!   took;
//! - on it, the median of `--runs` repetitions of: `log` (the latest 20 runs), `show` of the
//!   latest run (the run and its 1,000 actions), `producer` of a file that one run made and
//!   every later run restored, `consumers` of a file that every run read, `find_artifacts` of
//!   a path with a version per run and of a digest prefix, and `lineage` up and `--down` (10
//!   levels, through a file inside a directory) as the command walks them, then each walk
//!   once more counting the store's calls of each kind and their time;
//! - recording a rebuild (980 cached actions, 20 new) into the filled store, both ways.
//!
//! ```text
//! ZENBUILD_LINEAGE_ACTIONS=1000000 cargo bench --bench lineage -- [--runs 21] [--record-runs 5]
//! ```
//!
//! `ZENBUILD_LINEAGE_ACTIONS` is the number of run-actions the store is filled with, a
//! thousand per run: 100,000 unless set (a few minutes for the three), 1,000,000 for the
//! issue's figures. `ZENBUILD_LINEAGE_BACKENDS=sqlite,postgres` picks some of the three.
//! The machine's load average is printed before and after, since the figures move with it.

#[path = "../tests/common/guard.rs"]
#[allow(dead_code)]
mod guard;
#[path = "../tests/common/local_server.rs"]
#[allow(dead_code)]
mod local_server;
#[path = "../tests/common/mariadb.rs"]
#[allow(dead_code)]
mod mariadb;
#[path = "../tests/common/postgres.rs"]
#[allow(dead_code)]
mod postgres;

#[path = "lineage/backends.rs"]
mod backends;
#[path = "lineage/calls.rs"]
mod calls;
#[path = "lineage/history.rs"]
mod history;
#[path = "lineage/report.rs"]
mod report;

use std::time::Instant;

use backends::{Backend, Kind, Store};
use calls::Counted;
use history::{ACTIONS, CHAIN, COLD, HOT, History};
use report::Report;
use zenbuild::lineage::tree::{self, Direction};
use zenbuild::lineage::{MetadataStore, RunId};

/// Actions per `record_actions` when recording as the build does.
const BATCH: usize = 100;

struct Options {
    /// Runs of 1,000 actions the store is filled with.
    history: usize,
    backends: Vec<Kind>,
    /// Repetitions of each query.
    runs: usize,
    /// Repetitions of each recording.
    record_runs: usize,
}

impl Options {
    fn read() -> Options {
        let actions: usize = std::env::var("ZENBUILD_LINEAGE_ACTIONS").map_or(100_000, |v| {
            v.replace(['_', ','], "")
                .parse()
                .expect("ZENBUILD_LINEAGE_ACTIONS: a number of run-actions")
        });
        let backends = std::env::var("ZENBUILD_LINEAGE_BACKENDS").map_or_else(
            |_| Kind::ALL.to_vec(),
            |names| {
                names
                    .split(',')
                    .map(|name| {
                        Kind::parse(name.trim()).unwrap_or_else(|| {
                            panic!("ZENBUILD_LINEAGE_BACKENDS: sqlite, postgres or mariadb, not {name:?}")
                        })
                    })
                    .collect()
            },
        );
        let mut options = Options {
            history: (actions / ACTIONS).max(1),
            backends,
            runs: 21,
            record_runs: 5,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut number = || -> usize {
                args.next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{arg} N"))
            };
            match arg.as_str() {
                "--runs" => options.runs = number().max(1),
                "--record-runs" => options.record_runs = number().max(1),
                // cargo bench passes `--bench`.
                _ => {}
            }
        }
        options
    }
}

fn main() {
    let options = Options::read();
    println!(
        "lineage stores on {} run-actions ({} runs of {ACTIONS}); load average {}",
        options.history * ACTIONS,
        options.history,
        load()
    );
    let names: Vec<String> = options.backends.iter().map(ToString::to_string).collect();
    let mut report = Report::new(&names);
    for (index, &kind) in options.backends.iter().enumerate() {
        report.column(index);
        let Some(backend) = Backend::start(kind) else {
            println!("{kind}: skipped, its server is not installed");
            report.note(FILL, "not installed");
            continue;
        };
        record_first_builds(&backend, &options, &mut report);
        let (mut store, mut history, first) = fill(&backend, kind, &options, &mut report);
        queries(&store, &history, first, &options, &mut report);
        record_rebuilds(&mut store, &mut history, &options, &mut report);
        println!("{kind}: done; load average {}", load());
        // The store, then the server and its data, go before the next backend fills its own.
    }
    println!(
        "\nmedian (min–max) of {} runs a query, {} a recording; load average {}",
        options.runs,
        options.record_runs,
        load()
    );
    report.print();
}

const FILL: &str = "fill: the history, a run at a time";

/// A first build into an empty store, both ways; each repetition a pipeline of its own, so
/// that every action is new.
fn record_first_builds(backend: &Backend, options: &Options, report: &mut Report) {
    let mut store = backend.fresh("first");
    report.time(
        "record a first build (1,000 new), in batches",
        options.record_runs,
        |repetition| {
            let run = History::new(&format!("recorded-{repetition}")).next_run();
            store.record(&run, BATCH);
        },
    );
    report.time(
        "deliver a first build (1,000 new)",
        options.record_runs,
        |repetition| {
            let run = History::new(&format!("delivered-{repetition}")).next_run();
            store.deliver(&run);
        },
    );
}

/// Fills a new store with the history, each run sent whole; returns it, the history, and
/// the id of its first run.
fn fill(
    backend: &Backend,
    kind: Kind,
    options: &Options,
    report: &mut Report,
) -> (Store, History, RunId) {
    let mut store = backend.fresh("history");
    let mut history = History::new("team");
    let started = Instant::now();
    let mut first = None;
    let every = (options.history / 10).max(1);
    for run in 1..=options.history {
        let id = store.deliver(&history.next_run());
        first.get_or_insert(id);
        if run % every == 0 {
            println!(
                "{kind}: filled {run}/{} runs in {:.1} s",
                options.history,
                started.elapsed().as_secs_f64()
            );
        }
    }
    report.once(FILL, started.elapsed());
    (store, history, first.expect("a run"))
}

fn queries(store: &Store, history: &History, first: RunId, options: &Options, report: &mut Report) {
    let store = store.read();
    let runs = options.history;
    let latest = store.runs(1).expect("runs")[0].id;
    report.query("log: runs(20)", options.runs, || {
        assert_eq!(store.runs(20).expect("log").len(), 20.min(runs));
    });
    report.query("show: run + run_actions (1,000)", options.runs, || {
        assert!(store.run(latest).expect("run").is_some());
        assert_eq!(store.run_actions(latest).expect("show").len(), ACTIONS);
    });
    // Made by the first run, restored by every run since.
    let made_once = history.artifact(COLD, CHAIN);
    report.query("producer: a file every run restored", options.runs, || {
        let producer = store.producer(&made_once.path, &made_once.digest);
        let producer = producer.expect("producer").expect("a producer");
        assert_eq!(
            (producer.run_id, producer.action.status.as_str()),
            (first, "ran")
        );
    });
    let read_always = history.artifact(COLD, 0);
    report.query("consumers: a file every run read", options.runs, || {
        let readers = store.consumers(&read_always.path, &read_always.digest);
        let readers = readers.expect("consumers");
        assert_eq!(readers.len(), 1);
        assert_eq!(readers[0].run_id, latest);
    });
    let versioned = history.artifact(HOT, CHAIN);
    report.query(
        "find_artifacts: a path, a version a run",
        options.runs,
        || {
            let found = store.find_artifacts(&versioned.path).expect("find");
            assert_eq!(found.len(), runs);
        },
    );
    report.query("find_artifacts: a digest prefix", options.runs, || {
        let found = store.find_artifacts(&versioned.digest[..8]).expect("find");
        assert!(found.iter().any(|a| a.digest == versioned.digest));
    });
    let up = |store: &dyn MetadataStore| {
        let node = tree::build(store, &made_once, Direction::Up).expect("lineage");
        assert_eq!(depth(&node), CHAIN + 1);
        // The second step's file inside the first step's directory was found through it.
        assert!(any_node(&node, &|node| node.within.is_some()));
    };
    report.query("lineage: up, 10 levels", options.runs, || up(store));
    let down = |store: &dyn MetadataStore| {
        let node = tree::build(store, &read_always, Direction::Down).expect("lineage");
        assert_eq!(depth(&node), CHAIN + 1);
        // The second step was found reading a file inside the first step's directory.
        assert!(any_node(&node, &|node| node
            .actions
            .iter()
            .any(|step| !step.reads.is_empty())));
    };
    report.query("lineage --down: 10 levels", options.runs, || down(store));
    for (name, walk) in [
        ("up", &up as &dyn Fn(&dyn MetadataStore)),
        ("--down", &down),
    ] {
        let counted = Counted::new(store);
        walk(&counted);
        println!("lineage {name}, the store's calls: {}", counted.summary());
    }
}

/// Whether `node` or any node below it is one `wanted` picks.
fn any_node(node: &tree::Node, wanted: &dyn Fn(&tree::Node) -> bool) -> bool {
    wanted(node)
        || node
            .actions
            .iter()
            .flat_map(|step| &step.artifacts)
            .any(|below| any_node(below, wanted))
}

/// The history's next runs recorded into the filled store, both ways.
fn record_rebuilds(
    store: &mut Store,
    history: &mut History,
    options: &Options,
    report: &mut Report,
) {
    report.time(
        "record a rebuild (980 cached, 20 new), in batches",
        options.record_runs,
        |_| {
            store.record(&history.next_run(), BATCH);
        },
    );
    report.time(
        "deliver a rebuild (980 cached, 20 new)",
        options.record_runs,
        |_| {
            store.deliver(&history.next_run());
        },
    );
}

/// Artifact levels from the root to the deepest leaf.
fn depth(node: &tree::Node) -> usize {
    1 + node
        .actions
        .iter()
        .flat_map(|step| &step.artifacts)
        .map(depth)
        .max()
        .unwrap_or(0)
}

/// The machine's load average over 1, 5 and 15 minutes.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".to_string(),
        |text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        },
    )
}
