//! Writing finished actions to SQLite. An action's content (see [`Content`]) is looked up by
//! its digest and written only when no earlier record has it, with its edges, params and
//! metrics; each action then costs its run one row in `run_actions`. A build that finds most
//! of its actions cached writes about one small row per action, not a row per action, artifact,
//! param and metric.

use rusqlite::{CachedStatement, OptionalExtension, Transaction, params};

use super::content::{Artifact, Content};
use super::{ActionRecord, LineageError, Metric, RunId};

/// Adds `actions` to `run` in `tx`.
pub fn record_actions(
    tx: &Transaction,
    run: RunId,
    actions: &[ActionRecord],
) -> Result<(), LineageError> {
    let mut contents = Contents::prepare(tx)?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO run_actions (run_id, action_id, status, ran, exit_code, started_ms,
                                  duration_ms, executor, reasons)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for action in actions {
        let content = contents.id(tx, &Content::of(action))?;
        insert.execute(params![
            run,
            content,
            action.status,
            action.status == "ran",
            action.exit_code,
            action.started_ms,
            action.duration_ms,
            action.executor,
            serde_json::to_string(&action.reasons).unwrap_or_default(),
        ])?;
    }
    Ok(())
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

    /// The id of `content`, written first when no record has it yet.
    fn id(&mut self, tx: &Transaction, content: &Content) -> Result<i64, LineageError> {
        let digest = content.digest();
        let found: Option<i64> = self
            .find
            .query_row([&digest], |row| row.get(0))
            .optional()?;
        if let Some(id) = found {
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
