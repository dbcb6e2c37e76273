//! Reading a team database: the queries behind `log`, `show`, `lineage`, `metrics` and `gc`,
//! answering as the SQLite store does (`sqlite.rs`), with digests turned back into hex.

use std::collections::HashMap;

use super::super::latest_readers::{ContentRows, latest_per_name, latest_rows};
use super::super::parts::{Parts, attach, fill};
use super::super::{
    ActionRecord, ActionSummary, ArtifactRecord, Counts, GitState, LineageError, Metric, RunId,
    RunSummary,
};
use super::digest::{bytes, hex, path_hash, prefix_range};
use super::sql::{Client, Row, Value};

/// How many of the latest readers of an artifact `consumers` looks at, as in SQLite.
const READERS: usize = 1000;

const RUN_COLUMNS: &str = "SELECT id, started_ms, finished_ms, status, command, user_name, host, \
     version, git_commit, git_branch, git_dirty, ran, cached, failed, skipped, kind, interrupted \
     FROM runs";

const ACTION_COLUMNS: &str = "SELECT a.run_id, c.name, c.step, c.action_key, a.status, \
     a.exit_code, a.started_ms, a.duration_ms, a.executor, c.cmd, a.reasons, a.action_id, \
     a.job_id, a.node FROM run_actions a JOIN actions c ON c.id = a.action_id";

pub fn has_manifest(client: &mut dyn Client, digest: &str) -> Result<bool, LineageError> {
    let rows = client.query(
        "SELECT 1 FROM manifests WHERE digest = ?",
        &[bytes(digest)?.into()],
    )?;
    Ok(!rows.is_empty())
}

/// The latest `limit` runs, newest first; of `user` only, when given.
pub fn runs(
    client: &mut dyn Client,
    limit: usize,
    user: Option<&str>,
) -> Result<Vec<RunSummary>, LineageError> {
    let limit = Value::Int(i64::try_from(limit).unwrap_or(i64::MAX));
    let rows = match user {
        Some(user) => client.query(
            &format!("{RUN_COLUMNS} WHERE user_name = ? ORDER BY id DESC LIMIT ?"),
            &[user.into(), limit],
        )?,
        None => client.query(&format!("{RUN_COLUMNS} ORDER BY id DESC LIMIT ?"), &[limit])?,
    };
    Ok(rows.into_iter().map(run_row).collect())
}

pub fn run(client: &mut dyn Client, id: RunId) -> Result<Option<RunSummary>, LineageError> {
    let rows = client.query(&format!("{RUN_COLUMNS} WHERE id = ?"), &[id.into()])?;
    Ok(rows.into_iter().next().map(run_row))
}

pub fn run_actions(client: &mut dyn Client, id: RunId) -> Result<Vec<ActionSummary>, LineageError> {
    let rows = client.query(
        &format!("{ACTION_COLUMNS} WHERE a.run_id = ? ORDER BY a.id"),
        &[id.into()],
    )?;
    let found: Vec<(ActionSummary, i64)> = rows.into_iter().map(action_row).collect();
    let parts = parts(
        client,
        "IN (SELECT action_id FROM run_actions WHERE run_id = ?)",
        id,
    )?;
    Ok(attach(found, &parts))
}

pub fn runs_at_commit(client: &mut dyn Client, commit: &str) -> Result<Vec<RunId>, LineageError> {
    let rows = client.query(
        "SELECT id FROM runs WHERE git_commit = ? ORDER BY id DESC",
        &[commit.into()],
    )?;
    Ok(ids(rows))
}

pub fn producer(
    client: &mut dyn Client,
    path: &str,
    digest: &str,
) -> Result<Option<ActionSummary>, LineageError> {
    let mut latest = Vec::new();
    for (action, _) in recorded_with(client, path, digest, "out")? {
        latest.extend(latest_rows(&mut RowsOf(client), action, 1)?);
    }
    let Some((_, id)) = latest.into_iter().max() else {
        return Ok(None);
    };
    run_action(client, id)
}

pub fn consumers(
    client: &mut dyn Client,
    path: &str,
    digest: &str,
) -> Result<Vec<ActionSummary>, LineageError> {
    let readers = recorded_with(client, path, digest, "in")?;
    let mut actions = Vec::new();
    for id in latest_per_name(&mut RowsOf(client), &readers, READERS)? {
        actions.extend(run_action(client, id)?);
    }
    Ok(actions)
}

pub fn keys_since(client: &mut dyn Client, since_ms: i64) -> Result<Vec<String>, LineageError> {
    let rows = client.query(
        "SELECT DISTINCT c.action_key FROM runs r JOIN run_actions a ON a.run_id = r.id \
         JOIN actions c ON c.id = a.action_id \
         WHERE r.started_ms >= ? AND c.action_key IS NOT NULL",
        &[since_ms.into()],
    )?;
    Ok(rows
        .into_iter()
        .filter_map(|row| row.first().and_then(Value::bytes).map(hex))
        .collect())
}

pub fn find_artifacts(
    client: &mut dyn Client,
    path_or_digest: &str,
) -> Result<Vec<ArtifactRecord>, LineageError> {
    let exact = path_hash(path_or_digest);
    let directory = path_hash(&format!("{path_or_digest}/"));
    let by_path = client.query(
        "SELECT path, digest, size FROM artifacts WHERE path_hash IN (?, ?) ORDER BY id DESC",
        &[exact.into(), directory.into()],
    )?;
    if !by_path.is_empty() {
        return Ok(by_path.into_iter().map(artifact_row).collect());
    }
    let Some((low, high)) = prefix_range(path_or_digest) else {
        return Ok(Vec::new());
    };
    let rows = match high {
        Some(high) => client.query(
            "SELECT path, digest, size FROM artifacts WHERE digest >= ? AND digest < ? \
             ORDER BY id DESC",
            &[low.into(), high.into()],
        )?,
        None => client.query(
            "SELECT path, digest, size FROM artifacts WHERE digest >= ? ORDER BY id DESC",
            &[low.into()],
        )?,
    };
    Ok(rows.into_iter().map(artifact_row).collect())
}

/// One run's action, by the id of its row in `run_actions`.
fn run_action(client: &mut dyn Client, id: i64) -> Result<Option<ActionSummary>, LineageError> {
    let rows = client.query(&format!("{ACTION_COLUMNS} WHERE a.id = ?"), &[id.into()])?;
    let Some((mut summary, action)) = rows.into_iter().next().map(action_row) else {
        return Ok(None);
    };
    let mut parts = parts(client, "= ?", action)?;
    fill(&mut summary, parts.remove(&action).unwrap_or_default());
    Ok(Some(summary))
}

/// The contents that read (`in`) or wrote (`out`) `path` with `digest`, with their names.
fn recorded_with(
    client: &mut dyn Client,
    path: &str,
    digest: &str,
    role: &str,
) -> Result<Vec<(i64, String)>, LineageError> {
    let Ok(digest) = bytes(digest) else {
        return Ok(Vec::new());
    };
    let rows = client.query(
        "SELECT e.action_id, c.name FROM artifacts t \
         JOIN edges e ON e.artifact_id = t.id AND e.role = ? \
         JOIN actions c ON c.id = e.action_id \
         WHERE t.path_hash = ? AND t.digest = ?",
        &[role.into(), path_hash(path).into(), digest.into()],
    )?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut row = row.into_iter();
            let id = row.next().and_then(|v| v.int()).unwrap_or_default();
            (id, text(row.next()))
        })
        .collect())
}

/// A content's rows in `run_actions`, in the order of its indexes (`run_actions_ran`,
/// `run_actions_reused` on PostgreSQL, `run_actions_action` on MySQL): no sort.
struct RowsOf<'c>(&'c mut dyn Client);

impl ContentRows for RowsOf<'_> {
    fn ran(&mut self, content: i64, limit: usize) -> Result<Vec<i64>, LineageError> {
        let rows = self.0.query(
            "SELECT id FROM run_actions WHERE action_id = ? AND ran = 1 ORDER BY id DESC LIMIT ?",
            &[content.into(), count(limit)],
        )?;
        Ok(ids(rows))
    }

    fn restored(
        &mut self,
        content: i64,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<i64>, LineageError> {
        let rows = self.0.query(
            "SELECT id FROM run_actions WHERE action_id = ? AND ran = 0 \
             ORDER BY run_id DESC, id DESC LIMIT ? OFFSET ?",
            &[content.into(), count(limit), count(offset)],
        )?;
        Ok(ids(rows))
    }
}

fn count(n: usize) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The inputs, outputs, params and metrics of the contents `filter` selects (`= ?` for one,
/// or a subquery on `id`), by content id.
fn parts(
    client: &mut dyn Client,
    filter: &str,
    id: i64,
) -> Result<HashMap<i64, Parts>, LineageError> {
    let mut parts: HashMap<i64, Parts> = HashMap::new();
    let edges = client.query(
        &format!(
            "SELECT e.action_id, e.role, t.path, t.digest, t.size FROM edges e \
             JOIN artifacts t ON t.id = e.artifact_id WHERE e.action_id {filter} ORDER BY t.path"
        ),
        &[id.into()],
    )?;
    for row in edges {
        let mut row = row.into_iter();
        let action = row.next().and_then(|v| v.int()).unwrap_or_default();
        let role = text(row.next());
        let artifact = artifact_row(row.collect());
        let entry = parts.entry(action).or_default();
        if role == "in" {
            entry.inputs.push(artifact);
        } else {
            entry.outputs.push(artifact);
        }
    }
    let params = client.query(
        &format!(
            "SELECT action_id, name, value FROM params WHERE action_id {filter} ORDER BY name"
        ),
        &[id.into()],
    )?;
    for row in params {
        let mut row = row.into_iter();
        let action = row.next().and_then(|v| v.int()).unwrap_or_default();
        let name = text(row.next());
        let raw = text(row.next());
        let value = serde_json::from_str(&raw).unwrap_or(serde_json::Value::String(raw));
        parts.entry(action).or_default().params.push((name, value));
    }
    let metrics = client.query(
        &format!(
            "SELECT action_id, path, name, text FROM metrics WHERE action_id {filter} \
             ORDER BY path, name"
        ),
        &[id.into()],
    )?;
    for row in metrics {
        let mut row = row.into_iter();
        let action = row.next().and_then(|v| v.int()).unwrap_or_default();
        let metric = Metric {
            path: text(row.next()),
            name: text(row.next()),
            value: serde_json::from_str(&text(row.next())).unwrap_or(serde_json::Value::Null),
        };
        parts.entry(action).or_default().metrics.push(metric);
    }
    Ok(parts)
}

fn ids(rows: Vec<Row>) -> Vec<i64> {
    rows.into_iter()
        .filter_map(|row| row.first().and_then(Value::int))
        .collect()
}

fn text(value: Option<Value>) -> String {
    match value {
        Some(Value::Text(text)) => text,
        _ => String::new(),
    }
}

fn optional_text(value: Option<Value>) -> Option<String> {
    match value {
        Some(Value::Text(text)) => Some(text),
        _ => None,
    }
}

fn int(value: Option<Value>) -> Option<i64> {
    value.and_then(|v| v.int())
}

fn run_row(row: Row) -> RunSummary {
    let mut row = row.into_iter();
    let id = int(row.next()).unwrap_or_default();
    let started_ms = int(row.next()).unwrap_or_default();
    let finished_ms = int(row.next());
    let status = text(row.next());
    let command = serde_json::from_str(&text(row.next())).unwrap_or_default();
    let user = text(row.next());
    let host = text(row.next());
    let version = text(row.next());
    let commit = optional_text(row.next());
    let branch = optional_text(row.next());
    let dirty = int(row.next()).unwrap_or(0) != 0;
    let mut count = || int(row.next()).map_or(0, |n| u64::try_from(n).unwrap_or(0));
    let (ran, cached, failed, skipped) = (count(), count(), count(), count());
    let kind = text(row.next());
    let interrupted = int(row.next()).map_or(0, |n| u64::try_from(n).unwrap_or(0));
    RunSummary {
        id,
        started_ms,
        finished_ms,
        status,
        kind,
        command,
        user,
        host,
        version,
        git: commit.map(|commit| GitState {
            commit,
            branch,
            dirty,
        }),
        counts: Counts {
            ran,
            cached,
            failed,
            skipped,
            interrupted,
        },
    }
}

fn action_row(row: Row) -> (ActionSummary, i64) {
    let mut row = row.into_iter();
    let run_id = int(row.next()).unwrap_or_default();
    let name = text(row.next());
    let step = text(row.next());
    let key = row.next().and_then(|v| v.bytes().map(hex));
    let status = text(row.next());
    let exit_code = int(row.next()).and_then(|code| i32::try_from(code).ok());
    let started_ms = int(row.next()).unwrap_or_default();
    let duration_ms = int(row.next()).unwrap_or_default();
    let executor = optional_text(row.next());
    let cmd = text(row.next());
    let reasons = serde_json::from_str(&text(row.next())).unwrap_or_default();
    let action = int(row.next()).unwrap_or_default();
    let job_id = optional_text(row.next());
    let node = optional_text(row.next());
    let summary = ActionSummary {
        run_id,
        action: ActionRecord {
            name,
            step,
            key,
            status,
            exit_code,
            started_ms,
            duration_ms,
            executor,
            job_id,
            node,
            cmd,
            reasons,
            ..ActionRecord::default()
        },
    };
    (summary, action)
}

pub(super) fn artifact_row(row: Row) -> ArtifactRecord {
    let mut row = row.into_iter();
    ArtifactRecord {
        path: text(row.next()),
        digest: row
            .next()
            .and_then(|v| v.bytes().map(hex))
            .unwrap_or_default(),
        size: int(row.next()).and_then(|size| u64::try_from(size).ok()),
    }
}
