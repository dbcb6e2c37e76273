//! Lineage through the real binary: every build is a run in `.zenbuild/lineage.db`, and
//! `log`, `show` and `lineage` read it back, with the commit each run was built at.

use std::time::{Duration, Instant};

mod common;
use common::{Output, Test, git, wait};

/// raw → prepare → featurize → train (a param) → model, three steps deep from the data.
const PIPELINE: &str = r#"
params "params.yaml"
step "prepare" {
    cmd "tr a-z A-Z < data/raw.csv > out/clean.csv"
    inputs "data/raw.csv"
    outputs "out/clean.csv"
}
step "featurize" {
    cmd "wc -c < out/clean.csv > out/features.txt"
    inputs "out/clean.csv"
    outputs "out/features.txt"
}
step "train" {
    cmd "printf 'lr={{params.train.lr}} ' > out/model.txt; cat out/features.txt >> out/model.txt; printf '{\"acc\": 0.75}' > out/metrics.json"
    inputs "out/features.txt"
    params "train.lr"
    outputs "out/model.txt"
    metrics "out/metrics.json"
}
"#;

/// The pipeline, committed, built once.
fn built() -> (Output, String) {
    let test = Test::new()
        .manifest(PIPELINE)
        .file("params.yaml", "train:\n  lr: 0.25\n")
        .file("data/raw.csv", "a,b\n1,2\n")
        .file(".gitignore", ".zenbuild/\nout/\n");
    git(test.path(), &["init", "-q"]);
    git(test.path(), &["add", "-A"]);
    git(test.path(), &["commit", "-q", "-m", "pipeline"]);
    let commit = git(test.path(), &["rev-parse", "HEAD"]);
    let out = test.run().success();
    (out, commit)
}

#[test]
fn lineage_of_a_model_names_the_data_every_command_param_and_the_commit() {
    let (out, commit) = built();
    let out = out
        .again()
        .args(&["lineage", "out/model.txt", "--format", "json"])
        .run()
        .success();
    let tree = out.json();
    assert_eq!(tree["path"], "out/model.txt");
    let train = &tree["actions"][0];
    assert_eq!(train["name"], "train");
    assert_eq!(train["commit"], commit.as_str());
    assert_eq!(train["dirty"], false);
    assert_eq!(train["params"]["train.lr"], 0.25);
    assert!(train["cmd"].as_str().unwrap().contains("lr=0.25"));
    let features = &train["artifacts"][0];
    assert_eq!(features["path"], "out/features.txt");
    let featurize = &features["actions"][0];
    assert_eq!(featurize["name"], "featurize");
    assert!(featurize["cmd"].as_str().unwrap().starts_with("wc -c"));
    let prepare = &featurize["artifacts"][0]["actions"][0];
    assert_eq!(prepare["name"], "prepare");
    assert!(prepare["cmd"].as_str().unwrap().starts_with("tr a-z A-Z"));
    let raw = &prepare["artifacts"][0];
    assert_eq!(raw["path"], "data/raw.csv");
    assert_eq!(raw["actions"].as_array().unwrap().len(), 0, "a source file");

    let text = out
        .again()
        .args(&["lineage", "out/model.txt"])
        .run()
        .success();
    for expected in [
        "train (run 1 at ",
        "featurize",
        "prepare",
        "data/raw.csv",
        "(source)",
    ] {
        assert!(
            text.stdout.contains(expected),
            "{expected}\n{}",
            text.stdout
        );
    }
    assert!(
        text.stdout.contains("params train.lr=0.25"),
        "{}",
        text.stdout
    );
}

#[test]
fn lineage_down_from_the_raw_data_reaches_the_model() {
    let (out, _) = built();
    out.again()
        .args(&["lineage", "--down", "data/raw.csv"])
        .run()
        .success()
        .stdout_contains("out/clean.csv")
        .stdout_contains("out/features.txt")
        .stdout_contains("out/model.txt");
}

#[test]
fn an_overwritten_version_is_found_by_its_digest() {
    let (out, _) = built();
    let first = out
        .again()
        .args(&["lineage", "out/model.txt", "--format", "json"])
        .run()
        .success();
    let digest = first.json()["digest"].as_str().unwrap().to_string();
    let out = first
        .again()
        .file("params.yaml", "train:\n  lr: 0.5\n")
        .run()
        .success();
    let old = out
        .again()
        .args(&["lineage", &digest[..10], "--format", "json"])
        .run()
        .success();
    let tree = old.json();
    assert_eq!(tree["digest"], digest.as_str());
    assert_eq!(tree["actions"][0]["params"]["train.lr"], 0.25);
    let new = old
        .again()
        .args(&["lineage", "out/model.txt", "--format", "json"])
        .run()
        .success();
    assert_eq!(new.json()["actions"][0]["params"]["train.lr"], 0.5);
    assert_eq!(new.json()["actions"][0]["run"], 2);
}

#[test]
fn log_and_show_list_runs_and_their_actions() {
    let (out, commit) = built();
    let out = out.again().file("data/raw.csv", "c,d\n").run().success();
    let log = out
        .again()
        .args(&["log", "--format", "json"])
        .run()
        .success();
    let runs = log.json()["runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["id"], 2, "newest first");
    assert_eq!(runs[0]["status"], "succeeded");
    assert_eq!(runs[0]["ran"], 3);
    assert_eq!(runs[0]["git"]["commit"], commit.as_str());
    assert_eq!(
        runs[0]["git"]["dirty"], true,
        "data/raw.csv is tracked and changed"
    );
    assert_eq!(runs[1]["git"]["dirty"], false);
    assert_eq!(runs[0]["command"][0], "zenbuild");

    let text = log.again().args(&["log"]).run().success();
    assert!(
        text.stdout.contains(&format!("{}*", &commit[..8])),
        "{}",
        text.stdout
    );

    let show = text.again().args(&["show", "1"]).run().success();
    for expected in [
        "run 1: succeeded",
        "ran",
        "prepare",
        "featurize",
        "train",
        "never built",
    ] {
        assert!(
            show.stdout.contains(expected),
            "{expected}\n{}",
            show.stdout
        );
    }
    let show = show
        .again()
        .args(&["show", "--format", "json"])
        .run()
        .success();
    let actions = show.json()["actions"].as_array().unwrap().clone();
    assert_eq!(actions.len(), 3);
    let train = actions.iter().find(|a| a["name"] == "train").unwrap();
    assert_eq!(train["metrics"][0]["name"], "acc");
    assert_eq!(train["metrics"][0]["value"], 0.75);
    let show = show
        .again()
        .args(&["show", "HEAD", "--format", "json"])
        .run()
        .success();
    assert_eq!(show.json()["run"]["id"], 2, "the latest run built at HEAD");
    show.again()
        .args(&["show", "9"])
        .run()
        .code(1)
        .stderr_contains("there is no run 9");
}

#[test]
fn a_failed_step_is_recorded_with_its_exit_code() {
    let out = Test::new()
        .manifest("step \"bad\" {\n    cmd \"exit 3\"\n    outputs \"x\"\n}\n")
        .run();
    assert_eq!(out.code, Some(1));
    let show = out
        .again()
        .args(&["show", "--format", "json"])
        .run()
        .success();
    let json = show.json();
    assert_eq!(json["run"]["status"], "failed");
    assert_eq!(json["actions"][0]["status"], "failed");
    assert_eq!(json["actions"][0]["exit_code"], 3);
}

#[test]
fn a_build_killed_mid_run_leaves_a_sound_database_and_an_interrupted_run() {
    let test = Test::new().manifest(
        r#"
step "quick" {
    cmd "printf q > q.txt"
    outputs "q.txt"
}
step "slow" {
    cmd "touch slow.started; sleep 5; printf s > s.txt"
    inputs "q.txt"
    outputs "s.txt"
}
"#,
    );
    let mut child = test.spawn(&[]);
    let started = test.path().join("slow.started");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !started.exists() {
        assert!(Instant::now() < deadline, "the slow step never started");
        assert!(child.try_wait().unwrap().is_none(), "zenbuild ended early");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Finished actions are written in batches, at the latest once the scheduler has waited
    // 50 ms with nothing finishing; the slow step runs for seconds.
    std::thread::sleep(Duration::from_millis(500));
    child.kill().expect("kill -9 zenbuild");
    let _ = wait(child);

    let db = zenbuild::workspace::StateDir::of(test.path()).lineage_db();
    let store = zenbuild::lineage::SqliteStore::open(&db).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    drop(store);

    // The slow step's command was left running by the kill; its group is not ours to wait
    // for, and the lock is released with the killed process, so `log` can tell.
    let log = test.args(&["log", "--format", "json"]).run().success();
    let runs = log.json()["runs"].as_array().unwrap().clone();
    assert_eq!(runs[0]["status"], "interrupted");
    let show = log
        .again()
        .args(&["show", "--format", "json"])
        .run()
        .success();
    let actions = show.json()["actions"].as_array().unwrap().clone();
    assert_eq!(actions.len(), 1, "only the quick step finished");
    assert_eq!(actions[0]["name"], "quick");
}

/// How many rows each table of the workspace's lineage holds.
fn rows(dir: &std::path::Path) -> std::collections::BTreeMap<String, i64> {
    let db = zenbuild::workspace::StateDir::of(dir).lineage_db();
    let conn = rusqlite::Connection::open(db).expect("open the lineage");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut tables| tables.query_map([], |row| row.get(0))?.collect())
        .expect("list the tables");
    tables
        .into_iter()
        .map(|table| {
            let count = conn
                .query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |row| {
                    row.get(0)
                })
                .expect("count rows");
            (table, count)
        })
        .collect()
}

/// A build that restores every step from the cache records how each went, not again what
/// each is: a row per action, and `show` gives both runs the same actions.
#[test]
fn a_build_that_repeats_the_last_adds_one_row_per_action() {
    let (out, _) = built();
    let before = rows(out.path());
    let out = out.again().remove("out").run().success();
    let after = rows(out.path());
    let added: Vec<(&str, i64)> = after
        .iter()
        .map(|(table, count)| (table.as_str(), count - before.get(table).unwrap_or(&0)))
        .filter(|(_, added)| *added != 0)
        .collect();
    assert_eq!(added, [("run_actions", 3), ("runs", 1)]);

    let out = out
        .again()
        .args(&["show", "1", "--format", "json"])
        .run()
        .success();
    let first = out.json()["actions"].clone();
    let out = out
        .again()
        .args(&["show", "2", "--format", "json"])
        .run()
        .success();
    let second = out.json()["actions"].clone();
    let fields = |actions: &serde_json::Value, names: &[&str]| -> Vec<Vec<serde_json::Value>> {
        actions
            .as_array()
            .expect("a list of actions")
            .iter()
            .map(|action| names.iter().map(|name| action[name].clone()).collect())
            .collect()
    };
    let content = [
        "name", "step", "key", "cmd", "inputs", "outputs", "params", "metrics",
    ];
    assert_eq!(fields(&first, &content), fields(&second, &content));
    assert_eq!(fields(&first, &content).len(), 3);
    let status = |actions: &serde_json::Value| fields(actions, &["status"]).concat();
    assert_eq!(status(&first), ["ran", "ran", "ran"]);
    assert_eq!(status(&second), ["cached", "cached", "cached"]);
    let train = &second.as_array().expect("actions")[2];
    assert_eq!(train["metrics"][0]["value"], 0.75);
    assert_eq!(
        train["params"][0],
        serde_json::json!(["train.lr", 0.25]),
        "{train}"
    );
}
