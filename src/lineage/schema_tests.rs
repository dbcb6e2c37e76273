use rusqlite::{OptionalExtension, params};

use super::*;
use crate::hash::canonical_json;
use crate::lineage::test_history::{Run, answers, history, replay};
use crate::lineage::{RunId, SqliteStore};

/// Writes `runs` into a database of schema version 2 as the zenbuild of that schema did: a row
/// per action with its edges, params and metrics, every run.
fn write_version_2(conn: &Connection, runs: &[Run]) -> Vec<RunId> {
    let mut ids = Vec::new();
    for run in runs {
        let new = &run.new;
        conn.execute(
            "INSERT OR IGNORE INTO manifests (digest, text) VALUES (?1, ?2)",
            params![new.manifest_digest, new.manifest],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO runs (started_ms, status, kind, command, user, host, version, manifest_id)
             VALUES (?1, 'running', ?2, ?3, ?4, ?5, ?6,
                     (SELECT id FROM manifests WHERE digest = ?7))",
            params![
                new.started_ms,
                new.kind,
                serde_json::to_string(&new.command).unwrap(),
                new.user,
                new.host,
                new.version,
                new.manifest_digest
            ],
        )
        .unwrap();
        let id = conn.last_insert_rowid();
        for action in &run.actions {
            write_action_version_2(conn, id, action);
        }
        let (end, git) = (&run.end, run.end.git.as_ref());
        conn.execute(
            "UPDATE runs SET finished_ms = ?2, status = ?3, ran = ?4, cached = ?5, failed = ?6,
                             skipped = ?7, git_commit = ?8, git_branch = ?9, git_dirty = ?10,
                             interrupted = ?11
             WHERE id = ?1",
            params![
                id,
                end.finished_ms,
                end.status.as_str(),
                end.counts.ran as i64,
                end.counts.cached as i64,
                end.counts.failed as i64,
                end.counts.skipped as i64,
                git.map(|g| &g.commit),
                git.and_then(|g| g.branch.as_ref()),
                git.map(|g| g.dirty),
                end.counts.interrupted as i64,
            ],
        )
        .unwrap();
        ids.push(id);
    }
    ids
}

fn write_action_version_2(conn: &Connection, run: RunId, action: &crate::lineage::ActionRecord) {
    conn.execute(
        "INSERT INTO actions (run_id, name, step, key, status, exit_code, started_ms,
                              duration_ms, executor, cmd, reasons)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            run,
            action.name,
            action.step,
            action.key,
            action.status,
            action.exit_code,
            action.started_ms,
            action.duration_ms,
            action.executor,
            action.cmd,
            serde_json::to_string(&action.reasons).unwrap(),
        ],
    )
    .unwrap();
    let id = conn.last_insert_rowid();
    for (role, artifacts) in [("in", &action.inputs), ("out", &action.outputs)] {
        for artifact in artifacts {
            let size = artifact.size.map(|size| size as i64);
            let found: Option<i64> = conn
                .query_row(
                    "SELECT id FROM artifacts WHERE path = ?1 AND digest = ?2",
                    params![artifact.path, artifact.digest],
                    |row| row.get(0),
                )
                .optional()
                .unwrap();
            let artifact_id = found.unwrap_or_else(|| {
                conn.execute(
                    "INSERT INTO artifacts (path, digest, size) VALUES (?1, ?2, ?3)",
                    params![artifact.path, artifact.digest, size],
                )
                .unwrap();
                conn.last_insert_rowid()
            });
            conn.execute(
                "INSERT OR IGNORE INTO edges (action_id, role, artifact_id, ran)
                 VALUES (?1, ?2, ?3, ?4)",
                params![id, role, artifact_id, action.status == "ran"],
            )
            .unwrap();
        }
    }
    for (name, value) in &action.params {
        conn.execute(
            "INSERT OR REPLACE INTO params (action_id, name, value) VALUES (?1, ?2, ?3)",
            params![id, name, canonical_json(value)],
        )
        .unwrap();
    }
    for metric in &action.metrics {
        let value: rusqlite::types::Value = match &metric.value {
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => i.into(),
                None => n.as_f64().unwrap().into(),
            },
            other => other.to_string().into(),
        };
        conn.execute(
            "INSERT OR REPLACE INTO metrics (action_id, path, name, value) VALUES (?1, ?2, ?3, ?4)",
            params![id, metric.path, metric.name, value],
        )
        .unwrap();
    }
}

#[test]
fn a_database_of_schema_version_2_migrates_and_answers_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.db");
    let runs = history();
    let ids = {
        let conn = Connection::open(&old).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute_batch(MIGRATIONS[1]).unwrap();
        conn.execute_batch("PRAGMA user_version = 2").unwrap();
        write_version_2(&conn, &runs)
    };
    let mut migrated = SqliteStore::open(&old).unwrap();
    let free: i64 = Connection::open(&old)
        .unwrap()
        .query_row("PRAGMA freelist_count", [], |row| row.get(0))
        .unwrap();
    assert_eq!(free, 0, "the old tables' pages are given back");
    let mut fresh = SqliteStore::open(&dir.path().join("new.db")).unwrap();
    assert_eq!(replay(&mut fresh, &runs), ids);
    assert_eq!(answers(&migrated, &ids), answers(&fresh, &ids));
    assert_eq!(migrated.integrity_check().unwrap(), "ok");

    // Runs recorded after the migration, beside the ones from before it.
    let again = history();
    let mut ids = ids;
    ids.extend(replay(&mut migrated, &again[1..]));
    assert_eq!(replay(&mut fresh, &again[1..]), ids[4..]);
    assert_eq!(answers(&migrated, &ids), answers(&fresh, &ids));
    let conn = Connection::open(&old).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.len() as i64);
    let problems: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(problems, 0, "every reference of the migrated tables holds");
    // Each run recorded before schema 6 has a uid of its own, which a team store knows it by.
    let uids: Vec<Option<Vec<u8>>> = conn
        .prepare("SELECT uid FROM runs")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(uids.len(), ids.len());
    let distinct: std::collections::BTreeSet<&Option<Vec<u8>>> = uids.iter().collect();
    assert_eq!(distinct.len(), uids.len(), "{uids:?}");
    assert!(
        uids.iter()
            .all(|uid| uid.as_ref().is_some_and(|uid| uid.len() == 16))
    );
}
