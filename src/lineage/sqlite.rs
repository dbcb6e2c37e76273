//! The lineage store in SQLite (`.zenbuild/lineage.db`): WAL mode, so readers never wait for
//! a build that is writing, and every write a transaction, so a process killed at any point
//! leaves a database that is whole (a run it was recording stays `running`, and the next
//! build marks it interrupted).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::hash::canonical_json;

use super::{
    ActionRecord, ActionSummary, ArtifactRecord, Counts, GitState, LineageError, MetadataStore,
    Metric, NewRun, RunEnd, RunId, RunStatus, RunSummary, damaged, schema,
};

/// How long a writer waits for another (two builds never write at once, but `log` may close
/// abandoned runs while a build starts).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct SqliteStore {
    queries: Queries,
    /// Where it is, for the message that says it is damaged.
    path: PathBuf,
}

/// The queries, on an open connection; [`SqliteStore`] tells damage from other errors.
struct Queries {
    conn: Connection,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore, LineageError> {
        if let Some(parent) = path.parent() {
            // A missing directory shows up as SQLite's "unable to open" just below.
            let _ = std::fs::create_dir_all(parent);
        }
        damaged::forget_orphans(path);
        let store = SqliteStore {
            queries: Queries::open(path).map_err(|e| located(e, path))?,
            path: path.to_path_buf(),
        };
        Ok(store)
    }

    /// `PRAGMA integrity_check`: `ok`, or what is wrong.
    pub fn integrity_check(&self) -> Result<String, LineageError> {
        self.located(
            self.queries
                .conn
                .query_row("PRAGMA integrity_check", [], |row| row.get(0))
                .map_err(LineageError::from),
        )
    }

    /// `result`, with an error that says the database is damaged saying where it is.
    fn located<T>(&self, result: Result<T, LineageError>) -> Result<T, LineageError> {
        result.map_err(|e| located(e, &self.path))
    }
}

fn located(error: LineageError, path: &Path) -> LineageError {
    match error {
        LineageError::Sqlite(e) if damaged::is_damage(&e) => LineageError::Damaged {
            path: path.to_path_buf(),
            detail: e.to_string(),
        },
        other => other,
    }
}

impl MetadataStore for SqliteStore {
    fn has_manifest(&self, digest: &str) -> Result<bool, LineageError> {
        self.located(self.queries.has_manifest(digest))
    }
    fn begin_run(&mut self, run: &NewRun) -> Result<RunId, LineageError> {
        let begun = self.queries.begin_run(run);
        self.located(begun)
    }
    fn record_actions(&mut self, run: RunId, actions: &[ActionRecord]) -> Result<(), LineageError> {
        let recorded = self.queries.record_actions(run, actions);
        self.located(recorded)
    }
    fn finish_run(&mut self, run: RunId, end: &RunEnd) -> Result<(), LineageError> {
        let finished = self.queries.finish_run(run, end);
        self.located(finished)
    }
    fn close_abandoned_runs(&mut self) -> Result<usize, LineageError> {
        let closed = self.queries.close_abandoned_runs();
        self.located(closed)
    }
    fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, LineageError> {
        self.located(self.queries.runs(limit))
    }
    fn run(&self, id: RunId) -> Result<Option<RunSummary>, LineageError> {
        self.located(self.queries.run(id))
    }
    fn run_actions(&self, id: RunId) -> Result<Vec<ActionSummary>, LineageError> {
        self.located(self.queries.run_actions(id))
    }
    fn runs_at_commit(&self, commit: &str) -> Result<Vec<RunId>, LineageError> {
        self.located(self.queries.runs_at_commit(commit))
    }
    fn producer(&self, path: &str, digest: &str) -> Result<Option<ActionSummary>, LineageError> {
        self.located(self.queries.producer(path, digest))
    }
    fn consumers(&self, path: &str, digest: &str) -> Result<Vec<ActionSummary>, LineageError> {
        self.located(self.queries.consumers(path, digest))
    }
    fn keys_since(&self, since_ms: i64) -> Result<Vec<String>, LineageError> {
        self.located(self.queries.keys_since(since_ms))
    }
    fn find_artifacts(&self, path_or_digest: &str) -> Result<Vec<ArtifactRecord>, LineageError> {
        self.located(self.queries.find_artifacts(path_or_digest))
    }
}

impl Queries {
    fn open(path: &Path) -> Result<Queries, LineageError> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // NORMAL in WAL mode: a power cut may lose the last transactions, never corrupt.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )?;
        schema::migrate(&mut conn)?;
        Ok(Queries { conn })
    }

    fn action(&self, id: i64) -> Result<Option<ActionSummary>, LineageError> {
        let found = self
            .conn
            .prepare_cached(
                "SELECT run_id, name, step, key, status, exit_code, started_ms, duration_ms,
                        executor, cmd, reasons
                 FROM actions WHERE id = ?1",
            )?
            .query_row([id], action_row)
            .optional()?;
        let Some(mut action) = found else {
            return Ok(None);
        };
        action.action.inputs = self.artifacts_of(id, "in")?;
        action.action.outputs = self.artifacts_of(id, "out")?;
        action.action.params = self
            .conn
            .prepare_cached("SELECT name, value FROM params WHERE action_id = ?1 ORDER BY name")?
            .query_map([id], |row| {
                let text: String = row.get(1)?;
                Ok((
                    row.get(0)?,
                    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
                ))
            })?
            .collect::<Result<_, _>>()?;
        action.action.metrics = self
            .conn
            .prepare_cached(
                "SELECT path, name, value FROM metrics WHERE action_id = ?1 ORDER BY path, name",
            )?
            .query_map([id], |row| {
                let value = match row.get_ref(2)? {
                    rusqlite::types::ValueRef::Integer(n) => serde_json::json!(n),
                    rusqlite::types::ValueRef::Real(x) => serde_json::json!(x),
                    rusqlite::types::ValueRef::Text(text) => {
                        let text = String::from_utf8_lossy(text);
                        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
                    }
                    _ => serde_json::Value::Null,
                };
                Ok(Metric {
                    path: row.get(0)?,
                    name: row.get(1)?,
                    value,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(Some(action))
    }

    fn artifacts_of(&self, action: i64, role: &str) -> Result<Vec<ArtifactRecord>, LineageError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT t.path, t.digest, t.size FROM edges e JOIN artifacts t ON t.id = e.artifact_id
                 WHERE e.action_id = ?1 AND e.role = ?2 ORDER BY t.path",
            )?
            .query_map(params![action, role], artifact_row)?
            .collect::<Result<_, _>>()?)
    }

    fn actions(&self, ids: Vec<i64>) -> Result<Vec<ActionSummary>, LineageError> {
        let mut actions = Vec::with_capacity(ids.len());
        for id in ids {
            actions.extend(self.action(id)?);
        }
        Ok(actions)
    }

    fn ids(&self, sql: &str, args: impl rusqlite::Params) -> Result<Vec<i64>, LineageError> {
        Ok(self
            .conn
            .prepare_cached(sql)?
            .query_map(args, |row| row.get(0))?
            .collect::<Result<_, _>>()?)
    }
}

impl MetadataStore for Queries {
    fn has_manifest(&self, digest: &str) -> Result<bool, LineageError> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM manifests WHERE digest = ?1")?
            .exists([digest])?)
    }

    fn begin_run(&mut self, run: &NewRun) -> Result<RunId, LineageError> {
        let tx = self.conn.transaction()?;
        if let Some(text) = &run.manifest {
            tx.execute(
                "INSERT OR IGNORE INTO manifests (digest, text) VALUES (?1, ?2)",
                params![run.manifest_digest, text],
            )?;
        }
        let manifest_id: Option<i64> = tx
            .query_row(
                "SELECT id FROM manifests WHERE digest = ?1",
                [&run.manifest_digest],
                |row| row.get(0),
            )
            .optional()?;
        let command = serde_json::to_string(&run.command).unwrap_or_default();
        tx.execute(
            "INSERT INTO runs (started_ms, status, kind, command, user, host, version, manifest_id)
             VALUES (?1, 'running', ?7, ?2, ?3, ?4, ?5, ?6)",
            params![
                run.started_ms,
                command,
                run.user,
                run.host,
                run.version,
                manifest_id,
                run.kind
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(id)
    }

    fn record_actions(&mut self, run: RunId, actions: &[ActionRecord]) -> Result<(), LineageError> {
        let tx = self.conn.transaction()?;
        {
            let mut insert_action = tx.prepare_cached(
                "INSERT INTO actions (run_id, name, step, key, status, exit_code, started_ms,
                                      duration_ms, executor, cmd, reasons)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            // Looked up before inserted: most artifacts of a build were recorded by an earlier
            // one, and a read dirties no page where an upsert rewrites the row every time.
            let mut find_artifact = tx
                .prepare_cached("SELECT id, size FROM artifacts WHERE path = ?1 AND digest = ?2")?;
            let mut insert_artifact = tx
                .prepare_cached("INSERT INTO artifacts (path, digest, size) VALUES (?1, ?2, ?3)")?;
            let mut fill_size =
                tx.prepare_cached("UPDATE artifacts SET size = ?2 WHERE id = ?1")?;
            let mut insert_edge = tx.prepare_cached(
                "INSERT OR IGNORE INTO edges (action_id, role, artifact_id, ran)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut insert_param = tx.prepare_cached(
                "INSERT OR REPLACE INTO params (action_id, name, value) VALUES (?1, ?2, ?3)",
            )?;
            let mut insert_metric = tx.prepare_cached(
                "INSERT OR REPLACE INTO metrics (action_id, path, name, value) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for action in actions {
                insert_action.execute(params![
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
                    serde_json::to_string(&action.reasons).unwrap_or_default(),
                ])?;
                let action_id = tx.last_insert_rowid();
                let ran = action.status == "ran";
                for (role, artifacts) in [("in", &action.inputs), ("out", &action.outputs)] {
                    for artifact in artifacts {
                        let size = artifact.size.map(|size| size as i64);
                        let found: Option<(i64, Option<i64>)> = find_artifact
                            .query_row(params![artifact.path, artifact.digest], |row| {
                                Ok((row.get(0)?, row.get(1)?))
                            })
                            .optional()?;
                        let artifact_id = if let Some((id, known)) = found {
                            if known.is_none() && size.is_some() {
                                fill_size.execute(params![id, size])?;
                            }
                            id
                        } else {
                            insert_artifact.execute(params![
                                artifact.path,
                                artifact.digest,
                                size
                            ])?;
                            tx.last_insert_rowid()
                        };
                        insert_edge.execute(params![action_id, role, artifact_id, ran])?;
                    }
                }
                for (name, value) in &action.params {
                    insert_param.execute(params![action_id, name, canonical_json(value)])?;
                }
                for metric in &action.metrics {
                    let value: rusqlite::types::Value = match &metric.value {
                        serde_json::Value::Number(n) => match n.as_i64() {
                            Some(i) => i.into(),
                            None => n.as_f64().unwrap_or(f64::NAN).into(),
                        },
                        other => other.to_string().into(),
                    };
                    insert_metric.execute(params![action_id, metric.path, metric.name, value])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn finish_run(&mut self, run: RunId, end: &RunEnd) -> Result<(), LineageError> {
        let git = end.git.as_ref();
        self.conn.execute(
            "UPDATE runs SET finished_ms = ?2, status = ?3, ran = ?4, cached = ?5, failed = ?6,
                             skipped = ?7, git_commit = ?8, git_branch = ?9, git_dirty = ?10,
                             interrupted = ?11
             WHERE id = ?1",
            params![
                run,
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
        )?;
        Ok(())
    }

    fn close_abandoned_runs(&mut self) -> Result<usize, LineageError> {
        Ok(self.conn.execute(
            "UPDATE runs SET status = ?1 WHERE status = ?2",
            params![RunStatus::Interrupted.as_str(), RunStatus::Running.as_str()],
        )?)
    }

    fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, LineageError> {
        Ok(self
            .conn
            .prepare_cached(&format!("{RUN_COLUMNS} ORDER BY id DESC LIMIT ?1"))?
            .query_map([limit as i64], run_row)?
            .collect::<Result<_, _>>()?)
    }

    fn run(&self, id: RunId) -> Result<Option<RunSummary>, LineageError> {
        Ok(self
            .conn
            .prepare_cached(&format!("{RUN_COLUMNS} WHERE id = ?1"))?
            .query_row([id], run_row)
            .optional()?)
    }

    fn run_actions(&self, id: RunId) -> Result<Vec<ActionSummary>, LineageError> {
        let ids = self.ids("SELECT id FROM actions WHERE run_id = ?1 ORDER BY id", [id])?;
        self.actions(ids)
    }

    fn runs_at_commit(&self, commit: &str) -> Result<Vec<RunId>, LineageError> {
        self.ids(
            "SELECT id FROM runs WHERE git_commit = ?1 ORDER BY id DESC",
            [commit],
        )
    }

    fn producer(&self, path: &str, digest: &str) -> Result<Option<ActionSummary>, LineageError> {
        let ids = self.ids(
            "SELECT e.action_id FROM artifacts t
             JOIN edges e ON e.artifact_id = t.id AND e.role = 'out'
             WHERE t.path = ?1 AND t.digest = ?2
             ORDER BY e.ran DESC, e.action_id DESC LIMIT 1",
            params![path, digest],
        )?;
        Ok(self.actions(ids)?.pop())
    }

    fn consumers(&self, path: &str, digest: &str) -> Result<Vec<ActionSummary>, LineageError> {
        let ids = self.ids(
            // The readers that ran, then the latest that reused their results: a file read
            // by every run of a long history is not scanned whole.
            "SELECT max(a.id) FROM (
                 SELECT e.action_id FROM artifacts t
                 JOIN edges e ON e.artifact_id = t.id AND e.role = 'in'
                 WHERE t.path = ?1 AND t.digest = ?2
                 ORDER BY e.ran DESC, e.action_id DESC LIMIT 1000
             ) x JOIN actions a ON a.id = x.action_id
             GROUP BY a.name ORDER BY a.name",
            params![path, digest],
        )?;
        self.actions(ids)
    }

    fn keys_since(&self, since_ms: i64) -> Result<Vec<String>, LineageError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT DISTINCT a.key FROM actions a JOIN runs r ON r.id = a.run_id
                 WHERE r.started_ms >= ?1 AND a.key IS NOT NULL",
            )?
            .query_map([since_ms], |row| row.get(0))?
            .collect::<Result<_, _>>()?)
    }

    fn find_artifacts(&self, path_or_digest: &str) -> Result<Vec<ArtifactRecord>, LineageError> {
        let by_path = self
            .conn
            .prepare_cached(
                "SELECT path, digest, size FROM artifacts WHERE path = ?1 OR path = ?1 || '/'
                 ORDER BY id DESC",
            )?
            .query_map([path_or_digest], artifact_row)?
            .collect::<Result<Vec<_>, _>>()?;
        if !by_path.is_empty() {
            return Ok(by_path);
        }
        // Hex digits sort below `~`: the range is every digest with this prefix.
        let prefix = path_or_digest.to_ascii_lowercase();
        Ok(self
            .conn
            .prepare_cached(
                "SELECT path, digest, size FROM artifacts WHERE digest >= ?1 AND digest < ?1 || '~'
                 ORDER BY id DESC",
            )?
            .query_map([prefix], artifact_row)?
            .collect::<Result<_, _>>()?)
    }
}

const RUN_COLUMNS: &str = "SELECT id, started_ms, finished_ms, status, command, user, host,
        version, git_commit, git_branch, git_dirty, ran, cached, failed, skipped, kind,
        interrupted
    FROM runs";

fn run_row(row: &Row) -> rusqlite::Result<RunSummary> {
    let command: String = row.get(4)?;
    let commit: Option<String> = row.get(8)?;
    Ok(RunSummary {
        id: row.get(0)?,
        started_ms: row.get(1)?,
        finished_ms: row.get(2)?,
        status: row.get(3)?,
        kind: row.get(15)?,
        command: serde_json::from_str(&command).unwrap_or_default(),
        user: row.get(5)?,
        host: row.get(6)?,
        version: row.get(7)?,
        git: match commit {
            Some(commit) => Some(GitState {
                commit,
                branch: row.get(9)?,
                dirty: row.get::<_, Option<bool>>(10)?.unwrap_or(false),
            }),
            None => None,
        },
        counts: Counts {
            ran: row.get::<_, i64>(11)? as u64,
            cached: row.get::<_, i64>(12)? as u64,
            failed: row.get::<_, i64>(13)? as u64,
            skipped: row.get::<_, i64>(14)? as u64,
            interrupted: row.get::<_, i64>(16)? as u64,
        },
    })
}

fn action_row(row: &Row) -> rusqlite::Result<ActionSummary> {
    let reasons: String = row.get(10)?;
    Ok(ActionSummary {
        run_id: row.get(0)?,
        action: ActionRecord {
            name: row.get(1)?,
            step: row.get(2)?,
            key: row.get(3)?,
            status: row.get(4)?,
            exit_code: row.get(5)?,
            started_ms: row.get(6)?,
            duration_ms: row.get(7)?,
            executor: row.get(8)?,
            cmd: row.get(9)?,
            reasons: serde_json::from_str(&reasons).unwrap_or_default(),
            ..ActionRecord::default()
        },
    })
}

fn artifact_row(row: &Row) -> rusqlite::Result<ArtifactRecord> {
    Ok(ArtifactRecord {
        path: row.get(0)?,
        digest: row.get(1)?,
        size: row.get::<_, Option<i64>>(2)?.map(|size| size as u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(path: &str, digest: &str) -> ArtifactRecord {
        ArtifactRecord {
            path: path.into(),
            digest: digest.into(),
            size: Some(1),
        }
    }

    fn new_run() -> NewRun {
        NewRun {
            started_ms: 1,
            kind: "build".into(),
            command: vec!["zenbuild".into()],
            user: "u".into(),
            host: "h".into(),
            version: "0".into(),
            manifest_digest: "d".into(),
            manifest: Some("{}".into()),
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
}
