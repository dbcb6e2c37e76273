//! The params and metrics of every action at one point in a project's history, for
//! `zenbuild metrics` and the `diff` commands. A point is named the way people name them:
//! nothing (the workspace as last built), a run number from `zenbuild log`, or a git revision
//! (the `zenbuild.lock` committed there, else the latest run built at that commit).
//!
//! A lockfile names each metrics file by digest; its content comes from the lineage database
//! (which flattened it when the build recorded it), else from the cache's blob, else from the
//! workspace file if it still has those bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::{MetadataStore, Metric, metrics};
use crate::hash::Digest;
use crate::lockfile::{LOCKFILE, Lockfile};

/// What a snapshot reads besides the store: where things are.
pub struct Places<'a> {
    pub root: &'a Path,
    /// The top of the git work tree, for revisions.
    pub git_root: &'a Path,
    /// Where the local cache keeps a blob.
    pub blob_path: &'a dyn Fn(&Digest) -> PathBuf,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Snapshot {
    /// How the point was named: `workspace`, `run 3`, `HEAD~1`.
    pub source: String,
    pub actions: BTreeMap<String, ActionValues>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ActionValues {
    pub step: String,
    pub params: BTreeMap<String, Value>,
    /// Flattened metric names; prefixed with their file (`out/a.json:acc`) when the action
    /// reports more than one file.
    pub metrics: BTreeMap<String, Value>,
}

/// The snapshot `name` names (`None`: the workspace).
pub fn resolve(
    name: Option<&str>,
    places: &Places,
    store: Option<&dyn MetadataStore>,
) -> Result<Snapshot, String> {
    let Some(name) = name.filter(|name| *name != "workspace") else {
        let lock = Lockfile::read(places.root)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no {LOCKFILE} here yet: build first"))?;
        return Ok(from_lock("workspace", &lock, places, store));
    };
    if let Ok(run) = name.parse::<i64>() {
        let store = store.ok_or("no lineage yet: nothing has been built here")?;
        return from_run(run, store);
    }
    let Some(lock) =
        Lockfile::at_commit(places.root, places.git_root, name).map_err(|e| e.to_string())?
    else {
        // No lockfile was committed there: the latest run built at that commit says it.
        let commit = super::git::resolve(places.git_root, name)?;
        let run = store
            .map(|store| store.runs_at_commit(&commit))
            .transpose()
            .map_err(|e| e.to_string())?
            .and_then(|runs| runs.first().copied())
            .ok_or_else(|| format!("`{name}` has no {LOCKFILE} and no run was built at it"))?;
        let mut snapshot = from_run(run, store.ok_or("no lineage")?)?;
        snapshot.source = name.to_string();
        return Ok(snapshot);
    };
    Ok(from_lock(name, &lock, places, store))
}

fn from_run(run: i64, store: &dyn MetadataStore) -> Result<Snapshot, String> {
    if store.run(run).map_err(|e| e.to_string())?.is_none() {
        return Err(format!("there is no run {run}: `zenbuild log` lists them"));
    }
    let mut snapshot = Snapshot {
        source: format!("run {run}"),
        ..Snapshot::default()
    };
    for summary in store.run_actions(run).map_err(|e| e.to_string())? {
        let action = summary.action;
        let values = ActionValues {
            step: action.step,
            params: action.params.into_iter().collect(),
            metrics: named(action.metrics),
        };
        snapshot.actions.insert(action.name, values);
    }
    Ok(snapshot)
}

fn from_lock(
    source: &str,
    lock: &Lockfile,
    places: &Places,
    store: Option<&dyn MetadataStore>,
) -> Snapshot {
    let mut snapshot = Snapshot {
        source: source.to_string(),
        ..Snapshot::default()
    };
    for (name, locked) in &lock.actions {
        let outputs = locked.output_digests().unwrap_or_default();
        let mut found = Vec::new();
        for path in &locked.metrics {
            let Some((_, digest, _)) = outputs.iter().find(|(p, ..)| p == path) else {
                continue;
            };
            found.extend(metrics_of(path, digest, places, store));
        }
        let values = ActionValues {
            step: locked.step.clone(),
            params: locked.params.clone(),
            metrics: named(found),
        };
        snapshot.actions.insert(name.clone(), values);
    }
    snapshot
}

fn metrics_of(
    path: &str,
    digest: &Digest,
    places: &Places,
    store: Option<&dyn MetadataStore>,
) -> Vec<Metric> {
    let recorded = store
        .and_then(|store| store.producer(path, &digest.to_hex()).ok().flatten())
        .map(|summary| {
            summary
                .action
                .metrics
                .into_iter()
                .filter(|metric| metric.path == path)
                .collect::<Vec<_>>()
        });
    if let Some(recorded) = recorded.filter(|found| !found.is_empty()) {
        return recorded;
    }
    let candidates = [(places.blob_path)(digest), places.root.join(path)];
    for candidate in candidates {
        if let Ok(bytes) = std::fs::read(&candidate)
            && Digest::of(&bytes) == *digest
        {
            return metrics::flatten(path, &bytes);
        }
    }
    Vec::new()
}

/// Metric names as tables show them: bare, unless the action has several metrics files.
fn named(metrics: Vec<Metric>) -> BTreeMap<String, Value> {
    let several = metrics.iter().any(|m| m.path != metrics[0].path);
    metrics
        .into_iter()
        .map(|metric| {
            let name = if several {
                format!("{}:{}", metric.path, metric.name)
            } else {
                metric.name
            };
            (name, metric.value)
        })
        .collect()
}
