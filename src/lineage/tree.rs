//! Provenance trees for `zenbuild lineage`: from an artifact up through the action that
//! produced it, that action's inputs, their producers, back to source files; or, `--down`,
//! through every action that read it to everything derived from it.

use std::collections::{BTreeMap, HashMap, HashSet};

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
}

/// An action in the tree, with the run that recorded it.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub name: String,
    pub step: String,
    pub cmd: String,
    pub status: String,
    pub run: RunId,
    pub commit: Option<String>,
    pub dirty: Option<bool>,
    pub params: BTreeMap<String, serde_json::Value>,
    /// Up: its inputs. Down: its outputs.
    pub artifacts: Vec<Node>,
}

pub fn build(
    store: &dyn MetadataStore,
    root: &ArtifactRecord,
    direction: Direction,
) -> Result<Node, LineageError> {
    let mut walker = Walker {
        store,
        direction,
        runs: HashMap::new(),
        seen: HashSet::new(),
    };
    walker.node(root.clone())
}

struct Walker<'s> {
    store: &'s dyn MetadataStore,
    direction: Direction,
    runs: HashMap<RunId, Option<RunSummary>>,
    /// Artifacts already expanded: a shared ancestor is shown once.
    seen: HashSet<(String, String)>,
}

impl Walker<'_> {
    fn node(&mut self, artifact: ArtifactRecord) -> Result<Node, LineageError> {
        let mut node = Node {
            path: artifact.path,
            digest: artifact.digest,
            size: artifact.size,
            actions: Vec::new(),
            repeated: false,
        };
        if !self.seen.insert((node.path.clone(), node.digest.clone())) {
            node.repeated = true;
            return Ok(node);
        }
        let actions = match self.direction {
            Direction::Up => self
                .store
                .producer(&node.path, &node.digest)?
                .into_iter()
                .collect(),
            Direction::Down => self.store.consumers(&node.path, &node.digest)?,
        };
        for action in actions {
            let step = self.step(action)?;
            node.actions.push(step);
        }
        Ok(node)
    }

    fn step(&mut self, summary: ActionSummary) -> Result<Step, LineageError> {
        let run_id = summary.run_id;
        let action = summary.action;
        let run = match self.runs.get(&run_id) {
            Some(run) => run.clone(),
            None => {
                let run = self.store.run(run_id)?;
                self.runs.insert(run_id, run.clone());
                run
            }
        };
        let git = run.and_then(|run| run.git);
        let next = match self.direction {
            Direction::Up => action.inputs,
            Direction::Down => action.outputs,
        };
        let mut artifacts = Vec::with_capacity(next.len());
        for artifact in next {
            artifacts.push(self.node(artifact)?);
        }
        Ok(Step {
            name: action.name,
            step: action.step,
            cmd: action.cmd,
            status: action.status,
            run: run_id,
            commit: git.as_ref().map(|git| git.commit.clone()),
            dirty: git.map(|git| git.dirty),
            params: action.params.into_iter().collect(),
            artifacts,
        })
    }
}
