//! A build stopped by Ctrl-C is recorded as it happened: the steps that were running as
//! interrupted, with when they started and how long they ran, the steps never started as
//! skipped, and the run as interrupted. `show` used to say "0 failed, 5 skipped" with 0.0 s
//! for every action, where the build had said "3 skipped, 2 interrupted" after 2 s.

mod common;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::processes::wait_for;
use common::{Test, wait};
use serde_json::Value;

/// Two long steps that run side by side, and three steps that read what they write.
const MANIFEST: &str = r#"
step "long1" {
    cmd "touch started1; sleep 30; echo 1 > out/l1"
    outputs "out/l1"
}
step "long2" {
    cmd "touch started2; sleep 30; echo 2 > out/l2"
    outputs "out/l2"
}
step "d1" {
    cmd "cat out/l1 > out/d1"
    inputs "out/l1"
    outputs "out/d1"
}
step "d2" {
    cmd "cat out/l2 > out/d2"
    inputs "out/l2"
    outputs "out/d2"
}
step "d3" {
    cmd "cat out/l1 out/l2 > out/d3"
    inputs "out/l1" "out/l2"
    outputs "out/d3"
}
"#;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

/// Builds, and sends SIGINT once both long steps have run for `ran_for`.
fn interrupted_build(ran_for: Duration) -> (Test, i64) {
    let test = Test::new().manifest(MANIFEST);
    let before = now_ms();
    let mut child = test.spawn(&["build", "-j", "2"]);
    wait_for(&test.path().join("started1"), &mut child);
    wait_for(&test.path().join("started2"), &mut child);
    std::thread::sleep(ran_for);
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
    // SAFETY: kill has no memory-safety preconditions; the pid is our own live child's.
    let sent = unsafe { libc::kill(pid, libc::SIGINT) };
    assert_eq!(sent, 0, "kill: {}", std::io::Error::last_os_error());
    let (code, _, stderr) = wait(child);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("3 skipped, 2 interrupted"), "{stderr}");
    (test, before)
}

fn action<'a>(actions: &'a [Value], name: &str) -> &'a Value {
    actions
        .iter()
        .find(|action| action["action"]["name"] == name || action["name"] == name)
        .unwrap_or_else(|| panic!("no action {name} in {actions:?}"))
}

#[test]
fn show_of_an_interrupted_run_counts_and_times_the_interrupted_actions() {
    let (test, before) = interrupted_build(Duration::from_secs(1));
    let out = test.args(&["show", "--format", "json"]).run().success();
    let shown = out.json();
    let run = &shown["run"];
    assert_eq!(run["status"], "interrupted", "{}", out.stdout);
    assert_eq!(run["interrupted"], 2, "{}", out.stdout);
    assert_eq!(run["skipped"], 3, "{}", out.stdout);
    assert_eq!(run["failed"], 0, "{}", out.stdout);
    let actions = shown["actions"].as_array().cloned().unwrap_or_default();
    for name in ["long1", "long2"] {
        let long = action(&actions, name);
        assert_eq!(long["status"], "interrupted", "{long}");
        let took = long["duration_ms"].as_i64().unwrap_or_default();
        assert!(
            (900..30_000).contains(&took),
            "{name} ran for {took} ms: {long}"
        );
        let started = long["started_ms"].as_i64().unwrap_or_default();
        assert!(
            (before..=now_ms() - 900).contains(&started),
            "{name} started at {started}, the build at {before}: {long}"
        );
    }
    for name in ["d1", "d2", "d3"] {
        let skipped = action(&actions, name);
        assert_eq!(skipped["status"], "skipped", "{skipped}");
        let reasons = skipped["reasons"].to_string();
        assert!(reasons.contains("was interrupted"), "{skipped}");
    }

    let out = out.again().args(&["show"]).run().success();
    assert!(
        out.stdout
            .contains("0 ran, 0 cached, 0 failed, 3 skipped, 2 interrupted"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("interrupted long1    0.0s"),
        "{}",
        out.stdout
    );

    let out = out
        .again()
        .args(&["log", "--format", "json"])
        .run()
        .success();
    let runs = out.json()["runs"].clone();
    assert_eq!(runs[0]["status"], "interrupted", "{}", out.stdout);
    assert_eq!(runs[0]["interrupted"], 2, "{}", out.stdout);
    assert_eq!(runs[0]["skipped"], 3, "{}", out.stdout);
    out.again()
        .args(&["log"])
        .run()
        .success()
        .stdout_contains("interrupted");
}

/// A database written before interrupted actions were counted apart opens, and its runs
/// count them from their actions' rows.
#[test]
fn an_older_lineage_database_counts_its_interrupted_actions() {
    let test = Test::new().manifest(MANIFEST).dir(".zenbuild");
    {
        let conn =
            rusqlite::Connection::open(zenbuild::workspace::StateDir::of(test.path()).lineage_db())
                .expect("create the database");
        conn.execute_batch(zenbuild::lineage::schema::MIGRATIONS[0])
            .expect("schema version 1");
        conn.execute_batch(
            r#"
            PRAGMA user_version = 1;
            INSERT INTO runs (id, started_ms, finished_ms, status, kind, command, user, host,
                              version, ran, cached, failed, skipped)
            VALUES (1, 1000, 3000, 'interrupted', 'build', '["zenbuild"]', 'u', 'h', '0.1.0',
                    0, 0, 0, 5);
            INSERT INTO actions (run_id, name, step, status, started_ms, duration_ms, cmd, reasons)
            VALUES (1, 'long1', 'long1', 'interrupted', 3000, 0, 'x', '[]'),
                   (1, 'long2', 'long2', 'interrupted', 3000, 0, 'x', '[]'),
                   (1, 'd1', 'd1', 'skipped', 3000, 0, 'x', '[]'),
                   (1, 'd2', 'd2', 'skipped', 3000, 0, 'x', '[]'),
                   (1, 'd3', 'd3', 'skipped', 3000, 0, 'x', '[]');
            "#,
        )
        .expect("an old run");
    }
    let out = test.args(&["log", "--format", "json"]).run().success();
    let runs = out.json()["runs"].clone();
    assert_eq!(runs[0]["interrupted"], 2, "{}", out.stdout);
    assert_eq!(runs[0]["skipped"], 3, "{}", out.stdout);
    out.again()
        .args(&["show", "1"])
        .run()
        .success()
        .stdout_contains("3 skipped, 2 interrupted");
}
