//! A damaged `.zenbuild/lineage.db` (a truncated copy, random bytes, a page overwritten in
//! the middle): the commands that read it say what is wrong and how to recover, and a build
//! still builds, moves the damaged file aside (kept, for salvage), and records its run in a
//! new database.

mod common;
use common::{Output, Test};

const MANIFEST: &str = r#"
params "params.yaml"
step "prepare" {
    cmd "sort data.txt > out/sorted.txt"
    inputs "data.txt"
    outputs "out/sorted.txt"
}
step "fit" {
    cmd "printf '{\"lines\": %s}' $(wc -l < out/sorted.txt) > out/metrics.json"
    inputs "out/sorted.txt"
    params "lr"
    outputs "out/metrics.json"
    metrics "out/metrics.json"
}
"#;

const DB: &str = ".zenbuild/lineage.db";

/// A workspace with a few runs recorded.
fn built() -> Output {
    let mut out = Test::new()
        .manifest(MANIFEST)
        .file("params.yaml", "lr: 0.1\n")
        .file("data.txt", "b\na\n")
        .build(&[])
        .run()
        .success();
    for data in ["c\nb\na\n", "d\nc\nb\na\n"] {
        out = out
            .again()
            .file("data.txt", data)
            .build(&[])
            .run()
            .success();
    }
    assert!(
        !out.exists(".zenbuild/lineage.db-wal"),
        "a build left its WAL"
    );
    out
}

/// The database's page size and the page where the table or index `name` starts.
fn root_page(path: &std::path::Path, name: &str) -> (usize, usize) {
    let conn = rusqlite::Connection::open(path).expect("open the lineage");
    let size: i64 = conn
        .query_row("PRAGMA page_size", [], |row| row.get(0))
        .expect("page size");
    let root: i64 = conn
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = ?1",
            [name],
            |row| row.get(0),
        )
        .unwrap_or_else(|e| panic!("no {name} in the lineage: {e}"));
    (size as usize, root as usize)
}

/// Overwrites the first half of page `page` (numbered from 1) of the database at `path`.
fn overwrite_page(path: &std::path::Path, (size, page): (usize, usize)) {
    let mut bytes = std::fs::read(path).expect("read the lineage");
    assert!(page > 1 && page * size <= bytes.len(), "page {page}");
    bytes[(page - 1) * size..][..size / 2].fill(0xAB);
    std::fs::write(path, &bytes).expect("damage the lineage");
}

/// Ways a lineage database gets damaged, each applied to a real one.
fn damage(kind: &str, path: &std::path::Path) {
    if kind == "a page overwritten" {
        return overwrite_page(path, root_page(path, "runs"));
    }
    let mut bytes = std::fs::read(path).expect("read the lineage");
    match kind {
        "truncated" => bytes.truncate(bytes.len() / 3),
        "random bytes" => {
            // A fixed xorshift: the same bytes every run.
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            for byte in &mut bytes {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *byte = x as u8;
            }
        }
        _ => unreachable!(),
    }
    std::fs::write(path, &bytes).expect("damage the lineage");
}

/// The databases moved aside from the lineage database's place (without their WAL files).
fn moved_aside(out: &Output) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(out.path().join(".zenbuild"))
        .expect("list .zenbuild")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("lineage.db.corrupt-"))
        .filter(|name| !name.ends_with("-wal") && !name.ends_with("-shm"))
        .collect();
    names.sort();
    names
}

#[test]
fn a_corrupt_lineage_db_says_how_to_recover_and_builds_still_work() {
    for kind in ["truncated", "random bytes", "a page overwritten"] {
        let out = built();
        let db = out.path().join(DB);
        damage(kind, &db);
        let damaged = std::fs::read(&db).expect("read the damaged lineage");

        // Every command that reads the lineage says what is wrong and what to do, or, where
        // it reads nothing damaged, works.
        let mut out = out;
        for args in [
            &["log"][..],
            &["show"],
            &["lineage", "out/metrics.json"],
            &["metrics", "1"],
            &["params", "diff", "1", "workspace"],
        ] {
            out = out.again().args(args).run();
            if args == ["log"] || out.code != Some(0) {
                out = out
                    .code(1)
                    .stderr_contains(&format!("the lineage database {} is damaged", db.display()))
                    .stderr_contains(&format!(
                        "move it aside (`mv {} {}.corrupt`)",
                        db.display(),
                        db.display()
                    ))
                    .stderr_contains("the next build starts a new one")
                    .stderr_lacks("panicked");
            }
        }

        // The workspace's own metrics are in its files: shown, lineage or not.
        out = out
            .again()
            .args(&["metrics"])
            .run()
            .success()
            .stdout_contains("lines");

        // A build builds, says once that it moved the database aside, and records its run.
        let out = out
            .again()
            .file("data.txt", "e\nd\nc\nb\na\n")
            .build(&[])
            .run()
            .success()
            .stderr_contains_once("was damaged")
            .stderr_contains("moved it aside to")
            .stderr_lacks("lineage is incomplete")
            .stderr_lacks("not recorded");
        assert_eq!(out.report().ran(), ["prepare", "fit"], "{kind}");
        let aside = moved_aside(&out);
        assert_eq!(aside.len(), 1, "{kind}: {aside:?}");
        let kept = std::fs::read(out.path().join(".zenbuild").join(&aside[0])).expect("read");
        assert!(
            kept == damaged,
            "{kind}: the damaged database was not kept as it was"
        );

        let out = out
            .again()
            .args(&["log", "--format", "json"])
            .run()
            .success();
        let runs = out.json()["runs"].as_array().cloned().unwrap_or_default();
        assert_eq!(runs.len(), 1, "{kind}: {}", out.stdout);
        assert_eq!(runs[0]["status"], "succeeded", "{kind}");
        assert_eq!(runs[0]["ran"], 2, "{kind}");
        let out = out
            .again()
            .args(&["lineage", "out/metrics.json"])
            .run()
            .success()
            .stdout_contains("fit (run 1");

        // Told once: the next build has nothing to say about it.
        out.again()
            .file("data.txt", "f\ne\nd\nc\nb\na\n")
            .build(&[])
            .run()
            .success()
            .stderr_lacks("damaged");
    }
}

/// The page that a build's own writes find damaged (the index of the runs in which actions
/// ran, read only when one is inserted or an artifact's lineage is asked for): the run is still recorded
/// whole, in the new database.
#[test]
fn a_lineage_db_found_damaged_while_a_build_records_keeps_that_build_whole() {
    let out = built();
    let db = out.path().join(DB);
    overwrite_page(&db, root_page(&db, "run_actions_ran"));
    // `log` reads no damaged page: the damage is found by the build's first insert.
    let out = out.again().args(&["log"]).run().success();

    let out = out
        .again()
        .file("data.txt", "e\nd\nc\nb\na\n")
        .build(&[])
        .run()
        .success()
        .stderr_contains_once("was damaged")
        .stderr_lacks("lineage is incomplete");
    assert_eq!(moved_aside(&out).len(), 1);
    let out = out
        .again()
        .args(&["show", "--format", "json"])
        .run()
        .success();
    let json = out.json();
    let names: Vec<&str> = json["actions"]
        .as_array()
        .map(|actions| actions.iter().filter_map(|a| a["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["prepare", "fit"], "{}", out.stdout);
    assert_eq!(json["run"]["status"], "succeeded");
}

/// The recovery the message gives works as written: the file moved by hand, the next build
/// starts a new database.
#[test]
fn moving_a_corrupt_lineage_db_aside_by_hand_starts_a_new_one() {
    let out = built();
    let db = out.path().join(DB);
    damage("truncated", &db);
    let out = out.again().args(&["log"]).run().code(1);
    std::fs::rename(&db, out.path().join(".zenbuild/lineage.db.corrupt")).expect("mv");
    let out = out
        .again()
        .file("data.txt", "e\nd\nc\nb\na\n")
        .build(&[])
        .run()
        .success()
        .stderr_lacks("damaged");
    out.again()
        .args(&["log"])
        .run()
        .success()
        .stdout_contains("succeeded");
}
