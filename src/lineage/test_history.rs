//! A history of four runs, for the tests of the store and its schema: actions that ran, were
//! restored from the cache, failed, and were skipped; an artifact only ever restored; params
//! and metrics that change between runs. Public (hidden) so that the team store's tests, which
//! need real servers, replay the same history and compare the answers with SQLite's.

use serde_json::json;

use super::tree::{self, Direction};
use super::{
    ActionRecord, ArtifactRecord, Counts, GitState, MetadataStore, Metric, NewRun, RunEnd, RunId,
    RunStatus,
};

pub struct Run {
    pub new: NewRun,
    pub actions: Vec<ActionRecord>,
    pub end: RunEnd,
}

pub fn artifact(path: &str, digest: &str) -> ArtifactRecord {
    ArtifactRecord {
        path: path.into(),
        digest: digest.into(),
        size: if path.ends_with('/') { None } else { Some(3) },
    }
}

fn prepare(status: &str, at: i64) -> ActionRecord {
    ActionRecord {
        name: "prepare".into(),
        step: "prepare".into(),
        key: Some("a1".into()),
        status: status.into(),
        started_ms: at,
        duration_ms: if status == "ran" { 40 } else { 1 },
        executor: Some(
            if status == "ran" {
                "local"
            } else {
                "cache:local"
            }
            .into(),
        ),
        cmd: "prep raw.csv".into(),
        reasons: if status == "ran" {
            vec!["never built".into()]
        } else {
            Vec::new()
        },
        inputs: vec![artifact("raw.csv", "aa")],
        outputs: vec![artifact("clean.csv", "bb"), artifact("parts/", "d1")],
        ..ActionRecord::default()
    }
}

fn fit(status: &str, at: i64, lr: f64, model: &str) -> ActionRecord {
    ActionRecord {
        name: "fit".into(),
        step: "fit".into(),
        // Keys are digests: hex, as a store may keep them as bytes.
        key: Some(if lr < 0.15 { "b1" } else { "b2" }.into()),
        status: status.into(),
        started_ms: at,
        duration_ms: 700,
        executor: Some("local".into()),
        cmd: format!("fit --lr {lr}"),
        reasons: vec!["params lr changed".into()],
        inputs: vec![artifact("clean.csv", "bb"), artifact("parts/a.csv", "d2")],
        outputs: vec![artifact("model.json", model), artifact("m.json", "ee")],
        params: vec![
            ("lr".into(), json!(lr)),
            ("tags".into(), json!({"b": 1, "a": [2]})),
        ],
        metrics: vec![
            Metric {
                path: "m.json".into(),
                name: "acc".into(),
                value: json!(0.9),
            },
            Metric {
                path: "m.json".into(),
                name: "epochs".into(),
                value: json!(3),
            },
            Metric {
                path: "m.json".into(),
                name: "note".into(),
                value: json!("good"),
            },
        ],
        ..ActionRecord::default()
    }
}

/// Only ever restored from a remote cache: it has no run that ran it.
fn fetch(at: i64) -> ActionRecord {
    ActionRecord {
        name: "fetch".into(),
        step: "fetch".into(),
        key: Some("a2".into()),
        status: "cached".into(),
        started_ms: at,
        executor: Some("cache:team".into()),
        cmd: "fetch".into(),
        outputs: vec![artifact("remote.bin", "ff")],
        ..ActionRecord::default()
    }
}

fn failed_fit(at: i64) -> ActionRecord {
    ActionRecord {
        name: "fit".into(),
        step: "fit".into(),
        key: Some("bf".into()),
        status: "failed".into(),
        exit_code: Some(2),
        started_ms: at,
        duration_ms: 5,
        executor: Some("local".into()),
        cmd: "fit --lr bad".into(),
        reasons: vec!["exited with code 2".into()],
        params: vec![("lr".into(), json!("bad"))],
        ..ActionRecord::default()
    }
}

fn skipped(name: &str, at: i64) -> ActionRecord {
    ActionRecord {
        name: name.into(),
        step: name.into(),
        status: "skipped".into(),
        started_ms: at,
        cmd: format!("{name} model.json"),
        reasons: vec!["fit did not succeed".into()],
        ..ActionRecord::default()
    }
}

fn run(started_ms: i64, status: RunStatus, actions: Vec<ActionRecord>) -> Run {
    let count = |status: &str| actions.iter().filter(|a| a.status == status).count() as u64;
    let counts = Counts {
        ran: count("ran"),
        cached: count("cached"),
        failed: count("failed"),
        skipped: count("skipped"),
        interrupted: count("interrupted"),
    };
    Run {
        new: NewRun {
            uid: crate::lineage::new_run_uid(),
            started_ms,
            kind: "build".into(),
            command: vec!["zenbuild".into(), "build".into()],
            user: "u".into(),
            host: "h".into(),
            version: "0.1.0".into(),
            manifest_digest: "5e".into(),
            manifest: Some("{}".into()),
            store: None,
        },
        end: RunEnd {
            finished_ms: started_ms + 900,
            status,
            git: Some(GitState {
                commit: format!("{:040x}", started_ms / 1000),
                branch: Some("main".into()),
                dirty: false,
            }),
            counts,
        },
        actions,
    }
}

/// Ran everything; restored everything; a new param that fails; the param that works.
pub fn history() -> Vec<Run> {
    vec![
        run(
            1000,
            RunStatus::Succeeded,
            vec![
                prepare("ran", 1001),
                fit("ran", 1002, 0.1, "cc"),
                fetch(1003),
            ],
        ),
        run(
            2000,
            RunStatus::Succeeded,
            vec![
                prepare("cached", 2001),
                fit("cached", 2002, 0.1, "cc"),
                fetch(2003),
            ],
        ),
        run(
            3000,
            RunStatus::Failed,
            vec![
                prepare("cached", 3001),
                failed_fit(3002),
                skipped("report", 3003),
            ],
        ),
        run(
            4000,
            RunStatus::Succeeded,
            vec![
                prepare("cached", 4001),
                fit("ran", 4002, 0.2, "dd"),
                fetch(4003),
            ],
        ),
    ]
}

fn action(
    name: &str,
    status: &str,
    inputs: &[(&str, &str)],
    outputs: &[(&str, &str)],
) -> ActionRecord {
    let artifacts = |list: &[(&str, &str)]| {
        list.iter()
            .map(|(path, digest)| artifact(path, digest))
            .collect()
    };
    ActionRecord {
        name: name.into(),
        step: name.into(),
        key: None,
        status: status.into(),
        cmd: name.into(),
        inputs: artifacts(inputs),
        outputs: artifacts(outputs),
        ..ActionRecord::default()
    }
}

/// Output directories inside one another, and one written by two actions of a run: `unpack`
/// makes `data/`, `split` makes `data/train/` inside it, `stamp` writes `data/` again after
/// `unpack` (with another digest), and `train` reads a file inside each. The second run
/// restores everything; the third unpacks anew and leaves `stamp` out.
pub fn directory_history() -> Vec<Run> {
    let unpack =
        |status, digest| action("unpack", status, &[("raw.tar", "a0")], &[("data/", digest)]);
    let split = |status| {
        action(
            "split",
            status,
            &[("data/list.txt", "e8")],
            &[("data/train/", "e3")],
        )
    };
    let stamp = |status| action("stamp", status, &[], &[("data/", "e7")]);
    let train = |status| {
        action(
            "train",
            status,
            &[("data/train/x.bin", "e4"), ("data/y.bin", "e5")],
            &[("model.bin", "e6")],
        )
    };
    vec![
        run(
            1000,
            RunStatus::Succeeded,
            vec![
                unpack("ran", "e1"),
                split("ran"),
                stamp("ran"),
                train("ran"),
            ],
        ),
        run(
            2000,
            RunStatus::Succeeded,
            vec![
                unpack("cached", "e1"),
                split("cached"),
                stamp("cached"),
                train("cached"),
            ],
        ),
        run(
            3000,
            RunStatus::Succeeded,
            vec![unpack("ran", "e9"), split("cached"), train("cached")],
        ),
    ]
}

/// Every answer about directories the store gives for [`directory_history`]'s `runs`.
pub fn directory_history_answers(store: &dyn MetadataStore, runs: &[RunId]) -> serde_json::Value {
    let mut answers = directory_answers(
        store,
        runs,
        &[
            "data/train/x.bin",
            "data/y.bin",
            "data/train/",
            "data/",
            "model.bin",
            "elsewhere/z",
        ],
        &[
            ("data/", "e1"),
            ("data/", "e7"),
            ("data/", "e9"),
            ("data/train/", "e3"),
        ],
    );
    answers.extend(tree_answers(
        store,
        &[
            ("model.bin", "e6", Direction::Up),
            ("data/y.bin", "e5", Direction::Up),
            ("raw.tar", "a0", Direction::Down),
            ("data/", "e7", Direction::Down),
            ("data/train/", "e3", Direction::Down),
        ],
    ));
    serde_json::Value::Object(answers)
}

/// Records `runs` in `store`; returns their ids.
pub fn replay(store: &mut dyn MetadataStore, runs: &[Run]) -> Vec<RunId> {
    runs.iter()
        .map(|run| {
            let id = store.begin_run(&run.new).unwrap();
            // In two batches, as a recorder that flushes mid-run writes them.
            let (first, rest) = run.actions.split_at(1);
            store.record_actions(id, first).unwrap();
            store.record_actions(id, rest).unwrap();
            store.finish_run(id, &run.end).unwrap();
            id
        })
        .collect()
}

/// Every answer the store gives about `runs`, as JSON, to compare two stores by.
pub fn answers(store: &dyn MetadataStore, runs: &[RunId]) -> serde_json::Value {
    let mut answers = serde_json::Map::new();
    let mut put = |name: String, value: serde_json::Value| answers.insert(name, value);
    put("runs".into(), json!(store.runs(100).unwrap()));
    for &run in runs {
        put(format!("run {run}"), json!(store.run(run).unwrap()));
        put(
            format!("actions {run}"),
            json!(store.run_actions(run).unwrap()),
        );
        let summary = store.run(run).unwrap().unwrap();
        let commit = summary.git.map(|git| git.commit).unwrap_or_default();
        put(
            format!("at commit {commit}"),
            json!(store.runs_at_commit(&commit).unwrap()),
        );
        put(
            format!("keys since {run}"),
            json!(sorted(store.keys_since(summary.started_ms).unwrap())),
        );
    }
    let artifacts = [
        ("raw.csv", "aa"),
        ("clean.csv", "bb"),
        ("parts/", "d1"),
        ("parts/a.csv", "d2"),
        ("model.json", "cc"),
        ("model.json", "dd"),
        ("m.json", "ee"),
        ("remote.bin", "ff"),
        ("missing", "00"),
    ];
    for (path, digest) in artifacts {
        put(
            format!("producer {path} {digest}"),
            json!(store.producer(path, digest).unwrap()),
        );
        put(
            format!("consumers {path} {digest}"),
            json!(store.consumers(path, digest).unwrap()),
        );
    }
    for query in ["model.json", "parts", "parts/", "d", "ee", "0"] {
        put(
            format!("find {query}"),
            json!(store.find_artifacts(query).unwrap()),
        );
    }
    answers.extend(directory_answers(
        store,
        runs,
        &[
            "parts/a.csv",
            "parts/",
            "parts/b/c.csv",
            "raw.csv",
            "elsewhere/x",
        ],
        &[("parts/", "d1"), ("parts/", "00"), ("raw.csv", "aa")],
    ));
    let trees = [
        ("model.json", "dd", Direction::Up),
        ("model.json", "cc", Direction::Up),
        ("parts/a.csv", "d2", Direction::Up),
        ("raw.csv", "aa", Direction::Down),
        ("parts/", "d1", Direction::Down),
    ];
    answers.extend(tree_answers(store, &trees));
    serde_json::Value::Object(answers)
}

/// The answers of `directory_holding` for each of `runs` and `paths`, and of `read_inside`
/// of each of `directories` (path, digest) in all of `runs`, in the latest alone, and in none.
pub fn directory_answers(
    store: &dyn MetadataStore,
    runs: &[RunId],
    paths: &[&str],
    directories: &[(&str, &str)],
) -> serde_json::Map<String, serde_json::Value> {
    let mut answers = serde_json::Map::new();
    for &run in runs {
        for path in paths {
            answers.insert(
                format!("directory holding {path} in {run}"),
                json!(store.directory_holding(run, path).unwrap()),
            );
        }
    }
    let latest = &runs[runs.len().saturating_sub(1)..];
    for (directory, digest) in directories {
        for (name, runs) in [("all", runs), ("latest", latest), ("none", &[][..])] {
            let mut read = store.read_inside(runs, directory, digest).unwrap();
            read.sort_by(|a, b| (&a.path, &a.digest).cmp(&(&b.path, &b.digest)));
            answers.insert(
                format!("read inside {directory} {digest} in {name}"),
                json!(read),
            );
        }
    }
    answers
}

/// The provenance trees of `roots` (path, digest, direction), as `lineage --format json`
/// prints them.
pub fn tree_answers(
    store: &dyn MetadataStore,
    roots: &[(&str, &str, Direction)],
) -> serde_json::Map<String, serde_json::Value> {
    roots
        .iter()
        .map(|&(path, digest, direction)| {
            let node = tree::build(store, &artifact(path, digest), direction).unwrap();
            (
                format!("lineage {direction:?} {path} {digest}"),
                json!(node),
            )
        })
        .collect()
}

fn sorted(mut keys: Vec<String>) -> Vec<String> {
    keys.sort();
    keys
}
