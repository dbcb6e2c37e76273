//! Writing runs into a team database: each action's content once (found by its digest, as in
//! the SQLite store, see [`crate::lineage::content`]) and a row per run saying how it went.
//! Two clients that record the same content at once both end up with the one row: the insert
//! that loses the race is ignored, and the loser reads the winner's id (its edges, params and
//! metrics are the winner's to write, in the winner's transaction).

use super::super::content::{Artifact, Content};
use super::super::{ActionRecord, LineageError, Metric, NewRun, RunEnd, RunId};
use super::digest::{bytes, path_hash};
use super::sql::{Client, Value, placeholders, transaction};

/// Run-action rows per `INSERT`: a 1,000-action run is a dozen statements, not a thousand.
const ROWS: usize = 100;

const RUN_ACTION_COLUMNS: &str = "run_id, action_id, status, ran, exit_code, started_ms, \
     duration_ms, executor, reasons, job_id, node";

/// Records a whole run that is over, in one transaction: a run sent again (its uid is
/// there) is left as it is. Returns its id.
pub fn deliver_run(
    client: &mut dyn Client,
    (run, actions, end): (&NewRun, &[ActionRecord], &RunEnd),
) -> Result<RunId, LineageError> {
    transaction(client, |client| {
        let known = client.query(
            "SELECT id FROM runs WHERE uid = ?",
            &[run.uid.to_vec().into()],
        )?;
        if let Some(id) = known
            .first()
            .and_then(|row| row.first())
            .and_then(Value::int)
        {
            return Ok(id);
        }
        let id = insert_run(client, run)?;
        insert_actions(client, id, actions)?;
        finish_run(client, id, end)?;
        Ok(id)
    })
}

/// Starts a run: its manifest kept once, its row `running`.
pub fn begin_run(client: &mut dyn Client, run: &NewRun) -> Result<RunId, LineageError> {
    transaction(client, |client| insert_run(client, run))
}

fn insert_run(client: &mut dyn Client, run: &NewRun) -> Result<RunId, LineageError> {
    let digest = bytes(&run.manifest_digest)?;
    if let Some(text) = &run.manifest {
        let sql = client
            .dialect()
            .insert_ignore("manifests (digest, text)", "(?, ?)");
        client.execute(&sql, &[digest.clone().into(), text.as_str().into()])?;
    }
    let manifest = client.query(
        "SELECT id FROM manifests WHERE digest = ?",
        &[digest.into()],
    )?;
    let manifest_id = manifest.first().and_then(|row| row.first()).cloned();
    let command = serde_json::to_string(&run.command).unwrap_or_default();
    client.insert(
        "INSERT INTO runs (uid, started_ms, status, kind, command, user_name, host, version, \
         manifest_id) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?)",
        &[
            run.uid.to_vec().into(),
            run.started_ms.into(),
            run.kind.as_str().into(),
            command.into(),
            run.user.as_str().into(),
            run.host.as_str().into(),
            run.version.as_str().into(),
            manifest_id.unwrap_or(Value::Null),
        ],
    )
}

/// Ends a run: its status, counts and git state.
pub fn finish_run(client: &mut dyn Client, run: RunId, end: &RunEnd) -> Result<(), LineageError> {
    let git = end.git.as_ref();
    client.execute(
        "UPDATE runs SET finished_ms = ?, status = ?, ran = ?, cached = ?, failed = ?, \
         skipped = ?, interrupted = ?, git_commit = ?, git_branch = ?, git_dirty = ? WHERE id = ?",
        &[
            end.finished_ms.into(),
            end.status.as_str().into(),
            count(end.counts.ran),
            count(end.counts.cached),
            count(end.counts.failed),
            count(end.counts.skipped),
            count(end.counts.interrupted),
            git.map(|g| g.commit.clone()).into(),
            git.and_then(|g| g.branch.clone()).into(),
            git.map(|g| i64::from(g.dirty)).into(),
            run.into(),
        ],
    )?;
    Ok(())
}

fn count(n: u64) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Adds finished actions to a run, all or none.
pub fn record_actions(
    client: &mut dyn Client,
    run: RunId,
    actions: &[ActionRecord],
) -> Result<(), LineageError> {
    transaction(client, |client| insert_actions(client, run, actions))
}

fn insert_actions(
    client: &mut dyn Client,
    run: RunId,
    actions: &[ActionRecord],
) -> Result<(), LineageError> {
    let mut ids = Vec::with_capacity(actions.len());
    for action in actions {
        let content = Content::of(action);
        ids.push(content_id(client, &content)?);
    }
    for (actions, ids) in actions.chunks(ROWS).zip(ids.chunks(ROWS)) {
        let row = format!("({})", placeholders(11));
        let sql = format!(
            "INSERT INTO run_actions ({RUN_ACTION_COLUMNS}) VALUES {}",
            vec![row; actions.len()].join(", ")
        );
        let mut args = Vec::with_capacity(actions.len() * 11);
        for (action, id) in actions.iter().zip(ids) {
            args.extend([
                Value::Int(run),
                Value::Int(*id),
                action.status.as_str().into(),
                Value::Int(i64::from(action.status == "ran")),
                action.exit_code.map(i64::from).into(),
                action.started_ms.into(),
                action.duration_ms.into(),
                action.executor.clone().into(),
                serde_json::to_string(&action.reasons)
                    .unwrap_or_else(|_| "[]".to_string())
                    .into(),
                action.job_id.clone().into(),
                action.node.clone().into(),
            ]);
        }
        client.execute(&sql, &args)?;
    }
    Ok(())
}

/// The id of `content`, written with its parts if no client wrote it before.
fn content_id(client: &mut dyn Client, content: &Content) -> Result<i64, LineageError> {
    let digest = bytes(&content.digest())?;
    if let Some(id) = id_of(
        client,
        "SELECT id FROM actions WHERE digest = ?",
        digest.clone(),
    )? {
        return Ok(id);
    }
    let key = content.key.map(bytes).transpose()?;
    let sql = client.dialect().insert_ignore(
        "actions (digest, name, step, action_key, cmd)",
        "(?, ?, ?, ?, ?)",
    );
    let inserted = client.execute(
        &sql,
        &[
            digest.clone().into(),
            content.name.into(),
            content.step.into(),
            key.into(),
            content.cmd.into(),
        ],
    )?;
    let id =
        id_of(client, "SELECT id FROM actions WHERE digest = ?", digest)?.ok_or_else(|| {
            LineageError::Server {
                url: String::new(),
                detail: "an action written a moment ago is not there".to_string(),
            }
        })?;
    if inserted == 0 {
        // Another client's, with its parts.
        return Ok(id);
    }
    for (role, artifacts) in [("in", &content.inputs), ("out", &content.outputs)] {
        for artifact in artifacts {
            let artifact_id = artifact_id(client, artifact)?;
            client.execute(
                "INSERT INTO edges (action_id, role, artifact_id) VALUES (?, ?, ?)",
                &[id.into(), role.into(), artifact_id.into()],
            )?;
        }
    }
    for (name, value) in &content.params {
        client.execute(
            "INSERT INTO params (action_id, name, value) VALUES (?, ?, ?)",
            &[id.into(), (*name).into(), value.as_str().into()],
        )?;
    }
    for metric in &content.metrics {
        let (num, text) = metric_columns(metric);
        client.execute(
            "INSERT INTO metrics (action_id, path, name, num, text) VALUES (?, ?, ?, ?, ?)",
            &[
                id.into(),
                metric.path.as_str().into(),
                metric.name.as_str().into(),
                num,
                text,
            ],
        )?;
    }
    Ok(id)
}

/// The id of an artifact (a path with a digest), written if new; a size learned late is
/// filled in.
fn artifact_id(client: &mut dyn Client, artifact: &Artifact) -> Result<i64, LineageError> {
    let hash = path_hash(artifact.path);
    let digest = bytes(artifact.digest)?;
    let size = artifact
        .size
        .map(|size| i64::try_from(size).unwrap_or(i64::MAX));
    let find = "SELECT id, size FROM artifacts WHERE path_hash = ? AND digest = ?";
    let args = [Value::Bytes(hash.clone()), Value::Bytes(digest.clone())];
    let found = client.query(find, &args)?;
    if let Some(row) = found.first() {
        let id = row.first().and_then(Value::int).unwrap_or_default();
        if row.get(1) == Some(&Value::Null) && size.is_some() {
            client.execute(
                "UPDATE artifacts SET size = ? WHERE id = ?",
                &[size.into(), id.into()],
            )?;
        }
        return Ok(id);
    }
    let sql = client
        .dialect()
        .insert_ignore("artifacts (path, path_hash, digest, size)", "(?, ?, ?, ?)");
    client.execute(
        &sql,
        &[
            artifact.path.into(),
            hash.into(),
            digest.into(),
            size.into(),
        ],
    )?;
    let found = client.query(find, &args)?;
    found
        .first()
        .and_then(|row| row.first())
        .and_then(Value::int)
        .ok_or_else(|| LineageError::Server {
            url: String::new(),
            detail: format!(
                "artifact {} written a moment ago is not there",
                artifact.path
            ),
        })
}

fn id_of(client: &mut dyn Client, sql: &str, digest: Vec<u8>) -> Result<Option<i64>, LineageError> {
    let rows = client.query(sql, &[digest.into()])?;
    Ok(rows
        .first()
        .and_then(|row| row.first())
        .and_then(Value::int))
}

/// A metric as two columns: its exact JSON text, which is what is read back, and beside it
/// the number it is, if it is one, for queries that compare or sort.
fn metric_columns(metric: &Metric) -> (Value, Value) {
    let num = metric.value.as_f64().map_or(Value::Null, Value::Float);
    (num, Value::Text(metric.value.to_string()))
}
