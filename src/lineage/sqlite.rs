//! The lineage store in SQLite (`.zenbuild/lineage.db`): WAL mode, so readers never wait for
//! a build that is writing, and every write a transaction, so a process killed at any point
//! leaves a database that is whole (a run it was recording stays `running`, and the next
//! build marks it interrupted).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::latest_readers::{self, ContentRows};
use super::sqlite_parts::Of;

use super::{
    ActionRecord, ActionSummary, ArtifactRecord, Counts, GitState, LineageError, MetadataStore,
    NewRun, RunEnd, RunId, RunStatus, RunSummary, damaged, parts, schema, sqlite_directories,
    sqlite_parts, sqlite_record,
};

/// How long a writer waits for another (two builds never write at once, but `log` may close
/// abandoned runs while a build starts).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How many pages the log may hold before a commit checkpoints it (see [`Queries::open`]).
const WAL_PAGES: i64 = 10_000;

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

    /// The connection, for the queries of sibling modules (`outbox.rs`).
    pub(super) fn conn(&self) -> &Connection {
        &self.queries.conn
    }

    /// `result`, with an error that says the database is damaged saying where it is.
    pub(super) fn located<T>(&self, result: Result<T, LineageError>) -> Result<T, LineageError> {
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
    fn runs_of(&self, user: &str, limit: usize) -> Result<Vec<RunSummary>, LineageError> {
        self.located(self.queries.runs_of(user, limit))
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
    fn directory_holding(
        &self,
        run: RunId,
        path: &str,
    ) -> Result<Option<ArtifactRecord>, LineageError> {
        self.located(self.queries.directory_holding(run, path))
    }
    fn read_inside(
        &self,
        runs: &[RunId],
        directory: &str,
        digest: &str,
    ) -> Result<Vec<ArtifactRecord>, LineageError> {
        self.located(self.queries.read_inside(runs, directory, digest))
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
        // A commit checkpoints the log into the database once it holds this many pages (40 MB)
        // rather than SQLite's 1,000: with a few dozen runs of 10,000 actions recorded, one
        // build's commit passes 1,000 and checkpointed on the build's path, while closing the
        // store, which a build does beside its last steps (see `closing`), checkpoints anyway.
        conn.pragma_update(None, "wal_autocheckpoint", WAL_PAGES)?;
        schema::migrate(&mut conn)?;
        Ok(Queries { conn })
    }

    fn action(&self, id: i64) -> Result<Option<ActionSummary>, LineageError> {
        let found = self
            .conn
            .prepare_cached(&format!("{ACTION_COLUMNS} WHERE a.id = ?1"))?
            .query_row([id], action_row)
            .optional()?;
        let Some((mut summary, action)) = found else {
            return Ok(None);
        };
        let parts = sqlite_parts::read(&self.conn, Of::Action(action))?.remove(&action);
        parts::fill(&mut summary, parts.unwrap_or_default());
        Ok(Some(summary))
    }

    /// The actions (contents) that read (`in`) or wrote (`out`) `path` with `digest`, with
    /// their names.
    fn recorded_with(
        &self,
        path: &str,
        digest: &str,
        role: &str,
    ) -> Result<Vec<(i64, String)>, LineageError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT e.action_id, c.name FROM artifacts t
                 JOIN edges e ON e.artifact_id = t.id AND e.role = ?3
                 JOIN actions c ON c.id = e.action_id
                 WHERE t.path = ?1 AND t.digest = ?2",
            )?
            .query_map(params![path, digest, role], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
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
            "INSERT INTO runs (started_ms, status, kind, command, user, host, version, manifest_id,
                               uid, store)
             VALUES (?1, 'running', ?7, ?2, ?3, ?4, ?5, ?6, ?8, ?9)",
            params![
                run.started_ms,
                command,
                run.user,
                run.host,
                run.version,
                manifest_id,
                run.kind,
                run.uid.as_slice(),
                run.store,
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(id)
    }

    fn record_actions(&mut self, run: RunId, actions: &[ActionRecord]) -> Result<(), LineageError> {
        let tx = self.conn.transaction()?;
        sqlite_record::record_actions(&tx, run, actions)?;
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

    fn runs_of(&self, user: &str, limit: usize) -> Result<Vec<RunSummary>, LineageError> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "{RUN_COLUMNS} WHERE user = ?1 ORDER BY id DESC LIMIT ?2"
            ))?
            .query_map(params![user, limit as i64], run_row)?
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
        let found: Vec<(ActionSummary, i64)> = self
            .conn
            .prepare_cached(&format!(
                "{ACTION_COLUMNS} WHERE a.run_id = ?1 ORDER BY a.id"
            ))?
            .query_map([id], action_row)?
            .collect::<Result<_, _>>()?;
        let parts = sqlite_parts::read(&self.conn, Of::Run(id))?;
        Ok(parts::attach(found, &parts))
    }

    fn runs_at_commit(&self, commit: &str) -> Result<Vec<RunId>, LineageError> {
        self.ids(
            "SELECT id FROM runs WHERE git_commit = ?1 ORDER BY id DESC",
            [commit],
        )
    }

    fn producer(&self, path: &str, digest: &str) -> Result<Option<ActionSummary>, LineageError> {
        let mut latest = Vec::new();
        for (action, _) in self.recorded_with(path, digest, "out")? {
            latest.extend(latest_readers::latest_rows(
                &mut RowsOf(&self.conn),
                action,
                1,
            )?);
        }
        let id = latest.into_iter().max().map(|(_, id)| id);
        Ok(self.actions(id.into_iter().collect())?.pop())
    }

    fn consumers(&self, path: &str, digest: &str) -> Result<Vec<ActionSummary>, LineageError> {
        // The readers that ran, then the latest that reused their results, the latest
        // `READERS` of them: a file read by every run of a long history is not scanned whole.
        let readers = self.recorded_with(path, digest, "in")?;
        let rows = latest_readers::latest_per_name(&mut RowsOf(&self.conn), &readers, READERS)?;
        self.actions(rows)
    }

    fn keys_since(&self, since_ms: i64) -> Result<Vec<String>, LineageError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT DISTINCT c.key FROM runs r
                 JOIN run_actions a ON a.run_id = r.id
                 JOIN actions c ON c.id = a.action_id
                 WHERE r.started_ms >= ?1 AND c.key IS NOT NULL",
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

    fn directory_holding(
        &self,
        run: RunId,
        path: &str,
    ) -> Result<Option<ArtifactRecord>, LineageError> {
        sqlite_directories::holding(&self.conn, run, path)
    }

    fn read_inside(
        &self,
        runs: &[RunId],
        directory: &str,
        digest: &str,
    ) -> Result<Vec<ArtifactRecord>, LineageError> {
        sqlite_directories::read_inside(&self.conn, runs, directory, digest)
    }
}

/// A content's rows in `run_actions`: those where it ran by `run_actions_ran`, a seek; those
/// where it was restored through the runs from the latest back, each a seek in
/// `run_actions_run` (CROSS JOIN keeps `runs` the outer loop: the order asked for, with no
/// sort), so a page of them costs a seek per run it passes.
struct RowsOf<'c>(&'c Connection);

impl ContentRows for RowsOf<'_> {
    fn ran(&mut self, content: i64, limit: usize) -> Result<Vec<i64>, LineageError> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT id FROM run_actions WHERE action_id = ?1 AND ran = 1
                 ORDER BY id DESC LIMIT ?2",
            )?
            .query_map(params![content, limit as i64], |row| row.get(0))?
            .collect::<Result<_, _>>()?)
    }

    fn restored(
        &mut self,
        content: i64,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<i64>, LineageError> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT a.id FROM runs r CROSS JOIN run_actions a
                 ON a.run_id = r.id AND a.action_id = ?1
                 WHERE a.ran = 0 ORDER BY r.id DESC, a.id DESC LIMIT ?2 OFFSET ?3",
            )?
            .query_map(params![content, limit as i64, offset as i64], |row| {
                row.get(0)
            })?
            .collect::<Result<_, _>>()?)
    }
}

/// How many of the latest readers of an artifact `consumers` looks at.
const READERS: usize = 1000;

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

/// A run's action and how it went, with the id of the action (its content) last.
const ACTION_COLUMNS: &str = "SELECT a.run_id, c.name, c.step, c.key, a.status, a.exit_code,
        a.started_ms, a.duration_ms, a.executor, c.cmd, a.reasons, a.action_id, a.job_id, a.node
    FROM run_actions a JOIN actions c ON c.id = a.action_id";

/// A row of `ACTION_COLUMNS`: the summary, without its parts, and the action's id.
fn action_row(row: &Row) -> rusqlite::Result<(ActionSummary, i64)> {
    let reasons: String = row.get(10)?;
    let summary = ActionSummary {
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
            job_id: row.get(12)?,
            node: row.get(13)?,
            ..ActionRecord::default()
        },
    };
    Ok((summary, row.get(11)?))
}

fn artifact_row(row: &Row) -> rusqlite::Result<ArtifactRecord> {
    Ok(ArtifactRecord {
        path: row.get(0)?,
        digest: row.get(1)?,
        size: row.get::<_, Option<i64>>(2)?.map(|size| size as u64),
    })
}

#[cfg(test)]
#[path = "sqlite_tests.rs"]
mod tests;
