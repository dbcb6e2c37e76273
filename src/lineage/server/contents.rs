//! Actions' contents (see [`crate::lineage::content`]) found and written many at a time. A
//! server's cost is its round trips, each statement at least one where SQLite's cost a
//! function call: a run's contents are looked up by digest a few hundred to a query, the new
//! ones written a few hundred to an `INSERT`, and their artifacts, edges, params and metrics
//! the same way. A first build of 1,000 actions is some tens of statements, not the twelve
//! thousand of writing each content's parts one by one.
//!
//! Two clients that write the same content at once both end up with the one row: the insert
//! that loses the race is ignored and the loser reads the winner's id; the parts are the
//! winner's to write, in the winner's transaction. Which rows of a many-row insert a client
//! won is known only when it won them all; when it did not (a race, rare), the insert is
//! undone to a savepoint and the new contents are written one at a time, as before.

use std::collections::{HashMap, HashSet};

use super::super::content::Content;
use super::super::{LineageError, Metric};
use super::artifacts;
use super::sql::{Client, Value, placeholders};

/// Keys per lookup, and rows per `INSERT` (at most 5 values a row: far below both servers'
/// limit of 65,535 values a statement).
pub(super) const KEYS: usize = 500;
pub(super) const ROWS: usize = 200;

const SAVEPOINT: &str = "zenbuild_contents";

/// The id of each content (`digests[i]` is `contents[i]`'s), every one written that no
/// client wrote before, with its parts.
pub fn ids(
    client: &mut dyn Client,
    contents: &[Content],
    digests: &[Vec<u8>],
) -> Result<Vec<i64>, LineageError> {
    let mut known = lookup(client, digests.iter().map(Vec::as_slice))?;
    // Each new content once, at its first action, in the actions' order.
    let mut new: Vec<usize> = Vec::new();
    let mut seen: HashSet<&[u8]> = HashSet::new();
    for (index, digest) in digests.iter().enumerate() {
        if !known.contains_key(digest) && seen.insert(digest) {
            new.push(index);
        }
    }
    if !new.is_empty() {
        let written = insert(client, contents, digests, &new)?;
        known.extend(lookup(client, new.iter().map(|&n| digests[n].as_slice()))?);
        let owned: Vec<(i64, &Content)> = written
            .into_iter()
            .filter_map(|n| Some((*known.get(&digests[n])?, &contents[n])))
            .collect();
        write_parts(client, &owned)?;
    }
    digests
        .iter()
        .map(|digest| {
            known
                .get(digest)
                .copied()
                .ok_or_else(|| LineageError::Server {
                    url: String::new(),
                    detail: "an action written a moment ago is not there".to_string(),
                })
        })
        .collect()
}

/// The ids of the contents with these digests that the database has.
fn lookup<'d>(
    client: &mut dyn Client,
    digests: impl Iterator<Item = &'d [u8]>,
) -> Result<HashMap<Vec<u8>, i64>, LineageError> {
    let mut unique: Vec<&[u8]> = digests.collect();
    unique.sort_unstable();
    unique.dedup();
    let mut known = HashMap::with_capacity(unique.len());
    for chunk in unique.chunks(KEYS) {
        let sql = format!(
            "SELECT id, digest FROM actions WHERE digest IN ({})",
            placeholders(chunk.len())
        );
        let args: Vec<Value> = chunk.iter().map(|d| Value::Bytes(d.to_vec())).collect();
        for row in client.query(&sql, &args)? {
            let mut row = row.into_iter();
            if let (Some(Value::Int(id)), Some(Value::Bytes(digest))) = (row.next(), row.next()) {
                known.insert(digest, id);
            }
        }
    }
    Ok(known)
}

/// Writes the contents at `new` (indexes into `contents`); returns those this client wrote.
fn insert(
    client: &mut dyn Client,
    contents: &[Content],
    digests: &[Vec<u8>],
    new: &[usize],
) -> Result<Vec<usize>, LineageError> {
    let row = |n: usize| -> Result<[Value; 5], LineageError> {
        let content = &contents[n];
        Ok([
            Value::Bytes(digests[n].clone()),
            content.name.into(),
            content.step.into(),
            content.key.map(super::digest::bytes).transpose()?.into(),
            content.cmd.into(),
        ])
    };
    let table = "actions (digest, name, step, action_key, cmd)";
    client.batch(&format!("SAVEPOINT {SAVEPOINT}"))?;
    let mut written = 0;
    for chunk in new.chunks(ROWS) {
        let sql = client.dialect().insert_ignore(table, &rows(5, chunk.len()));
        let mut args = Vec::with_capacity(chunk.len() * 5);
        for &n in chunk {
            args.extend(row(n)?);
        }
        written += client.execute(&sql, &args)?;
    }
    if written == new.len() as u64 {
        client.batch(&format!("RELEASE SAVEPOINT {SAVEPOINT}"))?;
        return Ok(new.to_vec());
    }
    // Another client wrote some of them meanwhile; which, only a row at a time tells.
    client.batch(&format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}"))?;
    let sql = client.dialect().insert_ignore(table, &rows(5, 1));
    let mut won = Vec::new();
    for &n in new {
        if client.execute(&sql, &row(n)?)? == 1 {
            won.push(n);
        }
    }
    Ok(won)
}

/// The edges, params and metrics of contents this client wrote, with their ids.
fn write_parts(client: &mut dyn Client, owned: &[(i64, &Content)]) -> Result<(), LineageError> {
    let every = owned
        .iter()
        .flat_map(|(_, content)| content.inputs.iter().chain(&content.outputs));
    let artifact_ids = artifacts::ids(client, every)?;
    let mut edges = Vec::new();
    let mut params = Vec::new();
    let mut metrics = Vec::new();
    for &(id, content) in owned {
        for (role, list) in [("in", &content.inputs), ("out", &content.outputs)] {
            for artifact in list {
                let artifact_id = artifact_ids
                    .get(&(artifact.path, artifact.digest))
                    .copied()
                    .ok_or_else(|| LineageError::Server {
                        url: String::new(),
                        detail: format!(
                            "artifact {} written a moment ago is not there",
                            artifact.path
                        ),
                    })?;
                edges.push([id.into(), role.into(), artifact_id.into()]);
            }
        }
        for (name, value) in &content.params {
            params.push([id.into(), (*name).into(), value.as_str().into()]);
        }
        for metric in &content.metrics {
            let (num, text) = metric_columns(metric);
            metrics.push([
                id.into(),
                metric.path.as_str().into(),
                metric.name.as_str().into(),
                num,
                text,
            ]);
        }
    }
    insert_rows(client, "edges (action_id, role, artifact_id)", &edges)?;
    insert_rows(client, "params (action_id, name, value)", &params)?;
    insert_rows(
        client,
        "metrics (action_id, path, name, num, text)",
        &metrics,
    )
}

/// `INSERT INTO table (columns) VALUES …`, [`ROWS`] rows a statement.
pub(super) fn insert_rows<const N: usize>(
    client: &mut dyn Client,
    table_and_columns: &str,
    all: &[[Value; N]],
) -> Result<(), LineageError> {
    for chunk in all.chunks(ROWS) {
        let sql = format!(
            "INSERT INTO {table_and_columns} VALUES {}",
            rows(N, chunk.len())
        );
        let args: Vec<Value> = chunk.iter().flat_map(|row| row.iter().cloned()).collect();
        client.execute(&sql, &args)?;
    }
    Ok(())
}

/// `(?, ?), (?, ?)`: `count` rows of `width` placeholders.
pub(super) fn rows(width: usize, count: usize) -> String {
    vec![format!("({})", placeholders(width)); count].join(", ")
}

/// A metric as two columns: its exact JSON text, which is what is read back, and beside it
/// the number it is, if it is one, for queries that compare or sort.
fn metric_columns(metric: &Metric) -> (Value, Value) {
    let num = metric.value.as_f64().map_or(Value::Null, Value::Float);
    (num, Value::Text(metric.value.to_string()))
}
