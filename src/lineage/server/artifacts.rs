//! Artifacts (a path with a digest) found and written many at a time, for the contents a
//! client writes: those the database has are looked up a hundred to a query by their key
//! (`path_hash`, `digest`), the rest written many to an `INSERT`, in the order the contents
//! name them, which is the order their ids, and so `find_artifacts`, give them back. A size
//! learned late is filled in, as the SQLite store does.

use std::collections::HashMap;

use super::super::LineageError;
use super::super::content::Artifact;
use super::contents::{ROWS, rows};
use super::digest::{bytes, path_hash};
use super::sql::{Client, Value};

/// Keys per lookup: each is two values and an `OR`.
const KEYS: usize = 100;

/// An artifact's key and what is known of it.
struct Wanted<'a> {
    path: &'a str,
    digest: &'a str,
    hash: Vec<u8>,
    bytes: Vec<u8>,
    size: Option<i64>,
}

/// What the database has of an artifact: its id and size.
type Found = Option<(i64, Option<i64>)>;

/// The id of each of `artifacts`, by (path, digest), written first where no client has.
pub fn ids<'a>(
    client: &mut dyn Client,
    artifacts: impl Iterator<Item = &'a Artifact<'a>>,
) -> Result<HashMap<(&'a str, &'a str), i64>, LineageError> {
    let wanted = unique(artifacts)?;
    let all: Vec<usize> = (0..wanted.len()).collect();
    let mut found: Vec<Found> = vec![None; wanted.len()];
    lookup(client, &wanted, &all, &mut found)?;
    let missing: Vec<usize> = all.into_iter().filter(|&i| found[i].is_none()).collect();
    if !missing.is_empty() {
        let new: Vec<[Value; 4]> = missing
            .iter()
            .map(|&i| {
                let w = &wanted[i];
                [
                    w.path.into(),
                    Value::Bytes(w.hash.clone()),
                    Value::Bytes(w.bytes.clone()),
                    w.size.into(),
                ]
            })
            .collect();
        for chunk in new.chunks(ROWS) {
            let sql = client.dialect().insert_ignore(
                "artifacts (path, path_hash, digest, size)",
                &rows(4, chunk.len()),
            );
            let args: Vec<Value> = chunk.iter().flat_map(|row| row.iter().cloned()).collect();
            client.execute(&sql, &args)?;
        }
        lookup(client, &wanted, &missing, &mut found)?;
    }
    fill_sizes(client, &wanted, &found)?;
    wanted
        .iter()
        .zip(found)
        .map(|(w, found)| match found {
            Some((id, _)) => Ok(((w.path, w.digest), id)),
            None => Err(LineageError::Server {
                url: String::new(),
                detail: format!("artifact {} written a moment ago is not there", w.path),
            }),
        })
        .collect()
}

/// Each artifact once, in order, with the first size known for it.
fn unique<'a>(
    artifacts: impl Iterator<Item = &'a Artifact<'a>>,
) -> Result<Vec<Wanted<'a>>, LineageError> {
    let mut wanted: Vec<Wanted> = Vec::new();
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    for artifact in artifacts {
        let size = artifact.size.map(|s| i64::try_from(s).unwrap_or(i64::MAX));
        if let Some(&at) = index.get(&(artifact.path, artifact.digest)) {
            let known = &mut wanted[at].size;
            *known = known.or(size);
            continue;
        }
        index.insert((artifact.path, artifact.digest), wanted.len());
        wanted.push(Wanted {
            path: artifact.path,
            digest: artifact.digest,
            hash: path_hash(artifact.path),
            bytes: bytes(artifact.digest)?,
            size,
        });
    }
    Ok(wanted)
}

/// Sets `found[i]` for each `i` of `which` whose artifact the database has.
fn lookup(
    client: &mut dyn Client,
    wanted: &[Wanted],
    which: &[usize],
    found: &mut [Found],
) -> Result<(), LineageError> {
    for chunk in which.chunks(KEYS) {
        let position: HashMap<(&[u8], &[u8]), usize> = chunk
            .iter()
            .map(|&i| ((wanted[i].hash.as_slice(), wanted[i].bytes.as_slice()), i))
            .collect();
        let keys = vec!["(path_hash = ? AND digest = ?)"; chunk.len()].join(" OR ");
        let sql = format!("SELECT id, path_hash, digest, size FROM artifacts WHERE {keys}");
        let args: Vec<Value> = chunk
            .iter()
            .flat_map(|&i| {
                let w = &wanted[i];
                [Value::Bytes(w.hash.clone()), Value::Bytes(w.bytes.clone())]
            })
            .collect();
        for row in client.query(&sql, &args)? {
            let mut row = row.into_iter();
            let id = row.next().and_then(|v| v.int());
            let hash = row.next();
            let digest = row.next();
            let size = row.next().and_then(|v| v.int());
            let key = (
                hash.as_ref().and_then(Value::bytes),
                digest.as_ref().and_then(Value::bytes),
            );
            if let (Some(id), (Some(hash), Some(digest))) = (id, key)
                && let Some(&i) = position.get(&(hash, digest))
            {
                found[i] = Some((id, size));
            }
        }
    }
    Ok(())
}

/// Gives a size to the artifacts recorded without one that a content now has one for.
fn fill_sizes(
    client: &mut dyn Client,
    wanted: &[Wanted],
    found: &[Found],
) -> Result<(), LineageError> {
    for (w, found) in wanted.iter().zip(found) {
        if let (Some(size), Some((id, None))) = (w.size, found) {
            client.execute(
                "UPDATE artifacts SET size = ? WHERE id = ?",
                &[size.into(), (*id).into()],
            )?;
        }
    }
    Ok(())
}
