//! Writing finished actions to SQLite. An action's content (see [`Content`]) is looked up by
//! its digest and written only when no earlier record has it, with its edges, params and
//! metrics; each action then costs its run one row in `run_actions`. A build that finds most
//! of its actions cached writes about one small row per action, not a row per action, artifact,
//! param and metric.
//!
//! The runs' rows are written [`ROWS`] to a statement: one at a time, binding, stepping and
//! resetting a statement per row cost a build of 10,000 cached actions about a tenth of its
//! recording. The SQL stays plain (a multi-row `VALUES`), as every database a store may one
//! day live in takes it.

use std::borrow::Cow;

use rusqlite::{CachedStatement, OptionalExtension, Transaction, params};

use super::content::{Artifact, Content};
use super::{ActionRecord, LineageError, Metric, RunId};

/// How many rows of `run_actions` one statement writes: 880 parameters, below every
/// database's limit (SQLite's was 999 until 3.32).
const ROWS: usize = 80;

/// The columns of a row of `run_actions`, in the order [`insert_run_actions`] binds them.
const RUN_ACTION_COLUMNS: [&str; 11] = [
    "run_id",
    "action_id",
    "status",
    "ran",
    "exit_code",
    "started_ms",
    "duration_ms",
    "executor",
    "reasons",
    "job_id",
    "node",
];

/// Adds `actions` to `run` in `tx`, in their order.
pub fn record_actions(
    tx: &Transaction,
    run: RunId,
    actions: &[ActionRecord],
) -> Result<(), LineageError> {
    let contents: Vec<(Content, String)> = actions
        .iter()
        .map(|action| {
            let content = Content::of(action);
            let digest = content.digest();
            (content, digest)
        })
        .collect();
    let mut known = Contents::prepare(tx)?;
    // Looked up in the order of their digests, which is the index's: a build of 100,000
    // cached actions asked in the order they finished read a page of an index larger than
    // SQLite's cache for nearly every action, and in this order reads each page once. New
    // contents are written afterwards in the actions' order, which their ids keep.
    let mut by_digest: Vec<usize> = (0..contents.len()).collect();
    by_digest.sort_unstable_by(|&a, &b| contents[a].1.cmp(&contents[b].1));
    let mut ids: Vec<Option<i64>> = vec![None; contents.len()];
    for index in by_digest {
        ids[index] = known.find(&contents[index].1)?;
    }
    let ids = contents
        .iter()
        .zip(ids)
        .map(|((content, digest), id)| match id {
            Some(id) => Ok(id),
            None => known.id(tx, content, digest),
        })
        .collect::<Result<Vec<i64>, _>>()?;
    insert_run_actions(tx, run, actions, &ids)
}

/// One row of `run_actions` per action, `ids` their contents.
fn insert_run_actions(
    tx: &Transaction,
    run: RunId,
    actions: &[ActionRecord],
    ids: &[i64],
) -> Result<(), LineageError> {
    let sql = |count| {
        let row = format!("({})", placeholders(RUN_ACTION_COLUMNS.len()));
        format!(
            "INSERT INTO run_actions ({}) VALUES {}",
            RUN_ACTION_COLUMNS.join(", "),
            vec![row; count].join(", ")
        )
    };
    let full = sql(ROWS);
    for (actions, ids) in actions.chunks(ROWS).zip(ids.chunks(ROWS)) {
        let mut insert = if actions.len() == ROWS {
            tx.prepare_cached(&full)?
        } else {
            tx.prepare_cached(&sql(actions.len()))?
        };
        let mut index = 0;
        let mut bind = |value: &dyn rusqlite::ToSql| {
            index += 1;
            insert.raw_bind_parameter(index, value)
        };
        for (action, content) in actions.iter().zip(ids) {
            bind(&run)?;
            bind(content)?;
            bind(&action.status)?;
            bind(&(action.status == "ran"))?;
            bind(&action.exit_code)?;
            bind(&action.started_ms)?;
            bind(&action.duration_ms)?;
            bind(&action.executor)?;
            bind(&reasons_json(&action.reasons))?;
            bind(&action.job_id)?;
            bind(&action.node)?;
        }
        insert.raw_execute()?;
    }
    Ok(())
}

/// `?, ?, …`, `count` of them.
fn placeholders(count: usize) -> String {
    vec!["?"; count].join(", ")
}

/// The reasons as the JSON array the column holds; most actions have none.
fn reasons_json(reasons: &[String]) -> Cow<'static, str> {
    if reasons.is_empty() {
        Cow::Borrowed("[]")
    } else {
        Cow::Owned(serde_json::to_string(reasons).unwrap_or_default())
    }
}

/// The statements that find a content or write a new one.
struct Contents<'t> {
    find: CachedStatement<'t>,
    insert: CachedStatement<'t>,
    find_artifact: CachedStatement<'t>,
    insert_artifact: CachedStatement<'t>,
    fill_size: CachedStatement<'t>,
    insert_edge: CachedStatement<'t>,
    insert_param: CachedStatement<'t>,
    insert_metric: CachedStatement<'t>,
}

impl<'t> Contents<'t> {
    fn prepare(tx: &'t Transaction) -> Result<Contents<'t>, LineageError> {
        Ok(Contents {
            find: tx.prepare_cached("SELECT id FROM actions WHERE digest = ?1")?,
            insert: tx.prepare_cached(
                "INSERT INTO actions (digest, name, step, key, cmd) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?,
            // Looked up before inserted: most artifacts of a build were recorded by an
            // earlier one, and a read dirties no page where an upsert rewrites the row.
            find_artifact: tx
                .prepare_cached("SELECT id, size FROM artifacts WHERE path = ?1 AND digest = ?2")?,
            insert_artifact: tx
                .prepare_cached("INSERT INTO artifacts (path, digest, size) VALUES (?1, ?2, ?3)")?,
            fill_size: tx.prepare_cached("UPDATE artifacts SET size = ?2 WHERE id = ?1")?,
            insert_edge: tx.prepare_cached(
                "INSERT INTO edges (action_id, role, artifact_id) VALUES (?1, ?2, ?3)",
            )?,
            insert_param: tx.prepare_cached(
                "INSERT INTO params (action_id, name, value) VALUES (?1, ?2, ?3)",
            )?,
            insert_metric: tx.prepare_cached(
                "INSERT INTO metrics (action_id, path, name, value) VALUES (?1, ?2, ?3, ?4)",
            )?,
        })
    }

    /// The id of the content whose digest is `digest`, if a record has it.
    fn find(&mut self, digest: &str) -> Result<Option<i64>, LineageError> {
        Ok(self.find.query_row([digest], |row| row.get(0)).optional()?)
    }

    /// The id of `content`, whose digest is `digest`, written first when no record has it.
    fn id(
        &mut self,
        tx: &Transaction,
        content: &Content,
        digest: &str,
    ) -> Result<i64, LineageError> {
        if let Some(id) = self.find(digest)? {
            return Ok(id);
        }
        self.insert.execute(params![
            digest,
            content.name,
            content.step,
            content.key,
            content.cmd
        ])?;
        let id = tx.last_insert_rowid();
        for (role, artifacts) in [("in", &content.inputs), ("out", &content.outputs)] {
            for artifact in artifacts {
                let artifact_id = self.artifact(tx, artifact)?;
                self.insert_edge.execute(params![id, role, artifact_id])?;
            }
        }
        for (name, value) in &content.params {
            self.insert_param.execute(params![id, name, value])?;
        }
        for metric in &content.metrics {
            self.insert_metric.execute(params![
                id,
                metric.path,
                metric.name,
                metric_value(metric)
            ])?;
        }
        Ok(id)
    }

    /// The id of `artifact`, written first when no record has it yet; a size it lacked is
    /// filled in.
    fn artifact(&mut self, tx: &Transaction, artifact: &Artifact) -> Result<i64, LineageError> {
        let size = artifact.size.map(|size| size as i64);
        let found: Option<(i64, Option<i64>)> = self
            .find_artifact
            .query_row(params![artifact.path, artifact.digest], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        if let Some((id, known)) = found {
            if known.is_none() && size.is_some() {
                self.fill_size.execute(params![id, size])?;
            }
            return Ok(id);
        }
        self.insert_artifact
            .execute(params![artifact.path, artifact.digest, size])?;
        Ok(tx.last_insert_rowid())
    }
}

/// A number as a number, so that queries can compare and sort it; anything else as JSON.
fn metric_value(metric: &Metric) -> rusqlite::types::Value {
    match &metric.value {
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or(f64::NAN).into(),
        },
        other => other.to_string().into(),
    }
}
