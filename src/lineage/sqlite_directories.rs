//! What `lineage` asks of a run about directories, in SQLite: which of the run's output
//! directories holds a path, and what its actions read inside a directory. Each answer is
//! one or two queries that pick the rows wanted, where reading the run's thousand actions
//! whole and searching them took as long as `show`.

use rusqlite::{Connection, params_from_iter, types::Value};

use super::tree::{ancestors, deepest_holder};
use super::{ArtifactRecord, LineageError, RunId};

/// See [`super::MetadataStore::directory_holding`]: the outputs of the run's actions at the
/// path's ancestors, found by the artifacts' path, then edge and run (all three indexed).
pub fn holding(
    conn: &Connection,
    run: RunId,
    path: &str,
) -> Result<Option<ArtifactRecord>, LineageError> {
    let ancestors = ancestors(path);
    if ancestors.is_empty() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT t.path, t.digest, t.size, a.id FROM artifacts t
         JOIN edges e ON e.artifact_id = t.id AND e.role = 'out'
         JOIN run_actions a ON a.action_id = e.action_id AND a.run_id = ?
         WHERE t.path IN ({})",
        placeholders(ancestors.len())
    );
    let values = std::iter::once(Value::Integer(run))
        .chain(ancestors.iter().map(|dir| Value::Text((*dir).to_string())));
    let written = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(values), |row| {
            Ok((artifact(row)?, row.get::<_, i64>(3)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(deepest_holder(path, written))
}

/// See [`super::MetadataStore::read_inside`]: the runs that wrote the directory, then the
/// inputs of their contents (each content once, however many runs repeat it) inside it.
pub fn read_inside(
    conn: &Connection,
    runs: &[RunId],
    directory: &str,
    digest: &str,
) -> Result<Vec<ArtifactRecord>, LineageError> {
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let run_values = || runs.iter().map(|run| Value::Integer(*run));
    let sql = format!(
        "SELECT DISTINCT a.run_id FROM artifacts t
         JOIN edges e ON e.artifact_id = t.id AND e.role = 'out'
         JOIN run_actions a ON a.action_id = e.action_id
         WHERE t.path = ? AND t.digest = ? AND a.run_id IN ({})",
        placeholders(runs.len())
    );
    let wrote: Vec<i64> = conn
        .prepare_cached(&sql)?
        .query_map(
            params_from_iter(
                [
                    Value::Text(directory.to_string()),
                    Value::Text(digest.to_string()),
                ]
                .into_iter()
                .chain(run_values()),
            ),
            |row| row.get(0),
        )?
        .collect::<Result<_, _>>()?;
    if wrote.is_empty() {
        return Ok(Vec::new());
    }
    // Driven by the runs' contents: no index finds paths by their start, and a directory
    // rewritten in every run has a version of each file inside it per run.
    let sql = format!(
        "SELECT DISTINCT t.path, t.digest, t.size
         FROM (SELECT DISTINCT action_id FROM run_actions WHERE run_id IN ({})) c
         CROSS JOIN edges e ON e.action_id = c.action_id AND e.role = 'in'
         CROSS JOIN artifacts t ON t.id = e.artifact_id
         WHERE substr(t.path, 1, ?) = ? AND length(t.path) > ?",
        placeholders(wrote.len())
    );
    let length = i64::try_from(directory.chars().count()).unwrap_or(i64::MAX);
    let values = wrote.iter().map(|run| Value::Integer(*run)).chain([
        Value::Integer(length),
        Value::Text(directory.to_string()),
        Value::Integer(length),
    ]);
    Ok(conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(values), artifact)?
        .collect::<Result<_, _>>()?)
}

fn placeholders(count: usize) -> String {
    vec!["?"; count].join(", ")
}

fn artifact(row: &rusqlite::Row) -> rusqlite::Result<ArtifactRecord> {
    Ok(ArtifactRecord {
        path: row.get(0)?,
        digest: row.get(1)?,
        size: row.get::<_, Option<i64>>(2)?.map(|size| size as u64),
    })
}
