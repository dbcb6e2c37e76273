//! Manifest → [`Graph`]: the action graph, a DAG of actions and the artifacts they read and
//! write, held as adjacency lists (an action's inputs, outputs and dependencies; an artifact's
//! producer and consumers). petgraph finds and names cycles while it is compiled.

mod action;
pub mod action_limit;
mod artifact;
mod compile;
mod cycle;
pub mod globs;
mod link;
mod own_store;
mod path_index;
pub mod render;

use std::collections::HashMap;
use std::path::PathBuf;

use crate::manifest::model::ExecutorDecl;

pub use action::{Action, ActionId, ExecutorId, Resources, instance_name};
pub use artifact::{Artifact, ArtifactId, ArtifactKind};
pub use compile::compile;

/// Compiles manifest text in a scratch directory, for unit tests of what consumes graphs.
#[cfg(test)]
pub(crate) fn compile_text(manifest: &str) -> Graph {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("zenbuild.kdl");
    std::fs::write(&path, manifest).expect("write manifest");
    let (manifest, problems) = crate::manifest::load(&path).expect("manifest loads");
    compile(&manifest, dir.path(), problems).expect("manifest compiles")
}

#[derive(Clone, Debug)]
pub struct PipelineInfo {
    pub name: String,
    pub description: Option<String>,
    /// Step names, as declared and `use`d.
    pub steps: Vec<String>,
    /// The metadata store URL its runs go to, when it names its own (`metadata` inside it).
    pub metadata: Option<String>,
}

#[derive(Clone, Debug)]
pub struct StepInfo {
    pub name: String,
    pub actions: Vec<ActionId>,
}

/// The compiled, immutable action graph.
#[derive(Debug)]
pub struct Graph {
    /// The workspace root the manifest's paths are relative to.
    pub root: PathBuf,
    pub project: String,
    pub actions: Vec<Action>,
    pub artifacts: Vec<Artifact>,
    pub steps: Vec<StepInfo>,
    pub pipelines: Vec<PipelineInfo>,
    /// The pipeline marked `default=#true`, else the first declared.
    pub default_pipeline: Option<usize>,
    /// Steps and actions by name, so that selecting targets stays linear in their number.
    pub(crate) step_index: HashMap<String, usize>,
    pub(crate) action_index: HashMap<String, ActionId>,
    /// What the manifest's globs matched among the repository's files, when it has any.
    pub globs: Option<globs::Expansion>,
    /// Where steps may run: `local` first, then those the manifest declares, in its order.
    pub executors: Vec<ExecutorDecl>,
}

impl Graph {
    pub fn action(&self, id: ActionId) -> &Action {
        &self.actions[id.0]
    }

    /// The executor `NAME`, as `--executor NAME` or a step names it.
    pub fn executor_named(&self, name: &str) -> Option<ExecutorId> {
        self.executors
            .iter()
            .position(|e| e.name.value == name)
            .and_then(|index| u16::try_from(index).ok())
            .map(ExecutorId)
    }

    pub fn artifact(&self, id: ArtifactId) -> &Artifact {
        &self.artifacts[id.0]
    }

    /// The action's declared outputs as (workspace path, whether it is a directory), the
    /// form the store saves, restores and clears.
    pub fn output_paths(&self, action: &Action) -> Vec<(&str, bool)> {
        action
            .outputs
            .iter()
            .map(|&output| {
                let artifact = self.artifact(output);
                (artifact.path.as_str(), artifact.kind == ArtifactKind::Dir)
            })
            .collect()
    }

    pub fn step(&self, name: &str) -> Option<&StepInfo> {
        self.step_index.get(name).map(|&index| &self.steps[index])
    }

    pub fn pipeline(&self, name: &str) -> Option<&PipelineInfo> {
        self.pipelines.iter().find(|pipeline| pipeline.name == name)
    }

    pub fn action_by_name(&self, name: &str) -> Option<ActionId> {
        self.action_index.get(name).copied()
    }

    /// The actions of a pipeline's steps and everything they depend on, in dependency order.
    pub fn pipeline_actions(&self, pipeline: &PipelineInfo) -> Vec<ActionId> {
        let roots: Vec<ActionId> = pipeline
            .steps
            .iter()
            .filter_map(|name| self.step(name))
            .flat_map(|step| step.actions.iter().copied())
            .collect();
        self.closure(&roots)
    }

    /// `roots` and all their transitive dependencies, dependencies first (a topological order
    /// that follows declaration order where the graph allows).
    pub fn closure(&self, roots: &[ActionId]) -> Vec<ActionId> {
        let mut included = vec![false; self.actions.len()];
        let mut stack: Vec<ActionId> = roots.to_vec();
        while let Some(id) = stack.pop() {
            if std::mem::replace(&mut included[id.0], true) {
                continue;
            }
            stack.extend(self.action(id).deps.iter().copied());
        }
        self.topological_order()
            .into_iter()
            .filter(|id| included[id.0])
            .collect()
    }

    /// Every action, each after all of its dependencies; ties keep declaration order.
    pub fn topological_order(&self) -> Vec<ActionId> {
        let mut pending: Vec<usize> = self.actions.iter().map(|a| a.deps.len()).collect();
        let mut dependents: Vec<Vec<ActionId>> = vec![Vec::new(); self.actions.len()];
        for (index, action) in self.actions.iter().enumerate() {
            for dep in &action.deps {
                dependents[dep.0].push(ActionId(index));
            }
        }
        let mut ready: std::collections::BTreeSet<ActionId> = (0..self.actions.len())
            .filter(|&index| pending[index] == 0)
            .map(ActionId)
            .collect();
        let mut order = Vec::with_capacity(self.actions.len());
        while let Some(id) = ready.pop_first() {
            order.push(id);
            for &next in &dependents[id.0] {
                pending[next.0] -= 1;
                if pending[next.0] == 0 {
                    ready.insert(next);
                }
            }
        }
        order
    }

    pub fn default_pipeline(&self) -> Option<&PipelineInfo> {
        self.default_pipeline.map(|index| &self.pipelines[index])
    }
}
