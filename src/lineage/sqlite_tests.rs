use std::collections::BTreeMap;

use super::*;
use crate::lineage::Metric;
use crate::lineage::test_history::{history, replay};

fn artifact(path: &str, digest: &str) -> ArtifactRecord {
    ArtifactRecord {
        path: path.into(),
        digest: digest.into(),
        size: Some(1),
    }
}

fn new_run() -> NewRun {
    NewRun {
        uid: crate::lineage::new_run_uid(),
        started_ms: 1,
        kind: "build".into(),
        command: vec!["zenbuild".into()],
        user: "u".into(),
        host: "h".into(),
        version: "0".into(),
        manifest_digest: "d".into(),
        manifest: Some("{}".into()),
        store: None,
    }
}

#[test]
fn a_run_and_its_lineage_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("lineage.db")).unwrap();
    let run = store.begin_run(&new_run()).unwrap();
    let prepare = ActionRecord {
        name: "prepare".into(),
        step: "prepare".into(),
        status: "ran".into(),
        cmd: "prep".into(),
        inputs: vec![artifact("raw.csv", "aa")],
        outputs: vec![artifact("clean.csv", "bb")],
        ..ActionRecord::default()
    };
    let fit = ActionRecord {
        name: "fit".into(),
        step: "fit".into(),
        status: "ran".into(),
        cmd: "fit".into(),
        inputs: vec![artifact("clean.csv", "bb")],
        outputs: vec![artifact("model.json", "cc")],
        params: vec![("lr".into(), serde_json::json!(0.1))],
        metrics: vec![Metric {
            path: "m.json".into(),
            name: "acc".into(),
            value: serde_json::json!(0.9),
        }],
        ..ActionRecord::default()
    };
    store.record_actions(run, &[prepare, fit]).unwrap();

    let model = store.producer("model.json", "cc").unwrap().unwrap().action;
    assert_eq!(model.name, "fit");
    assert_eq!(model.inputs, [artifact("clean.csv", "bb")]);
    assert_eq!(model.params, [("lr".to_string(), serde_json::json!(0.1))]);
    assert_eq!(model.metrics[0].value, serde_json::json!(0.9));
    let readers = store.consumers("raw.csv", "aa").unwrap();
    assert_eq!(readers.len(), 1);
    assert_eq!(readers[0].action.name, "prepare");
    assert_eq!(store.find_artifacts("model.json").unwrap().len(), 1);
    assert_eq!(store.find_artifacts("c").unwrap()[0].path, "model.json");

    assert_eq!(store.runs(10).unwrap()[0].status, "running");
    assert_eq!(store.close_abandoned_runs().unwrap(), 1);
    assert_eq!(store.run(run).unwrap().unwrap().status, "interrupted");
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lineage.db");
    drop(SqliteStore::open(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let error = SqliteStore::open(&path).err().unwrap();
    assert!(error.to_string().contains("newer zenbuild"), "{error}");
}

/// How many rows each table holds.
fn rows(path: &Path) -> BTreeMap<String, i64> {
    let conn = Connection::open(path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables
        .into_iter()
        .map(|table| {
            let count = conn
                .query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |row| {
                    row.get(0)
                })
                .unwrap();
            (table, count)
        })
        .collect()
}

/// What an action is, without how its run went.
fn content(summary: &ActionSummary) -> serde_json::Value {
    let mut value = serde_json::json!(summary.action);
    for per_run in [
        "status",
        "exit_code",
        "started_ms",
        "duration_ms",
        "executor",
        "reasons",
    ] {
        value.as_object_mut().unwrap().remove(per_run);
    }
    value
}

#[test]
fn a_run_that_repeats_the_last_adds_one_row_per_action() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lineage.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let runs = history();
    let first = replay(&mut store, &runs[..1])[0];
    let before = rows(&path);

    // The same actions, found cached: other statuses, timings and executors.
    let second = replay(&mut store, &runs[1..2])[0];
    let after = rows(&path);
    let added: BTreeMap<&str, i64> = after
        .iter()
        .map(|(table, count)| (table.as_str(), count - before[table]))
        .filter(|(_, added)| *added != 0)
        .collect();
    assert_eq!(added, BTreeMap::from([("run_actions", 3), ("runs", 1)]));

    let (first, second) = (
        store.run_actions(first).unwrap(),
        store.run_actions(second).unwrap(),
    );
    assert_eq!(first.len(), 3);
    for (first, second) in first.iter().zip(&second) {
        assert_eq!(content(first), content(second));
    }
    let statuses: Vec<&str> = second.iter().map(|a| a.action.status.as_str()).collect();
    assert_eq!(statuses, ["cached", "cached", "cached"]);
    assert_eq!(second[0].action.started_ms, 2001);
    assert_eq!(second[0].action.executor.as_deref(), Some("cache:local"));
    assert_eq!(first[0].action.reasons, ["never built"]);
    assert!(second[0].action.reasons.is_empty());
}

#[test]
fn queries_answer_after_runs_that_ran_restored_and_failed() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("lineage.db")).unwrap();
    let ids = replay(&mut store, &history());
    let runs = store.runs(10).unwrap();
    let listed: Vec<(RunId, &str)> = runs.iter().map(|r| (r.id, r.status.as_str())).collect();
    assert_eq!(
        listed,
        [
            (ids[3], "succeeded"),
            (ids[2], "failed"),
            (ids[1], "succeeded"),
            (ids[0], "succeeded")
        ]
    );
    assert_eq!(runs[1].counts.failed, 1);
    assert_eq!(runs[1].counts.skipped, 1);

    let third = store.run_actions(ids[2]).unwrap();
    let third: Vec<(&str, &str, Option<i32>)> = third
        .iter()
        .map(|a| {
            (
                a.action.name.as_str(),
                a.action.status.as_str(),
                a.action.exit_code,
            )
        })
        .collect();
    assert_eq!(
        third,
        [
            ("prepare", "cached", None),
            ("fit", "failed", Some(2)),
            ("report", "skipped", None)
        ]
    );

    // The run that made an artifact, not the later ones that restored it.
    let made = |path: &str, digest: &str| {
        let producer = store.producer(path, digest).unwrap().unwrap();
        (producer.run_id, producer.action.status)
    };
    assert_eq!(made("model.json", "cc"), (ids[0], "ran".into()));
    assert_eq!(made("clean.csv", "bb"), (ids[0], "ran".into()));
    assert_eq!(made("model.json", "dd"), (ids[3], "ran".into()));
    // Never made here: the latest run that restored it.
    assert_eq!(made("remote.bin", "ff"), (ids[3], "cached".into()));
    assert!(store.producer("model.json", "00").unwrap().is_none());
    let model = store.producer("model.json", "dd").unwrap().unwrap().action;
    assert_eq!(model.params[0], ("lr".to_string(), serde_json::json!(0.2)));
    let metrics: Vec<(&str, &serde_json::Value)> = model
        .metrics
        .iter()
        .map(|m| (m.name.as_str(), &m.value))
        .collect();
    assert_eq!(
        metrics,
        [
            ("acc", &serde_json::json!(0.9)),
            ("epochs", &serde_json::json!(3)),
            ("note", &serde_json::json!("good"))
        ]
    );

    // The latest reader of each name.
    let readers = |path: &str, digest: &str| -> Vec<(String, RunId)> {
        store
            .consumers(path, digest)
            .unwrap()
            .into_iter()
            .map(|reader| (reader.action.name, reader.run_id))
            .collect()
    };
    assert_eq!(readers("raw.csv", "aa"), [("prepare".into(), ids[3])]);
    assert_eq!(readers("clean.csv", "bb"), [("fit".into(), ids[3])]);
    assert!(readers("model.json", "cc").is_empty());

    let mut keys = store.keys_since(3000).unwrap();
    keys.sort();
    assert_eq!(keys, ["a1", "a2", "b2", "bf"].map(String::from));
    let commit = format!("{:040x}", 2);
    assert_eq!(store.runs_at_commit(&commit).unwrap(), [ids[1]]);
    let models: Vec<String> = store
        .find_artifacts("model.json")
        .unwrap()
        .into_iter()
        .map(|a| a.digest)
        .collect();
    assert_eq!(models, ["dd", "cc"]);
}

/// More actions than one statement writes, one of them twice: every row, in order, each
/// with its own status and the content it shares.
#[test]
fn a_batch_of_many_actions_is_recorded_whole_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("lineage.db")).unwrap();
    let run = store.begin_run(&new_run()).unwrap();
    let action = |n: usize| ActionRecord {
        name: format!("a{n}"),
        step: "a".into(),
        status: if n.is_multiple_of(3) { "ran" } else { "cached" }.into(),
        cmd: format!("make {n}"),
        started_ms: n as i64,
        duration_ms: 1,
        executor: n.is_multiple_of(2).then(|| "local".to_string()),
        reasons: if n.is_multiple_of(5) {
            vec![format!("reason {n}")]
        } else {
            Vec::new()
        },
        inputs: vec![artifact(&format!("in/{n}"), "aa")],
        outputs: vec![artifact(&format!("out/{n}"), "bb")],
        ..ActionRecord::default()
    };
    let mut actions: Vec<ActionRecord> = (0..250).map(action).collect();
    actions.push(action(7));
    store.record_actions(run, &actions).unwrap();

    let recorded = store.run_actions(run).unwrap();
    assert_eq!(recorded.len(), actions.len());
    for (recorded, action) in recorded.iter().zip(&actions) {
        let recorded = &recorded.action;
        assert_eq!(recorded.name, action.name);
        assert_eq!(recorded.status, action.status);
        assert_eq!(recorded.started_ms, action.started_ms);
        assert_eq!(recorded.executor, action.executor);
        assert_eq!(recorded.reasons, action.reasons);
        assert_eq!(recorded.outputs, action.outputs);
    }
    let contents: i64 = Connection::open(dir.path().join("lineage.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM actions", [], |row| row.get(0))
        .unwrap();
    assert_eq!(contents, 250);
}

/// The queries of `lineage` about directories: the deepest output directory of a run that
/// holds a path (of the run's latest action that wrote it), and what a run read inside a
/// directory it wrote with a digest.
#[test]
fn directories_are_found_by_what_a_run_wrote_and_read() {
    use crate::lineage::test_history::{artifact, directory_history};
    use crate::lineage::tree;
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("lineage.db")).unwrap();
    let ids = replay(&mut store, &directory_history());
    let holding = |run: RunId, path: &str| {
        store
            .directory_holding(run, path)
            .unwrap()
            .map(|found| (found.path, found.digest))
    };
    let at = |path: &str, digest: &str| Some((path.to_string(), digest.to_string()));
    // The deepest: `data/train/`, not the `data/` that holds it.
    assert_eq!(holding(ids[0], "data/train/x.bin"), at("data/train/", "e3"));
    // `stamp` wrote `data/` after `unpack` did: its version.
    assert_eq!(holding(ids[0], "data/y.bin"), at("data/", "e7"));
    assert_eq!(holding(ids[0], "data/train/"), at("data/", "e7"));
    // The third run has no `stamp`: `unpack`'s own.
    assert_eq!(holding(ids[2], "data/y.bin"), at("data/", "e9"));
    // Not a directory's own path, nor a path outside every output directory.
    assert_eq!(holding(ids[0], "data/"), None);
    assert_eq!(holding(ids[0], "elsewhere/z"), None);
    assert_eq!(holding(ids[0], "model.bin"), None);

    let read = |runs: &[RunId], directory: &str, digest: &str| {
        let mut read: Vec<(String, String)> = store
            .read_inside(runs, directory, digest)
            .unwrap()
            .into_iter()
            .map(|a| (a.path, a.digest))
            .collect();
        read.sort();
        read
    };
    let everything = [
        ("data/list.txt", "e8"),
        ("data/train/x.bin", "e4"),
        ("data/y.bin", "e5"),
    ]
    .map(|(path, digest)| (path.to_string(), digest.to_string()));
    assert_eq!(read(&ids, "data/", "e1"), everything);
    assert_eq!(read(&ids[2..], "data/", "e9"), everything);
    // The third run wrote `data/` with another digest; no run wrote this one.
    assert!(read(&ids[2..], "data/", "e1").is_empty());
    assert!(read(&ids, "data/", "00").is_empty());
    assert!(read(&[], "data/", "e1").is_empty());
    assert_eq!(
        read(&ids, "data/train/", "e3"),
        [("data/train/x.bin".to_string(), "e4".to_string())]
    );

    // The walks: up through the directories that hold the model's inputs, down from the
    // archive through the readers of files inside what it unpacked to.
    let up = tree::build(&store, &artifact("model.bin", "e6"), tree::Direction::Up).unwrap();
    let train = &up.actions[0];
    assert_eq!((train.name.as_str(), train.run), ("train", ids[0]));
    let within: Vec<(&str, Option<&str>, &str)> = train
        .artifacts
        .iter()
        .map(|n| {
            (
                n.path.as_str(),
                n.within.as_deref(),
                n.actions[0].name.as_str(),
            )
        })
        .collect();
    assert_eq!(
        within,
        [
            ("data/train/x.bin", Some("data/train/"), "split"),
            ("data/y.bin", Some("data/"), "stamp")
        ]
    );
    let down = tree::build(&store, &artifact("raw.tar", "a0"), tree::Direction::Down).unwrap();
    let unpack = &down.actions[0];
    assert_eq!((unpack.name.as_str(), unpack.run), ("unpack", ids[2]));
    let data = &unpack.artifacts[0];
    let reads: Vec<(&str, RunId, Vec<&str>)> = data
        .actions
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.run,
                s.reads.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        reads,
        [
            ("split", ids[2], vec!["data/list.txt"]),
            ("train", ids[2], vec!["data/train/x.bin", "data/y.bin"])
        ]
    );
}
