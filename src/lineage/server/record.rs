//! Writing runs into a team database: each action's content once (found by its digest, as in
//! the SQLite store, see [`crate::lineage::content`]; many at a time, see [`contents`]) and a
//! row per run saying how it went.

use super::super::content::Content;
use super::super::{ActionRecord, LineageError, NewRun, RunEnd, RunId};
use super::contents;
use super::digest::bytes;
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
    let contents: Vec<Content> = actions.iter().map(Content::of).collect();
    let digests = contents
        .iter()
        .map(|content| bytes(&content.digest()))
        .collect::<Result<Vec<_>, _>>()?;
    let ids = contents::ids(client, &contents, &digests)?;
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
