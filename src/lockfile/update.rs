//! The lockfile brought up to date with a successful build. Two ways to the same bytes: when
//! the file is exactly what zenbuild writes, the entries that changed are spliced into its
//! text (`splice`), at a cost that follows them and not the file, which in an incremental
//! build of thousands of cached steps is the difference between a few milliseconds and a
//! hundred; otherwise the whole file is read with serde and written again (`whole`).

use std::collections::HashMap;
use std::path::Path;

use super::built::Built;
use super::layout::Layout;
use super::splice::{Found, splice};
use super::{LOCK_VERSION, LOCKFILE, Lockfile, LockfileError, encode};
use crate::atomic_write::{Durability, write_atomically};
use crate::exec::event::Outcome;
use crate::exec::last_keys::{Finished, LastKeys};
use crate::graph::{ActionId, ArtifactId, Graph};

/// Brings the lockfile at `root` up to date with a successful build: the entries of the
/// actions in `outcomes` replaced, those of actions `graph` no longer has dropped. An
/// unreadable lockfile (a merge conflict) is replaced whole. The file is written only when
/// its bytes change.
///
/// Returns a line for each cached action whose outputs differ from those the lockfile recorded
/// under the same key: the cache and the lockfile then disagree about what that key makes. A
/// step that is not deterministic does that legitimately, a cache entry edited by hand
/// does it too, and only running the step again can tell (`zenbuild verify`). The lockfile
/// takes what was restored, since those are the files now in the workspace.
pub fn update(
    root: &Path,
    graph: &Graph,
    outcomes: &[(ActionId, Outcome)],
    last_keys: &LastKeys,
) -> Result<Vec<String>, LockfileError> {
    let path = root.join(LOCKFILE);
    // Missing, unreadable or not UTF-8, it is replaced whole, as one that does not parse is.
    let bytes = std::fs::read(&path).ok();
    let old = bytes
        .as_deref()
        .and_then(|bytes| std::str::from_utf8(bytes).ok());
    let updated = last_keys.lend(|finished| {
        let (ids, built): (Vec<ActionId>, Vec<Built>) =
            built(graph, outcomes, finished).into_iter().unzip();
        updated(old, &built, &finder(graph, &ids))
    })?;
    if let Some(text) = updated.text
        && bytes.as_deref() != Some(text.as_bytes())
    {
        write_atomically(&path, text.as_bytes(), Durability::Synced)
            .map_err(LockfileError::Write)?;
    }
    Ok(updated.disagreements)
}

/// What `graph` says of each action a lockfile names, given the actions a build built, in
/// order: one lookup of the name answers both whether the graph still has it and whether the
/// build built it.
fn finder<'a>(graph: &'a Graph, built: &[ActionId]) -> impl Fn(&str) -> Found + 'a {
    let mut position = vec![None; graph.actions.len()];
    for (at, id) in built.iter().enumerate() {
        if let Some(slot) = position.get_mut(id.0) {
            *slot = Some(at);
        }
    }
    move |name| match graph.action_by_name(name) {
        None => Found::Gone,
        Some(id) => position
            .get(id.0)
            .copied()
            .flatten()
            .map_or(Found::Kept, Found::Built),
    }
}

pub struct Updated {
    /// `None` when the text stays as it was.
    pub text: Option<String>,
    pub disagreements: Vec<String>,
}

/// The lockfile whose text is `old` updated with `built`, `find` saying what the graph has of
/// each action named in it.
pub fn updated(
    old: Option<&str>,
    built: &[Built],
    find: &dyn Fn(&str) -> Found,
) -> Result<Updated, LockfileError> {
    if let Some(spliced) = old
        .and_then(Layout::scan)
        .and_then(|layout| splice(&layout, built, find))
    {
        return Ok(spliced);
    }
    whole(old, built, find)
}

/// Every entry read with serde, rebuilt and written: for a text in any other form than the
/// one zenbuild writes, and the reference `splice` is tested against.
pub fn whole(
    old: Option<&str>,
    built: &[Built],
    find: &dyn Fn(&str) -> Found,
) -> Result<Updated, LockfileError> {
    let mut lock = match old.map(Lockfile::parse) {
        Some(Ok(lock)) => lock,
        Some(Err(e @ LockfileError::Newer { .. })) => return Err(e),
        _ => Lockfile::default(),
    };
    lock.version = LOCK_VERSION;
    lock.actions.retain(|name, _| find(name) != Found::Gone);
    let mut disagreements = Vec::new();
    for action in built {
        let old = lock.actions.get(action.name);
        let entry = action.entry(old);
        disagreements.extend(action.disagreement(old, &entry));
        lock.actions.insert(action.name.to_string(), entry);
    }
    Ok(Updated {
        text: Some(lock.to_text()),
        disagreements,
    })
}

/// What the build says about each action that succeeded and has a key and a record of how it
/// finished.
fn built<'a>(
    graph: &'a Graph,
    outcomes: &'a [(ActionId, Outcome)],
    finished: &'a HashMap<String, Finished>,
) -> Vec<(ActionId, Built<'a>)> {
    let held = held_inside(graph);
    // Only paths inside output directories need them: most builds have none.
    let read = if held.is_empty() {
        HashMap::new()
    } else {
        digests_read(outcomes)
    };
    outcomes
        .iter()
        .filter_map(|(id, outcome)| {
            let (Outcome::Ran(done) | Outcome::Cached(done)) = outcome else {
                return None;
            };
            let action = graph.action(*id);
            let (Some(key), Some(finished)) = (&done.fields, finished.get(&action.name)) else {
                return None;
            };
            let held = held.get(id).map_or(&[][..], Vec::as_slice);
            let built = Built {
                name: &action.name,
                step: &action.step,
                cached: matches!(outcome, Outcome::Cached(_)),
                key,
                // The engine sets both from the same key; hashing it again would cost as
                // much as the rest of the update.
                digest: done.key.unwrap_or_else(|| key.digest()),
                outputs: &finished.outputs,
                metrics: action
                    .metrics
                    .iter()
                    .map(|&metric| graph.artifact(metric).display_path())
                    .collect(),
                held: held
                    .iter()
                    .map(|&artifact| {
                        let path = graph.artifact(artifact).display_path();
                        let digest = read.get(path.as_str()).cloned();
                        (path, digest)
                    })
                    .collect(),
            };
            Some((*id, built))
        })
        .collect()
}

/// Every input digest the successful actions of a build were keyed with, by display path.
fn digests_read(outcomes: &[(ActionId, Outcome)]) -> HashMap<&str, String> {
    outcomes
        .iter()
        .filter_map(|(_, outcome)| match outcome {
            Outcome::Ran(done) | Outcome::Cached(done) => done.fields.as_ref(),
            _ => None,
        })
        .flat_map(|key| &key.inputs)
        .map(|input| (input.path.as_str(), encode(&input.digest, input.executable)))
        .collect()
}

/// Per action, the artifacts inside its output directories (produced by it, yet not among its
/// outputs): found in one pass, since a scan of every artifact per action is quadratic.
fn held_inside(graph: &Graph) -> HashMap<ActionId, Vec<ArtifactId>> {
    let mut held: HashMap<ActionId, Vec<ArtifactId>> = HashMap::new();
    for (index, artifact) in graph.artifacts.iter().enumerate() {
        let id = ArtifactId(index);
        if let Some(producer) = artifact.producer
            && !graph.action(producer).outputs.contains(&id)
        {
            held.entry(producer).or_default().push(id);
        }
    }
    held
}
