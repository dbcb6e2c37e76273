//! Provenance trees for `zenbuild lineage`: from an artifact up through the action that
//! produced it, that action's inputs, their producers, back to source files; or, `--down`,
//! through every action that read it to everything derived from it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

use super::{ActionSummary, ArtifactRecord, LineageError, MetadataStore, RunId, RunSummary};

/// Which way a tree grows from its root artifact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Towards what it was made from.
    Up,
    /// Towards what was made from it.
    Down,
}

/// An artifact in the tree.
#[derive(Clone, Debug, Serialize)]
pub struct Node {
    pub path: String,
    pub digest: String,
    pub size: Option<u64>,
    /// Up: the action that produced it (none for a source file). Down: every action that
    /// read it.
    pub actions: Vec<Step>,
    /// Set when this artifact's subtree is already shown elsewhere in the tree.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub repeated: bool,
    /// Up, for a path inside another action's output directory: that directory, which its
    /// producer wrote whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within: Option<String>,
}

/// An action in the tree, with the run that recorded it.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub name: String,
    pub step: String,
    pub cmd: String,
    pub status: String,
    pub run: RunId,
    /// Who ran it, where: what tells a teammate's run from one's own in a team store.
    pub user: Option<String>,
    pub host: Option<String>,
    pub commit: Option<String>,
    pub dirty: Option<bool>,
    pub params: BTreeMap<String, serde_json::Value>,
    /// Down, below a directory: the paths inside it that this action read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<String>,
    /// Up: its inputs. Down: its outputs.
    pub artifacts: Vec<Node>,
}

/// How many of the latest runs `--down` searches for readers of files inside a directory
/// besides the runs that made it: enough for a reader added after the directory was built.
const RECENT_RUNS: usize = 10;

pub fn build(
    store: &dyn MetadataStore,
    root: &ArtifactRecord,
    direction: Direction,
) -> Result<Node, LineageError> {
    let mut walker = Walker {
        store,
        direction,
        runs: HashMap::new(),
        run_actions: HashMap::new(),
        seen: HashSet::new(),
    };
    walker.node(root.clone(), None)
}

struct Walker<'s> {
    store: &'s dyn MetadataStore,
    direction: Direction,
    runs: HashMap<RunId, Option<RunSummary>>,
    run_actions: HashMap<RunId, Vec<ActionSummary>>,
    /// Artifacts already expanded: a shared ancestor is shown once.
    seen: HashSet<(String, String)>,
}

impl Walker<'_> {
    /// `context` is the run of the action the walk came from: the directory that holds a path
    /// is the version that run recorded.
    fn node(
        &mut self,
        artifact: ArtifactRecord,
        context: Option<RunId>,
    ) -> Result<Node, LineageError> {
        let mut node = Node {
            path: artifact.path,
            digest: artifact.digest,
            size: artifact.size,
            actions: Vec::new(),
            repeated: false,
            within: None,
        };
        if !self.seen.insert((node.path.clone(), node.digest.clone())) {
            node.repeated = true;
            return Ok(node);
        }
        let actions: Vec<(ActionSummary, Vec<String>)> = match self.direction {
            Direction::Up => match self.store.producer(&node.path, &node.digest)? {
                Some(producer) => vec![(producer, Vec::new())],
                None => match self.directory_producer(&node, context)? {
                    Some((directory, producer)) => {
                        node.within = Some(directory);
                        vec![(producer, Vec::new())]
                    }
                    None => Vec::new(),
                },
            },
            Direction::Down => {
                let mut readers: Vec<(ActionSummary, Vec<String>)> = self
                    .store
                    .consumers(&node.path, &node.digest)?
                    .into_iter()
                    .map(|reader| (reader, Vec::new()))
                    .collect();
                if node.path.ends_with('/') {
                    for (reader, reads) in self.readers_inside(&node, context)? {
                        match readers
                            .iter_mut()
                            .find(|(known, _)| known.action.name == reader.action.name)
                        {
                            Some((_, known)) => known.extend(reads),
                            None => readers.push((reader, reads)),
                        }
                    }
                }
                readers
            }
        };
        for (action, reads) in actions {
            let mut step = self.step(action)?;
            step.reads = reads;
            node.actions.push(step);
        }
        Ok(node)
    }

    /// For a path no action wrote by name: the output directory that held it in the run that
    /// read it, and the action that made that directory.
    fn directory_producer(
        &mut self,
        node: &Node,
        context: Option<RunId>,
    ) -> Result<Option<(String, ActionSummary)>, LineageError> {
        let runs: Vec<RunId> = match context {
            Some(run) => vec![run],
            None => self
                .store
                .consumers(&node.path, &node.digest)?
                .iter()
                .map(|reader| reader.run_id)
                .collect(),
        };
        for run in runs {
            let Some(directory) = self.store.directory_holding(run, &node.path)? else {
                continue;
            };
            let producer = match self.store.producer(&directory.path, &directory.digest)? {
                Some(producer) => producer,
                // The run's own action wrote it, so a producer is always found, unless the
                // store changed in between: then that action, as before there was a query.
                None => match self.writer_in_run(run, &directory)? {
                    Some(writer) => writer,
                    None => continue,
                },
            };
            return Ok(Some((directory.path, producer)));
        }
        Ok(None)
    }

    /// The latest action of `run` that wrote `directory`.
    fn writer_in_run(
        &mut self,
        run: RunId,
        directory: &ArtifactRecord,
    ) -> Result<Option<ActionSummary>, LineageError> {
        if !self.run_actions.contains_key(&run) {
            let actions = self.store.run_actions(run)?;
            self.run_actions.insert(run, actions);
        }
        let actions = self.run_actions.get(&run).map_or(&[][..], Vec::as_slice);
        Ok(actions
            .iter()
            .rev()
            .find(|summary| summary.action.outputs.contains(directory))
            .cloned())
    }

    /// The actions that read paths inside the directory `node`, in runs where it had this
    /// digest, each with the paths it read.
    fn readers_inside(
        &mut self,
        node: &Node,
        context: Option<RunId>,
    ) -> Result<Vec<(ActionSummary, Vec<String>)>, LineageError> {
        let mut runs: Vec<RunId> = context.into_iter().collect();
        if let Some(producer) = self.store.producer(&node.path, &node.digest)? {
            runs.push(producer.run_id);
        }
        runs.extend(self.store.runs(RECENT_RUNS)?.into_iter().map(|run| run.id));
        let mut scanned = HashSet::new();
        runs.retain(|run| scanned.insert(*run));
        let read: BTreeSet<(String, String)> = self
            .store
            .read_inside(&runs, &node.path, &node.digest)?
            .into_iter()
            .filter(|input| holds(&node.path, &input.path))
            .map(|input| (input.path, input.digest))
            .collect();
        let mut readers: Vec<(ActionSummary, Vec<String>)> = Vec::new();
        for (path, digest) in read {
            for reader in self.store.consumers(&path, &digest)? {
                match readers
                    .iter_mut()
                    .find(|(known, _)| known.action.name == reader.action.name)
                {
                    Some((_, reads)) if !reads.contains(&path) => reads.push(path.clone()),
                    Some(_) => {}
                    None => readers.push((reader, vec![path.clone()])),
                }
            }
        }
        Ok(readers)
    }

    fn step(&mut self, summary: ActionSummary) -> Result<Step, LineageError> {
        let run_id = summary.run_id;
        let action = summary.action;
        let run = if let Some(run) = self.runs.get(&run_id) {
            run.clone()
        } else {
            let run = self.store.run(run_id)?;
            self.runs.insert(run_id, run.clone());
            run
        };
        let (user, host) = run
            .as_ref()
            .map(|run| (run.user.clone(), run.host.clone()))
            .unzip();
        let git = run.and_then(|run| run.git);
        let next = match self.direction {
            Direction::Up => action.inputs,
            Direction::Down => action.outputs,
        };
        let mut artifacts = Vec::with_capacity(next.len());
        for artifact in next {
            artifacts.push(self.node(artifact, Some(run_id))?);
        }
        Ok(Step {
            name: action.name,
            step: action.step,
            cmd: action.cmd,
            status: action.status,
            run: run_id,
            user,
            host,
            commit: git.as_ref().map(|git| git.commit.clone()),
            dirty: git.map(|git| git.dirty),
            params: action.params.into_iter().collect(),
            reads: Vec::new(),
            artifacts,
        })
    }
}

/// Whether the directory `directory` (ending in `/`) holds `path`, which is not itself.
pub(crate) fn holds(directory: &str, path: &str) -> bool {
    directory.ends_with('/') && path.len() > directory.len() && path.starts_with(directory)
}

/// The directories that would hold `path` (see [`holds`]): each of its prefixes that ends in
/// `/`, but for the whole of it, the shallowest first.
pub(crate) fn ancestors(path: &str) -> Vec<&str> {
    path.char_indices()
        .filter(|&(at, c)| c == '/' && at + 1 < path.len())
        .map(|(at, _)| &path[..=at])
        .collect()
}

/// Of the directories that `run` recorded as outputs (`(path, digest, size)` with the row of
/// the run's action that wrote it), the one that holds `path` as [`directory_holding`] picks
/// it: the deepest, then the latest action's, as a walk of the run's actions in order found
/// it. A store asks for the directories by [`ancestors`]; this checks each really holds it.
///
/// [`directory_holding`]: super::MetadataStore::directory_holding
pub(crate) fn deepest_holder(
    path: &str,
    written: impl IntoIterator<Item = (ArtifactRecord, i64)>,
) -> Option<ArtifactRecord> {
    written
        .into_iter()
        .filter(|(directory, _)| holds(&directory.path, path))
        .max_by(|(a, a_row), (b, b_row)| {
            (a.path.len(), a_row, &a.digest).cmp(&(b.path.len(), b_row, &b.digest))
        })
        .map(|(directory, _)| directory)
}
