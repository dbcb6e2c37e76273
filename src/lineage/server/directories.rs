//! What `lineage` asks of a run about directories, on a team database: which of the run's
//! output directories holds a path, and what its actions read inside a directory, as the
//! SQLite store answers (`sqlite_directories.rs`). Reading the run's thousand actions whole
//! to search them took as long as `show` (16–26 ms at a million rows, for each run a walk
//! looked into); these send the rows wanted.

use super::super::tree::{ancestors, deepest_holder, holds};
use super::super::{ArtifactRecord, LineageError, RunId};
use super::digest::{bytes, path_hash};
use super::read::artifact_row;
use super::sql::{Client, Value, placeholders};

/// See [`crate::lineage::MetadataStore::directory_holding`]: the outputs of the run's actions
/// at the path's ancestors, found by the hash of each ancestor, then edge and run.
pub fn holding(
    client: &mut dyn Client,
    run: RunId,
    path: &str,
) -> Result<Option<ArtifactRecord>, LineageError> {
    let ancestors = ancestors(path);
    if ancestors.is_empty() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT t.path, t.digest, t.size, a.id FROM artifacts t \
         JOIN edges e ON e.artifact_id = t.id AND e.role = 'out' \
         JOIN run_actions a ON a.action_id = e.action_id AND a.run_id = ? \
         WHERE t.path_hash IN ({})",
        placeholders(ancestors.len())
    );
    let mut args: Vec<Value> = vec![run.into()];
    args.extend(ancestors.iter().map(|dir| Value::from(path_hash(dir))));
    let written = client.query(&sql, &args)?.into_iter().map(|mut row| {
        let action_row = row.pop().and_then(|v| v.int()).unwrap_or_default();
        (artifact_row(row), action_row)
    });
    // `deepest_holder` checks each path, so a hash that two paths shared could not mislead.
    Ok(deepest_holder(path, written))
}

/// See [`crate::lineage::MetadataStore::read_inside`]: the runs that wrote the directory,
/// then the inputs inside it of their contents, each content once however many runs repeat
/// it (no index finds paths by their start: this reads the edges of those contents).
pub fn read_inside(
    client: &mut dyn Client,
    runs: &[RunId],
    directory: &str,
    digest: &str,
) -> Result<Vec<ArtifactRecord>, LineageError> {
    let Ok(digest) = bytes(digest) else {
        return Ok(Vec::new());
    };
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT DISTINCT a.run_id FROM artifacts t \
         JOIN edges e ON e.artifact_id = t.id AND e.role = 'out' \
         JOIN run_actions a ON a.action_id = e.action_id \
         WHERE t.path_hash = ? AND t.digest = ? AND a.run_id IN ({})",
        placeholders(runs.len())
    );
    let mut args: Vec<Value> = vec![path_hash(directory).into(), digest.into()];
    args.extend(runs.iter().map(|run| Value::Int(*run)));
    let wrote: Vec<Value> = client
        .query(&sql, &args)?
        .into_iter()
        .filter_map(|row| row.into_iter().next())
        .collect();
    if wrote.is_empty() {
        return Ok(Vec::new());
    }
    // `LEFT` counts characters in both dialects; the texts compare byte for byte (PostgreSQL's
    // collations are deterministic, MySQL's column is `utf8mb4_bin`). `holds` checks again.
    let length = i64::try_from(directory.chars().count()).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT DISTINCT t.path, t.digest, t.size FROM edges e \
         JOIN artifacts t ON t.id = e.artifact_id \
         WHERE e.role = 'in' AND LEFT(t.path, ?) = ? AND e.action_id IN \
         (SELECT action_id FROM run_actions WHERE run_id IN ({}))",
        placeholders(wrote.len())
    );
    let mut args: Vec<Value> = vec![length.into(), directory.into()];
    args.extend(wrote);
    Ok(client
        .query(&sql, &args)?
        .into_iter()
        .map(artifact_row)
        .filter(|inside| holds(directory, &inside.path))
        .collect())
}
